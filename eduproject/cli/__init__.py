"""The ``eduproject`` command: a thin shell over the library.

Each area registers its own commands with ``register(app)``; their modules live in this
package (``cli/authoring.py``, ``cli/grading.py``, ...), the top layer: a command parses its
options and calls the library, nothing below imports a command. Every command parses its
options, calls one library function, and maps :class:`~eduproject.errors.EduprojectError` to
a one-paragraph message and an exit code.

:data:`COMMANDS` says which module registers each top-level command, so that running one
imports only its own area (``eduproject grade`` never loads httpx, asyncio or the model
router: a tenth of a second or more on every start); ``eduproject --help`` and
:func:`command` load them all. ``tests/test_cli.py`` checks the table against what the
modules register.
"""

from __future__ import annotations

import functools
import importlib
import sys
from collections.abc import Callable
from typing import Annotated, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from eduproject import __version__
from eduproject.cli.coercion import plain_coercion
from eduproject.errors import EduprojectError

__all__ = ["app", "main"]

# Each top-level command and the module of this package that registers it, in help order.
COMMANDS: dict[str, str] = {
    "demo": "demo",
    "quickstart": "quickstart",
    "release": "authoring",
    "validate": "authoring",
    "import": "authoring",
    "grade": "grading",
    "export": "grading",
    "feedback": "grading",
    "report": "grading",
    "collect": "grading",
    "manual": "grading",
    "ask": "models",
    "ledger": "models",
    "bench": "bench",
    "serve": "gateway",
    "routes": "models",
    "model": "models",
    "tutor": "tutor",
    "tokens": "gateway",
    "gateway": "gateway",
    "lti": "lti",
}

# How every area's commands are built (typer takes these from the app they are added to).
_SETTINGS: dict[str, Any] = {
    "add_completion": False,
    "pretty_exceptions_enable": False,
    "rich_markup_mode": None,
}


class _Root(TyperGroup):
    """The root command: a command's area is imported when the command is looked up."""

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        area = COMMANDS.get(cmd_name)
        return None if area is None else area_commands(area).get(cmd_name)


@functools.cache
def area_commands(area: str) -> dict[str, Any]:
    """The click commands that ``cli/<area>.py`` registers, by name, made readable."""
    module = importlib.import_module(f"eduproject.cli.{area}")
    sub = typer.Typer(**_SETTINGS)
    sub.callback()(_nothing)  # a group even when the area has one command
    module.register(sub)
    group = typer.main.get_command(sub)
    commands: dict[str, Any] = dict(group.commands)  # type: ignore[attr-defined]
    for cmd in commands.values():
        _readable(cmd)
    return commands


def _nothing() -> None:
    """(The callback of an area's group, which is never run: only its commands are used.)"""


app = typer.Typer(
    name="eduproject",
    help="Teach programming in Jupyter: author, release, grade and tutor.",
    no_args_is_help=True,
    cls=_Root,
    **_SETTINGS,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"eduproject {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Teach programming in Jupyter: author, release, grade and tutor."""


# Words for option values, by option name, where the type alone says too little.
_VALUE_WORDS = (
    (("timeout", "seconds", "refill"), "SECONDS"),
    (("memory",), "MB"),
    (("db", "ledger"), "FILE"),
    (("output", "out", "grader_dir", "course", "dir"), "PATH"),
)


@functools.cache
def _root_command() -> Any:
    """The root click command of ``app``; its commands load when looked up (:class:`_Root`).

    Typer shows values as Python types (``<int>``, ``{lesson}``) and cuts command summaries
    at the terminal's width; here every argument is named in capitals (``LESSON``), every
    option value by what it is (``SECONDS``, ``N``, ``PATH``), and every command's summary
    is its whole first sentence.
    """
    root = typer.main.get_command(app)
    _readable(root)
    return root


def command() -> Any:
    """The whole click command tree of ``app``, every area loaded (``root.commands``)."""
    root = _root_command()
    for name in COMMANDS:
        root.commands.setdefault(name, root.get_command(None, name))
    return root


def _readable(cmd: Any) -> None:
    plain_coercion(cmd)
    if cmd.help and not cmd.short_help:
        cmd.short_help = cmd.help.strip().split("\n\n")[0].replace("\n", " ")
    for param in cmd.params:
        if param.metavar is not None or getattr(param, "is_flag", False):
            continue
        desc = getattr(param, "type_descriptor", None)
        if desc is not None and desc.is_choice:
            param.metavar = "|".join(str(getattr(c, "value", c)) for c in desc.choices or ())
        elif param.param_type_name == "argument":
            param.metavar = (param.name or "value").upper()
            _plain_argument(param)
        else:
            name = param.name or ""
            word = next((w for keys, w in _VALUE_WORDS if any(k in name for k in keys)), None)
            kind = _annotation_word(desc)
            param.metavar = word or kind
    for sub in getattr(cmd, "commands", {}).values():
        _readable(sub)


def _plain_argument(param: Any) -> None:
    """``LESSON`` (required), ``[LESSON]`` (optional), ``LESSONS...`` in usage and help, where
    typer writes ``{lesson}`` and ``LESSONS <list[Path]>``."""
    if not hasattr(param, "_usage_display_name"):
        return  # not typer's own argument class: click's display is plain already

    def usage() -> str:
        name = f"{param.metavar}..." if param.nargs != 1 else str(param.metavar)
        return name if param.required else f"[{name}]"

    param._usage_display_name = usage
    param._rich_display_name = usage
    param.display_type_rich = lambda ctx=None: None


def _annotation_word(desc: object) -> str:
    """N, NUMBER, PATH or TEXT for an option's type (never a Python type name)."""
    if desc is None:
        return "VALUE"
    if getattr(desc, "is_path", False):
        return "PATH"
    text = str(getattr(desc, "annotation", ""))
    for python, word in (("int", "N"), ("float", "NUMBER"), ("Path", "PATH")):
        if python in text:
            return word
    return "TEXT"


def _before_parsing(args: list[str]) -> Callable[[], None] | None:
    """Start the work an area declares for a command (``BEFORE_PARSING[name](args)``) before
    click parses the options, which first imports pydantic (a tenth of a second). Returns
    what undoes that work if the command leaves it unused (called when the command ends)."""
    if not args or "--help" in args or args[0] not in COMMANDS:
        return None
    module = importlib.import_module(f"eduproject.cli.{COMMANDS[args[0]]}")
    early = getattr(module, "BEFORE_PARSING", {}).get(args[0])
    return None if early is None else early(args[1:])


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point.

    Click (standalone mode) reports usage errors itself, with exit code 2; every
    :class:`EduprojectError` becomes one message on stderr and the error's exit code.
    Success returns normally, so that ``main([...])`` can be called in-process.
    """
    undo = _before_parsing(sys.argv[1:] if argv is None else argv)
    try:
        _root_command().main(args=argv, standalone_mode=True, prog_name="eduproject")
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise  # usage errors (2) and commands that exit non-zero
    except EduprojectError as exc:
        Console(stderr=True, soft_wrap=True).print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(exc.exit_code)
    finally:
        if undo is not None:
            undo()
