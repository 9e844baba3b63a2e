"""The engine on real sandboxed submissions: scores, statuses, order, the executed notebook."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eduproject.core.lesson import Lesson
from eduproject.core.results import Status
from eduproject.runner.engine import preload_for
from eduproject.runner.sandbox import Backend, Limits, Zygote

from .conftest import TEST_LIMITS
from .grading_support import (
    BASIC_ANSWERS,
    WriteLesson,
    all_text,
    bundle_lesson,
    cells_with_role,
    grade,
    scores,
    statuses,
    submission,
)


def test_correct_submission_earns_every_point(basic_lesson: Lesson, zygote: Zygote) -> None:
    result = grade(basic_lesson, zygote, submission(basic_lesson, BASIC_ANSWERS))
    assert scores(result) == {"double": 3.0, "words": 3.0}
    assert result.status == Status.GRADED and result.detail == ""
    assert result.score == result.max_score == 6.0
    assert all(t.passed and t.message == "" for e in result.exercises for t in e.tests)
    assert result.sandbox == "" and result.duration_s > 0


def test_partial_credit_per_test_and_hidden_messages_kept_for_the_instructor(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    answers = {
        "double": "def double(x):\n    return x + 2",
        "words": "def words(text):\n    return text.split(' ')",
    }
    result = grade(basic_lesson, zygote, submission(basic_lesson, answers))
    double = {t.name: t for t in result.exercises[0].tests}
    assert double["small"].passed and double["small"].points == 1
    # The instructor sees why a hidden test failed; the learner's notebook never does.
    assert not double["large"].passed and double["large"].hidden
    assert double["large"].message == "SECRET-EXPECTED-42"
    assert "SECRET-EXPECTED" not in all_text(result)
    words = {t.name: t for t in result.exercises[1].tests}
    assert words["words-1"].passed and not words["words-2"].passed
    assert scores(result) == {"double": 1.0, "words": 1.0}
    assert statuses(result) == {"double": "graded", "words": "graded"}


def test_hidden_test_source_and_expected_values_never_appear(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    answers = {
        "double": "def double(x):\n    print('I saw', x)\n    return 0",
        "words": "def words(text):\n    print(text)\n    return []",
    }
    result = grade(basic_lesson, zygote, submission(basic_lesson, answers))
    text = all_text(result)
    for secret in (
        "SECRET-EXPECTED-42",
        "double(21)",
        "HIDDEN_INPUT_MARKER",
        "x  y z",
        "['x', 'y', 'z']",
    ):
        assert secret not in text
    visible = next(t for t in result.exercises[0].tests if t.name == "small")
    assert visible.message == "double(2) gave 0"


def test_solution_cell_error_gives_status_error_with_the_exception(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    answers = dict(BASIC_ANSWERS, words="def words(text):\n    return text.split()\nundefined_name")
    result = grade(basic_lesson, zygote, submission(basic_lesson, answers))
    words = result.exercises[1]
    assert (
        words.status == Status.ERROR
        and words.detail == "NameError: name 'undefined_name' is not defined"
    )
    assert words.score == 3.0  # the function was defined before the error: its tests still count
    assert result.status == Status.ERROR


def test_stub_left_unchanged_scores_zero(basic_lesson: Lesson, zygote: Zygote) -> None:
    result = grade(basic_lesson, zygote, submission(basic_lesson, {}))
    assert scores(result) == {"double": 0.0, "words": 0.0}
    # The stub defines the function fine; calling it raises, so the tests fail.
    assert statuses(result) == {"double": "graded", "words": "graded"}
    assert (
        result.exercises[0]
        .tests[0]
        .message.startswith("not written yet: the code still raises NotImplementedError")
    )


def test_cell_timeout_costs_only_its_own_exercise(basic_lesson: Lesson, zygote: Zygote) -> None:
    answers = dict(BASIC_ANSWERS, double="def double(x):\n    return 2 * x\nwhile True:\n    pass")
    result = grade(
        basic_lesson, zygote, submission(basic_lesson, answers), limits=Limits(cell_timeout=1)
    )
    # The endless cell is skipped (double is never defined); the later exercise is graded
    # from the state the notebook has without that cell.
    assert statuses(result) == {"double": "timeout", "words": "graded"}
    assert scores(result) == {"double": 0.0, "words": 3.0}
    assert "your code for “Double” ran longer than 1 s" in result.exercises[0].detail
    assert result.status == Status.TIMEOUT
    nb = result.executed_notebook
    assert nb is not None
    looped = next(c for c in nb["cells"] if c["metadata"].get("eduproject", {}).get("cell") == "c2")
    assert "ran longer than 1 s" in looped["outputs"][0]["evalue"]


def test_a_test_that_hangs_in_learner_code_times_out(basic_lesson: Lesson, zygote: Zygote) -> None:
    answers = dict(
        BASIC_ANSWERS, double="def double(x):\n    while x > 3:\n        pass\n    return 2 * x"
    )
    result = grade(
        basic_lesson, zygote, submission(basic_lesson, answers), limits=Limits(cell_timeout=1)
    )
    double = {t.name: t for t in result.exercises[0].tests}
    assert double["small"].passed and not double["large"].passed
    assert double["large"].message == "timed out after 1 s"
    assert statuses(result) == {"double": "timeout", "words": "graded"}
    assert scores(result) == {"double": 1.0, "words": 3.0}


def test_a_visible_test_that_hangs_costs_only_that_test(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    answers = dict(
        BASIC_ANSWERS, double="def double(x):\n    while x == 2:\n        pass\n    return 2 * x"
    )
    result = grade(
        basic_lesson, zygote, submission(basic_lesson, answers), limits=Limits(cell_timeout=1)
    )
    double = {t.name: t for t in result.exercises[0].tests}
    assert not double["small"].passed and double["small"].message == "timed out after 1 s"
    assert double["large"].passed  # replayed without the hung test
    assert statuses(result) == {"double": "timeout", "words": "graded"}
    assert scores(result) == {"double": 2.0, "words": 3.0}


def test_whole_submission_timeout(basic_lesson: Lesson, zygote: Zygote) -> None:
    answers = dict(BASIC_ANSWERS, words="import time\ntime.sleep(60)\n" + BASIC_ANSWERS["words"])
    limits = Limits(cell_timeout=30, timeout=2)
    result = grade(basic_lesson, zygote, submission(basic_lesson, answers), limits=limits)
    assert statuses(result) == {"double": "graded", "words": "timeout"}
    assert scores(result) == {"double": 3.0, "words": 0.0}  # its hidden test ran too
    assert "the notebook ran longer than" in result.exercises[1].detail


def test_process_death_is_killed_and_earlier_scores_stay(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    answers = dict(BASIC_ANSWERS, words="import os\nos._exit(0)")
    result = grade(basic_lesson, zygote, submission(basic_lesson, answers))
    assert statuses(result) == {"double": "graded", "words": "killed"}
    assert scores(result) == {"double": 3.0, "words": 0.0}
    assert "ended itself (exit code 0)" in result.exercises[1].detail
    assert all(not t.passed for t in result.exercises[1].tests)


def test_memory_exhaustion_is_killed(basic_lesson: Lesson, zygote: Zygote) -> None:
    answers = dict(BASIC_ANSWERS, double="hog = bytearray(4 * 1024**3)\n" + BASIC_ANSWERS["double"])
    result = grade(basic_lesson, zygote, submission(basic_lesson, answers))
    assert result.exercises[0].status == Status.KILLED
    assert result.exercises[0].detail.startswith("memory limit (512 MB) reached: MemoryError")


def test_unreadable_submission_is_invalid_for_every_exercise(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    result = grade(basic_lesson, zygote, b'{"nbformat": 3}')
    assert result.status == Status.INVALID
    assert statuses(result) == {"double": "invalid", "words": "invalid"}
    assert "nbformat 3" in result.detail and result.executed_notebook is None
    folder = grade(basic_lesson, zygote, None, problem="empty folder: no notebook (.ipynb) in it")
    assert folder.status == Status.INVALID and folder.detail.startswith("empty folder")


def test_tampered_cells_are_reported_and_graded_with_the_bundle(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    def tamper(nb: dict[str, Any]) -> None:
        tests = cells_with_role(nb, "tests")
        tests[0]["source"] = "pass"
        tests[0]["metadata"]["eduproject"]["points"] = 50

    answers = dict(BASIC_ANSWERS, double="def double(x):\n    return 0")
    result = grade(basic_lesson, zygote, submission(basic_lesson, answers, tamper))
    double = result.exercises[0]
    assert double.status == Status.TAMPERED and double.score == 0.0 and double.max_score == 3.0
    assert "test cell 'c3' was edited" in double.detail and "changed to 50" in double.detail
    assert result.exercises[1].status == Status.GRADED


def test_added_and_duplicated_cells_run_in_submission_order(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    def edit(nb: dict[str, Any]) -> None:
        cells = nb["cells"]
        (solution, _) = cells_with_role(nb, "solution")
        at = cells.index(solution)
        copy = json.loads(json.dumps(solution))
        solution["source"] = "def double(x):\n    return -1"
        copy["source"] = "def double(x):\n    return helper(x)"
        cells.insert(at + 1, copy)  # a copied cell keeps its metadata (JupyterLab does that)
        cells.insert(
            at,
            {
                "cell_type": "code",
                "metadata": {},
                "source": "def helper(x):\n    return 2 * x",
                "outputs": [],
                "execution_count": None,
            },
        )

    result = grade(basic_lesson, zygote, submission(basic_lesson, dict(BASIC_ANSWERS), edit))
    assert scores(result) == {"double": 3.0, "words": 3.0}
    assert result.status == Status.GRADED


def test_executed_notebook_has_outputs_and_visible_test_results(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    answers = dict(
        BASIC_ANSWERS, double="def double(x):\n    return 2 * x\nprint('defined')\ndouble(5)"
    )
    nb = grade(basic_lesson, zygote, submission(basic_lesson, answers)).executed_notebook
    assert nb is not None and nb["nbformat"] == 4
    solution = next(
        c for c in nb["cells"] if c["metadata"].get("eduproject", {}).get("cell") == "c2"
    )
    kinds = [o["output_type"] for o in solution["outputs"]]
    assert (
        kinds == ["stream", "execute_result"]
        and solution["outputs"][1]["data"]["text/plain"] == "10"
    )
    tests = next(c for c in nb["cells"] if c["metadata"].get("eduproject", {}).get("cell") == "c3")
    assert (
        tests["outputs"][0]["text"] == "PASS small: 1/1 points\nPASS large (hidden): 2/2 points\n"
    )
    assert "BEGIN HIDDEN" not in tests["source"] and "double(21)" not in tests["source"]
    assert len({c["id"] for c in nb["cells"]}) == len(nb["cells"])


def test_huge_outputs_are_capped(basic_lesson: Lesson, zygote: Zygote) -> None:
    answers = dict(
        BASIC_ANSWERS,
        double="for i in range(30000):\n    print('x' * 50)\n" + BASIC_ANSWERS["double"],
    )
    result = grade(basic_lesson, zygote, submission(basic_lesson, answers))
    assert scores(result)["double"] == 3.0
    assert len(json.dumps(result.executed_notebook)) < 3 * zygote.limits.max_output
    assert "output truncated" in json.dumps(result.executed_notebook)


def test_all_or_nothing_and_setup_cells(
    write_lesson: WriteLesson, tmp_path: Path, pandas_zygote: Zygote
) -> None:
    folder = write_lesson(
        [
            ("code setup", "import pandas as pd\ndf = pd.read_csv('data/t.csv')"),
            ("md exercise=total all-or-nothing", "# Total"),
            (
                "code solution",
                "def total(frame):\n    ### BEGIN SOLUTION\n    return int(frame['n'].sum())\n    ### END SOLUTION",
            ),
            (
                "code tests",
                "### TEST a points=1\nassert total(df) == 6\n### TEST b points=1\nassert total(df.head(1)) == 1",
            ),
        ],
        "frames",
        data={"t.csv": b"n\n1\n2\n3\n"},
    )
    lesson = bundle_lesson(folder, tmp_path / "grader")
    assert preload_for(lesson) == ["pandas"]
    data_files = {"data/t.csv": b"n\n1\n2\n3\n"}

    def setup_edit(nb: dict[str, Any]) -> None:
        cells_with_role(nb, "setup")[0]["source"] = (
            "import pandas as pd\ndf = pd.DataFrame({'n': [6]})"
        )

    right = grade(
        lesson,
        pandas_zygote,
        submission(lesson, {"total": "def total(frame):\n    return int(frame['n'].sum())"}),
        data_files=data_files,
    )
    assert scores(right) == {"total": 2.0}
    half = grade(
        lesson,
        pandas_zygote,
        submission(lesson, {"total": "def total(frame):\n    return 6"}),
        data_files=data_files,
    )
    assert [t.passed for t in half.exercises[0].tests] == [True, False] and scores(half) == {
        "total": 0.0
    }
    # The bundle's setup runs even when the learner changed it, and the change is reported.
    cheat = grade(
        lesson,
        pandas_zygote,
        submission(lesson, {"total": "def total(frame):\n    return 6"}, setup_edit),
        data_files=data_files,
    )
    assert (
        cheat.exercises[0].status == Status.TAMPERED and "setup cell" in cheat.exercises[0].detail
    )
    assert scores(cheat) == {"total": 0.0}


@pytest.mark.parametrize("answer", ["def double(x):\n    return 2 * x\n"])
def test_engine_is_deterministic(basic_lesson: Lesson, zygote: Zygote, answer: str) -> None:
    data = submission(basic_lesson, dict(BASIC_ANSWERS, double=answer))
    first, second = (grade(basic_lesson, zygote, data) for _ in range(2))
    assert first.exercises == second.exercises
    assert first.submission_hash == second.submission_hash


def test_exercises_may_share_test_names(
    write_lesson: WriteLesson, tmp_path: Path, zygote: Zygote
) -> None:
    cells = [
        ("md exercise=one", "# One"),
        ("code solution", "def one():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION"),
        ("code tests", "### TEST basics points=1\nassert one() == 1"),
        ("md exercise=two", "# Two"),
        ("code solution", "def two():\n    ### BEGIN SOLUTION\n    return 2\n    ### END SOLUTION"),
        ("code tests", "### TEST basics points=3\nassert two() == 2"),
    ]
    lesson = bundle_lesson(write_lesson(cells, "same-names"), tmp_path / "grader")
    answers = {"one": "def one():\n    return 1", "two": "def two():\n    return 0"}
    result = grade(lesson, zygote, submission(lesson, answers))
    assert scores(result) == {"one": 1.0, "two": 0.0}
    assert [(t.exercise, t.name, t.passed) for e in result.exercises for t in e.tests] == [
        ("one", "basics", True), ("two", "basics", False),
    ]  # fmt: skip


def test_ipython_syntax_in_tests_is_read_by_a_judge_that_loaded_it_once(
    write_lesson: WriteLesson, tmp_path: Path, backend: Backend
) -> None:
    """A lesson whose tests use magics preloads IPython's transformer (in the judge server,
    once); a lesson in plain Python never loads it there. Both grade as the notebook runs."""
    magic = [
        ("md exercise=double", "# Double"),
        (
            "code solution",
            "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
        ),
        ("code tests", "%time assert double(2) == 4\nassert double(-1) == -2"),
    ]
    plain = [*magic[:2], ("code tests", "assert double(2) == 4")]
    for cells, name, preloaded in ((magic, "magic", True), (plain, "plain", False)):
        lesson = bundle_lesson(write_lesson(cells, name), tmp_path / "grader")
        preload = preload_for(lesson)
        assert ("IPython.core.inputtransformer2" in preload) is preloaded
        with Zygote(backend, preload=preload, limits=TEST_LIMITS, lesson_files={}) as zygote:
            right = grade(
                lesson, zygote, submission(lesson, {"double": "def double(x):\n    return x + x"})
            )
            wrong = grade(
                lesson, zygote, submission(lesson, {"double": "def double(x):\n    return x"})
            )
        assert scores(right) == {"double": 1.0}, all_text(right)
        assert scores(wrong) == {"double": 0.0}
