"""CLI commands of eduproject.authoring: ``release``, ``validate`` and ``import``.

Each command parses its options, calls one library function and prints the outcome; errors are
:class:`~eduproject.errors.EduprojectError`\\ s, which ``eduproject.cli.main`` turns into a message
and an exit code.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from eduproject.errors import LessonError

LessonsArg = Annotated[
    list[Path],
    typer.Argument(
        help="Lesson folders (exercises/<lesson>), or a folder of lessons (exercises/) for all.",
        show_default=False,
    ),
]


class Tool(StrEnum):
    nbgrader = "nbgrader"
    otter = "otter"


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("release")(release_command)
    app.command("validate")(validate_command)
    app.command("import")(import_command)


def release_command(
    lessons: LessonsArg,
    out: Annotated[Path, typer.Option("-o", "--output", help="Where learner folders go.")] = Path(
        "notebooks"
    ),
    grader_dir: Annotated[
        Path | None,
        typer.Option(
            "--grader-dir",
            help="Where sealed grader bundles go (never give to learners).",
            show_default="build/grader/ of the course holding the lessons",
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; fail if the released files are out of date."),
    ] = False,
    validate: Annotated[
        bool,
        typer.Option(
            "--validate", help="Then validate the lessons too (as `eduproject validate`)."
        ),
    ] = False,
    cell_timeout: Annotated[
        float, typer.Option("--cell-timeout", help="With --validate: seconds per cell.")
    ] = 60,
) -> None:
    """Release lessons: learner notebook, data, lesson.json, and the sealed grader bundle."""
    from eduproject.authoring.parse import find_lessons
    from eduproject.authoring.release import release, stale_files

    console = Console(highlight=False, soft_wrap=True)
    folders = find_lessons(lessons)
    if check:
        stale = [path for folder in folders for path in stale_files(folder, out)]
        if stale:
            listed = "\n  ".join(str(p) for p in stale)
            raise LessonError(
                f"{len(stale)} released file(s) are out of date with the lesson sources:\n  {listed}",
                hint="run `eduproject release " + " ".join(str(p) for p in lessons) + f" -o {out}`",
            )
        console.print(f"{len(folders)} lesson(s) up to date in {out}", markup=False)
        return
    errors = Console(stderr=True, highlight=False, soft_wrap=True)
    for folder in folders:
        result = release(folder, out, grader_dir)
        lesson = result.lesson
        state = f"{len(result.changed)} file(s) written" if result.changed else "unchanged"
        console.print(
            f"released {lesson.id}: {len(lesson.exercises)} exercise(s), {state}\n"
            f"  learner: {result.notebook}\n  grader:  {result.bundle}",
            markup=False,
        )
        for warning in result.warnings:
            errors.print(f"warning: {warning}", markup=False)
    if validate:
        validate_command(folders, cell_timeout=cell_timeout)


def validate_command(
    lessons: LessonsArg,
    cell_timeout: Annotated[
        float, typer.Option("--cell-timeout", help="Seconds allowed per cell.")
    ] = 60,
    mutants: Annotated[
        bool,
        typer.Option(
            "--mutants",
            help="Also grade small slips in each solution (off-by-one, < for <=, a dropped "
            "line...) and list those the tests accept.",
        ),
    ] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs", min=1, help="Lessons validated at once (default: number of cores, at most 4)."
        ),
    ] = None,
) -> None:
    """Run each lesson with solutions (tests must pass) and as released (tests must fail), as
    notebooks and through the grader (both must agree)."""
    from eduproject.authoring.validate import raise_for_problems, validate_lessons

    reports = validate_lessons(lessons, timeout=cell_timeout, mutants=mutants, jobs=jobs)
    table = Table(
        "lesson", "exercise", "tests", "solution", "stub", "solution graded", title="validation"
    )
    for report in reports:
        for row in report.rows:
            table.add_row(
                row.lesson, row.exercise, str(row.tests), row.solution, row.stub, row.graded
            )
    console = Console(highlight=False, soft_wrap=True)
    console.print(table)
    if mutants:
        found = Table("lesson", "exercise", "slips caught", "score", title="test-suite adequacy")
        for report in reports:
            for caught in report.adequacy:
                found.add_row(
                    report.lesson,
                    caught.exercise,
                    f"{caught.caught}/{caught.tried}",
                    f"{caught.score:.0%}",
                )
        console.print(found)
        for report in reports:
            for caught in report.adequacy:
                for survivor in caught.survivors:
                    console.print(
                        f"  {report.lesson}/{caught.exercise}: {survivor.describe()}", markup=False
                    )
    seconds = sum(r.seconds for r in reports)
    console.print(f"{len(reports)} lesson(s) validated in {seconds:.1f} s", markup=False)
    raise_for_problems(reports)


def import_command(
    tool: Annotated[Tool, typer.Argument(help="The tool the source notebook was written for.")],
    source: Annotated[Path, typer.Argument(help="The nbgrader source / otter master notebook.")],
    out: Annotated[
        Path, typer.Option("-o", "--output", help="The new lesson folder, exercises/<lesson>/.")
    ],
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace a different notebook or file already written there."),
    ] = False,
    files: Annotated[
        bool,
        typer.Option(
            "--files/--no-files",
            help="Bring along the files beside the source notebook (data, helper modules).",
        ),
    ] = True,
) -> None:
    """Convert an nbgrader source notebook or an otter-assign master notebook into a lesson,
    with the files beside it."""
    if tool is Tool.nbgrader:
        from eduproject.authoring.importers.nbgrader import import_nbgrader

        report = import_nbgrader(source, out, overwrite=force, files=files)
    else:
        from eduproject.authoring.importers.otter import import_otter

        report = import_otter(source, out, overwrite=force, files=files)
    console = Console(highlight=False, soft_wrap=True)
    console.print(report.summary(), markup=False)
