"""CLI commands of eduproject.lti: ``lti keys`` and ``lti sync``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

CourseOption = Annotated[
    Path | None,
    typer.Option("--course", help="Course folder with eduproject.toml (default: current folder)."),
]


def lti_keys(
    out: Annotated[
        Path, typer.Option("-o", "--output", help="Folder for private.pem, public.pem, jwks.json.")
    ] = Path("lti-keys"),
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing key (register the new one!).")
    ] = False,
) -> None:
    """Make the tool's key pair and JWKS for registering it in the LMS."""
    from eduproject.lti.keys import make_keys

    key = make_keys(out, force=force)
    typer.echo(f"wrote {out / 'private.pem'} (readable by you only; keep it secret)")
    typer.echo(f"wrote {out / 'public.pem'} (Moodle: paste as the tool's public key)")
    typer.echo(f"wrote {out / 'jwks.json'} (Canvas: paste the key below as the Public JWK)")
    typer.echo(json.dumps(key.jwk, indent=2))
    typer.echo(f'then set [lti] key = "{out / "private.pem"}" in eduproject.toml', err=True)


def lti_sync(
    db: Annotated[Path, typer.Argument(help="The gradebook (from eduproject grade --db).")],
    lesson: Annotated[str, typer.Option("--lesson", help="The lesson whose grades to send.")],
    course: CourseOption = None,
    roster: Annotated[
        Path | None,
        typer.Option("--roster", help="CSV learner,lti_user_id (instead of the LMS class list)."),
    ] = None,
    label: Annotated[
        str | None,
        typer.Option("--label", help="Column title of a new line item (default: lesson)."),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Ask the LMS, change nothing, say what would be sent.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Send every score again, changed or not.")
    ] = False,
) -> None:
    """Send a lesson's grades to the LMS (LTI 1.3 Assignment and Grade Services)."""
    from dataclasses import replace

    from eduproject.config import read_section
    from eduproject.lti.keys import load_signing_key
    from eduproject.lti.platform import Platform
    from eduproject.lti.settings import SECTION
    from eduproject.lti.sync import report_text, sync_lesson
    from eduproject.models.config import load_config

    course_dir = (course or Path.cwd()).resolve()
    settings = read_section(load_config(course_dir).other, SECTION, course_dir)
    if roster is not None:
        settings = replace(settings, roster=roster)
    key = load_signing_key(settings.key)
    with Platform(settings, key) as platform:
        report = sync_lesson(
            db, lesson, settings, platform=platform, dry_run=dry_run, force=force, label=label
        )
    typer.echo(report_text(report))


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    lti_app = typer.Typer(
        help="LTI 1.3 grade passback to Canvas, Moodle and others.", no_args_is_help=True
    )
    lti_app.command("keys")(lti_keys)
    lti_app.command("sync")(lti_sync)
    app.add_typer(lti_app, name="lti")
