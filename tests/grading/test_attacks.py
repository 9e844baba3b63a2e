"""Every attack of issue 3 against the real sandboxed engine: no point the hidden tests did not award.

Each hostile submission pairs its trick with WRONG code (``double`` returns 0, ``words``
returns []), so an honest grader awards 0 of 6 points; any point earned would be forged.
"""

from __future__ import annotations

import ast
import csv
import json
from pathlib import Path
from typing import Any

import pytest

from eduproject.core.learner_ids import shown
from eduproject.core.lesson import Lesson, Role
from eduproject.core.results import ExerciseResult, Status, SubmissionResult
from eduproject.grading.export import export
from eduproject.grading.gradebook import Gradebook
from eduproject.grading.pipeline import lesson_for_grading
from eduproject.runner.backends import TMPFS_MB
from eduproject.runner.engine import Engine, preload_for
from eduproject.runner.sandbox import Limits, Zygote

from .attack_corpus import (
    ALLOWED_PARTIALS,
    DEEP_TREES,
    EQ_MAKERS,
    EXITS,
    FAKE_RESULTS,
    FORMULA_IDS,
    HANDLES_ATTACK,
    HANDLES_LESSON,
    IGNORE_SIGNALS_AND_LOOP,
    LIBRARY_PATCHES,
    LOOK_ALIKE_IDS,
    NON_SOLUTIONS,
    PANDAS_NON_SOLUTIONS,
    PATCHED_BUILTINS,
    REWRITING_HOOKS,
    SHARED_STATE,
    SHOWTRACEBACK,
    SYMLINKED_SUBMISSIONS,
    TAMPERING,
    TOO_BIG,
    WRONG_DOUBLE,
    WRONG_WORDS,
    always_equal,
    always_equal_answers,
    before,
    corpus,
)
from .grading_support import (
    BASIC,
    BASIC_ANSWERS,
    Listener,
    WriteLesson,
    all_text,
    bundle_lesson,
    cells_with_role,
    grade,
    grade_course,
    run,
    stdout,
    submission,
    write_submission,
)

EXERCISES = Path(__file__).resolve().parents[2] / "exercises"


def attack(
    lesson: Lesson,
    zygote: Zygote,
    trick: str,
    *,
    edit: Any = None,
    where: str = "double",
    whole: bool = False,
) -> SubmissionResult:
    """Grade ``trick`` placed before the wrong code of ``where`` (or as all the code: ``whole``)."""
    answers = {"double": trick, "words": ""} if whole else before(trick, where)
    result = grade(lesson, zygote, submission(lesson, answers, edit))
    assert result.score == 0.0, {
        e.exercise: (e.score, e.status, e.detail) for e in result.exercises
    }
    assert not any(t.passed for e in result.exercises for t in e.tests if t.hidden)
    assert result.max_score == 6.0  # points from the bundle, whatever the submission says
    return result


@pytest.mark.parametrize("base", sorted(EQ_MAKERS))
def test_return_value_whose_eq_is_always_true(
    basic_lesson: Lesson, zygote: Zygote, base: str
) -> None:
    answers = always_equal_answers(base)
    result = attack(basic_lesson, zygote, answers["double"], whole=True)
    # The notebook would pass these tests; the grader withholds the points and says why.
    reviewed = [t for e in result.exercises for t in e.tests if t.review]
    assert reviewed, [(t.name, t.message) for e in result.exercises for t in e.tests]
    assert all(
        "__eq__ (learner code) decided `==` against a plain value" in t.review for t in reviewed
    )
    assert result.status == Status.REVIEW


def test_eq_trick_nested_inside_a_plain_container(basic_lesson: Lesson, zygote: Zygote) -> None:
    trick = always_equal("object") + "def words(text):\n    return [Sneaky(), Sneaky()]\n"
    attack(basic_lesson, zygote, WRONG_DOUBLE + trick, whole=True)


