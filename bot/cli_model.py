"""`gridbot train` and `gridbot model ...`: the learned layer's versions (bot/train.py,
bot/models.py), and what `gridbot classify` shows of it."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.models import (
    ModelError,
    history,
    models_dir,
    read_model,
    rollback,
    use,
    versions,
    vocabulary_sha,
)
from bot.settings import ModelSettings, Settings
from nlp.model import NOT_REQUEST
from nlp.quality import LabelledRow

if TYPE_CHECKING:
    from nlp.classifier import Classifier

__all__ = ["add_parsers", "classified"]

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# A checkout's labelled data, beside the packages.
REPO_DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def add_parsers(
    sub: Any,
    common: argparse.ArgumentParser,
    with_db: argparse.ArgumentParser,
    settings_of: Callable[[argparse.Namespace], Settings],
) -> None:
    train = sub.add_parser(
        "train",
        parents=[with_db],
        help="fit the learned classifier model, compare it with the keywords, install it",
        description="Fit a new model version on the labelled parts and the database's stored "
        "corrections, choose its thresholds on the valid part, print its figures against the "
        "keyword classifier on the held-out part, and put it in use unless it is worse there. "
        "Needs scikit-learn (pip install -e '.[train]') and a checkout's tests/data.",
    )
    add = train.add_argument
    add("--data", type=Path, default=REPO_DATA, metavar="DIR",
        help="the labelled data (default: the checkout's tests/data)")  # fmt: skip
    add("--models", type=Path, metavar="DIR",
        help="where versions are kept (default: the config's model.dir)")  # fmt: skip
    add("--corrections", metavar="FILE",
        help="corrections from `gridbot examples export`, not the database's")  # fmt: skip
    add("--no-corrections", action="store_true", help="fit on the labelled parts only")
    add("--dry-run", action="store_true", help="measure, never install")
    add("-C", dest="c", type=float, default=None,
        help="ridge strength (scikit-learn's C); default: the documented one")  # fmt: skip

    model = sub.add_parser("model", help="the learned classifier model's versions")
    model_sub = model.add_subparsers(dest="model_command", metavar="ACTION", required=True)
    for name, text in (
        ("list", "list the versions with their held-out figures; * marks the one in use"),
        ("rollback", "stop using the version in use: the one before it is used again"),
    ):
        action = model_sub.add_parser(name, parents=[common], help=text)
        action.add_argument("--models", type=Path, metavar="DIR")
    chosen = model_sub.add_parser("use", parents=[common], help="put a version in use")
    chosen.add_argument("version", help="e.g. v1")
    chosen.add_argument("--models", type=Path, metavar="DIR")
    doubt = model_sub.add_parser(
        "doubt",
        parents=[common],
        help="the version in use again, with the threshold below which it doubts the "
        "keywords' alarms chosen on group days it was not fitted on",
    )
    doubt.add_argument("days", nargs="+", type=Path, metavar="DAY",
                       help="group day files (tests/data/groupdays format)")  # fmt: skip
    doubt.add_argument("--models", type=Path, metavar="DIR")

    def cmd_train(args: argparse.Namespace) -> int:
        return _cmd_train(args, settings_of(args))

    def cmd_model(args: argparse.Namespace) -> int:
        return _cmd_model(args, settings_of(args))

    train.set_defaults(handler=cmd_train)
    model.set_defaults(handler=cmd_model)


def _folder(args: argparse.Namespace, settings: Settings) -> Path:
    given: Path | None = args.models
    return given if given is not None else models_dir(settings)


def _corrections(args: argparse.Namespace, settings: Settings) -> list[LabelledRow] | None:
    if args.no_corrections:
        return []
    if args.corrections:
        try:
            with open(args.corrections, encoding="utf-8") as fh:
                return [json.loads(line) for line in fh if line.strip()]
        except (OSError, json.JSONDecodeError) as exc:
            print(f"gridbot train: can't read {args.corrections}: {exc}", file=sys.stderr)
            return None
    from sqlalchemy.engine import make_url

    from bot.app import open_database
    from storage import examples
    from storage.db import reporting_failures, sqlite_path

    path = sqlite_path(make_url(settings.database))
    if path is not None and not path.exists():
        print(f"no database at {path}: no stored corrections")
        return []
    with reporting_failures(settings.database):
        db = open_database(settings.database, auto_upgrade=False)
    try:
        with db.session() as session:
            return examples.rows(session=session)
    finally:
        db.dispose()


def _keywords(settings: Settings) -> Classifier:
    from bot.models import build_classifier

    return build_classifier(settings.model_copy(update={"model": ModelSettings(use="off")}))


def _cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from bot.train import load_training_data, train
    from nlp.training import DEFAULT_C, TrainingUnavailable

    if not (args.data / "classify" / "heldout.jsonl").exists():
        print(f"gridbot train: no labelled data in {args.data} (run it in a checkout, or "
              "give --data)", file=sys.stderr)  # fmt: skip
        return EXIT_USAGE
    corrections = _corrections(args, settings)
    if corrections is None:
        return EXIT_USAGE
    keywords = _keywords(settings)
    data = load_training_data(args.data, corrections)
    try:
        installed, _ = train(
            settings,
            data,
            keywords=keywords,
            folder=_folder(args, settings),
            c=args.c if args.c is not None else DEFAULT_C,
            dry_run=args.dry_run,
        )
    except TrainingUnavailable as exc:
        print(f"gridbot train: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK if installed or args.dry_run else EXIT_FAILED


def _cmd_model(args: argparse.Namespace, settings: Settings) -> int:
    folder = _folder(args, settings)
    try:
        if args.model_command == "doubt":
            from bot.train import add_doubt

            add_doubt(settings, args.days, keywords=_keywords(settings), folder=folder)
        elif args.model_command == "use":
            use(folder, args.version)
            print(f"{args.version} is in use")
        elif args.model_command == "rollback":
            back = rollback(folder)
            print(f"{back} is in use" if back else "no model in use: keywords only")
        else:
            in_use = history(folder)
            words = vocabulary_sha(settings)
            for version in versions(folder):
                meta = read_model(folder, version).meta
                held = meta.get("heldout")
                figures = json.dumps(held.get("hybrid") if isinstance(held, dict) else None)
                mark = "*" if in_use and in_use[0] == version else " "
                beside = meta.get("vocabulary")
                other = (
                    f"  (beside other keywords: {beside})" if beside not in (None, words) else ""
                )
                print(f"{mark} {version}  trained {meta.get('trained_at', '?')}  {figures}{other}")
            if not in_use:
                print("no model in use: keywords only")
    except ModelError as exc:
        print(f"gridbot model: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def classified(classifier: Classifier, text: str) -> dict[str, object]:
    """What `gridbot classify` prints: the verdict, which half decided, and with a model its
    probability and the features that weighed most."""
    result = classifier.classify(text)
    shown = result.as_dict()
    if classifier.model is not None:
        label = result.category if result.is_request and result.category else NOT_REQUEST
        shown["model"] = classifier.model.version
        shown["features"] = [
            {"feature": f, "weight": w} for f, w in classifier.explain(text, label)
        ]
    return shown
