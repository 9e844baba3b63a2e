"""The panel's widgets and the error hook: widget state after clicks, and a real kernel's outputs."""

from __future__ import annotations

import json
import linecache
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eduproject.core.pack import LessonPack
from eduproject.learner.errorhook import ErrorHelp, error_text
from eduproject.learner.panel_controller import PanelController
from eduproject.learner.view import general_tutor
from eduproject.learner.widgets import Panel, tutor_session
from eduproject.tutor.tutor import Tutor

LESSON = {
    "format": 1,
    "lesson": "demo",
    "title": "Demo",
    "version": "v1",
    "exercises": [
        {
            "id": "double",
            "title": "Double a number",
            "prompt": "Write `double(x)` that returns twice `x`.",
            "stub": "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n",
            "hints": ["Multiplication.", "Compare with the test.", "Return x times 2."],
            "avoid": [],
            "tests": [
                {"name": "two", "points": 1, "hidden": False, "visible_source": "assert double(2) == 4\n"},
                {"name": "zero", "points": 1, "hidden": False, "visible_source": "assert double(0) == 0\n"},
            ],
            "guard": {},
        }
    ],
}  # fmt: skip
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty working folder and home (no user config, ledger or quota file of the machine's
    user is read or written), with the offline tutor; the kernel's cached tutors are reset."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("EDUPROJECT_TUTOR_ROUTES", "offline")
    monkeypatch.setenv("HOME", str(tmp_path))
    for var in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    for name in ("EDUPROJECT_CONFIG", "EDUPROJECT_USER_CONFIG", "EDUPROJECT_LEDGER"):
        monkeypatch.delenv(name, raising=False)
    tutor_session.cache_clear()
    general_tutor.cache_clear()
    yield tmp_path
    tutor_session.cache_clear()
    general_tutor.cache_clear()


@pytest.fixture
def lesson_dir(workdir: Path) -> Path:
    """A learner folder (lesson.json) as the working directory."""
    (workdir / "lesson.json").write_text(json.dumps(LESSON), encoding="utf-8")
    return workdir


def _panel(cells: list[str], ns: dict[str, Any]) -> Panel:
    pack = LessonPack.load(Path("lesson.json"))
    controller = PanelController(
        "double",
        pack=pack,
        tutor=Tutor(pack),
        history=lambda: cells,
        namespace=lambda: ns,
        spawn=lambda job: job(),
    )
    return Panel(controller, title="Double a number")


def test_panel_widgets_follow_the_controller(lesson_dir: Path) -> None:
    cells = ["def double(x):\n    return x + 2"]
    ns: dict[str, Any] = {}
    exec(cells[0], ns)
    panel = _panel(cells, ns)
    assert panel.view.response.layout.display == "none"  # nothing to show yet
    assert panel.view.footer.layout.display == "none"
    assert "edu-panel" in panel.widget._dom_classes
    assert WIDGET_VIEW in panel._repr_mimebundle_()

    panel.check_button.click()
    assert panel.view.response.layout.display is None
    assert "double: 1 of 2 visible tests passed" in panel.view.response.value
    assert not panel.check_button.disabled

    panel.hint_button.click()
    assert panel.hint_button.description == "Next hint"
    assert "Hint 1 of 3" in panel.view.response.value
    assert "Offline tutor" in panel.view.meta.value
    assert panel.view.rating.layout.display == "none"  # offline answers have no ledger entry

    panel.question.value = "   "
    panel.ask_button.click()
    assert "Type a question in the box first" in panel.view.response.value


def test_untrusted_markdown_never_reaches_the_page_as_html(lesson_dir: Path) -> None:
    panel = _panel([], {})
    state = panel.controller.state
    state.heading, state.markdown = "Your question", "<img src=x onerror=alert(1)> **ok**"
    panel.render(state)
    assert "<img" not in panel.view.response.value
    assert "<strong>ok</strong>" in panel.view.response.value


