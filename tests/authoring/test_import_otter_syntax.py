"""otter-assign masters as courses write them, through the CLI: every solution form, test
configs, otter's client code, ``strip_solutions_from_all_cells`` and v0 (markdown) masters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from eduproject.authoring.importers import import_otter
from eduproject.authoring.parse import load_lesson
from tests.support.cli import run_cli

from .test_import_files import scores, solution_submission
from .test_importers_bad import code, md, raw, write

Q1_SOLUTION = (
    "x = 4  # SOLUTION\n"
    "y = 2 * x # SOLUTION NO PROMPT\n"
    "debug = True  # IGNORE\n"
    "# BEGIN IGNORE\n"
    "print('instructor only')\n"
    "# END IGNORE"
)
Q1_HIDDEN = (
    '""" # BEGIN TEST CONFIG\n'
    "hidden: true\n"
    "points: 1.5\n"
    "success_message: Well done\n"
    "failure_message: y should be twice x\n"
    '""" # END TEST CONFIG\n'
    "y == 8"
)
Q2_SOLUTION = (
    "import random\n"
    "random.seed(0)  # SEED\n"
    "def scale(v):\n"
    '    """ # BEGIN PROMPT\n'
    "    factor = ...\n"
    '    """ # END PROMPT\n'
    "    # BEGIN SOLUTION NO PROMPT\n"
    "    factor = 3\n"
    "    # END SOLUTION\n"
    "    return factor * v"
)
Q3_SOLUTION = "def double(v):\n    # BEGIN SOLUTION\n    return 2 * v\n    # END SOLUTION"


def question(name: str, prompt: str, solution: str, tests: list[dict[str, Any]], **config: Any):
    head = "\n".join([f"# BEGIN QUESTION\nname: {name}", *(f"{k}: {v}" for k, v in config.items())])
    return [
        raw(head),
        md(prompt),
        raw("# BEGIN SOLUTION"),
        code(solution),
        raw("# END SOLUTION"),
        raw("# BEGIN TESTS"),
        *tests,
        raw("# END TESTS"),
        raw("# END QUESTION"),
    ]


def master(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return write(
        folder,
        [
            raw("# ASSIGNMENT CONFIG\nexport_cell: true\nseed: 42"),
            code(
                '%pip install otter-grader\nimport otter\ngrader = otter.Notebook("hw.ipynb")\n'
                "!pip install numpy"
            ),
            md("# Homework"),
            *question(
                "q1",
                "**Question 1.** Set `x` to 4 and `y` to twice `x`.",
                Q1_SOLUTION,
                [code("x == 4", "True"), code(Q1_HIDDEN, "True")],
                points=2.5,
            ),
            code('grader.check("q1")'),
            *question("q2", "Write `scale(v)`.", Q2_SOLUTION, [code("scale(2)", "6")]),
            *question("q3", "Write `double(v)`.", Q3_SOLUTION, [code("double(4)", "8")]),
            code("# Save and submit\ngrader.check_all()\ngrader.export(pdf=False)"),
        ],
        name="hw.ipynb",
    )


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "1000")


def texts(path: Path) -> list[str]:
    nb = json.loads(path.read_text())
    return ["".join(c["source"]) for c in nb["cells"]]


