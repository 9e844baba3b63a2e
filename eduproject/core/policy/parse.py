"""Reading policy settings: the ``[policy]`` table of ``eduproject.toml`` and ``ai-policy`` cells.

Both hold the same keys (docs/format.md, "AI policy"). A cell holds TOML, best inside a
fenced block so that it reads well in JupyterLab::

    ## AI help in this exercise
    ```toml
    hints_after_checks = 2
    ask = false
    ```

Problems raise :class:`PolicyProblem` with the precise reason; callers add where it was
(file and table, or notebook and cell) and turn it into their own error.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

from eduproject.core.policy.model import LAYER_KEYS, MAX_HINT_LEVEL, PolicyLayer

_INTS = {"hint_max_level": (1, MAX_HINT_LEVEL), "hints_after_checks": (0, 100)}
_FENCE = re.compile(r"^\s{0,3}(```+|~~~+)\s*(\w*)\s*$")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s")


class PolicyProblem(ValueError):
    """A policy setting is wrong; ``fix`` says how to put it right."""

    def __init__(self, problem: str, fix: str) -> None:
        self.problem = problem
        self.fix = fix
        super().__init__(problem)


def layer_from_table(table: Mapping[str, Any]) -> PolicyLayer:
    """A :class:`PolicyLayer` from a parsed TOML table; unknown keys and wrong types refused."""
    if not isinstance(table, Mapping):
        raise PolicyProblem("the policy must be a table of settings", _known())
    values: dict[str, Any] = {}
    for key, value in table.items():
        if key not in LAYER_KEYS:
            raise PolicyProblem(f"unknown policy setting {key!r}", _known())
        if key in _INTS:
            low, high = _INTS[key]
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise PolicyProblem(
                    f"policy setting {key!r} must be a whole number from {low} to {high}, "
                    f"not {value!r}",
                    f"for example {key} = {max(low, 1)}",
                )
        elif not isinstance(value, bool):
            raise PolicyProblem(
                f"policy setting {key!r} must be true or false, not {value!r}",
                f"write {key} = true or {key} = false",
            )
        values[key] = value
    return PolicyLayer(**values)


def layer_from_cell(source: str) -> PolicyLayer:
    """The settings of an ``ai-policy`` markdown cell (TOML, optionally in a fenced block)."""
    text = _toml_text(source)
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyProblem(
            f"the AI policy is not valid TOML ({exc})",
            "write one setting per line, e.g. `ask = false` or `hints_after_checks = 2`",
        ) from None
    if any(isinstance(v, dict) for v in table.values()):
        raise PolicyProblem(
            "an ai-policy cell holds plain settings, not [tables]",
            "remove the [table] headers: the cell's position says what it applies to",
        )
    return layer_from_table(table)


def _toml_text(source: str) -> str:
    lines = source.split("\n")
    fences = [i for i, line in enumerate(lines) if _FENCE.match(line)]
    if not fences:
        return source
    if len(fences) != 2:
        raise PolicyProblem(
            "the ai-policy cell needs exactly one fenced block (``` ... ```)",
            "put all settings in one ```toml block, or write them without a fence",
        )
    start, end = fences
    outside = [*lines[:start], *lines[end + 1 :]]
    stray = next((line for line in outside if line.strip() and not _HEADING.match(line)), None)
    if stray is not None:
        raise PolicyProblem(
            f"text outside the settings block: {stray.strip()!r}",
            "keep only a heading outside the ```toml block; explain the policy in another cell",
        )
    return "\n".join(lines[start + 1 : end])


def _known() -> str:
    return "known settings: " + ", ".join(LAYER_KEYS)
