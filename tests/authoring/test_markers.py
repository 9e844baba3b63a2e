"""Marker scanning, stubs and test splitting on single cells."""

from __future__ import annotations

import pytest

from eduproject.authoring.markers import (
    CellRef,
    Marker,
    scan,
    split_tests,
    stub_solutions,
    without_markers,
)
from eduproject.errors import LessonFormatError

WHERE = CellRef("nb.ipynb", 7)


def test_stub_keeps_indentation_and_code_around_regions() -> None:
    source = (
        "def f(x):\n"
        "    if x:\n"
        "        ### BEGIN SOLUTION\n"
        "        return 1\n"
        "        ### END SOLUTION\n"
        "    ### BEGIN SOLUTION\n"
        "    return 2\n"
        "    ### END SOLUTION\n"
        "y = 3"
    )
    assert stub_solutions(source, WHERE) == (
        "def f(x):\n"
        "    if x:\n"
        "        # YOUR CODE HERE\n"
        "        raise NotImplementedError()\n"
        "    # YOUR CODE HERE\n"
        "    raise NotImplementedError()\n"
        "y = 3"
    )
    assert without_markers(source, WHERE) == (
        "def f(x):\n    if x:\n        return 1\n    return 2\ny = 3"
    )


def test_stub_is_valid_python() -> None:
    source = "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION\n"
    compile(stub_solutions(source, WHERE), "<stub>", "exec")


def test_a_marker_less_indented_than_its_code_gives_a_stub_that_compiles() -> None:
    """CS1302's lab 3a (an nbgrader course) puts the marker at the `if`'s level, inside it:
    nbgrader's learner copy does not compile there; ours indents the stub like the code."""
    source = (
        "def get_roots(a, b, c):\n"
        "    if d == 0:\n"
        "    ### BEGIN SOLUTION\n"
        "        roots = -b / 2 / a\n"
        "    else:\n"
        "        roots = None\n"
        "    ### END SOLUTION\n"
        "    return roots"
    )
    stub = stub_solutions(source, WHERE)
    assert stub.split("\n")[2:4] == [
        "        # YOUR CODE HERE",
        "        raise NotImplementedError()",
    ]
    compile(stub, "<stub>", "exec")


def test_scan_accepts_trailing_spaces_and_reads_test_lines() -> None:
    found = scan(
        "  ### BEGIN HIDDEN TESTS   \n### TEST t.1 points=2.5\n### END HIDDEN TESTS", WHERE
    )
    assert [(m.number, m.marker, m.indent) for m in found] == [
        (1, Marker.BEGIN_HIDDEN, "  "),
        (2, Marker.TEST, ""),
        (3, Marker.END_HIDDEN, ""),
    ]
    assert (found[1].test_name, found[1].test_points) == ("t.1", 2.5)


@pytest.mark.parametrize(
    "line",
    [
        "# BEGIN SOLUTION",
        "#### END SOLUTION",
        "### begin solution",
        "###BEGIN HIDDEN TESTS",
        "### END HIDDEN TEST",
    ],
)
def test_near_miss_markers_are_errors(line: str) -> None:
    with pytest.raises(LessonFormatError) as info:
        scan(f"x = 1\n{line}", WHERE)
    assert info.value.problem == f"line 2 looks like a marker but is not one: {line!r}"
    assert info.value.cell == 7


@pytest.mark.parametrize(
    "line", ["###TEST a", "    ### TEST a", "### TEST a b", "### TEST a points="]
)
def test_malformed_test_lines_are_errors(line: str) -> None:
    with pytest.raises(LessonFormatError):
        scan(line, WHERE)


def test_cell_without_test_lines_is_one_test() -> None:
    specs, learner = split_tests(
        "x = 1\nassert x == 1", WHERE, default_name="ex-3", cell_points=1.5, cell_hidden=False
    )
    assert [(s.name, s.points, s.hidden, s.source, s.visible_source) for s in specs] == [
        ("ex-3", 1.5, False, "x = 1\nassert x == 1", "x = 1\nassert x == 1")
    ]
    assert learner == "x = 1\nassert x == 1"


def test_hidden_tests_cell_hides_everything() -> None:
    specs, learner = split_tests(
        "### TEST a\nassert 1\n### TEST b points=3\nassert 2",
        WHERE,
        default_name="ex-1",
        cell_points=None,
        cell_hidden=True,
    )
    assert [(s.name, s.points, s.hidden, s.visible_source) for s in specs] == [
        ("a", 1.0, True, ""),
        ("b", 3.0, True, ""),
    ]
    assert learner == ""


def test_hidden_setup_makes_every_test_hidden() -> None:
    source = "### BEGIN HIDDEN TESTS\nsecret = 5\n### END HIDDEN TESTS\n### TEST a\nassert secret\n### TEST b\nassert 1"
    specs, learner = split_tests(
        source, WHERE, default_name="x", cell_points=None, cell_hidden=False
    )
    assert [(s.name, s.hidden, s.source, s.visible_source) for s in specs] == [
        ("a", True, "secret = 5\nassert secret", "assert secret"),
        ("b", True, "secret = 5\nassert 1", "assert 1"),
    ]
    assert learner == "### TEST a\nassert secret\n### TEST b\nassert 1"


def test_test_whose_code_is_all_hidden_shows_nothing() -> None:
    source = "### TEST a\n### BEGIN HIDDEN TESTS\nassert 1\n### END HIDDEN TESTS"
    (spec,), learner = split_tests(
        source, WHERE, default_name="x", cell_points=None, cell_hidden=False
    )
    assert (spec.hidden, spec.source, spec.visible_source) == (True, "assert 1", "")
    # The dangling test line becomes a comment saying the test is checked when graded.
    assert learner == "# Test 'a' is hidden: it is checked when your work is graded."
