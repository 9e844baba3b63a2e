"""A saved lesson notebook reopens calm: the pre-save hook and the first cell's message."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from eduproject.learner.jupyter_server import (
    ERROR_HELP_MARKER,
    PLACEHOLDER,
    WIDGET_VIEW,
    calm_widgets,
)

VIEW = {WIDGET_VIEW: {"model_id": "abc", "version_major": 2, "version_minor": 0}}


def _cell(role: str | None, outputs: list[dict[str, Any]]) -> dict[str, Any]:
    meta = {"eduproject": {"cell": "c", "role": role, "exercise": "f"}} if role else {}
    return {"cell_type": "code", "metadata": meta, "outputs": outputs, "source": "x"}


def test_panel_widgets_become_a_note_and_error_boxes_go() -> None:
    error = {"output_type": "error", "ename": "AssertionError", "evalue": "", "traceback": []}
    help_box = {"output_type": "display_data", "data": {**VIEW, "text/plain": ERROR_HELP_MARKER}}
    learner_plot = {"output_type": "display_data", "data": {**VIEW, "text/plain": "IntSlider()"}}
    model = {
        "type": "notebook",
        "content": {
            "cells": [
                _cell("panel", [{"output_type": "display_data", "data": dict(VIEW)}]),
                _cell("tests", [error, help_box]),
                _cell(None, [learner_plot]),  # the learner's own widget stays as it is
                {"cell_type": "markdown", "metadata": {}, "source": "# hi"},
            ]
        },
    }
    before = copy.deepcopy(model)
    calm_widgets(model=model, path="lesson.ipynb", contents_manager=None)
    cells = model["content"]["cells"]
    (note,) = cells[0]["outputs"]
    assert note["data"]["text/plain"] == PLACEHOLDER and WIDGET_VIEW not in note["data"]
    assert "run the first cell" in note["data"]["text/html"]
    assert cells[1]["outputs"] == [error]
    assert cells[2:] == before["content"]["cells"][2:]


def test_other_files_are_left_alone() -> None:
    model = {"type": "file", "content": "text"}
    calm_widgets(model=model)
    assert model == {"type": "file", "content": "text"}


def test_the_extension_is_switched_on_by_the_installed_config() -> None:
    from jupyter_core.paths import jupyter_config_path

    found = [
        json.loads(p.read_text())
        for folder in jupyter_config_path()
        for p in Path(folder, "jupyter_server_config.d").glob("eduproject.json")
    ]
    assert found, "eduproject.json is not in any jupyter_server_config.d folder"
    assert found[0]["ServerApp"]["jpserver_extensions"] == {"eduproject": True}
    import eduproject

    modules = [p["module"] for p in eduproject._jupyter_server_extension_points()]
    assert "eduproject.learner.jupyter_server" in modules


def test_the_first_cell_says_the_tutor_is_ready(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from eduproject.authoring.release import release
    from eduproject.learner import widgets

    root = Path(__file__).resolve().parents[2]
    result = release(root / "exercises" / "01-functions", tmp_path / "nb", tmp_path / "gr")
    monkeypatch.chdir(result.notebook.parent)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for name in ("EDUPROJECT_CONFIG", "EDUPROJECT_USER_CONFIG", "EDUPROJECT_TUTOR_ROUTES"):
        monkeypatch.delenv(name, raising=False)
    widgets.tutor_session.cache_clear()
    try:
        assert widgets.start() is None  # nothing for Out[1]
    finally:
        widgets.tutor_session.cache_clear()
    printed = capsys.readouterr().out
    assert printed.startswith(f"Tutor ready for {result.lesson.title}: the offline tutor")
    assert "offline tutor" in printed and "no AI model is set up" in printed
