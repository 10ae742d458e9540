from __future__ import annotations

from pathlib import Path

import pytest

from bot.models import ModelError, history, read_model, versions
from bot.settings import Settings
from bot.train import add_doubt, load_training_data, train
from nlp.classifier import Classifier
from nlp.quality import LabelledRow
from tests.auxil.training_data import write_alarm_day, write_training_data


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
    assert {"收到", "嗡嗡机停了 5栋"} <= fitted
    assert not {"还是停着", "5栋嗡嗡机修好了"} & fitted  # a followup, a note: not trained on
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


def test_the_version_in_use_is_given_a_doubt_threshold_on_days_it_was_not_fitted_on(
    training_data: Path, tmp_path: Path, settings: Settings, classifier: Classifier
) -> None:
    folder = tmp_path / "models"
    data = load_training_data(training_data, [])
    _, fitted = train(settings, data, keywords=classifier, folder=folder, say=lambda _: None)
    assert fitted.meta["groupdays"] == ["t-01"]
    with pytest.raises(ModelError, match="v1 was fitted on t-01"):
        add_doubt(settings, [training_data / "groupdays" / "tune" / "t-01.jsonl"],
                  keywords=classifier, folder=folder)  # fmt: skip
    said: list[str] = []
    day = write_alarm_day(tmp_path / "days")
    model = add_doubt(settings, [day], keywords=classifier, folder=folder, say=said.append)
    assert history(folder) == ["v2", "v1"]
    kept = read_model(folder, "v2")
    assert kept.weights == read_model(folder, "v1").weights
    assert kept.thresholds == model.thresholds
    assert kept.thresholds.doubt in (-0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.3)
    assert (kept.thresholds.add, kept.thresholds.urgent) == (
        fitted.thresholds.add, fitted.thresholds.urgent
    )  # fmt: skip
    chosen_on = kept.meta["doubt_chosen_on"]
    assert isinstance(chosen_on, dict)
    assert (kept.meta["based_on"], chosen_on["days"]) == ("v1", ["t-02"])
    assert chosen_on["emergencies"] == 2
    assert said[-1].startswith("v2: v1's weights")