def test_patched_builtins_assertion_error_and_excepthook(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    attack(basic_lesson, zygote, PATCHED_BUILTINS)


def test_input_transformers_and_event_hooks_rewriting_or_skipping_later_cells(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    result = attack(basic_lesson, zygote, REWRITING_HOOKS)
    # The transformer did rewrite the learner's later cells, in the learner's process only.
    words = next(t for t in result.exercises[1].tests if t.name == "words-1")
    assert words.message.startswith("NameError: name 'words' is not defined")


def test_showtraceback_override_hiding_errors(basic_lesson: Lesson, zygote: Zygote) -> None:
    attack(basic_lesson, zygote, SHOWTRACEBACK, where="words")


@pytest.mark.parametrize(("trick", "status"), EXITS.items())
def test_exiting_or_killing_processes(
    basic_lesson: Lesson, zygote: Zygote, trick: str, status: str
) -> None:
    result = attack(basic_lesson, zygote, WRONG_DOUBLE + trick)
    assert result.exercises[0].status == status, result.exercises[0].detail
    if status == "killed":  # it costs only its own exercise: the next one is graded (0 points)
        assert result.exercises[1].status == Status.GRADED
    reply_after = grade(
        basic_lesson,
        zygote,
        submission(basic_lesson, {"double": "def double(x):\n    return 2 * x"}),
    )
    assert reply_after.exercises[0].score == 3.0  # the zygote survived whatever was killed


def test_printing_text_that_looks_like_results(basic_lesson: Lesson, zygote: Zygote) -> None:
    result = attack(basic_lesson, zygote, FAKE_RESULTS)
    nb = result.executed_notebook
    assert nb is not None
    tests = cells_with_role(nb, "tests")
    assert tests[0]["outputs"][0]["text"].startswith("FAIL small: 0/1 points")


def test_writing_files_where_results_go(
    basic_lesson: Lesson, zygote: Zygote, tmp_path: Path
) -> None:
    results = tmp_path / "gradebook.sqlite"
    results.write_bytes(b"original")
    bundle = basic_lesson.folder / "bundle.json"
    before = bundle.read_bytes()
    trick = (
        "import json, os\n"
        f"for path in [{str(results)!r}, {str(bundle)!r}, 'results.json', '/tmp/results.json', '../results.json']:\n"
        "    try:\n"
        "        with open(path, 'w') as fh:\n"
        "            json.dump({'score': 6}, fh)\n"
        "    except OSError as exc:\n"
        "        print(path, type(exc).__name__)\n"
    )
    attack(basic_lesson, zygote, trick)
    assert results.read_bytes() == b"original" and bundle.read_bytes() == before


def test_reading_test_files_the_bundle_or_the_graders_memory(
    basic_lesson: Lesson, zygote: Zygote
) -> None:
    bundle = basic_lesson.folder / "bundle.json"
    project = Path(__file__).resolve().parents[2]
    trick = (
        "import gc, os\nfound = []\n"
        f"for path in [{str(bundle)!r}, {str(project / 'exercises')!r}, {str(project / 'build')!r}]:\n"
        "    try:\n"
        "        found.append(open(path).read()[:100] if os.path.isfile(path) else os.listdir(path))\n"
        "    except OSError as exc:\n"
        "        found.append(type(exc).__name__)\n"
        "for root in ['/sandbox', '/tmp', '/proc/1/root']:\n"
        "    try:\n"
        "        for d, _, files in os.walk(root):\n"
        "            found += [f for f in files if f.startswith('bundle.json') or f.endswith('.sqlite')]\n"
        "    except OSError:\n"
        "        pass\n"
        "needle = 'SECRET-' + 'EXPECTED'  # the hidden test's message, if it were in this process\n"
        "found += [o for o in gc.get_objects() if isinstance(o, str) and needle in o]\n"
        "print(found)\n"
    )
    result = attack(basic_lesson, zygote, trick)
    nb = result.executed_notebook
    assert nb is not None
    printed = next(
        c for c in nb["cells"] if c["metadata"].get("eduproject", {}).get("cell") == "c2"
    )
    assert (
        printed["outputs"][0]["text"]
        == "['FileNotFoundError', 'FileNotFoundError', 'FileNotFoundError']\n"
    )
    assert "SECRET-EXPECTED" not in all_text(result)


def test_network_access_fails(basic_lesson: Lesson, zygote: Zygote) -> None:
    listener = Listener()
    trick = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {listener.port}), timeout=2).sendall(b'hi')\n"
        "except OSError as exc:\n"
        "    print('no network:', type(exc).__name__)\n"
    )
    attack(basic_lesson, zygote, trick)
    listener.close()
    assert listener.connections == []


