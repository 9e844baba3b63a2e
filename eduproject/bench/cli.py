"""CLI commands of eduproject.bench (registered by eduproject.cli)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
