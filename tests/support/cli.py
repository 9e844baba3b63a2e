"""The one way the tests run the ``eduproject`` command: in this process, as the console
script does, with its exit code and what it printed."""

from __future__ import annotations

import pytest

from eduproject.cli import main


def run_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``eduproject ARGV``: (exit code, stdout, stderr)."""
    try:
        main(argv)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