@pytest.mark.parametrize("name", sorted(TAMPERING))
def test_editing_deleting_duplicating_tests_or_changing_points(
    basic_lesson: Lesson, zygote: Zygote, name: str
) -> None:
    edit, detail = TAMPERING[name]
    result = attack(basic_lesson, zygote, "", edit=edit)
    for exercise in result.exercises:
        assert exercise.status == Status.TAMPERED and detail in exercise.detail


def test_library_functions_patched_in_the_learner_process(
    basic_lesson: Lesson, pandas_zygote: Zygote
) -> None:
    trick = (
        "import pandas as pd\npd.testing.assert_frame_equal = lambda *a, **k: None\n"
        + LIBRARY_PATCHES
    )
    attack(basic_lesson, pandas_zygote, trick)


def test_values_too_big_or_too_deep_to_send(basic_lesson: Lesson, zygote: Zygote) -> None:
    result = attack(basic_lesson, zygote, TOO_BIG, whole=True)
    messages = {
        t.message.split(" (line")[0] for e in result.exercises for t in e.tests if not t.hidden
    }
    assert "TypeError: the value is nested more than 100 levels deep" in messages
    assert "ValueError: value too large to send to the grader" in messages


def test_signal_handlers_cannot_stop_the_timeout(basic_lesson: Lesson, zygote: Zygote) -> None:
    answers = {"double": IGNORE_SIGNALS_AND_LOOP, "words": WRONG_WORDS}
    result = grade(
        basic_lesson, zygote, submission(basic_lesson, answers), limits=Limits(cell_timeout=1)
    )
    assert result.score == 0.0 and result.exercises[0].status == Status.TIMEOUT


def test_later_cells_cannot_print_hidden_test_inputs(basic_lesson: Lesson, zygote: Zygote) -> None:
    spy = "SEEN = []\ndef double(x):\n    SEEN.append(x)\n    return 0\n"
    leak = "print('seen by double:', SEEN)\n" + WRONG_WORDS
    result = grade(basic_lesson, zygote, submission(basic_lesson, {"double": spy, "words": leak}))
    assert result.score == 0.0
    nb = result.executed_notebook
    assert nb is not None
    printed = next(
        c for c in nb["cells"] if c["metadata"].get("eduproject", {}).get("cell") == "c5"
    )
    # Visible tests run in place, as in the notebook (double(2), twice: the assertion and its
    # message); the hidden one (21) ran on a snapshot after every learner cell had run.
    assert printed["outputs"][0]["text"] == "seen by double: [2, 2]\n"
    assert "21" not in json.dumps(nb)


@pytest.mark.parametrize("name", sorted(corpus()))
def test_the_whole_corpus_earns_nothing(basic_lesson: Lesson, zygote: Zygote, name: str) -> None:
    answers, edit = corpus()[name]
    result = grade(basic_lesson, zygote, submission(basic_lesson, answers, edit))
    assert result.score == 0.0, (name, [(e.exercise, e.score, e.detail) for e in result.exercises])
    assert not any(t.passed for e in result.exercises for t in e.tests if t.hidden)
    assert "SECRET-EXPECTED" not in all_text(result)


