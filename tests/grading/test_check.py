"""eduproject.check: visible tests in the learner's namespace, isolated, explained."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

from eduproject.core.pack import ExerciseInfo, LessonPack, VisibleTest
from eduproject.core.results import TestResult as Outcome
from eduproject.errors import TutorError
from eduproject.learner.check import CheckResult, check, friendly_error, run_test


def _pack(*tests: VisibleTest) -> LessonPack:
    exercise = ExerciseInfo(
        id="double",
        title="Double a number",
        prompt="Write `double(x)`.",
        stub="def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n",
        hints=(),
        avoid=(),
        visible_tests=tests,
    )
    return LessonPack(lesson="demo", title="Demo", version="v1", exercises=(exercise,))


BASICS = VisibleTest("basics", 1, False, "assert double(2) == 4\nassert double(0) == 0\n")
NEGATIVE = VisibleTest("negative", 1, False, "assert double(-3) == -6\n")
MESSAGE = VisibleTest(
    "with_message",
    1,
    False,
    'got = double(5)\nassert got == 10, f"double(5) should be 10, got {got!r}"\n',
)
HIDDEN = VisibleTest("big_numbers", 2, True, "")
PARTLY = VisibleTest("types", 1, True, "assert isinstance(double(1), int)\n")


def _namespace(code: str) -> dict[str, Any]:
    ns: dict[str, Any] = {}
    exec(textwrap.dedent(code), ns)
    return ns


def test_all_pass_lists_hidden_tests_by_name_only() -> None:
    ns = _namespace("def double(x):\n    return 2 * x\n")
    result = check("double", pack=_pack(BASICS, NEGATIVE, HIDDEN), namespace=ns, display=False)
    assert result.results == (Outcome("basics", True, ""), Outcome("negative", True, ""))
    assert (result.passed, result.total, result.all_passed) == (2, 2, True)
    assert result.hidden == ("big_numbers",)
    assert "big_numbers: hidden, checked when graded" in result.text()
    assert "double: 2 of 2 visible tests passed" in result.text()


def test_failing_comparison_says_what_came_back_and_what_was_expected() -> None:
    ns = _namespace("def double(x):\n    return x + 2\n")  # right for 2, wrong for -3
    result = check("double", pack=_pack(BASICS, NEGATIVE), namespace=ns, display=False)
    basics, negative = result.results
    assert not basics.passed
    assert basics.message == "double(0) gave 2, expected 0"
    assert negative.message == "double(-3) gave -1, expected -6"
    assert (result.passed, result.total) == (0, 2)


def test_instructor_message_wins_over_generated_detail() -> None:
    ns = _namespace("def double(x):\n    return x\n")
    (outcome,) = check("double", pack=_pack(MESSAGE), namespace=ns, display=False).results
    assert outcome == Outcome("with_message", False, "double(5) should be 10, got 5")


def test_one_failing_test_does_not_stop_the_others_and_tests_do_not_leak_names() -> None:
    ns = _namespace(
        """
        def double(x):
            if x < 0:
                raise ValueError("negative numbers are not supported")
            return 2 * x
        """
    )
    result = check("double", pack=_pack(NEGATIVE, BASICS, MESSAGE), namespace=ns, display=False)
    assert [r.passed for r in result.results] == [False, True, True]
    assert result.results[0].message == (
        "your code raised ValueError: negative numbers are not supported (in `double`, line 4)"
    )
    assert "got" not in ns  # MESSAGE assigned `got`; the check put the namespace back


def test_stub_and_missing_definition_get_friendly_lines() -> None:
    ns = _namespace("def double(x):\n    raise NotImplementedError()\n")
    (stub,) = check("double", pack=_pack(NEGATIVE), namespace=ns, display=False).results
    assert stub.message.startswith("not written yet: your code still raises NotImplementedError")
    (missing,) = check("double", pack=_pack(NEGATIVE), namespace={}, display=False).results
    assert missing.message == "`double` is not defined: run the cell that defines it first"


def test_partly_hidden_test_runs_its_visible_part_and_says_more_comes() -> None:
    ns = _namespace("def double(x):\n    return 2.0 * x\n")
    result = check("double", pack=_pack(PARTLY), namespace=ns, display=False)
    assert result.partly_hidden == ("types",)
    assert result.results[0].message == "`assert isinstance(double(1), int)` failed"
    assert "more checks when graded" in result.html()


def test_interrupt_marks_the_rest_not_run() -> None:
    ns = _namespace("def double(x):\n    raise KeyboardInterrupt\n")
    result = check("double", pack=_pack(BASICS, NEGATIVE), namespace=ns, display=False)
    assert result.results[0].message.startswith("interrupted")
    assert result.results[1].message == "not run (check was interrupted)"


def test_learner_exit_and_odd_comparisons_are_contained() -> None:
    assert run_test("t", "import sys\nsys.exit(3)", {}).message == "your code raised SystemExit: 3"
    assert run_test("t", "assert 1 in [2, 3]", {}).message == "expected `1 in [2, 3]`"
    assert run_test("t", "n = 3\nassert n > 5", {}).message == "expected `n > 5`, but n is 3"
    assert run_test("t", "assert (", {}).message.startswith("the test code does not compile")
    assert run_test("t", "x = []\nassert x", {}).message == "`assert x` failed"


def test_friendly_error_for_bare_exception_without_message() -> None:
    try:
        exec(compile("def f():\n    raise RuntimeError\nf()", "<cell>", "exec"), {})
    except RuntimeError as exc:
        assert friendly_error(exc) == "your code raised RuntimeError (in `f`, line 2)"


def test_html_escapes_learner_controlled_text() -> None:
    result = CheckResult("double", (Outcome("t", False, "gave '<script>'"),))
    assert "<script>" not in result.html()
    assert "&lt;script&gt;" in result.html()
    assert "✗" in result.html() and "✗ t -- gave '<script>'" in result.text()


def test_unknown_exercise_is_a_tutor_error_naming_the_known_ones() -> None:
    with pytest.raises(TutorError, match=r"no exercise 'tripel' \(it has: double\)"):
        check("tripel", pack=_pack(BASICS), namespace={}, display=False)


def test_plain_python_prints_text_and_reads_the_callers_globals(
    capsys: pytest.CaptureFixture[str],
) -> None:
    global double

    def double(x: int) -> int:
        return 2 * x

    result = check("double", pack=_pack(BASICS))
    assert result.all_passed
    assert capsys.readouterr().out.startswith("double: 1 of 1 visible test passed\n  ✓ basics")


LESSON_JSON = {
    "format": 1,
    "lesson": "demo",
    "title": "Demo",
    "version": "v1",
    "exercises": [
        {
            "id": "double",
            "title": "Double a number",
            "prompt": "Write `double(x)`.",
            "stub": "def double(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n",
            "hints": ["Multiply."],
            "avoid": [],
            "tests": [
                {
                    "name": "two",
                    "points": 1,
                    "hidden": False,
                    "visible_source": "assert double(2) == 4\n",
                },
                {
                    "name": "negative",
                    "points": 1,
                    "hidden": False,
                    "visible_source": "assert double(-3) == -6\n",
                },
                {"name": "big", "points": 2, "hidden": True, "visible_source": ""},
            ],
            "guard": {},
        }
    ],
}


def _run_notebook(folder: Path, cells: list[str]) -> list[list[dict[str, Any]]]:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    client = NotebookClient(
        nb, timeout=60, kernel_name="python3", allow_errors=True,
        resources={"metadata": {"path": str(folder)}},
    )  # fmt: skip
    client.execute()
    return [cell.outputs for cell in nb.cells]


@pytest.mark.slow
def test_check_in_a_real_kernel_shows_one_table_and_clean_errors(tmp_path: Path) -> None:
    (tmp_path / "lesson.json").write_text(json.dumps(LESSON_JSON), encoding="utf-8")
    outputs = _run_notebook(
        tmp_path,
        [
            "def double(x):\n    return x + 2",
            'import eduproject\neduproject.check("double")',
            'r = eduproject.check("double", display=False)\nprint(r.passed, r.total, r.hidden)',
            'eduproject.check("tripel")',
        ],
    )
    assert outputs[0] == []
    (shown,) = outputs[1]  # displayed once, although check(...) is the cell's last expression
    assert shown["output_type"] == "display_data"
    html = shown["data"]["text/html"]
    assert "double: 1 of 2 visible tests passed" in html
    assert "✓" in html and "✗" in html
    assert "double(-3) gave -1, expected -6" in html
    assert "hidden: checked when graded" in html
    assert "✗ negative -- double(-3) gave -1, expected -6" in shown["data"]["text/plain"]
    assert outputs[2] == [{"output_type": "stream", "name": "stdout", "text": "1 2 ('big',)\n"}]
    (error,) = outputs[3]
    assert error["output_type"] == "error"
    assert error["ename"] == "TutorError"
    text = "\n".join(error["traceback"])
    assert "no exercise 'tripel' (it has: double)" in text
    assert "Traceback" not in text and "File " not in text


def test_tests_run_in_the_learners_namespace_as_the_notebook_then_put_it_back() -> None:
    """nbgrader's own example (ps1): a test deletes a learner function to prove another uses
    it, then restores it; another sets a global the learner's code reads. In the notebook
    both pass: learner code reads the notebook's globals, which the test cells change."""
    ns = _namespace(
        """
        def squares(n):
            return [i * i for i in range(1, n + 1)]
        def sum_of_squares(n):
            return sum(squares(n))
        def scaled(x):
            return FACTOR * x
        """
    )
    uses = VisibleTest(
        "uses_squares",
        1,
        False,
        "orig = squares\ndel squares\ntry:\n    sum_of_squares(1)\nexcept NameError:\n    pass\n"
        "else:\n    raise AssertionError('does not use squares')\nfinally:\n    squares = orig\n",
    )
    reads = VisibleTest("reads_factor", 1, False, "FACTOR = 3\nassert scaled(2) == 6\n")
    before = dict(ns)
    result = check("double", pack=_pack(uses, reads), namespace=ns, display=False)
    assert [(r.name, r.passed, r.message) for r in result.results] == [
        ("uses_squares", True, ""),
        ("reads_factor", True, ""),
    ]
    assert ns == before  # `orig` and FACTOR gone, squares the learner's own again


def test_a_deleted_learner_name_comes_back_even_when_the_test_fails() -> None:
    ns = _namespace("def double(x):\n    return 2 * x\n")
    learner_double = ns["double"]
    gone = VisibleTest("gone", 1, False, "del double\nassert False\n")
    result = check("double", pack=_pack(gone), namespace=ns, display=False)
    assert not result.results[0].passed
    assert ns["double"] is learner_double
