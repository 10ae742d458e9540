from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from bot.models import history, read_model, versions
from storage import examples, migrate
from storage.db import Database
from storage.grids import GridSpec, sync_grids
from storage.models import ExampleSource
from tests.auxil.training_data import write_alarm_day, write_training_data


def _train(training_data: Path, models: Path, *extra: str) -> int:
    return main(["train", "--data", str(training_data), "--models", str(models), *extra])


def test_train_then_list_use_and_roll_back(
    training_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    assert _train(training_data, models, "--no-corrections") == EXIT_OK
    assert _train(training_data, models, "--no-corrections") == EXIT_OK
    out = capsys.readouterr().out
    assert "keywords" in out
    assert "installed" in out
    assert main(["model", "list", "--models", str(models)]) == EXIT_OK
    listed = capsys.readouterr().out.splitlines()
    assert [line.split()[:2] for line in listed] == [["v1", "trained"], ["*", "v2"]]
    assert "request_recall" in listed[1]
    assert "beside other keywords" not in listed[1]  # trained beside the configured words
    assert main(["model", "rollback", "--models", str(models)]) == EXIT_OK
    assert capsys.readouterr().out.strip() == "v1 is in use"
    assert main(["model", "use", "v2", "--models", str(models)]) == EXIT_OK
    assert history(models)[0] == "v2"
    assert main(["model", "use", "v9", "--models", str(models)]) == EXIT_USAGE
    assert "no model v9" in capsys.readouterr().err


def test_model_doubt_adds_a_version_or_refuses_a_day_it_was_fitted_on(
    training_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    models = tmp_path / "models"
    assert _train(training_data, models, "--no-corrections") == EXIT_OK
    seen = training_data / "groupdays" / "tune" / "t-01.jsonl"
    assert main(["model", "doubt", str(seen), "--models", str(models)]) == EXIT_USAGE
    assert "v1 was fitted on t-01" in capsys.readouterr().err
    day = write_alarm_day(tmp_path / "days")
    assert main(["model", "doubt", str(day), "--models", str(models)]) == EXIT_OK
    assert capsys.readouterr().out.startswith("v2: v1's weights")
    assert history(models)[0] == "v2"


def test_train_reads_the_corrections_stored_in_the_database(
    training_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path}/bot.db"
    db = Database.from_url(url)
    migrate.upgrade(db.engine)
    with db.session() as session:
        sync_grids(session=session, specs=[GridSpec("G03", "三", "三群")])
        examples.add(session=session, text="7栋嗡嗡机一直停着", is_request=True,
                     category="facility", source=ExampleSource.RECLASSIFY, grid_code="G03",
                     contact_id="wxid_leader_li", at=datetime(2026, 12, 1, tzinfo=UTC))  # fmt: skip
        session.commit()
    db.dispose()
    models = tmp_path / "models"
    assert _train(training_data, models, "--db", url, "--dry-run") == EXIT_OK
    assert "corrections 1" in capsys.readouterr().out
    assert versions(models) == []


def test_train_reads_exported_corrections_and_says_when_there_is_no_database(
    training_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    exported = tmp_path / "corrections.jsonl"
    row = {"id": "c1", "text": "9栋嗡嗡机停了", "is_request": True, "category": "facility",
           "urgent": False, "script": "simplified"}  # fmt: skip
    exported.write_text(json.dumps(row, ensure_ascii=False) + "\n", encoding="utf-8")
    models = tmp_path / "models"
    assert _train(training_data, models, "--corrections", str(exported)) == EXIT_OK
    assert read_model(models, "v1").meta["examples"]["corrections"] == 1  # type: ignore[index]
    capsys.readouterr()
    assert _train(training_data, models, "--db", f"sqlite:///{tmp_path}/none.db",
                  "--dry-run") == EXIT_OK  # fmt: skip
    assert "no stored corrections" in capsys.readouterr().out
    assert not (tmp_path / "none.db").exists()


def test_train_without_data_or_with_a_worse_model_fails_clearly(
    training_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tmp_path / "nowhere", tmp_path / "m", "--no-corrections") == EXIT_USAGE
    assert "no labelled data" in capsys.readouterr().err
    models = tmp_path / "models"
    assert _train(training_data, models, "--no-corrections") == EXIT_OK
    wrong = write_training_data(tmp_path / "wrong", flip=True)
    assert _train(wrong, models, "--no-corrections") == EXIT_FAILED
    assert "refused" in capsys.readouterr().out
    assert versions(models) == ["v1"]


def test_a_config_naming_a_missing_model_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "gridbot.yaml"
    config.write_text(
        "grids: [{code: G01, name: 一网格, room: 一网格, leaders: [wxid_a]}]\n"
        f"model: {{use: v3, dir: {tmp_path / 'models'}}}\n",
        encoding="utf-8",
    )
    assert main(["classify", "--config", str(config), "路灯坏了"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert err.startswith("gridbot: no model v3")
    assert len(err.splitlines()) == 1


def test_the_list_says_which_model_was_trained_beside_other_keywords(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # the shipped v1 and v2 were trained before the shipped vocabulary's latest changes
    assert main(["model", "list"]) == EXIT_OK
    listed = capsys.readouterr().out.splitlines()
    assert all("(beside other keywords: " in line for line in listed)