def test_a_value_an_earlier_test_handed_over_cannot_be_changed_later(
    write_lesson: WriteLesson, zygote: Zygote, tmp_path: Path
) -> None:
    lesson = bundle_lesson(write_lesson(HANDLES_LESSON, "handles"), tmp_path / "grader")
    honest = grade(lesson, zygote, submission(lesson, {"table": lesson.exercises[0].solution}))
    assert honest.score == 3.0
    result = grade(lesson, zygote, submission(lesson, {"table": HANDLES_ATTACK}))
    hidden = next(t for t in result.exercises[0].tests if t.hidden)
    assert not hidden.passed and hidden.points == 0.0
    assert result.score == 1.0  # the visible test: check_table returned True


# -- issue 11 -------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["/tmp", "/dev/shm"])
def test_folder_trees_deeper_than_the_recursion_limit_leave_the_next_learner_graded(
    basic_lesson: Lesson, zygote: Zygote, where: str
) -> None:
    # The work-folder case (host disk, slower) is in test_batch_survives.py.
    zygote.spawn({}).end()  # a zygote that is up
    before = zygote._proc
    attack(basic_lesson, zygote, DEEP_TREES[where])
    after = grade(basic_lesson, zygote, submission(basic_lesson, BASIC_ANSWERS))
    assert after.score == 6.0 and after.status == Status.GRADED
    assert zygote._proc is before  # the cleanup did not kill the zygote (a restart costs seconds)


def test_symlinked_submissions_are_refused_not_graded_as_their_target(
    write_lesson: WriteLesson, tmp_path: Path
) -> None:
    """A link to another learner's notebook or folder earns nothing and shows nothing."""
    write_lesson(BASIC, "basic")
    course = tmp_path
    write_submission(course, "ada", BASIC_ANSWERS)
    subs = course / "submissions"
    for learner, (link, target) in SYMLINKED_SUBMISSIONS.items():
        path = subs / link
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(target)
        assert learner in link
    results = grade_course(course, workers=2)
    assert results["ada"][:2] == (6.0, "graded")
    for learner in SYMLINKED_SUBMISSIONS:
        score, status, detail = results[learner]
        assert (score, status) == (0.0, "invalid"), (learner, detail)
        assert "is a symbolic link" in detail, detail
    with Gradebook(course / "gradebook.sqlite", create=False) as gb:
        for learner in SYMLINKED_SUBMISSIONS:
            assert gb.executed_notebook(learner, "basic") is None  # nothing of ada's code


def test_look_alike_learner_ids_are_refused_with_a_recorded_status(
    write_lesson: WriteLesson, tmp_path: Path
) -> None:
    write_lesson(BASIC, "basic")
    for learner in ["ada", "ace", "jose\u0301", *LOOK_ALIKE_IDS]:
        write_submission(tmp_path, learner, BASIC_ANSWERS)
    results = grade_course(tmp_path)
    # NFKC: the macOS spelling of josé (e + combining accent) is josé.
    for learner in ("ada", "ace", "jos\u00e9"):
        assert results[learner][:2] == (6.0, "graded"), learner
    for raw, reason in LOOK_ALIKE_IDS.items():
        score, status, detail = results[shown(raw)]
        assert (score, status) == (0.0, "invalid") and reason in detail, (raw, detail)
    assert len(results) == 3 + len(LOOK_ALIKE_IDS)


