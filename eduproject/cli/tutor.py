"""CLI commands of eduproject.tutor (registered by eduproject.cli)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

EXIT_LEAK = 3


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    tutor_app = typer.Typer(
        name="tutor",
        help="The tutor: check hints for solution leaks.",
        no_args_is_help=True,
        rich_markup_mode=None,
    )
    tutor_app.command("check-hint")(check_hint_command)
    app.add_typer(tutor_app, name="tutor")


def check_hint_command(
    lesson: Annotated[
        Path, typer.Argument(help="The lesson folder, e.g. exercises/03-lists-dicts.")
    ],
    exercise: Annotated[str, typer.Option("--exercise", help="The exercise id.")],
    text_file: Annotated[
        Path, typer.Option("--text-file", help="The hint text to check (- for stdin).")
    ],
    run: Annotated[
        bool,
        typer.Option(
            "--run/--no-run", help="Run code blocks of the text against the exercise's tests."
        ),
    ] = True,
) -> None:
    """Print {"leak", "score", "reason"} as JSON for a hint; exit 3 when it leaks the solution."""
    from eduproject.tutor.passcheck import check_hint, read_text_file

    verdict = check_hint(lesson, exercise, read_text_file(text_file), run=run)
    typer.echo(json.dumps({"leak": verdict.leak, "score": verdict.score, "reason": verdict.reason}))
    if verdict.leak:
        # SystemExit, not typer.Exit: the root app runs click with standalone_mode=False,
        # which would swallow typer.Exit's code.
        raise SystemExit(EXIT_LEAK)
