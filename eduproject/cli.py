"""The ``eduproject`` command: a thin shell over the library.

Each area registers its own commands (explicitly, here -- no import-time registry).
Every command parses its options, calls one library function, and maps
:class:`~eduproject.errors.EduprojectError` to a one-paragraph message and an exit code.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console

from eduproject.errors import EduprojectError

app = typer.Typer(
    name="eduproject",
    help="Teach programming in Jupyter: author, release, grade and tutor.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _register_all() -> None:
    from eduproject import demo
    from eduproject.authoring import cli as authoring_cli
    from eduproject.bench import cli as bench_cli
    from eduproject.gateway import cli as gateway_cli
    from eduproject.grading import cli as grading_cli
    from eduproject.lti import cli as lti_cli
    from eduproject.models import cli as models_cli
    from eduproject.tutor import cli as tutor_cli

    modules = (demo, authoring_cli, grading_cli, models_cli, tutor_cli, bench_cli, gateway_cli)
    for module in (*modules, lti_cli):
        module.register(app)


_register_all()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point.

    Click (standalone mode) reports usage errors itself, with exit code 2; every
    :class:`EduprojectError` becomes one message on stderr and the error's exit code.
    Success returns normally, so that ``main([...])`` can be called in-process.
    """
    try:
        app(args=argv, standalone_mode=True)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise  # usage errors (2) and commands that exit non-zero
    except EduprojectError as exc:
        Console(stderr=True, soft_wrap=True).print(f"error: {exc}", markup=False, highlight=False)
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
