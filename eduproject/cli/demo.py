"""``eduproject demo``: the product end to end on the sample course, offline.

1. release every lesson of ``exercises/`` (learner notebooks + sealed grader bundles);
2. validate each lesson headlessly (solutions pass, stubs fail);
3. simulate a class (correct, partly correct, broken and hostile submissions);
4. grade it in the sandbox into a gradebook, then export CSV, feedback pages and a report;
5. show the hints and error explanations the tutor gives some broken submissions, with the
   leak guard's verdicts (local model when installed, else the offline tutor).

Everything is written below ``-o/--output`` (default ``demo-output/``); nothing in the course changes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from eduproject.errors import ConfigError


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)


def demo_command(
    course: Annotated[
        Path,
        typer.Option(
            help="Course folder holding exercises/ (without one: the sample course shipped "
            "with eduproject)."
        ),
    ] = Path("."),
    out: Annotated[
        Path, typer.Option("-o", "--output", help="Where the demo writes everything.")
    ] = Path("demo-output"),
    learners: Annotated[int, typer.Option(help="Simulated learners per lesson.")] = 8,
    lesson: Annotated[
        list[str] | None, typer.Option(help="Only these lessons (repeatable).")
    ] = None,
    tutor_examples: Annotated[int, typer.Option(help="Broken submissions to tutor.")] = 3,
) -> None:
    """Run the offline end-to-end demo on the sample course."""
    run_demo(course, out, learners=learners, lessons=lesson, tutor_examples=tutor_examples)


@dataclass(frozen=True)
class DemoResult:
    out: Path
    gradebook: Path
    grades_csv: Path
    feedback_dir: Path
    report: Path


def run_demo(
    course: Path,
    out: Path,
    *,
    learners: int = 8,
    lessons: list[str] | None = None,
    tutor_examples: int = 3,
    console: Console | None = None,
) -> DemoResult:
    """Run every step of the demo; see the module docstring."""
    from eduproject.authoring import find_lessons, release, validate_lessons
    from eduproject.authoring.validate import raise_for_problems
    from eduproject.grading.export import export
    from eduproject.grading.feedback import write_feedback
    from eduproject.grading.pipeline import GradeRunSummary, grade_lesson
    from eduproject.grading.report import print_summary, write_report
    from eduproject.grading.simulate import simulate_class
    from eduproject.runner.sandbox import detect_backend

    con = console or _console()
    exercises = course / "exercises"
    if not exercises.is_dir():
        from eduproject.cli.quickstart import sample_course

        if course != Path("."):
            raise ConfigError(
                f"no exercises/ folder in {course.resolve()}",
                hint="pass the course folder that holds exercises/, or leave out --course "
                "for the sample course",
            )
        exercises = sample_course()
        con.print(
            "No exercises/ here: the demo uses the sample course shipped with eduproject "
            "(`eduproject quickstart DIR` copies it into a course folder of your own)."
        )
    folders = [f for f in find_lessons([exercises]) if not lessons or f.name in lessons]
    if not folders:
        raise ConfigError(f"no lesson matches {lessons} in {exercises}")
    out.mkdir(parents=True, exist_ok=True)
    learner_dir, grader_dir = out / "notebooks", out / "build" / "grader"

    _step(con, 1, "Release: learner notebooks and sealed grader bundles")
    for folder in folders:
        r = release(folder, learner_dir, grader_dir)
        con.print(
            f"  {r.lesson.id}: {len(r.lesson.exercises)} exercises, "
            f"{r.lesson.max_score:g} points -> {r.notebook}  (bundle {r.bundle})"
        )

    _step(con, 2, "Validate: solutions pass every test, learner stubs fail")
    table = Table("lesson", "exercise", "tests", "solution", "stub", "seconds")
    # The lessons run side by side (each in kernels and a sandbox of its own).
    reports = validate_lessons(folders)
    raise_for_problems(reports)
    for report in reports:
        for row in report.rows:
            table.add_row(
                row.lesson,
                row.exercise,
                str(row.tests),
                "pass" if row.solution_passes else "FAIL",
                row.stub,
                f"{report.seconds:.1f}",
            )
    con.print(table)

    _step(con, 3, f"Simulate a class of {learners} learners per lesson")
    submissions = out / "submissions"
    for folder in folders:
        paths = simulate_class(folder, submissions / folder.name, n_learners=learners)
        manifest = json.loads((submissions / folder.name / "_manifest.json").read_text())
        kinds = sorted({v["kind"] for v in manifest["learners"].values()})
        con.print(f"  {folder.name}: {len(paths)} submissions ({', '.join(kinds)})")

    _step(con, 4, "Grade in the sandbox; gradebook, exports, feedback and report")
    db = out / "gradebook.sqlite"
    backend = detect_backend()
    if backend.warning:  # the demo's class is our own simulation: grading it unsandboxed is safe
        con.print(
            f"  bubblewrap is not available here ({backend.description}): the demo grades its "
            "own simulated class without the sandbox (--unsandboxed); install bubblewrap "
            "before grading real learners",
            style="yellow",
            markup=False,
        )

    def grade(folder: Path) -> tuple[GradeRunSummary, float]:
        started = time.perf_counter()
        # A short cell timeout: the class has an endless loop per lesson, stopped after 5 s.
        summary = grade_lesson(
            folder,
            submissions / folder.name,
            db,
            grader_dir=grader_dir,
            cell_timeout=5,
            progress=False,
            unsandboxed=backend.warning is not None,
            workers=1,
        )
        return summary, time.perf_counter() - started

    # One worker per lesson and up to four lessons side by side (each holds a sandbox): each
    # class's endless loop waits out its timeout while the others are graded (the gradebook
    # takes every run).
    with ThreadPoolExecutor(max_workers=min(len(folders), 4)) as pool:
        for folder, (summary, took) in zip(folders, pool.map(grade, folders), strict=True):
            con.print(f"  {folder.name}: {summary.describe()}  ({took:.1f} s)")
    grades_csv = out / "grades.csv"
    export(db, "csv", grades_csv)
    feedback_dir = out / "feedback"
    pages = write_feedback(db, feedback_dir)
    report_path = out / "report.html"
    summary_all = write_report(db, report_path)
    print_summary(summary_all, con)

    _step(con, 5, "Tutor: hints and error explanations for broken submissions")
    _tutor_examples(con, db, learner_dir, submissions, limit=tutor_examples)

    con.rule("Where everything is")
    for label, path in [
        ("learner notebooks", learner_dir),
        ("grader bundles (never give to learners)", grader_dir),
        ("simulated submissions", submissions),
        ("gradebook", db),
        ("grades (CSV)", grades_csv),
        (f"feedback pages ({len(pages)})", feedback_dir),
        ("course report", report_path),
    ]:
        con.print(f"  {label:42} {path}")
    return DemoResult(out, db, grades_csv, feedback_dir, report_path)


def _console() -> Console:
    """Wide enough for the tables when the output is a file or a CI log, not a terminal."""
    con = Console()
    return con if con.is_terminal else Console(width=120)


def _step(con: Console, number: int, title: str) -> None:
    con.rule(f"[bold]{number}. {title}")


def _broken_exercises(db: Path, limit: int) -> Iterator[tuple[str, str, Any]]:
    """(lesson, learner, ExerciseResult) of failed exercises, one per learner, worst first."""
    from eduproject.core.results import Status
    from eduproject.grading.gradebook import Gradebook

    seen: set[str] = set()
    found = 0
    with Gradebook(db, create=False) as book:
        for result in book.results():
            if result.learner in seen or result.status is Status.INVALID:
                continue
            for ex in result.exercises:
                if ex.score < ex.max_score and ex.status in (Status.GRADED, Status.ERROR):
                    seen.add(result.learner)
                    yield result.lesson, result.learner, ex
                    found += 1
                    break
            if found >= limit:
                return


def _tutor_examples(
    con: Console, db: Path, learner_dir: Path, submissions: Path, *, limit: int
) -> None:
    from eduproject.core.pack import LessonPack
    from eduproject.core.results import TestResult
    from eduproject.tutor.tutor import Tutor

    tutors: dict[str, Tutor] = {}
    shown = 0
    for lesson, learner, ex in _broken_exercises(db, limit):
        if lesson not in tutors:
            pack = LessonPack.load(learner_dir / lesson / "lesson.json")
            tutors[lesson] = _demo_tutor(Tutor.from_config(pack))
        tutor = tutors[lesson]
        notebook = json.loads((submissions / lesson / learner / f"{lesson}.ipynb").read_text())
        code = _solution_code(notebook, ex.exercise)
        results = [TestResult(t.name, t.passed, t.message) for t in ex.tests if not t.hidden]
        con.print(
            f"\n[bold]{learner}[/] / {lesson} / {ex.exercise}: "
            f"{ex.score:g}/{ex.max_score:g} points, status {ex.status.value}"
            + (f" ({ex.detail})" if ex.detail else "")
        )
        hint = tutor.hint(ex.exercise, code, results, level=1)
        _show_reply(con, "Hint (level 1)", hint)
        if ex.detail:
            explanation = tutor.explain_error(ex.detail, code, ex.exercise)
            _show_reply(con, "Error explained", explanation)
        shown += 1
    if not shown:
        con.print("  (no broken submission to tutor)")


def _demo_tutor(tutor: Any) -> Any:
    """Learners get the bundled demonstration model only when the course names it; the demo
    shows it whenever nothing else is configured (labelled as what it is)."""
    router = tutor.router
    if router is None or router.config.tutor.routes:
        return tutor  # a course setting (or EDUPROJECT_TUTOR_ROUTES) decides
    demo = [r.name for r in router.config.routes if r.demonstration]
    if demo and not [n for n in router.routes_for("hint") if n != "offline"]:
        tutor.routes = (*demo, "offline")
    return tutor


def _solution_code(notebook: dict[str, Any], exercise: str) -> str:
    """The learner's solution cells of one exercise, as they submitted them."""
    return "\n\n".join(
        "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        for cell in notebook.get("cells", [])
        if cell.get("metadata", {}).get("eduproject", {}).get("exercise") == exercise
        and cell["metadata"]["eduproject"].get("role") == "solution"
    )


def _show_reply(con: Console, title: str, reply: Any) -> None:
    guard = reply.guard
    verdict = (
        "no guard verdict"
        if guard is None
        else (
            f"guard: {'ok' if guard.ok else 'rejected'} (leak score {guard.score:.2f})"
            + (f", {guard.reason}" if guard.reason else "")
        )
    )
    con.print(f"  [cyan]{title}[/] -- {reply.label}; {verdict}")
    if reply.notice:
        con.print(f"    note: {reply.notice}", markup=False)
    for line in reply.text.strip().splitlines():
        con.print(f"    {line}", markup=False, highlight=False)
