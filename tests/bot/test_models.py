from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.models import (
    ModelError,
    build_classifier,
    history,
    install,
    load_model,
    models_dir,
    next_version,
    read_model,
    rollback,
    use,
    versions,
    vocabulary_sha,
)
from bot.settings import ModelSettings, Settings
from nlp.model import LABELS, LinearModel


def _model(version: str) -> LinearModel:
    n = len(LABELS)
    return LinearModel(version, LABELS, (0.0,) * n, {"c:灯": 1.0}, {"c:灯": (0.5,) * n})


def _settings(settings: Settings, folder: Path, use: str = "current") -> Settings:
    return settings.model_copy(update={"model": ModelSettings(use=use, dir=folder)})


def test_installing_puts_each_new_version_in_use_and_rollback_goes_back(tmp_path: Path) -> None:
    assert (versions(tmp_path), history(tmp_path), next_version(tmp_path)) == ([], [], "v1")
    install(tmp_path, _model("v1"))
    install(tmp_path, _model("v2"))
    assert versions(tmp_path) == ["v1", "v2"]
    assert history(tmp_path) == ["v2", "v1"]
    assert next_version(tmp_path) == "v3"
    assert rollback(tmp_path) == "v1"
    assert rollback(tmp_path) is None
    with pytest.raises(ModelError, match="nothing to roll back"):
        rollback(tmp_path)
    use(tmp_path, "v2")
    assert history(tmp_path) == ["v2"]
    assert versions(tmp_path) == ["v1", "v2"]  # never deleted


def test_versions_sort_by_number_not_by_text(tmp_path: Path) -> None:
    for v in ("v2", "v10", "v9"):
        install(tmp_path, _model(v))
    assert versions(tmp_path) == ["v2", "v9", "v10"]
    assert next_version(tmp_path) == "v11"


def test_a_version_is_never_overwritten_and_a_missing_one_never_used(tmp_path: Path) -> None:
    install(tmp_path, _model("v1"))
    with pytest.raises(ModelError, match="never overwritten"):
        install(tmp_path, _model("v1"))
    with pytest.raises(ModelError, match="no model v4"):
        use(tmp_path, "v4")
    assert history(tmp_path) == ["v1"]


def test_a_broken_or_misnamed_file_is_a_model_error(tmp_path: Path) -> None:
    (tmp_path / "v1.tsv").write_text("version\tv1\n", encoding="utf-8")
    with pytest.raises(ModelError, match="not a usable model"):
        read_model(tmp_path, "v1")
    (tmp_path / "v2.tsv").write_text(_model("v3").dump(), encoding="utf-8")
    with pytest.raises(ModelError, match="says it is v3"):
        read_model(tmp_path, "v2")


def test_the_config_chooses_current_a_version_or_none(tmp_path: Path, settings: Settings) -> None:
    assert load_model(_settings(settings, tmp_path)) is None  # nothing installed
    install(tmp_path, _model("v1"))
    install(tmp_path, _model("v2"))
    current = load_model(_settings(settings, tmp_path))
    assert current is not None
    assert current.version == "v2"
    pinned = load_model(_settings(settings, tmp_path, "v1"))
    assert pinned is not None
    assert pinned.version == "v1"
    assert load_model(_settings(settings, tmp_path, "off")) is None
    with pytest.raises(ModelError):
        load_model(_settings(settings, tmp_path, "v5"))


def test_the_shipped_folder_has_a_model_in_use(settings: Settings) -> None:
    folder = models_dir(settings)
    in_use = history(folder)
    assert in_use
    model = read_model(folder, in_use[0])
    assert model.urgent_intercept is not None
    assert set(model.thresholds.as_dict()) == {"add", "drop", "switch", "urgent", "doubt"}
    assert model.thresholds.doubt > 0  # it doubts the alarms it hears no danger in
    held = model.meta["heldout"]
    assert isinstance(held, dict)
    assert held["messages"] >= 600


def test_a_model_trained_beside_other_keywords_is_used_and_said_so(
    settings: Settings, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    configured = _settings(settings, tmp_path)
    for version, vocabulary in (("v1", vocabulary_sha(configured)), ("v2", "feedfacecafebeef")):
        model = _model(version)
        model.meta["vocabulary"] = vocabulary
        install(tmp_path, model)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="bot.models"):
            classifier = build_classifier(configured)
        assert classifier.classify("路灯坏了").is_request
        warned = [r.getMessage() for r in caplog.records if r.name == "bot.models"]
        if version == "v1":
            assert warned == []
        else:
            [warning] = warned
            assert "trained beside another vocabulary (feedfacecafebeef" in warning
