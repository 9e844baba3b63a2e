"""CLI commands of eduproject.grading (registered by eduproject.cli)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console


def _start_sandboxes_early(args: list[str]) -> Callable[[], None] | None:
    """Start grade's sandboxes while its options are parsed and the grading pipeline is
    imported (a tenth of a second that a sandbox's own start-up then overlaps).

    Where bubblewrap was found working before (the probe's memo), one zygote per worker that
    will have work starts now; the workers adopt them. Otherwise the probe runs on a thread,
    off the critical path, and the sandboxes start when the lesson is read. Nothing here can
    fail grade: a guess it cannot make means no early start. Returns what ends the zygotes
    no worker adopted (grade stopped before grading: a bad lesson...).
    """
    if any(a == "--dask" or a.startswith("--dask=") for a in args):
        return None  # the sandboxes are on the Dask workers
    from eduproject.runner.backends import detect_backend_soon, remembered_backend

    backend = remembered_backend()
    if backend is None:
        detect_backend_soon()
        return None
    try:
        count = _workers_with_work(args)
    except Exception:  # grade itself reports bad arguments or settings
        return None
    if not count:
        return None
    from eduproject.runner.sandbox import discard_prestarted, prestart

    prestart(backend, count)
    return discard_prestarted


_GRADE_VALUE_OPTIONS = ("--db", "--workers", "--cell-timeout", "--timeout", "--memory", "--dask")


def _workers_with_work(args: list[str]) -> int:
    """How many of grade's workers will get a submission: min(workers, submissions), read
    from the arguments as given (0 when they do not name a lesson and a folder)."""
    positional: list[str] = []
    options: dict[str, str] = {}
    rest = iter(args)
    for arg in rest:
        name, eq, value = arg.partition("=")
        if name in _GRADE_VALUE_OPTIONS:
            options[name] = value if eq else next(rest, "")
        elif not arg.startswith("-"):
            positional.append(arg)
    if len(positional) != 2:
        return 0
    lesson, folder = Path(positional[0]), Path(positional[1])
    if "--workers" in options:
        workers = int(options["--workers"])
    else:
        from eduproject.grading.settings import grading_settings

        workers = grading_settings(lesson).workers or os.cpu_count() or 1
    # An estimate of what runner.submissions.discover() will find (importing it here would
    # delay the zygotes by its import): an nbgrader course's submitted/, visible entries.
    if (folder / "submitted").is_dir() and not any(folder.glob("*.ipynb")):
        folder = folder / "submitted"
    entries = sum(1 for e in folder.iterdir() if not e.name.startswith((".", "_")))
    return max(0, min(workers, entries))


# Work a command starts before its options are parsed (typer's parsing imports pydantic:
# a tenth of a second); called with the command's arguments, never for --help.
BEFORE_PARSING = {"grade": _start_sandboxes_early}


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    _register_grade(app)
    _register_outputs(app)
    app.command("collect")(collect_command)
    app.command("manual")(manual_command)


# -- grade: run the grading engine --------------------------------------------------------------


def _register_grade(app: typer.Typer) -> None:
    app.command("grade")(grade_command)


def grade_command(
    lesson: Annotated[Path, typer.Argument(help="The lesson folder, e.g. exercises/01-functions.")],
    submissions: Annotated[
        Path,
        typer.Argument(
            help="<dir>/<learner>.ipynb, <dir>/<learner>/<name>.ipynb or nbgrader submitted/."
        ),
    ],
    db: Annotated[Path, typer.Option("--db", help="The SQLite gradebook (created if missing).")],
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            help="Parallel workers (default: [grading] workers, else the number of cores).",
        ),
    ] = None,
    cell_timeout: Annotated[
        float | None,
        typer.Option(
            "--cell-timeout", help="Seconds per cell or test (default: [grading], else 30)."
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout", help="Seconds per whole submission (default: [grading], else 300)."
        ),
    ] = None,
    memory: Annotated[
        int | None,
        typer.Option(
            "--memory", help="MB of memory learner code may use (default: [grading], else 1024)."
        ),
    ] = None,
    dask: Annotated[
        str | None,
        typer.Option("--dask", help="A Dask scheduler address, or local:N for a LocalCluster."),
    ] = None,
    no_progress: Annotated[bool, typer.Option("--no-progress", help="No progress bar.")] = False,
    profile: Annotated[
        bool, typer.Option("--profile", help="Print where the time went, per phase.")
    ] = False,
    unsandboxed: Annotated[
        bool,
        typer.Option(
            "--unsandboxed",
            help="Grade even without the bubblewrap sandbox (learner code can then read "
            "hidden tests, other submissions and secrets).",
        ),
    ] = False,
) -> None:
    """Grade every submission of a lesson in a sandbox and record the results in a gradebook.

    The exit code says whether the batch ran (0), not whether learners passed. Options not
    given come from the [grading] table of the course's eduproject.toml.
    """
    from eduproject.grading.pipeline import grade_lesson
    from eduproject.grading.settings import grading_settings

    defaults = grading_settings(lesson)
    console = Console(soft_wrap=True)  # paths stay on one line, ready to copy
    summary = grade_lesson(
        lesson,
        submissions,
        db,
        workers=workers if workers is not None else defaults.workers,
        cell_timeout=cell_timeout if cell_timeout is not None else defaults.cell_timeout,
        timeout=timeout if timeout is not None else defaults.timeout,
        memory_mb=memory if memory is not None else defaults.memory,
        dask=dask,
        progress=not no_progress,
        unsandboxed=unsandboxed,
    )
    say = lambda text: console.print(text, markup=False, highlight=False)  # noqa: E731
    if summary.bundle_note:
        say(summary.bundle_note)
    for line in summary.ignored:
        say(line)
    # The sandbox warning, if any, was printed once on stderr when grading started.
    say(f"sandbox: {summary.sandbox}")
    if summary.older_release:
        shown = ", ".join(summary.older_release[:5])
        more = (
            f" and {len(summary.older_release) - 5} more" if len(summary.older_release) > 5 else ""
        )
        Console(stderr=True, soft_wrap=True).print(
            f"warning: {len(summary.older_release)} submission(s) were made from an older "
            f"release of {summary.lesson} ({shown}{more}): their cells are matched by id, and "
            "test cells or stubs may differ from what these learners saw",
            style="bold yellow",
            markup=False,
            highlight=False,
        )
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(summary.statuses.items())) or "none"
    say(
        f"graded {summary.graded} submissions of {summary.lesson} in {summary.duration_s:.1f} s "
        f"({summary.seconds_per_submission:.3f} s per submission, {summary.workers}); "
        f"skipped {summary.skipped} already graded"
    )
    say(f"statuses: {statuses}")
    if summary.statuses.get("review"):
        say(
            f"{summary.statuses['review']} submission(s) need review (points withheld until you "
            f"look): `eduproject report {summary.db_path}` lists which tests and why"
        )
    for failure in summary.failures:
        say(f"grader failed (not recorded, rerun to retry): {failure}")
    say(f"gradebook: {summary.db_path} (run {summary.run_id})")
    if profile:
        say("where the time went (ms per submission; sandbox wait in all):")
        for line in summary.phase_lines():
            say(line)


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
    _say(f"exported {done.submissions} submissions ({done.format}, {done.rows} rows) to {where}")


def feedback_command(
    db: _DB,
    out: Annotated[Path, typer.Option("--output", "-o", help="Folder for the HTML pages.")],
    lesson: _LESSON = None,
) -> None:
    """Write one feedback HTML page per learner and lesson (hidden tests by name only)."""
    from eduproject.grading.feedback import write_feedback

    pages = write_feedback(db, out, lesson=lesson)
    _say(f"wrote {len(pages)} feedback pages under {out}/<lesson>/<learner>.html")


def report_command(
    db: _DB,
    out: Annotated[Path, typer.Option("--output", "-o", help="The report's HTML file.")],
    lesson: _LESSON = None,
    course: Annotated[
        str | None,
        typer.Option("--course", help="The course's name for the title (default: the lessons)."),
    ] = None,
    ledger: Annotated[
        Path | None,
        typer.Option(
            "--ledger",
            help="The tutor gateway's ledger: adds how learners sought help (with its calls).",
        ),
    ] = None,
    gateway_db: Annotated[
        Path | None,
        typer.Option(
            "--gateway-db", help="The gateway's database (default: [gateway] db of the course)."
        ),
    ] = None,
    anonymous: Annotated[
        bool, typer.Option("--anonymous", help="Learner 1, 2... instead of names in that part.")
    ] = False,
) -> None:
    """Write the course report (plots, tables, sandbox line) and print its summary."""
    from eduproject.grading.report import print_summary, write_report

    extra_html = extra_css = ""
    helped = None
    if ledger is not None:
        from eduproject.gateway.helppage import HELP_CSS, help_section
        from eduproject.gateway.helpseeking import help_from_files, pseudonymize
        from eduproject.gateway.settings import default_db

        helped = help_from_files(gateway_db or default_db(Path.cwd()), ledger, lesson=lesson)
        if anonymous:
            helped = pseudonymize(helped)
        extra_html = "<h2>How learners sought help</h2>" + help_section(helped, heading="h3")
        extra_css = HELP_CSS
    summary = write_report(
        db, out, lesson=lesson, course=course, extra_html=extra_html, extra_css=extra_css
    )
    console = Console()
    print_summary(summary, console)
    if helped is not None:
        from eduproject.gateway.helpseeking import help_text

        _say(help_text(helped), console)
    _say(f"report written to {out}", console)


def _say(text: str, console: Console | None = None) -> None:
    """One plain line; paths stay on one line, ready to copy."""
    (console or Console()).print(text, markup=False, highlight=False, soft_wrap=True)


# -- collect: learners' notebooks from a hub's homes ---------------------------------------------


def collect_command(
    lesson: Annotated[
        str, typer.Argument(help="The lesson folder (exercises/01-functions) or its id.")
    ],
    sources: Annotated[
        list[str],
        typer.Option(
            "--from",
            help="Glob of learners' homes ('/home/*', '/srv/hub/{learner}') or of notebooks "
            "in an exchange folder ('/srv/exchange/01-functions/*.ipynb'); repeatable.",
        ),
    ],
    out: Annotated[Path, typer.Option("-o", "--output", help="Where the grading layout goes.")],
    deadline: Annotated[
        str | None,
        typer.Option("--deadline", help="ISO date and time, e.g. 2026-12-01T23:59+01:00."),
    ] = None,
    paths: Annotated[
        list[str] | None,
        typer.Option(
            "--path",
            help="Where the notebook sits in a home (default: {lesson}/{lesson}.ipynb, "
            "then {lesson}.ipynb); repeatable.",
        ),
    ] = None,
    require_owner: Annotated[
        bool,
        typer.Option("--require-owner", help="Each file must belong to the learner's OS user."),
    ] = False,
) -> None:
    """Collect each learner's notebook from the hub's homes (or an exchange folder)."""
    import datetime

    from eduproject.errors import ConfigError
    from eduproject.grading.collect import DEFAULT_PATHS, collect

    lesson_id = lesson
    folder = Path(lesson)
    if folder.is_dir():
        from eduproject.authoring.parse import load_lesson

        lesson_id = load_lesson(folder).id
    elif "/" in lesson or not lesson.strip():
        raise ConfigError(f"no lesson folder at {lesson}", hint="pass the folder or the lesson id")
    when = None
    if deadline is not None:
        try:
            when = datetime.datetime.fromisoformat(deadline)
        except ValueError:
            raise ConfigError(
                f"--deadline {deadline!r} is not an ISO date and time",
                hint="for example 2026-12-01T23:59 (local time) or 2026-12-01T23:59+01:00",
            ) from None
    report = collect(
        lesson_id,
        sources,
        out,
        paths=tuple(paths) if paths else DEFAULT_PATHS,
        deadline=when,
        require_owner=require_owner,
    )
    late = f" ({len(report.late)} late)" if when is not None else ""
    typer.echo(
        f"collected {len(report.collected)} notebooks of {lesson_id}{late} into {out}; "
        f"{len(report.missing)} missing, {len(report.refused)} refused"
    )
    for row in report.refused:
        typer.echo(f"  refused {row.learner}: {row.reason} ({row.source})", err=True)
    typer.echo(f"manifest: {report.manifest}")


# -- manual: the manual-grading page -------------------------------------------------------------


def manual_command(
    lesson: Annotated[Path, typer.Argument(help="The lesson folder, e.g. exercises/01-functions.")],
    db: Annotated[Path, typer.Option("--db", help="The gradebook `eduproject grade` wrote.")],
    host: Annotated[
        str,
        typer.Option("--host", help="Address to listen on (default: this machine only)."),
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port (0: any free port).")] = 8766,
) -> None:
    """Grade the manual exercises of a lesson in the browser, answer after answer.

    Prints the page's address and a one-time sign-in token; points and comments go into the
    gradebook at once (exports, feedback pages and the report show them). Ctrl+C stops it.
    """
    from eduproject.grading.manual import ManualDesk
    from eduproject.grading.manual_page import serve_manual
    from eduproject.grading.pipeline import lesson_for_grading

    bundled, _ = lesson_for_grading(lesson)
    desk = ManualDesk(bundled, db)

    def ready(url: str, token: str) -> None:
        progress = desk.answers()
        left = sum(a.pending for a in progress)
        _say(
            f"manual grading of {bundled.id}: {len(desk.questions)} question(s), "
            f"{left} of {len(progress)} answers left"
        )
        if host not in ("127.0.0.1", "localhost", "::1"):
            _say(f"warning: listening on {host}: anyone who reaches it may try to sign in")
        _say(f"open {url}/login#token={token}")
        _say(f"(or open {url}/ and paste the one-time token {token})")
        _say("Ctrl+C stops the page; everything saved is in the gradebook")

    serve_manual(desk, host=host, port=port, on_ready=ready)
