"""`eduproject` reads as one tool: one spelling per option, plain value words, --version."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from eduproject import __version__
from eduproject.cli import command, main


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    yield path, cmd
    for name, sub in getattr(cmd, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    main([*argv, "--help"])  # success returns normally
    return capsys.readouterr().out


@pytest.fixture(autouse=True)
def wide_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    main(["--version"])
    assert capsys.readouterr().out == f"eduproject {__version__}\n"


def test_every_output_option_is_spelled_o_output() -> None:
    for path, cmd in _commands(command()):
        for param in cmd.params:
            opts = set(getattr(param, "opts", ()))
            if opts & {"-o", "--out", "--output"}:
                assert opts == {"-o", "--output"}, (path, opts)


def test_validate_and_grade_name_the_per_cell_timeout_alike() -> None:
    root = command()
    for name in ("validate", "grade", "release"):
        opts = {o for p in root.commands[name].params for o in getattr(p, "opts", ())}
        assert "--cell-timeout" in opts, name


def test_help_pages_never_show_python_types_or_cut_summaries(
    capsys: pytest.CaptureFixture[str],
) -> None:
    python_types = re.compile(r"<(?:int|float|str|path|bool|list\[[^\]]*\])>|\{[a-z_]+\}")
    root_help = _help([], capsys)
    commands = root_help.split("Commands:")[1]
    for line in commands.splitlines():
        assert not line.rstrip().endswith("..."), line  # summaries are whole sentences
    assert re.search(
        r"release +Release lessons: learner notebook, data, lesson.json, and", root_help
    )
    for path, cmd in _commands(command()):
        if not path or getattr(cmd, "commands", None):
            continue
        page = _help(list(path), capsys)
        # The usage line and the name column of each option or argument (help texts may
        # show templates such as `{learner}`).
        names = [
            line.strip().split("  ")[0]
            for line in page.splitlines()
            if line.startswith(("Usage:", "  -", "  ")) and not line.startswith("    ")
        ]
        shown = [n for n in names if python_types.search(n)]
        assert not shown, (path, shown)
    grade = _help(["grade"], capsys)
    assert "Usage: eduproject grade [OPTIONS] LESSON SUBMISSIONS" in grade
    assert "--cell-timeout SECONDS" in grade and "--workers N" in grade
    assert "Usage: eduproject release [OPTIONS] LESSONS..." in _help(["release"], capsys)
