"""Suites: course exercises as completion items, and completions put back into the cell."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from eduproject.bench.suites import BenchItem, load_suite, sub_lesson
from eduproject.core.lesson import Role
from eduproject.errors import ConfigError, LessonError


def test_course_items(course_items: list[BenchItem]) -> None:
    assert len(course_items) == 16
    greet = course_items[0]
    assert (greet.id, greet.function, greet.indent, greet.suite) == (
        "01-functions/greet",
        "greet",
        "    ",
        "exercises",
    )
    assert greet.prefix.startswith("def greet(name):\n") and greet.prefix.endswith('"""\n')
    assert greet.target.startswith('    if name == "":')
    assert greet.suffix == ""
    assert greet.reference == greet.program(greet.target)
    assert "### BEGIN" not in greet.reference


def test_whole_cell_item(course_items: list[BenchItem]) -> None:
    initials = next(i for i in course_items if i.exercise.id == "initials")
    assert initials.whole_cell and initials.function == "initials"
    # FIM models get the prompt as comments before the cursor.
    assert initials.fim_prefix().startswith("# ## Exercise 4: Initials\n#\n")
    assert initials.program(initials.target).startswith("def initials(full_name):")


@pytest.fixture
def absolute(course_items: list[BenchItem]) -> BenchItem:
    return next(i for i in course_items if i.exercise.id == "absolute_value")


HEAD = 'def absolute_value(x):\n    """Return the distance of x from zero (never negative)."""\n'


@pytest.mark.parametrize(
    "completion",
    [
        "    if x < 0:\n        return -x\n    return x",  # FIM, indented as in the cell
        "if x < 0:\n    return -x\nreturn x",  # an instruct model's code block, column 0
        "if x < 0:\n        return -x\n    return x",  # FIM writing its first line at the cursor
        "\n\n    if x < 0:\n        return -x\n    return x\n\n",  # blank lines around
    ],
)
def test_body_completions_are_reindented(absolute: BenchItem, completion: str) -> None:
    assert absolute.program(completion) == HEAD + "    if x < 0:\n        return -x\n    return x\n"


def test_a_whole_function_replaces_the_stub(absolute: BenchItem) -> None:
    completion = "def absolute_value(x):\n    return -x if x < 0 else x"
    program = absolute.program(completion)
    assert program == HEAD + completion + "\n"
    namespace: dict[str, object] = {}
    exec(compile(program, "<cell>", "exec"), namespace)  # trusted test code, not model output
    assert namespace["absolute_value"](-3) == 3  # type: ignore[operator]


def test_a_whole_function_after_a_bare_signature(write_lesson: Callable[..., Path]) -> None:
    folder = write_lesson(
        [
            ("md exercise=inc", "# Inc\nWrite `inc(x)`."),
            (
                "code solution",
                "def inc(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION",
            ),
            ("code tests", "assert inc(1) == 2"),
        ]
    )
    (item,) = load_suite(str(folder))
    assert item.prefix == "def inc(x):\n"
    program = item.program("def inc(x):\n    return x + 1")
    assert program == "def inc(x):\n    pass\ndef inc(x):\n    return x + 1\n"
    compile(program, "<cell>", "exec")


def test_an_empty_completion_is_still_a_valid_cell(absolute: BenchItem) -> None:
    assert absolute.program("") == HEAD + "    pass\n"


def test_suffix_and_other_regions(write_lesson: Callable[..., Path]) -> None:
    folder = write_lesson(
        [
            ("md exercise=pair", "# Pair\nWrite `first` and `second`."),
            (
                "code solution",
                "def first(xs):\n    ### BEGIN SOLUTION\n    return xs[0]\n    ### END SOLUTION\n"
                "\n\ndef second(xs):\n    ### BEGIN SOLUTION\n    return xs[1]\n    ### END SOLUTION\n"
                "\n\nBOTH = (first, second)",
            ),
            ("code tests", "assert first([1, 2]) == 1\nassert second([1, 2]) == 2"),
        ]
    )
    (item,) = load_suite(str(folder))
    assert item.target == "    return xs[0]"
    # The second region keeps the reference; markers are gone from the suffix.
    assert "### " not in item.suffix and "return xs[1]" in item.suffix
    assert item.program("return xs[-1]") == textwrap.dedent(
        """\
        def first(xs):
            return xs[-1]


        def second(xs):
            return xs[1]


        BOTH = (first, second)
        """
    )


def test_sub_lesson_keeps_setup_and_the_exercise(course_items: list[BenchItem]) -> None:
    item = next(i for i in course_items if i.exercise.id == "rainy_days")
    lesson = sub_lesson(item)
    assert [e.id for e in lesson.exercises] == ["rainy_days"]
    assert {c.exercise for c in lesson.cells} <= {None, "rainy_days"}
    assert any(c.role == Role.SETUP for c in lesson.cells)


def test_limit_and_bad_suites(tmp_path: Path) -> None:
    assert len(load_suite("exercises", limit=3)) == 3
    with pytest.raises(ConfigError, match="neither `humaneval` nor an existing folder"):
        load_suite(str(tmp_path / "missing"))
    with pytest.raises(ConfigError, match="--limit must be at least 1"):
        load_suite("exercises", limit=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(LessonError):
        load_suite(str(tmp_path / "empty"))
