"""CLI commands of eduproject.gateway: ``serve``, ``tokens ...``, ``gateway summary``.

Each parses its options, calls one library function and prints; errors are
:class:`~eduproject.errors.EduprojectError` and the root CLI turns them into a message and an
exit code. Tokens are printed or written once and never again.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
import stat
import sys
from pathlib import Path
from typing import Annotated

import typer

from eduproject.errors import ConfigError, GatewayError
from eduproject.gateway.settings import DB_NAME

DbOption = Annotated[
    Path | None,
    typer.Option(
        "--db", help=f"Gateway database (default: [gateway] db, else {DB_NAME} in the course)."
    ),
]
CourseOption = Annotated[
    Path | None,
    typer.Option("--course", help="Course folder with exercises/ (default: current folder)."),
]


def _db(db: Path | None, course: Path | None) -> Path | str:
    """--db, else the database ``eduproject serve`` uses for this course ([gateway] database
    or db)."""
    if db is not None:
        return db
    from eduproject.gateway.settings import default_db

    return default_db(course or Path.cwd())


def serve(
    config: Annotated[
        Path | None,
        typer.Option("--config", help="Course settings file (default: eduproject.toml)."),
    ] = None,
    course: CourseOption = None,
    host: Annotated[
        str | None,
        typer.Option(
            "--host", help="Address to listen on (default: the hub's service url, else 127.0.0.1)."
        ),
    ] = None,
    port: Annotated[
        int | None,
        typer.Option("--port", help="Port, 0 for any free one (default: the hub's, else 8765)."),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", help="Processes (one core each) serving the class.")
    ] = 1,
    db: DbOption = None,
    access_log: Annotated[
        bool, typer.Option("--access-log", help="Log every request line.")
    ] = False,
) -> None:
    """Run the tutor gateway: hints, explanations and answers for the class, keys kept here."""
    from eduproject.gateway.hub import HubLogin
    from eduproject.gateway.server import serve as run
    from eduproject.gateway.service import TutorService

    if config is not None:
        if not config.is_file():
            raise ConfigError(f"no settings file at {config}", hint="check --config")
        # The documented way to name another settings file; this process only serves.
        os.environ["EDUPROJECT_CONFIG"] = str(config.resolve())
    course_dir = (course or (config.parent if config is not None else Path.cwd())).resolve()

    def ready(url: str, service: TutorService, hub: HubLogin | None) -> None:
        typer.echo(f"eduproject gateway listening on {url}", err=True)
        if hub is not None:
            typer.echo(
                f"  JupyterHub service {hub.env.name!r} under {hub.prefix} "
                f"(hub API {hub.env.api_url}; admins: hub admins and groups "
                f"{', '.join(service.settings.admin_groups) or '(none)'})",
                err=True,
            )
        typer.echo(f"  lessons: {', '.join(service.lessons)}", err=True)
        typer.echo(f"  hint routes: {', '.join(service.router.routes_for('hint'))}", err=True)
        typer.echo(f"  database: {service.db.where}", err=True)
        typer.echo(f"  processes: {workers}", err=True)
        sys.stderr.flush()

    run(
        course_dir,
        db_path=db.resolve() if db else None,
        host=host,
        port=port,
        workers=workers,
        access_log=access_log,
        on_ready=ready,
    )


def tokens_issue(
    learners: Annotated[
        Path, typer.Option("--learners", help="Roster CSV: a header, then one learner per line.")
    ],
    out: Annotated[
        Path, typer.Option("-o", "--output", help="Where to write learner,token lines.")
    ] = Path("tokens.csv"),
    db: DbOption = None,
    course: CourseOption = None,
    rotate: Annotated[
        bool, typer.Option("--rotate", help="Replace the tokens of learners who have one.")
    ] = False,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the output file.")] = False,
) -> None:
    """Give every learner on the roster a tutor token (only hashes are stored)."""
    from eduproject.gateway.db import Database
    from eduproject.gateway.tokens import TokenStore, read_roster, write_tokens_csv

    roster = read_roster(learners)
    if out.exists() and not force:
        raise ConfigError(
            f"{out} already exists", hint="choose another file with -o, or pass --force"
        )
    try:
        # Made before any token exists: a token nobody can read would lock its learner out.
        out.touch(mode=0o600)
    except OSError as exc:
        raise ConfigError(f"cannot write {out}: {exc.strerror}", hint="check -o") from None
    database = Database(_db(db, course))
    try:
        issued = TokenStore(database).issue(roster.names, rotate=rotate)
    except BaseException:
        out.unlink(missing_ok=True)
        raise
    finally:
        database.close()
    write_tokens_csv(out, issued.tokens, force=True)
    typer.echo(f"read {len(roster.names)} learners from column {roster.column!r} of {learners}")
    typer.echo(f"wrote {len(issued.tokens)} new tokens to {out} (readable by you only)")
    if issued.kept:
        typer.echo(
            f"{len(issued.kept)} learners already had a token and kept it "
            "(--rotate replaces theirs)"
        )
    typer.echo("hand each learner their token, e.g. as EDUPROJECT_TUTOR_TOKEN (docs/gateway.md)")


def tokens_admin(
    name: Annotated[str, typer.Option("--name", help="Who the admin token is for.")] = "admin",
    out: Annotated[
        Path | None,
        typer.Option("-o", "--output", help="Write the token to this file (readable by you only)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite the -o file.")] = False,
    db: DbOption = None,
    course: CourseOption = None,
) -> None:
    """Print a new admin token (for GET /admin/summary), or write it with -o; shown only once."""
    from eduproject.gateway.db import Database
    from eduproject.gateway.tokens import TokenStore, check_name

    # Made before the token exists: a token that could not be written would be lost.
    holder = _private_file(out, force) if out is not None else None
    try:
        database = Database(_db(db, course))
        try:
            issued = TokenStore(database).issue([check_name(name, "--name")], role="admin")
        finally:
            database.close()
        if not issued.tokens:
            raise GatewayError(
                f"{name!r} already has an admin token",
                hint=f"revoke it first with `eduproject tokens revoke {name}`, "
                "or use another --name",
            )
    except BaseException:
        if out is not None and holder is not None:
            os.close(holder)
            out.unlink(missing_ok=True)
        raise
    token = issued.tokens[0][1]
    if holder is not None:
        with os.fdopen(holder, "w", encoding="utf-8") as fh:
            fh.write(token + "\n")
        typer.echo(f"wrote the admin token to {out} (readable by you only)", err=True)
    else:
        warning = _protect_stdout_file()
        typer.echo(token)
        if warning:
            typer.echo(warning, err=True)
    typer.echo("keep it safe: it is stored only as a hash and cannot be shown again", err=True)


def _private_file(path: Path, force: bool) -> int:
    """A file only its owner can read or write (0600), opened for writing; its descriptor."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_NOFOLLOW | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
        os.fchmod(fd, 0o600)  # an existing file overwritten with --force keeps no wider mode
    except FileExistsError:
        raise ConfigError(
            f"{path} already exists", hint="choose another file with -o, or pass --force"
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}", hint="check -o") from None
    return fd