def test_every_otter_form_imports_validates_and_grades(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    src = master(tmp_path / "hw")
    lesson = tmp_path / "exercises" / "hw"
    code_, stdout, stderr = run_cli(["import", "otter", str(src), "-o", str(lesson)], capsys)
    assert (code_, stderr) == (0, "")
    # Client code: removed, reported once with its cells, the equivalent named.
    assert (
        "  - 6 otter client statements removed (release adds eduproject's own cells): "
        "`%pip install otter-grader` (cell 1); `import otter` (cell 1); "
        '`grader = otter.Notebook("hw.ipynb")` (cell 1); `grader.check("q1")` (cell 13); '
        "`grader.check_all()` (cell 32); `grader.export(pdf=False)` (cell 32)\n"
    ) in stdout
    assert (
        "1 shell / install line(s), never run by validate or grade (install what they need in "
        "the course environment):\n  !pip install numpy\n"
    ) in stdout
    source = "\n".join(texts(lesson / "hw.ipynb"))
    assert "otter" not in source and "grader." not in source and "instructor only" not in source
    assert "debug" not in source  # `# IGNORE` lines are gone from both copies, as in otter
    assert "# success message: Well done" in source
    assert "raise AssertionError('y should be twice x') from None" in source
    assert "random.seed(0)" in source and "# SEED" not in source

    lesson_ = load_lesson(lesson)
    tests = {e.id: [(t.points, t.hidden) for t in e.tests] for e in lesson_.exercises}
    assert tests == {"q1": [(1.0, False), (1.5, True)], "q2": [(1.0, False)], "q3": [(1.0, False)]}

    out = tmp_path / "notebooks"
    assert run_cli(["release", str(lesson), "-o", str(out)], capsys)[0] == 0
    learner = "\n".join(texts(out / "hw" / "hw.ipynb"))
    for secret in ("factor = 3", "return 2 * v", "x = 4", "2 * x", "y == 8", "should be twice"):
        assert secret not in learner
    assert "# x = ..." in learner  # otter's `x = ...` prompt, as a comment above our stub
    assert "    # factor = ..." in learner  # the BEGIN PROMPT text, kept as comments

    code_, stdout, stderr = run_cli(["validate", str(lesson), "--cell-timeout", "60"], capsys)
    assert code_ == 0, stdout + stderr

    subs = tmp_path / "subs"
    solution_submission(lesson, out / "hw" / "hw.ipynb", subs / "ada" / "hw.ipynb")
    wrong = json.loads((subs / "ada" / "hw.ipynb").read_text())
    for cell in wrong["cells"]:
        if "y = 2 * x" in "".join(cell["source"]):
            cell["source"] = "x = 4\ny = 9"
    (subs / "bob").mkdir()
    (subs / "bob" / "hw.ipynb").write_text(json.dumps(wrong))
    db = tmp_path / "gradebook.sqlite"
    code_, stdout, stderr = run_cli(
        ["grade", str(lesson), str(subs), "--db", str(db), "--workers", "1", "--no-progress"],
        capsys,
    )
    assert code_ == 0, stdout + stderr
    got = scores(db, "hw")
    assert got[("ada", "q1")] == 2.5 and got[("ada", "q2")] == 1 and got[("ada", "q3")] == 1
    assert got[("bob", "q1")] == 1.0

    from eduproject.grading.gradebook import Gradebook

    with Gradebook(db, create=False) as gradebook:
        (bob,) = [r for r in gradebook.results("hw") if r.learner == "bob"]
    (failed,) = [t for e in bob.exercises for t in e.tests if not t.passed]
    assert failed.message == "y should be twice x"


def test_strip_solutions_from_all_cells(tmp_path: Path) -> None:
    (tmp_path / "hw").mkdir()
    src = write(
        tmp_path / "hw",
        [
            raw("# ASSIGNMENT CONFIG\nstrip_solutions_from_all_cells: true"),
            code("secret = 42  # SOLUTION\nprint('visible')"),
            raw("# BEGIN QUESTION\nname: q1"),
            md("Set `base` and `x`."),
            code("base = 10  # SOLUTION"),
            raw("# BEGIN SOLUTION"),
            code("x = base + 1  # SOLUTION"),
            raw("# END SOLUTION"),
            raw("# BEGIN TESTS"),
            code("x == 11", "True"),
            raw("# END TESTS"),
            raw("# END QUESTION"),
        ],
    )
    report = import_otter(src, tmp_path / "exercises" / "hw")
    assert "'strip_solutions_from_all_cells' ignored" not in "\n".join(report.problems)
    assert (
        "cell 1: solution markers outside any question (strip_solutions_from_all_cells): "
        "learners get otter's stub (`...`)"
    ) in "\n".join(report.problems)
    lesson = load_lesson(tmp_path / "exercises" / "hw")
    by_role = [(c.role.value, c.source) for c in lesson.cells if c.kind == "code"]
    assert ("context", "secret = ...\nprint('visible')") in by_role
    solutions = [s for role, s in by_role if role == "solution"]
    assert len(solutions) == 2 and "base = 10" in solutions[0] and "x = base + 1" in solutions[1]


def test_an_otter_v0_master_imports_like_its_v1_form(tmp_path: Path) -> None:
    (tmp_path / "v0").mkdir()
    src = write(
        tmp_path / "v0",
        [
            md("```\nBEGIN ASSIGNMENT\ninit_cell: false\n```"),
            md("**Question 1.** Set `x` to 4.\n\n```\nBEGIN QUESTION\nname: q1\npoints: 3\n```"),
            code("x = 4  # SOLUTION"),
            code("# TEST\nx == 4", "True"),
            code("# HIDDEN TEST\nx % 2 == 0", "True"),
            md("Between the questions."),
            md("```\nBEGIN QUESTION\nname: q2\nmanual: true\n```\nExplain."),
            md("**SOLUTION:** Because."),
            md("The end."),
        ],
    )
    report = import_otter(src, tmp_path / "exercises" / "v0")
    assert report.exercises[0] == "q1"
    assert report.problems[0].startswith("otter v0 master (questions in markdown code blocks)")
    lesson = load_lesson(tmp_path / "exercises" / "v0")
    exercise = next(e for e in lesson.exercises if e.id == "q1")  # q2 is graded by hand
    assert [(t.points, t.hidden) for t in exercise.tests] == [(1.5, False), (1.5, True)]
    assert exercise.prompt.startswith("**Question 1.** Set `x` to 4.")
    assert "BEGIN QUESTION" not in "\n".join(c.source for c in lesson.cells)
    markdown = [c.source for c in lesson.cells if c.kind == "markdown"]
    assert "Between the questions." in markdown and "The end." in markdown
