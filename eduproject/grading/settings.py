"""Grading's own settings: the ``[grading]`` table of ``eduproject.toml``.

Defaults for ``eduproject grade``: each key is the command's option of the same name, and
an option given on the command line wins over the file::

    [grading]
    workers = 4          # submissions graded at once (default: the number of cores)
    cell_timeout = 30    # seconds per cell or test
    timeout = 300        # seconds per whole submission
    memory = 1024        # MB of memory learner code may use

Whether to grade without the sandbox is not a setting: ``--unsandboxed`` says it for one run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from eduproject.config import Section, Table, course_folder_of, load_section

__all__ = ["SECTION", "GradingSettings", "grading_settings"]


@dataclass(frozen=True)
class GradingSettings:
    workers: int | None = None  # None: the number of cores
    cell_timeout: float = 30.0
    timeout: float = 300.0
    memory: int = 1024

    @classmethod
    def read(cls, t: Table, course_dir: Path) -> GradingSettings:
        """Grading's section (:data:`SECTION`): typed reads of ``[grading]``."""
        d = cls()
        return cls(
            workers=t.integer("workers", 0) or None,
            cell_timeout=t.seconds("cell_timeout", d.cell_timeout),
            timeout=t.seconds("timeout", d.timeout),
            memory=t.integer("memory", d.memory),
        )


# Grading's table of eduproject.toml.
SECTION = Section("grading", GradingSettings.read)


def grading_settings(lesson_folder: Path) -> GradingSettings:
    """The ``[grading]`` settings of the course ``lesson_folder`` belongs to (its
    ``eduproject.toml``, else the working folder's, and the user file)."""
    return load_section(SECTION, course_folder_of(lesson_folder))