def test_learner_ids_are_never_spreadsheet_formulas_in_exports(tmp_path: Path) -> None:
    db = tmp_path / "gradebook.sqlite"
    lesson = "=1+2"  # lesson ids become Canvas column headers
    with Gradebook(db) as gb:
        run = gb.start_run(lesson, "v1", {})
        for learner in FORMULA_IDS:
            exercise = ExerciseResult("@ex", 1.0, 2.0, Status.GRADED)
            gb.record(
                SubmissionResult(learner, lesson, "v1", "x.ipynb", "h", (exercise,), Status.GRADED),
                run,
            )
    for fmt in ("csv", "canvas"):
        out = tmp_path / f"{fmt}.csv"
        export(db, fmt, out)
        with out.open(newline="", encoding="utf-8") as fh:
            cells = [cell for row in csv.reader(fh) for cell in row]
        dangerous = [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r", "\uff1d")]
        assert dangerous == [], (fmt, dangerous)
        # Neutralised the OWASP way (a leading single quote), nothing else changed.
        assert set(FORMULA_IDS) <= {c[1:] if c.startswith("'") else c for c in cells}


@pytest.mark.parametrize("channel", sorted(SHARED_STATE))
def test_nothing_a_learner_leaves_in_kernel_state_reaches_the_next_learner(
    zygote: Zygote, channel: str
) -> None:
    leave, look = SHARED_STATE[channel]
    run(zygote, leave)
    reply, _ = run(zygote, look)  # the next learner of the same worker
    assert reply["status"] == "ok", reply
    assert stdout(reply) == "[]\n"


@pytest.mark.parametrize("folder", ["/dev/shm", "/tmp"])
def test_shared_memory_folders_hold_a_bounded_amount(zygote: Zygote, folder: str) -> None:
    # Pages of a tmpfs count against no process limit: each folder is sized.
    fill = (
        "import os\nwritten = 0\n"
        "for i in range(50):\n"
        "    try:\n"
        f"        with open(f'{folder}/fill{{i}}', 'wb') as fh:\n"
        "            fh.write(b'x' * 8 * 2**20)\n"
        "        written += 8\n"
        "    except OSError as exc:\n"
        "        print(exc.strerror)\n"
        "        break\n"
        "print(written)\n"
    )
    reply, _ = run(zygote, fill)
    message, written = stdout(reply).splitlines()
    assert message == "No space left on device"
    assert int(written) <= TMPFS_MB[folder]


@pytest.fixture(scope="module")
def sample_lessons(
    tmp_path_factory: pytest.TempPathFactory,
) -> list[tuple[Lesson, dict[str, bytes]]]:
    grader = tmp_path_factory.mktemp("grader")
    return [lesson_for_grading(folder, grader) for folder in sorted(EXERCISES.iterdir())]


def _non_solution(lesson: Lesson, expression: str) -> dict[str, str]:
    """Every exercise of ``lesson`` answered by ``def f(first, ...): return <expression>``."""
    answers = {}
    for cell in lesson.cells:
        if cell.role == Role.SOLUTION and cell.exercise is not None:
            function = next(
                n for n in ast.parse(cell.source).body if isinstance(n, ast.FunctionDef)
            )
            first = function.args.args[0].arg
            body = expression.replace("ARG", first)
            answers[cell.exercise] = f"def {function.name}({first}, *rest):\n    return {body}\n"
    return answers


def test_the_sample_course_gives_no_point_to_non_solutions(
    sample_lessons: list[tuple[Lesson, dict[str, bytes]]], zygote: Zygote, pandas_zygote: Zygote
) -> None:
    earned = {}
    for lesson, data in sample_lessons:
        pandas = "pandas" in preload_for(lesson)
        spawner = pandas_zygote if pandas else zygote
        engine = Engine(lesson, data_files=data, spawner=spawner, limits=spawner.limits)
        for expression in PANDAS_NON_SOLUTIONS if pandas else NON_SOLUTIONS:
            result = engine.grade(
                "x", Path("x.ipynb"), submission(lesson, _non_solution(lesson, expression))
            )
            for e in result.exercises:
                passed = {t.name for t in e.tests if t.passed}
                if passed - ALLOWED_PARTIALS.get((e.exercise, expression), set()):
                    earned[(lesson.id, e.exercise, expression)] = sorted(passed)
    assert earned == {}