def _protect_stdout_file() -> str | None:
    """When stdout is a file (``tokens admin > file``), make it 0600 before the token goes in.

    A shell creates it with the umask (0644: anyone on the machine could read the token). The
    warning says what was done, or what to do.
    """
    try:
        fd = sys.stdout.fileno()
        info = os.fstat(fd)
    except (AttributeError, ValueError, OSError):  # not a real file descriptor (captured)
        return None
    if not stat.S_ISREG(info.st_mode) or not info.st_mode & 0o077:
        return None
    try:
        where = os.readlink(f"/proc/self/fd/{fd}")
    except OSError:
        where = "the file stdout goes to"
    was = f"{stat.S_IMODE(info.st_mode):04o}"
    try:
        os.fchmod(fd, 0o600)
    except OSError:
        return (
            f"WARNING: {where} holds the admin token and others can read it (mode {was}): "
            f"run `chmod 600 {where}`; next time use `eduproject tokens admin -o FILE`"
        )
    return (
        f"note: {where} was readable by others (mode {was}); it is now 0600. "
        "Next time use `eduproject tokens admin -o FILE`, which creates it so."
    )


def tokens_revoke(
    name: Annotated[str, typer.Argument(help="Learner or admin name.")],
    db: DbOption = None,
    course: CourseOption = None,
) -> None:
    """Revoke every token of one learner (or admin) at once."""
    from eduproject.gateway.db import Database
    from eduproject.gateway.tokens import TokenStore

    database = Database(_db(db, course))
    try:
        count = TokenStore(database).revoke(name)
    finally:
        database.close()
    if count == 0:
        raise GatewayError(
            f"{name!r} has no active token", hint="see `eduproject tokens list` for the names"
        )
    typer.echo(f"revoked {count} token{'s' if count > 1 else ''} of {name}")


