"""The inline completer's settings: its keys of the ``[complete]`` table of ``eduproject.toml``.

How much code around the cursor the model sees, and how long a suggestion may be (small
local models want less of both)::

    [complete]
    routes = ["sc2-local-vllm"]   # model access's: the task routes of inline completion
    context_chars = 6000          # 100 to 100000
    max_tokens = 96               # 1 to 2048

``routes`` names routes of the router, so model access reads it
(:func:`eduproject.models.config.load_config`); this section reads the other keys::

    settings = complete_settings(load_config(course_dir))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eduproject.config import Section, Table, read_section

if TYPE_CHECKING:
    from eduproject.models.settings import Config

__all__ = ["SECTION", "CompleteSettings", "complete_settings"]

_RANGES = {"context_chars": (100, 100_000), "max_tokens": (1, 2048)}


@dataclass(frozen=True)
class CompleteSettings:
    context_chars: int = 6000
    max_tokens: int = 96

    @classmethod
    def read(cls, t: Table, course_dir: Path) -> CompleteSettings:
        """The completer's section (:data:`SECTION`): whole numbers within their ranges."""
        d = cls()
        values = {}
        for key, (low, high) in _RANGES.items():
            value = t.get(key, int, getattr(d, key))
            if not low <= value <= high:
                t.fail(key, f"must be from {low} to {high}, not {value}")
            values[key] = value
        return cls(**values)


# The completer's keys of [complete]; `routes` is model access's (the task's routes).
SECTION = Section("complete", CompleteSettings.read, shared=("routes",))


def complete_settings(config: Config) -> CompleteSettings:
    """The completer's settings of a loaded configuration (ConfigError naming the key)."""
    return read_section(config.other, SECTION, Path())
