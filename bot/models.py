"""The versions of the learned classifier model kept in a folder, and which one is in use.

A folder holds ``v1.tsv``, ``v2.tsv``, ... (nlp/model.py's text format, each carrying its
figures in its ``meta`` line) and ``CURRENT``: the versions put in use, newest first, one per
line. Installing or choosing a version puts it on top; rolling back takes the top one off, so
the version in use before it is in use again. Versions are never deleted by these commands.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import marshal
import os
import re
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from bot.paths import cache_dir
from nlp.classifier import Classifier
from nlp.model import LinearModel

if TYPE_CHECKING:  # the settings' import (pydantic) is no part of the model's start-up cost
    from bot.settings import Settings

__all__ = [
    "ModelError",
    "build_classifier",
    "history",
    "install",
    "load_model",
    "models_dir",
    "next_version",
    "read_model",
    "rollback",
    "use",
    "versions",
    "vocabulary_sha",
]

log = logging.getLogger(__name__)

CURRENT = "CURRENT"
_VERSION = re.compile(r"^v([0-9]{1,6})$")


class ModelError(Exception):
    """A model that can't be used: its message says which and why."""


def models_dir(settings: Settings) -> Path:
    if settings.model.dir is not None:
        return settings.model.dir
    return Path(str(resources.files("config").joinpath("models")))


def versions(folder: Path) -> list[str]:
    """The versions in ``folder``, oldest first."""
    found = [p.stem for p in folder.glob("v*.tsv") if _VERSION.match(p.stem)]
    return sorted(found, key=lambda v: int(v[1:]))


def history(folder: Path) -> list[str]:
    """The versions put in use, newest (the one in use) first."""
    try:
        text = (folder / CURRENT).read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    return [line.strip() for line in text.splitlines() if _VERSION.match(line.strip())]


def next_version(folder: Path) -> str:
    known = versions(folder)
    return f"v{int(known[-1][1:]) + 1}" if known else "v1"


def read_model(folder: Path, version: str, *, cache: Path | None = None) -> LinearModel:
    """The model file ``version`` of ``folder``. With a ``cache`` folder, the parsed model is
    kept there under the file's hash: parsing 20,000 lines of text costs about 0.2 s of every
    start, loading the cached values 0.02 s."""
    path = folder / f"{version}.tsv"
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ModelError(f"no model {version} in {folder}") from None
    except OSError as exc:
        raise ModelError(f"can't read {path}: {exc}") from None
    cached = None
    if cache is not None:
        digest = hashlib.sha256(data).hexdigest()[:16]
        cached = cache / f"model-{version}-{digest}.marshal"
        model = _from_cache(cached)
        if model is not None:
            return model
    try:
        model = LinearModel.parse(data.decode("utf-8"))
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise ModelError(f"{path} is not a usable model: {exc}") from None
    if model.version != version:
        raise ModelError(f"{path} says it is {model.version}, not {version}")
    if cached is not None:
        with contextlib.suppress(OSError):  # a cache that can't be written is only slower
            cached.parent.mkdir(parents=True, exist_ok=True)
            _write_bytes(cached, marshal.dumps(model.state()))
    return model


def _from_cache(path: Path) -> LinearModel | None:
    try:
        return LinearModel.from_state(marshal.loads(path.read_bytes()))
    except (OSError, EOFError, ValueError, TypeError):
        return None  # missing, or written by another Python: parse the file again


def load_model(settings: Settings) -> LinearModel | None:
    """The model the config asks for; None for keywords only."""
    if settings.model.use == "off":
        return None
    folder = models_dir(settings)
    cache = cache_dir()
    if settings.model.use != "current":
        return read_model(folder, settings.model.use, cache=cache)
    in_use = history(folder)
    return read_model(folder, in_use[0], cache=cache) if in_use else None


def install(folder: Path, model: LinearModel) -> Path:
    """Write ``model`` as a new version and put it in use."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{model.version}.tsv"
    if path.exists():
        raise ModelError(f"{path} exists already: versions are never overwritten")
    _write(path, model.dump())
    use(folder, model.version)
    return path


def use(folder: Path, version: str) -> None:
    read_model(folder, version)  # refuse a version that isn't there or doesn't load
    _write(folder / CURRENT, "".join(f"{v}\n" for v in [version, *history(folder)]))


def rollback(folder: Path) -> str | None:
    """Take the version in use off; the one in use before it (None: keywords only) is
    returned and in use again."""
    in_use = history(folder)
    if not in_use:
        raise ModelError("no model is in use: nothing to roll back")
    _write(folder / CURRENT, "".join(f"{v}\n" for v in in_use[1:]))
    return in_use[1] if len(in_use) > 1 else None


def _write(path: Path, text: str) -> None:
    _write_bytes(path, text.encode("utf-8"))


def _write_bytes(path: Path, data: bytes) -> None:
    # a crash mid-write must not leave a half model or a half CURRENT behind
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def build_classifier(settings: Settings) -> Classifier:
    """The classifier on the configured vocabulary and model: loads jieba's dictionary (build
    it before forking, and once per process). Here, not in bot.app: `gridbot classify` needs
    it without the bot's database and runtime."""
    model = load_model(settings)
    if model is not None:
        trained_on = model.meta.get("vocabulary")
        words = vocabulary_sha(settings) if trained_on is not None else None
        if words is not None and trained_on != words:
            # The model still works, but its figures were taken beside other keywords (the
            # hybrid's thresholds were chosen for those): worth knowing, not worth alarming
            # every start of the demo over; `gridbot model list` shows it too.
            log.info(
                "model %s was trained beside another vocabulary (%s; the config's is %s): "
                "run `gridbot train` to measure one beside the current words",
                model.version,
                trained_on,
                words,
            )
    return Classifier(settings.categories, cache_dir=cache_dir(), model=model)


def vocabulary_sha(settings: Settings) -> str:
    """A short digest of the configured vocabulary, kept in a model's meta when it is trained."""
    dumped = json.dumps(settings.categories.model_dump(mode="json"), sort_keys=True)
    return hashlib.sha256(dumped.encode("utf-8")).hexdigest()[:16]
