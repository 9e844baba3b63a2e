"""The tutor's own settings: its keys of the ``[tutor]`` table of ``eduproject.toml``.

The same for the in-kernel tutor and the gateway::

    [tutor]
    routes = ["sc2-local-vllm", "offline"]   # model access's: the tutor's task routes
    allowance = 10           # questions a learner may ask...
    refill_seconds = 180     # ...and one more every this many seconds
    max_input_chars = 1000   # longer questions are refused with the limit

``routes`` names routes of the router, so model access reads it
(:func:`eduproject.models.config.load_config`, which checks the names against
``[[routes]]``); this section reads the other keys and rejects unknown ones::

    limits = tutor_settings(load_config(course_dir))
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eduproject.config import Section, Table, read_section

if TYPE_CHECKING:
    from eduproject.models.settings import Config

__all__ = ["SECTION", "TutorSettings", "tutor_settings"]


@dataclass(frozen=True)
class TutorSettings:
    allowance: int = 10
    refill_seconds: float = 180.0
    max_input_chars: int = 1000

    @classmethod
    def read(cls, t: Table, course_dir: Path) -> TutorSettings:
        """The tutor's section (:data:`SECTION`); the values' ranges are checked where they are
        used (:class:`~eduproject.tutor.quota.Quota`, with the setting to fix)."""
        d = cls()
        return cls(
            allowance=t.get("allowance", int, d.allowance),
            refill_seconds=t.number("refill_seconds", d.refill_seconds),
            max_input_chars=t.get("max_input_chars", int, d.max_input_chars),
        )


# The tutor's keys of [tutor]; `routes` is model access's (the tutor's task routes).
SECTION = Section("tutor", TutorSettings.read, shared=("routes",))


def tutor_settings(config: Config) -> TutorSettings:
    """The tutor's settings of a loaded configuration (ConfigError naming file, table, key)."""
    return read_section(config.other, SECTION, Path())
