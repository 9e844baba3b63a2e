"""load_lesson on good lessons: classification, tests, hints, ids, version, data files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from eduproject.authoring import find_lessons, load_lesson
from eduproject.authoring.notebook import lesson_version
from eduproject.core import Role
from tests.support.lessons import GOOD, GOOD_DATA

WriteLesson = Callable[..., Path]


def test_cells_are_classified_in_order(good_lesson: Path) -> None:
    lesson = load_lesson(good_lesson)
    assert lesson.id == "01-good"
    assert lesson.title == "Functions"
    assert [c.role for c in lesson.cells] == [
        Role.CONTEXT,
        Role.SETUP,
        Role.PROMPT,
        Role.SOLUTION,
        Role.TESTS,
        Role.HIDDEN_TESTS,
        Role.HINTS,
        Role.CONTEXT,
        Role.PROMPT,
        Role.SOLUTION,
        Role.TESTS,
        Role.CONTEXT,
    ]
    assert [c.exercise for c in lesson.cells] == [None, None] + ["sum_evens"] * 6 + ["area"] * 4
    assert [c.cell_id for c in lesson.cells] == [f"c{i}" for i in range(12)]
    assert lesson.cells[10].foreign_tags == ("raises-exception",)
    # Hidden test cells and hints never reach learners.
    assert lesson.cells[5].learner_source is None
    assert lesson.cells[6].learner_source is None


def test_exercises_tests_points_and_hidden_flags(good_lesson: Path) -> None:
    lesson = load_lesson(good_lesson)
    sum_evens, area = lesson.exercises
    assert (sum_evens.id, sum_evens.title, sum_evens.all_or_nothing) == (
        "sum_evens",
        "Sum of evens",
        False,
    )
    assert (area.id, area.title, area.all_or_nothing) == ("area", "Circle area", True)
    assert [(t.name, t.points, t.hidden, t.cell_id) for t in sum_evens.tests] == [
        ("basics", 1.0, False, "c4"),
        ("negatives", 2.0, True, "c4"),
        ("sum_evens-2", 0.5, True, "c5"),
    ]
    basics, negatives, whole = sum_evens.tests
    assert (
        basics.source
        == basics.visible_source
        == ("assert sum_evens([1, 2, 3, 4]) == 6\nassert sum_evens([]) == 0")
    )
    assert negatives.source == (
        "assert sum_evens([-2, -3]) == -2\nassert sum_evens(list(range(101))) == 2550"
    )
    assert negatives.visible_source == "assert sum_evens([-2, -3]) == -2"
    assert whole.visible_source == ""
    assert [(t.name, t.points) for t in area.tests] == [("area-1", 2.0)]
    assert sum_evens.max_score == 3.5
    assert lesson.max_score == 5.5


def test_solution_and_stub(good_lesson: Path) -> None:
    lesson = load_lesson(good_lesson)
    sum_evens, area = lesson.exercises
    assert "### BEGIN SOLUTION" not in sum_evens.solution
    assert "total += n" in sum_evens.solution
    assert sum_evens.stub == (
        "def sum_evens(numbers):\n"
        '    """Return the sum of the even numbers in `numbers`."""\n'
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()"
    )
    assert area.stub == "# YOUR CODE HERE\nraise NotImplementedError()"
    assert area.solution == "def area(r):\n    return math.pi * r ** 2"
    assert lesson.cells[3].learner_source == sum_evens.stub


def test_test_cell_learner_source_drops_hidden_lines(good_lesson: Path) -> None:
    lesson = load_lesson(good_lesson)
    assert lesson.cells[4].learner_source == (
        "### TEST basics points=1\n"
        "assert sum_evens([1, 2, 3, 4]) == 6\n"
        "assert sum_evens([]) == 0\n"
        "### TEST negatives points=2\n"
        "assert sum_evens([-2, -3]) == -2"
    )


def test_hints_and_avoid(good_lesson: Path) -> None:
    sum_evens = load_lesson(good_lesson).exercises[0]
    assert sum_evens.hints == (
        "Which numbers are even? Think about the remainder operator `%`.",
        "Start a running total at 0\nand add to it inside a loop.",
        "Loop over `numbers`; when `n % 2 == 0`, add `n` to the total.",
    )
    assert sum_evens.avoid == ("sum(", "generator expression", "total += n")


def test_shared_setup_and_wholly_hidden_named_test(write_lesson: WriteLesson) -> None:
    tests = (
        "data = [1, 2]\n"
        "### TEST visible\n"
        "assert f(data) == 3\n"
        "### BEGIN HIDDEN TESTS\n"
        "### TEST secret points=4\n"
        "assert f([5]) == 5\n"
        "### END HIDDEN TESTS"
    )
    folder = write_lesson(
        [
            ("md exercise=f", "Write f."),
            (
                "code solution",
                "def f(xs):\n    ### BEGIN SOLUTION\n    return sum(xs)\n    ### END SOLUTION",
            ),
            ("code tests", tests),
        ]
    )
    lesson = load_lesson(folder)
    visible, secret = lesson.exercises[0].tests
    assert (visible.name, visible.hidden, visible.points) == ("visible", False, 1.0)
    assert visible.source == visible.visible_source == "data = [1, 2]\nassert f(data) == 3"
    assert (secret.name, secret.hidden, secret.points) == ("secret", True, 4.0)
    assert secret.source == "data = [1, 2]\nassert f([5]) == 5"
    assert secret.visible_source == ""
    assert lesson.cells[2].learner_source == "data = [1, 2]\n### TEST visible\nassert f(data) == 3"


def test_notebook_without_ids_gets_stable_distinct_ids(write_lesson: WriteLesson) -> None:
    folder = write_lesson(GOOD, "01-good", data=GOOD_DATA, minor=4)
    first = [c.cell_id for c in load_lesson(folder).cells]
    assert first == [c.cell_id for c in load_lesson(folder).cells]
    assert len(set(first)) == len(first)
    assert all(cell_id.startswith(f"cell-{i}-") for i, cell_id in enumerate(first))


def test_version_covers_notebook_and_data(good_lesson: Path) -> None:
    nb = good_lesson / "01-good.ipynb"
    before = load_lesson(good_lesson).version
    assert before == lesson_version(nb.read_bytes(), good_lesson, [Path("data/numbers.txt")])
    (good_lesson / "data" / "numbers.txt").write_bytes(b"1 2 3 4 5\n")
    after_data = load_lesson(good_lesson).version
    (good_lesson / "data" / "extra.csv").write_bytes(b"a\n")
    after_new_file = load_lesson(good_lesson).version
    assert len({before, after_data, after_new_file}) == 3


def test_data_files_skip_hidden_files(good_lesson: Path) -> None:
    (good_lesson / "data" / "sub").mkdir()
    (good_lesson / "data" / "sub" / "b.txt").write_text("b")
    (good_lesson / "data" / ".ipynb_checkpoints").mkdir()
    (good_lesson / "data" / ".ipynb_checkpoints" / "x.txt").write_text("x")
    assert load_lesson(good_lesson).data_files == (Path("data/numbers.txt"), Path("data/sub/b.txt"))


def test_source_as_a_single_string_and_attachments(write_lesson: WriteLesson) -> None:
    folder = write_lesson(GOOD, "01-good", data=GOOD_DATA)
    nb_path = folder / "01-good.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][0]["source"] = "# Functions\n![x](attachment:x.png)"
    nb["cells"][0]["attachments"] = {"x.png": {"image/png": "iVBORw0KGgo="}}
    nb_path.write_text(json.dumps(nb))
    cell = load_lesson(folder).cells[0]
    assert cell.source == "# Functions\n![x](attachment:x.png)"
    assert cell.attachments == {"x.png": {"image/png": "iVBORw0KGgo="}}


def test_origin_is_read_from_cell_metadata(write_lesson: WriteLesson) -> None:
    folder = write_lesson(GOOD, "01-good", data=GOOD_DATA)
    nb_path = folder / "01-good.ipynb"
    nb = json.loads(nb_path.read_text())
    nb["cells"][2]["metadata"]["eduproject"] = {"origin": "q1"}
    nb["cells"][4]["metadata"]["eduproject"] = {"origin": "q1-tests"}
    nb_path.write_text(json.dumps(nb))
    lesson = load_lesson(folder)
    assert lesson.exercises[0].origin == "q1"
    assert {t.origin for t in lesson.exercises[0].tests if t.cell_id == "c4"} == {"q1-tests"}
    assert lesson.cells[4].origin == "q1-tests"


def test_find_lessons_expands_parent_folders(write_lesson: WriteLesson, tmp_path: Path) -> None:
    a = write_lesson(GOOD, "a", data=GOOD_DATA)
    b = write_lesson(GOOD, "b", data=GOOD_DATA)
    (tmp_path / "exercises" / "notes").mkdir()  # no notebook: not a lesson
    assert find_lessons([tmp_path / "exercises"]) == [a, b]
    assert find_lessons([b, a]) == [b, a]


def test_marker_lookalikes_in_plain_comments_are_code(write_lesson: WriteLesson) -> None:
    folder = write_lesson(
        [
            ("md exercise=f", "Write f."),
            (
                "code solution",
                "# Test the function below\ndef f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
            ),
            ("code tests", "# TESTS follow\nassert f() == 1"),
        ]
    )
    lesson = load_lesson(folder)
    assert [t.name for t in lesson.exercises[0].tests] == ["f-1"]


def test_avoid_phrases_in_backticks_may_hold_commas() -> None:
    from eduproject.authoring.markdown import split_avoid

    assert split_avoid("sum(, `range(2, n + 1)`, total") == ["sum(", "range(2, n + 1)", "total"]
    assert split_avoid(" a ,, b ") == ["a", "b"]
