"""Option values of plain types converted directly, without pydantic.

typer 0.29 converts every command-line value through a pydantic ``TypeAdapter``: the first
option parsed imports pydantic and builds an adapter per parameter, a tenth of a second on
every command (``grade`` waits for it before the first sandbox starts). For the plain types
our commands use -- ``bool``, ``int``, ``float``, ``str``, ``Path`` and ``X | None`` without
bounds, choices or file checks -- the conversion is one call; every other parameter keeps
typer's own. :func:`plain_coercion` is applied to each command as the root command is built
(``cli/__init__.py``); with a typer that converts otherwise (before 0.29) it does nothing.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import typer

__all__ = ["plain_coercion"]

try:
    from typer._coercion import RuntimeParam
except ImportError:  # pragma: no cover - typer before 0.29 converts with click, no pydantic
    RuntimeParam = None  # type: ignore[assignment,misc]

_PLAIN = (bool, int, float, str, Path)
_WORDS = {bool: "true or false", int: "an integer", float: "a number", str: "text", Path: "a path"}

# typer's settings that make a conversion more than a type call: only their defaults qualify.
_DEFAULTS = {
    "parser": None, "click_type": None, "min": None, "max": None, "clamp": False,
    "exists": False, "file_okay": True, "dir_okay": True, "writable": False, "readable": True,
    "resolve_path": False, "allow_dash": False, "path_type": None,
}  # fmt: skip


def plain_coercion(cmd: Any) -> None:
    """Give each plain parameter of ``cmd`` (and its ``--help`` flag) a direct conversion."""
    if RuntimeParam is None:
        return
    help_option = cmd.get_help_option(cmd.context_class(cmd))
    for param in [*cmd.params, *([help_option] if help_option is not None else [])]:
        desc = getattr(param, "type_descriptor", None)
        if desc is None or getattr(param, "_runtime_param", None) is not None:
            continue
        kind = _plain_kind(desc.annotation)
        info = desc.parameter_info
        if kind is None or desc.file_annotation is not None or param.multiple or param.nargs != 1:
            continue
        if any(getattr(info, name, value) != value for name, value in _DEFAULTS.items()):
            continue
        param._runtime_param = _Plain(parameter_info=info, annotation=desc.annotation, kind=kind)


def _plain_kind(annotation: Any) -> type | None:
    """``int`` for ``int`` and ``int | None``; None for anything else."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            return None
        annotation = args[0]
    return annotation if annotation in _PLAIN else None


if RuntimeParam is not None:

    @dataclass(frozen=True)
    class _Plain(RuntimeParam):
        """Convert with one call of ``kind``; a bad value is a usage error naming the option."""

        kind: type = str

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            if isinstance(value, self.kind) and (self.kind is bool or type(value) is not bool):
                return value
            if self.kind is not bool:  # flags arrive as bools; anything else is refused
                try:
                    return self.kind(value)
                except (TypeError, ValueError):
                    pass
            raise typer.BadParameter(
                f"{value!r} is not {_WORDS[self.kind]}", ctx=ctx, param=param
            ) from None
