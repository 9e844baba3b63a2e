"""otter cell conversions, run for real: converted tests must pass on the right values
and fail on wrong ones, converted solutions must parse and stub as our format says."""

from __future__ import annotations

import gc
import json
from pathlib import Path
from typing import Any

import pytest

from eduproject.authoring.importers import import_otter
from eduproject.authoring.importers.otter_solutions import (
    CodeError,
    convert_solution,
    learner_version,
)
from eduproject.authoring.importers.otter_tests import convert_check
from eduproject.authoring.parse import load_lesson
from eduproject.authoring.validate import validate_lesson

from .test_importers_bad import code, md, q, raw, write


def passes(test_code: str, namespace: dict[str, Any]) -> bool:
    try:
        exec(compile(test_code, "<test>", "exec"), dict(namespace))
    except AssertionError:
        return False
    return True


@pytest.mark.parametrize(
    ("body", "shown", "expected", "right", "wrong"),
    [
        ("x == 2", "True", "assert x == 2", {"x": 2}, {"x": 3}),
        ("x == 2", "False", "assert not (x == 2)", {"x": 3}, {"x": 2}),
        ("x", "2", "assert x == 2", {"x": 2}, {"x": 3}),
        ("s", "'abc'", "assert s == 'abc'", {"s": "abc"}, {"s": "abd"}),
        ("primes", "{3, 2}", "assert primes == {3, 2}", {"primes": {2, 3}}, {"primes": {2}}),
        ("a, b", "(1, 2)", "assert (a, b) == (1, 2)", {"a": 1, "b": 2}, {"a": 2, "b": 1}),
        ("x if x else y", "3", "assert (x if x else y) == 3", {"x": 0, "y": 3}, {"x": 1, "y": 3}),
        ("f", "<function f>", "assert repr(f) == '<function f>'", None, {"f": len}),
        ("d = {}\nd.get(1)", "", "d = {}\nassert d.get(1) is None", {}, None),
        ("y = x + 1; y", "3", "y = x + 1\nassert y == 3", {"x": 2}, {"x": 1}),
        ("(x +\n 1)", "3", "assert (x +\n 1) == 3", {"x": 2}, {"x": 3}),
    ],
)
def test_value_checks_become_asserts(
    body: str, shown: str, expected: str, right: dict[str, Any] | None, wrong: dict[str, Any] | None
) -> None:
    converted = convert_check(body, ("", shown), 1)
    assert converted.code == expected
    assert converted.notes == []
    if right is not None:
        assert passes(converted.code, right)
    if wrong is not None:
        assert not passes(converted.code, wrong)


def test_printed_results_doctests_and_exception_based_tests() -> None:
    printed = convert_check("print(square(3))", ("9\n", ""), 1)
    assert printed.code == "assert str(square(3)) == '9'"
    assert passes(printed.code, {"square": lambda v: v * v})
    assert not passes(printed.code, {"square": lambda v: v + v})
    two = convert_check("print(a, b)", ("1 2\n", ""), 1)
    assert passes(two.code, {"a": 1, "b": 2}) and not passes(two.code, {"a": 2, "b": 1})

    doc = convert_check(">>> square(3)\n9\n>>> square(-2) == 4\nTrue\n>>> z = 1", ("", ""), 1)
    assert doc.code == "assert square(3) == 9\nassert square(-2) == 4\nz = 1"
    assert doc.notes == ["doctest-style `>>>` examples converted to asserts"]
    with pytest.raises(CodeError, match="expects output but is not an expression"):
        convert_check(">>> for i in range(2): print(i)\n0\n1", ("", ""), 1)

    fn = convert_check("def test_low(sieve):\n    assert sieve(2) == {2}", ("", ""), 1)
    assert fn.code.endswith("\n\ntest_low(sieve)")
    assert passes(fn.code, {"sieve": lambda n: {2}})
    assert not passes(fn.code, {"sieve": lambda n: set()})


def test_checks_that_lose_something_say_what() -> None:
    loop = convert_check("for i in range(2):\n    print(i)", ("0\n1\n", ""), 1)
    assert loop.code == "for i in range(2):\n    print(i)"
    assert loop.notes == [
        "its recorded output '0\\n1' is not compared: it does not come from the last line "
        "(write an assert)"
    ]
    mixed = convert_check("print('hi')\nx", ("hi\n", "2"), 1)
    assert mixed.code == "print('hi')\nassert x == 2"
    assert mixed.notes == [
        "its printed output 'hi' is not compared, only the value of the last line"
    ]
    never_run = convert_check("x == 2", ("", ""), None)
    assert never_run.code == "assert (x == 2) is None"
    assert "never run in the master notebook" in never_run.notes[0]