def tokens_list(db: DbOption = None, course: CourseOption = None) -> None:
    """Who has a token (names and dates only)."""
    from eduproject.gateway.db import Database
    from eduproject.gateway.tokens import TokenStore

    database = Database(_db(db, course))
    try:
        rows = TokenStore(database).list()
    finally:
        database.close()
    if not rows:
        typer.echo("no tokens yet: `eduproject tokens issue --learners roster.csv`")
    for row in rows:
        created = datetime.datetime.fromtimestamp(row.created).strftime("%Y-%m-%d %H:%M")
        state = "revoked" if row.revoked else "active"
        typer.echo(f"{row.role:8} {state:8} {created}  {row.name}")


def gateway_summary(
    url: Annotated[
        str | None,
        typer.Option(
            "--url", help="The gateway, e.g. http://host:8765 (default: read the database here)."
        ),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(
            "--token",
            envvar="EDUPROJECT_ADMIN_TOKEN",
            help="Admin token (or set EDUPROJECT_ADMIN_TOKEN).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    db: DbOption = None,
    course: CourseOption = None,
) -> None:
    """The instructor's summary: cost per learner and exercise, latency, errors, fallbacks,
    and how learners seek help (Checks until a pass, hints, questions, who looks stuck).

    With --url, from a running gateway; else straight from the course's gateway database and
    ledger (SQLite files, or the PostgreSQL database every gateway host shares)."""
    if url is not None:
        print_summary(url, token, as_json=as_json, help_seeking=True)
        return
    from eduproject.gateway.helpseeking import help_text, local_help
    from eduproject.gateway.summary import local_summary, summary_text

    course_dir = (course or Path.cwd()).resolve()
    report, helped = local_summary(course_dir, db), local_help(course_dir, db)
    if as_json:
        data = dataclasses.asdict(report)
        data["help_seeking"] = helped.to_json()
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(summary_text(report) + "\n\n" + help_text(helped))


def print_summary(
    url: str, token: str | None, *, as_json: bool = False, help_seeking: bool = False
) -> None:
    """Fetch and print a gateway's summary (``gateway summary`` and ``ledger --url``)."""
    from eduproject.gateway.helpseeking import fetch_help, help_text
    from eduproject.gateway.summary import fetch_summary, summary_text

    if not token:
        raise ConfigError(
            "the gateway summary needs an admin token",
            hint="pass --token (from `eduproject tokens admin`) or set EDUPROJECT_ADMIN_TOKEN",
        )
    report = fetch_summary(url, token)
    helped = fetch_help(url, token) if help_seeking else None
    if as_json:
        data = dataclasses.asdict(report)
        if helped is not None:
            data["help_seeking"] = helped.to_json()
        typer.echo(json.dumps(data, indent=2))
    else:
        typer.echo(summary_text(report))
        if helped is not None:
            typer.echo("\n" + help_text(helped))
            typer.echo(f"\nplots and tables: {url.rstrip('/')}/admin/login, then /admin/help")


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    app.command("serve")(serve)
    tokens_app = typer.Typer(help="Tutor gateway tokens.", no_args_is_help=True)
    tokens_app.command("issue")(tokens_issue)
    tokens_app.command("admin")(tokens_admin)
    tokens_app.command("revoke")(tokens_revoke)
    tokens_app.command("list")(tokens_list)
    app.add_typer(tokens_app, name="tokens")
    gateway_app = typer.Typer(help="Tutor gateway.", no_args_is_help=True)
    gateway_app.command("summary")(gateway_summary)
    app.add_typer(gateway_app, name="gateway")
