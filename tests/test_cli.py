"""`eduproject` reads as one tool: one spelling per option, plain value words, --version."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eduproject import __version__
from eduproject.cli import COMMANDS, command, main


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


def test_the_command_table_names_what_each_module_registers() -> None:
    """COMMANDS (which module to import for a command) agrees with the modules themselves."""
    import importlib
    import pkgutil

    import typer

    import eduproject.cli as cli

    registered: dict[str, str] = {}
    for info in pkgutil.iter_modules(cli.__path__):
        if info.name == "__main__":
            continue
        module = importlib.import_module(f"eduproject.cli.{info.name}")
        if not hasattr(module, "register"):
            continue
        sub = typer.Typer()
        module.register(sub)
        names = [c.name or c.callback.__name__ for c in sub.registered_commands]  # type: ignore[union-attr]
        names += [g.name or "" for g in sub.registered_groups]
        registered |= dict.fromkeys(names, info.name)
    assert registered == COMMANDS


def test_a_command_loads_only_its_own_area() -> None:
    """`eduproject grade` starts without the model router, httpx or asyncio (a tenth of a
    second and more on every run); `eduproject ask` does load them."""
    import subprocess
    import sys

    probe = (
        "import sys; from eduproject.cli import main; main([{cmd!r}, '--help']); "
        "print(sorted(m for m in sys.modules if m in {{'httpx', 'asyncio'}} "
        "or m.startswith(('eduproject.models', 'eduproject.cli.'))))"
    )
    loaded = {}
    for cmd in ("grade", "ask"):
        done = subprocess.run(
            [sys.executable, "-c", probe.format(cmd=cmd)],
            capture_output=True,
            text=True,
            check=True,
        )
        loaded[cmd] = done.stdout.strip().splitlines()[-1]
    assert "eduproject.cli.grading" in loaded["grade"]
    for heavy in ("httpx", "asyncio", "eduproject.models.router", "eduproject.cli.models"):
        assert f"'{heavy}'" not in loaded["grade"], heavy
        assert f"'{heavy}'" in loaded["ask"], heavy


def test_grade_starts_its_sandboxes_before_its_options_are_parsed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An area's BEFORE_PARSING work starts with the command's arguments -- not for --help,
    and nothing of grade's for a Dask run (the sandboxes are on the Dask workers). Where
    bubblewrap is known to work, grade starts one zygote per worker that will have a
    submission; where it is not known yet, the probe starts instead."""
    import eduproject.cli as cli
    import eduproject.cli.grading as grading
    import eduproject.runner.backends as backends
    import eduproject.runner.sandbox as sandbox

    calls: list[object] = []
    known: list[object] = [None]
    monkeypatch.setattr(backends, "detect_backend_soon", lambda: calls.append("probe"))
    monkeypatch.setattr(backends, "remembered_backend", lambda: known[0])
    monkeypatch.setattr(sandbox, "prestart", lambda backend, n: calls.append((backend, n)))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "eduproject.toml").write_text("[grading]\nworkers = 3\n")
    for name in ("ada.ipynb", "bo.ipynb", ".ipynb_checkpoints"):
        (tmp_path / "class" / name).mkdir(parents=True)
    (tmp_path / "nbgrader" / "submitted" / "cy").mkdir(parents=True)

    cli._before_parsing(["grade", "exercises/x", "class", "--workers", "2"])
    assert calls == ["probe"]  # bubblewrap not known to work yet
    known[0] = "bwrap"
    expected = {
        ("exercises/x", "class", "--workers", "2"): 2,
        ("exercises/x", "class", "--workers=1", "--db", "g.sqlite"): 1,
        ("exercises/x", "--db", "g.sqlite", "class"): 2,  # [grading] workers = 3, 2 learners
        ("exercises/x", "nbgrader", "--workers", "4"): 1,  # an nbgrader course: submitted/
        ("exercises/x", "missing-folder"): None,  # grade itself says what is wrong
        ("exercises/x", "class", "--workers", "two"): None,
        ("exercises/x",): None,
    }
    for args, n in expected.items():
        calls.clear()
        cli._before_parsing(["grade", *args])
        assert calls == ([] if n is None else [("bwrap", n)]), args
    calls.clear()
    for args in (["grade", "--help"], ["grade", "x", "class", "--dask", "local:2"], ["export"], []):
        cli._before_parsing(args)
    assert calls == []
    assert set(grading.BEFORE_PARSING) <= set(COMMANDS)


def test_the_early_start_reads_grades_arguments_as_grade_does() -> None:
    """The before-parsing hook reads grade's arguments without click: it must know which of
    grade's options take a value (else a value is taken for the submissions folder)."""
    import eduproject.cli.grading as grading
    from eduproject.cli import area_commands

    grade = area_commands("grading")["grade"]
    valued = {
        opt
        for p in grade.params
        if p.param_type_name == "option" and not getattr(p, "is_flag", False)
        for opt in p.opts
    }
    positional = [p.name for p in grade.params if p.param_type_name == "argument"]
    assert set(grading._GRADE_VALUE_OPTIONS) == valued
    assert positional == ["lesson", "submissions"]


def test_plain_option_values_are_converted_without_pydantic() -> None:
    """typer 0.29 converts values through pydantic (imported on the first option: a tenth of
    a second of every command); plain ints, floats, paths and flags are converted directly,
    to the same types, and a bad value is still a usage error that names the option."""
    import subprocess
    import sys

    probe = (
        "import sys; from eduproject.cli import area_commands; "
        "cmd = area_commands('grading')['grade']; "
        "ctx = cmd.make_context('grade', ['l', 's', '--db', 'g.sqlite', '--workers', '2', "
        "'--cell-timeout', '2.5', '--no-progress']); "
        "print({k: type(v).__name__ for k, v in ctx.params.items()}); "
        "print(ctx.params['workers'], ctx.params['cell_timeout'], ctx.params['memory']); "
        "print('pydantic' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    types, values, pydantic = done.stdout.strip().splitlines()[-3:]
    assert "'lesson': 'PosixPath'" in types and "'db': 'PosixPath'" in types
    assert "'workers': 'int'" in types and "'cell_timeout': 'float'" in types
    assert "'no_progress': 'bool'" in types and "'profile': 'bool'" in types
    assert values == "2 2.5 None"
    assert pydantic == "False"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["grade", "l", "s", "--db", "g", "--workers", "two"], "'two' is not an integer"),
        (["grade", "l", "s", "--db", "g", "--cell-timeout", "5s"], "'5s' is not a number"),
        # A bound stays typer's own check (validate --jobs has min=1).
        (["validate", "l", "--jobs", "0"], "greater than or equal to 1"),
    ],
)
def test_a_bad_option_value_is_a_usage_error_naming_the_option(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(args)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    option = args[-2]
    assert f"Invalid value for '{option}'" in err and message in err
