"""CLI commands of eduproject.grading (registered by eduproject.cli)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    _register_grade(app)
    _register_outputs(app)


def _register_grade(app: typer.Typer) -> None:
    """The ``grade`` command (grading engine; added by its own change)."""


# -- export, feedback, report: read a gradebook, write files -----------------------------------

_DB = Annotated[Path, typer.Argument(help="The gradebook written by `eduproject grade --db`.")]
_LESSON = Annotated[
    str | None, typer.Option("--lesson", help="Only this lesson (default: every lesson).")
]


def _register_outputs(app: typer.Typer) -> None:
    app.command("export")(export_command)
    app.command("feedback")(feedback_command)
    app.command("report")(report_command)


def export_command(
    db: _DB,
    out: Annotated[
        Path, typer.Option("--output", "-o", help="File (csv, canvas) or folder (gradescope).")
    ],
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv | canvas | gradescope")] = "csv",
    lesson: _LESSON = None,
) -> None:
    """Export grades: long CSV, Canvas gradebook import CSV, or Gradescope results.json files."""
    from eduproject.grading.export import export

    done = export(db, fmt, out, lesson=lesson)
    where = out if done.format != "gradescope" else f"{len(done.files)} results.json under {out}"
    Console().print(
        f"exported {done.submissions} submissions ({done.format}, {done.rows} rows) to {where}",
        markup=False,
        highlight=False,
        soft_wrap=True,  # paths stay on one line, ready to copy
    )


def feedback_command(
    db: _DB,
    out: Annotated[Path, typer.Option("--output", "-o", help="Folder for the HTML pages.")],
    lesson: _LESSON = None,
) -> None:
    """Write one feedback HTML page per learner and lesson (hidden tests by name only)."""
    from eduproject.grading.feedback import write_feedback

    pages = write_feedback(db, out, lesson=lesson)
    Console().print(
        f"wrote {len(pages)} feedback pages under {out}/<lesson>/<learner>.html",
        markup=False,
        highlight=False,
        soft_wrap=True,  # paths stay on one line, ready to copy
    )


def report_command(
    db: _DB,
    out: Annotated[Path, typer.Option("--output", "-o", help="The report's HTML file.")],
    lesson: _LESSON = None,
) -> None:
    """Write the course report (plots, tables, sandbox line) and print its summary."""
    from eduproject.grading.report import print_summary, write_report

    summary = write_report(db, out, lesson=lesson)
    console = Console()
    print_summary(summary, console)
    console.print(f"report written to {out}", markup=False, highlight=False, soft_wrap=True)