def test_error_text_keeps_the_learners_frames_only() -> None:
    source = "def f(items):\n    return items[3]\n\nf([1, 2])\n"
    cell = "/tmp/ipykernel_123/456.py"
    linecache.cache[cell] = (len(source), None, source.splitlines(True), cell)  # as IPython does
    try:
        exec(compile(source, cell, "exec"), {})
    except IndexError as exc:
        text = error_text(exc)
    assert text.splitlines()[0] == "Traceback (most recent call last):"
    assert "your cell, line 2, in f\n    return items[3]" in text
    assert text.endswith("IndexError: list index out of range")
    assert "test_widgets_view.py" in text  # the caller's frame; IPython's own never show
    try:
        compile("def f(:\n    pass", "/tmp/ipykernel_123/789.py", "exec")
    except SyntaxError as exc:
        assert error_text(exc).endswith("SyntaxError: invalid syntax")


def test_explain_this_error_asks_the_tutor_about_that_cell(lesson_dir: Path) -> None:
    code = "def double(x):\n    return y * 2\n\ndouble(3)"
    try:
        exec(compile(code, "/tmp/ipykernel_1/1.py", "exec"), {})
    except NameError as exc:
        help_box = ErrorHelp(exc, code, spawn=lambda job: job())
    assert help_box.view.response.layout.display == "none"
    help_box.button.click()
    value = help_box.view.response.value
    assert "About this error" in value
    assert "NameError" in value and "y" in value
    assert "Offline tutor" in help_box.view.meta.value
    assert help_box._context()[0] == "double"  # the cell defines the exercise's function


def test_explain_this_error_outside_a_lesson_uses_a_general_tutor(workdir: Path) -> None:
    try:
        1 / 0  # noqa: B018
    except ZeroDivisionError as exc:
        help_box = ErrorHelp(exc, "1 / 0", spawn=lambda job: job())
    help_box.button.click()
    assert "ZeroDivisionError" in help_box.view.response.value
    assert "Offline tutor" in help_box.view.meta.value
    assert help_box._context()[:2] == (None, "1 / 0")


def test_explain_this_error_with_a_broken_lesson_says_what_to_do(workdir: Path) -> None:
    (workdir / "lesson.json").write_text("{not json", encoding="utf-8")
    help_box = ErrorHelp(ZeroDivisionError("division by zero"), "1/0")
    help_box.button.click()
    assert "cannot read the lesson pack" in help_box.view.response.value


@pytest.mark.slow
def test_error_hook_in_a_real_kernel(lesson_dir: Path) -> None:
    import nbformat
    from nbclient import NotebookClient

    cells = [
        "from eduproject.learner.errorhook import enable_error_help\nassert enable_error_help()",
        "1/0",
        "def broken(:\n    pass",
        "print('fine')",
        'import eduproject\neduproject.panel("tripel")',
        'eduproject.panel("double")',
    ]
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(
        nb,
        timeout=60,
        kernel_name="python3",
        allow_errors=True,
        resources={"metadata": {"path": str(lesson_dir)}},
    ).execute()  # the kernel inherits this process's environment (offline tutor, HOME)
    out = [cell.outputs for cell in nb.cells]
    assert out[0] == []
    error, button = out[1]  # the normal traceback, untouched, then the button
    assert error["output_type"] == "error" and error["ename"] == "ZeroDivisionError"
    traceback = re.sub(r"\x1b\[[0-9;]*m", "", "\n".join(error["traceback"]))
    assert "Traceback (most recent call last)" in traceback and "----> 1 1/0" in traceback
    assert WIDGET_VIEW in button["data"]
    syntax, button = out[2]
    assert syntax["ename"] == "SyntaxError" and WIDGET_VIEW in button["data"]
    assert out[3] == [{"output_type": "stream", "name": "stdout", "text": "fine\n"}]
    (own,) = out[4]  # eduproject's own error: its message, no traceback, no button
    assert own["ename"] == "TutorError"
    assert "no exercise 'tripel' (it has: double)" in "\n".join(own["traceback"])
    assert not any("Traceback" in line for line in own["traceback"])
    (panel,) = out[5]
    assert panel["output_type"] == "execute_result" and WIDGET_VIEW in panel["data"]
