"""CLI commands of eduproject.bench (registered by eduproject.cli)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
from rich.progress import Progress as RichProgress


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("bench")(bench_command)


class _Bar:
    """The runner's progress on a rich bar (stderr, so stdout keeps only the table)."""

    def __init__(self, progress: RichProgress) -> None:
        self.progress = progress
        self.task = progress.add_task("preparing", total=0)

    def add(self, total: int) -> None:
        current = self.progress.tasks[0].total or 0
        self.progress.update(self.task, total=current + total)

    def step(self, label: str) -> None:
        self.progress.update(self.task, advance=1, description=label[:60])


def _split(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def bench_command(
    routes: Annotated[
        str,
        typer.Option(
            "--routes",
            help="Comma-separated route names; `a>b` benchmarks a with fallback to b. "
            "Default: the configured bench routes.",
        ),
    ] = "",
    suite: Annotated[
        list[str] | None,
        typer.Option(
            "--suite", help="A course or lesson folder (exercises/), or `humaneval`. Repeatable."
        ),
    ] = None,
    tasks: Annotated[
        str, typer.Option("--tasks", help="Comma-separated: completion, hint, explain.")
    ] = "completion,hint,explain",
    samples: Annotated[
        int, typer.Option("--samples", help="Completions per exercise (pass@k with k = this).")
    ] = 1,
    limit: Annotated[
        int | None, typer.Option("--limit", help="Only the first N exercises of each suite.")
    ] = None,
    validate: Annotated[
        bool,
        typer.Option("--validate", help="Check each hint with a simulated student (Phung et al.)."),
    ] = False,
    repairs: Annotated[
        int, typer.Option("--repairs", help="Repair attempts per validation (n).")
    ] = 10,
    max_tokens: Annotated[
        int | None,
        typer.Option(
            "--max-tokens", help="Cap every answer at N tokens (task defaults: 320 to 512)."
        ),
    ] = None,
    course: Annotated[
        Path | None,
        typer.Option("--course", help="The course folder whose eduproject.toml defines routes."),
    ] = None,
    out: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path("bench"),
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
) -> None:
    """Run the same prompts through every route and compare accepted-output rate and cost.

    Writes summary.csv, records.jsonl and report.html into the output folder and prints
    the table. Every request goes through the router and lands in the ledger.
    """
    from eduproject.bench.report import summary_table, write_report
    from eduproject.bench.runner import BenchOptions, run_bench

    options = BenchOptions(
        routes=_split(routes),
        suites=tuple(suite or ["exercises"]),
        tasks=_split(tasks),
        samples=samples,
        limit=limit,
        validate=validate,
        repairs=repairs,
        course_dir=course,
        max_tokens=max_tokens,
    )
    # A pipe or file gets the whole table, not one squeezed into 80 columns.
    console = Console() if sys.stdout.isatty() else Console(width=200)
    err = Console(stderr=True)
    if no_progress:
        report = run_bench(options)
    else:
        columns = (
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
        )
        with RichProgress(*columns, console=err, transient=True) as bar:
            report = run_bench(options, progress=_Bar(bar))
    paths = write_report(report, out)
    console.print(summary_table(report))
    say = lambda text: console.print(text, markup=False, highlight=False)  # noqa: E731
    say(f"grading sandbox: {report.sandbox}")
    say(f"ledger: {report.ledger_path}")
    for path in paths:
        say(f"wrote {path}")