def test_solution_markers_become_regions() -> None:
    converted = convert_solution(
        "import random\n"
        "random.seed(42) # SEED\n"
        "def square(x):\n"
        "    y = x * x # SOLUTION NO PROMPT\n"
        "    return y # SOLUTION\n"
        "\n"
        "a, b = 1, 2 # SOLUTION\n"
        "def circumference(r):\n"
        "    # BEGIN SOLUTION NO PROMPT\n"
        "    return 2 * 3.14 * r\n"
        "    # END SOLUTION\n"
        '    """ # BEGIN PROMPT\n'
        "    # Next, define a circumference function.\n"
        "    pass\n"
        '    """; # END PROMPT\n'
        "debug = True  # IGNORE"
    )
    assert converted.code == (
        "import random\n"
        "random.seed(42)\n"
        "def square(x):\n"
        "    ### BEGIN SOLUTION\n"
        "    y = x * x\n"
        "    return y\n"
        "    ### END SOLUTION\n"
        "\n"
        "# a, b = ...\n"
        "### BEGIN SOLUTION\n"
        "a, b = 1, 2\n"
        "### END SOLUTION\n"
        "def circumference(r):\n"
        "    ### BEGIN SOLUTION\n"
        "    return 2 * 3.14 * r\n"
        "    ### END SOLUTION\n"
        "    # Next, define a circumference function.\n"
        "    # pass"
    )
    assert converted.regions == 3
    assert [n.split(":")[0] for n in converted.notes] == ["line 2", "line 9", "line 12"]
    compile(converted.code, "<solution>", "exec")  # still Python
    with pytest.raises(CodeError, match="without `# BEGIN SOLUTION`"):
        convert_solution("x = 1\n# END SOLUTION")


def test_otter_learner_version_matches_otters_own_stubs() -> None:
    text = "def square(x):\n    y = x * x # SOLUTION NO PROMPT\n    return y # SOLUTION\n\nnine = square(3) # SOLUTION"
    assert learner_version(text) == "def square(x):\n    ...\n\nnine = ..."


FEATURES = [
    md("# Features"),
    raw("# ASSIGNMENT CONFIG\nfiles:\n  - data/rain.csv\nfuture_option: 1"),
    md("## Ignore ##\nNotes for the teaching assistants."),
    q("Q1.a", "points: {each: 2}", "all_or_nothing: true", "colour: blue"),
    md("Write `square` and set `nine`."),
    raw("# BEGIN SOLUTION"),
    code(
        "import random\nrandom.seed(0) # SEED\ndef square(x):\n    return x * x # SOLUTION\n\nnine = square(3) # SOLUTION"
    ),
    raw("# END SOLUTION"),
    raw("# BEGIN TESTS"),
    code("print(square(3))"),
    code("# HIDDEN\n>>> nine\n9"),
    code("def test_neg(square):\n    assert square(-2) == 4\n\ntest_neg(square)  # IGNORE"),
    raw("# END TESTS"),
    raw("# END QUESTION"),
    q("q2"),
    raw("# BEGIN TESTS"),
    code("nine == 9", result="True"),
    raw("# END TESTS"),
    raw("# END QUESTION"),
]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:unclosed event loop:ResourceWarning")  # see test_importers
def test_a_notebook_using_every_otter_feature_imports_and_validates(tmp_path: Path) -> None:
    cells = [dict(c) for c in FEATURES]
    cells[9] = {**cells[9], "outputs": [{"name": "stdout", "output_type": "stream", "text": "9\n"}]}
    src = write(tmp_path, cells)
    folder = tmp_path / "exercises" / "features"
    report = import_otter(src, folder)
    assert report.exercises == ["Q1_a"]
    assert report.problems == [
        "cell 1: assignment config files lists 'data/rain.csv', which is not there",
        "cell 1: assignment config key 'files' ignored: the files beside the master come with the "
        "lesson, for learners and grading",
        "cell 1: assignment config key 'future_option' ignored: not an otter key this importer knows",
        "cell 3: question 'Q1.a': config key 'colour' ignored (not an otter question key)",
        "cell 3: question name 'Q1.a' becomes exercise id 'Q1_a' (ids use [A-Za-z0-9_-])",
        "cell 6: question 'Q1.a': line 2: `# SEED` line kept as ordinary code, visible to learners "
        "(eduproject does not reseed between cells)",
        "cell 10: question 'Q1.a', test 2: doctest-style `>>>` examples converted to asserts",
        "cell 14: question 'q2' is not an exercise (it has tests but no solution code cell to "
        "stub): its description and prompt stay as context; its 1 tests are left out",
    ]
    lesson = load_lesson(folder)
    (exercise,) = lesson.exercises
    assert exercise.origin == "Q1.a" and exercise.all_or_nothing
    assert [(t.points, t.hidden) for t in exercise.tests] == [(2, False), (2, True), (2, False)]
    assert "Notes for the teaching assistants" not in json.dumps(
        json.loads(report.notebook_path.read_text())
    )
    validation = validate_lesson(folder, raise_on_problems=False)
    gc.collect()
    assert validation.problems == ()
    assert [(r.solution_passes, r.stub_fails) for r in validation.rows] == [(True, True)]
    assert all(v.passed for v in validation.instructor)
    assert not any(v.passed for v in validation.learner)


