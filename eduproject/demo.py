"""``eduproject demo``: the product end to end on the sample course, offline."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_command)


def demo_command() -> None:
    """Run the offline end-to-end demo on the sample course."""
