from __future__ import annotations

from pathlib import Path

from bot.models import history, read_model, versions
from bot.settings import Settings
from bot.train import load_training_data, train
from nlp.classifier import Classifier
from nlp.quality import LabelledRow
from tests.auxil.training_data import write_training_data


def _correction(text: str, category: str | None) -> LabelledRow:
    return LabelledRow(id="c1", text=text, is_request=category is not None, category=category,
                       urgent=False, script="simplified")  # fmt: skip


def test_the_parts_are_fitted_chosen_on_and_judged_on_apart(training_data: Path) -> None:
    heldout_text = (training_data / "classify" / "heldout.jsonl").read_text(encoding="utf-8")
    leaked = heldout_text.split('"text": "')[1].split('"')[0]
    data = load_training_data(
        training_data, [_correction("8栋嗡嗡机停了", "facility"), _correction(leaked, None)]
    )
    lines = {
        part: len((training_data / "classify" / f"{part}.jsonl").read_text().splitlines())
        for part in ("tune", "train", "valid", "test", "heldout")
    }
    assert data.counts == {
        "tune": lines["tune"], "train": lines["train"], "groupdays": 2, "corrections": 1
    }  # fmt: skip
    fitted = {r["text"] for r in data.fitted}
    assert "8栋嗡嗡机停了" in fitted  # corrections are added to the labelled parts
    assert leaked not in fitted  # never a message it will be judged on
    assert not fitted & {r["text"] for r in data.choose}
    assert [data.fitted[i]["id"] for i in data.unseen_by_vocabulary][:1] == ["train0"]
    assert len(data.choose) == lines["valid"] + lines["test"]
    assert len(data.heldout) == lines["heldout"]


def test_a_better_model_is_installed_with_its_figures(
    training_data: Path, tmp_path: Path, settings: Settings, classifier: Classifier
) -> None:
    said: list[str] = []
    folder = tmp_path / "models"
    data = load_training_data(training_data, [])
    installed, model = train(settings, data, keywords=classifier, folder=folder, say=said.append)
    assert installed, said
    assert history(folder) == ["v1"]
    assert versions(folder) == ["v1"]
    kept = read_model(folder, "v1")
    assert kept.thresholds == model.thresholds
    held = kept.meta["heldout"]
    assert isinstance(held, dict)
    assert held["hybrid"]["request_recall"] > held["keywords"]["request_recall"]
    assert kept.meta["examples"] == data.counts
    assert any(f"held-out part, {len(data.heldout)} messages" in line for line in said)
    assert said[-1].startswith("installed")


def test_a_model_worse_than_the_one_in_use_is_refused(
    training_data: Path, tmp_path: Path, settings: Settings, classifier: Classifier
) -> None:
    folder = tmp_path / "models"
    train(settings, load_training_data(training_data, []), keywords=classifier,
          folder=folder, say=lambda _: None)  # fmt: skip
    wrong = write_training_data(tmp_path / "wrong", flip=True)
    said: list[str] = []
    installed, _ = train(
        settings, load_training_data(wrong, []), keywords=classifier, folder=folder,
        say=said.append,
    )  # fmt: skip
    assert not installed
    assert said[-1].startswith("refused: v2")
    assert history(folder) == ["v1"]
    assert versions(folder) == ["v1"]


def test_a_dry_run_measures_and_installs_nothing(
    training_data: Path, tmp_path: Path, settings: Settings, classifier: Classifier
) -> None:
    said: list[str] = []
    folder = tmp_path / "models"
    installed, _ = train(settings, load_training_data(training_data, []), keywords=classifier,
                         folder=folder, dry_run=True, say=said.append)  # fmt: skip
    assert not installed
    assert "would be accepted" in said[-1]
    assert not folder.exists() or versions(folder) == []