def test_named_tests_included_markdown_and_questions_without_tests(tmp_path: Path) -> None:
    """Features of otter's own test notebook: per-test `name`, the `otter_include` tag,
    a question with no tests, type hints and helper functions inside a test."""
    include = md("Then call your function to add 1 and 2.")
    include["metadata"]["tags"] = ["otter_include"]
    src = write(
        tmp_path,
        [
            raw("# ASSIGNMENT CONFIG\nstudent_files:\n  - helper.py"),
            q("q1"),
            md("Set `x` to the smallest prime."),
            raw("# BEGIN SOLUTION"),
            code("x = 2 # SOLUTION"),
            raw("# END SOLUTION"),
            raw("# BEGIN TESTS"),
            code(
                '""" # BEGIN TEST CONFIG\npoints: 2\nname: q1a-1\n""" # END TEST CONFIG\nisinstance(x, int)',
                "True",
            ),
            code(
                '""" # BEGIN TEST CONFIG\nhidden: true\nname: q1 a/2\n""" # END TEST CONFIG\n'
                "def identity(x: int) -> int:\n  return x\n\nidentity(x)",
                "2",
            ),
            code("x > 0", "True"),
            raw("# END TESTS"),
            raw("# END QUESTION"),
            q("q9"),
            md("Write `add`."),
            raw("# BEGIN SOLUTION"),
            code("def add(a, b):\n    return a + b # SOLUTION"),
            include,
            code("s = add(1, 2) # SOLUTION"),
            md("Instructor remark: the sum is 3."),
            raw("# END SOLUTION"),
            raw("# BEGIN TESTS"),
            code("add(3, 4) == 7", "True"),
            code("s == 3", "True"),
            raw("# END TESTS"),
            raw("# END QUESTION"),
            q("question5"),
            md("Compute an area."),
            raw("# BEGIN SOLUTION"),
            code("r = 3\n# BEGIN SOLUTION\narea = 3.14 * r * r\n# END SOLUTION"),
            raw("# END SOLUTION"),
            raw("# END QUESTION"),
        ],
    )
    report = import_otter(src, tmp_path / "ex" / "hw")
    assert report.exercises == ["q1", "q9"]
    assert report.problems == [
        "cell 0: assignment config student_files lists 'helper.py', which is not there",
        "cell 0: assignment config key 'student_files' ignored: the files beside the master come "
        "with the lesson, for learners and grading",
        "cell 8: question 'q1': test name 'q1 a/2' becomes 'q1_a_2'",
        "cell 18: question 'q9': markdown cell in the solution block left out (otter shows it to "
        "instructors only; eduproject keeps solutions in code cells)",
        "cell 25: question 'question5' is not an exercise (it has no tests): its description and "
        "prompt stay as context",
        "cell 28: question 'question5': solution code kept with otter's learner stubs (`...`); "
        "the answer is left out",
    ]
    lesson = load_lesson(tmp_path / "ex" / "hw")
    q1, q9 = lesson.exercises
    assert [(t.name, t.points, t.hidden) for t in q1.tests] == [
        ("q1a-1", 2.0, False),
        ("q1_a_2", 0.0, True),  # otter: unpointed tests are worth 0 once another has points
        ("q1-3", 0.0, False),
    ]
    assert "assert identity(x) == 2" in q1.tests[1].source
    assert [t.name for t in q9.tests] == ["q9-1", "q9-2"]
    texts = [c.source for c in lesson.cells]
    assert "Then call your function to add 1 and 2." in texts
    assert not any("Instructor remark" in t for t in texts)
    assert "r = 3\n..." in texts  # otter's own learner version of the untested question
