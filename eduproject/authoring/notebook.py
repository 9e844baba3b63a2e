"""Reading a lesson's files: the source notebook (with json), the files beside it, its version.

``nbformat.read`` is not used: importing nbformat's schema validator costs about 1.5 s, and
the few structural facts eduproject relies on are checked here, each with a precise error.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from eduproject.errors import LessonFormatError


def lesson_version(notebook: bytes, folder: Path, data_files: Iterable[Path]) -> str:
    """sha256 of the notebook bytes, then ``\\0 path \\0 bytes`` for each data file in order."""
    digest = hashlib.sha256(notebook)
    for rel in sorted(data_files):
        digest.update(b"\0" + rel.as_posix().encode("utf-8") + b"\0")
        digest.update((folder / rel).read_bytes())
    return digest.hexdigest()


def read_notebook(path: Path, raw: bytes | None = None) -> dict[str, Any]:
    """Read ``path`` as an nbformat 4.4+ notebook with json; check the structure we rely on."""
    raw = path.read_bytes() if raw is None else raw
    try:
        nb = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise LessonFormatError(
            path,
            f"not UTF-8 text (byte {exc.start})",
            fix="save the notebook again from JupyterLab",
        ) from None
    except json.JSONDecodeError as exc:
        raise LessonFormatError(
            path,
            f"malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            fix="fix the JSON there, or restore the notebook from version control",
        ) from None
    major = nb.get("nbformat") if isinstance(nb, dict) else None
    if isinstance(major, int) and major < 4:
        raise LessonFormatError(
            path,
            f"this is an old Jupyter notebook (format {major}); eduproject reads format 4.4 or newer",
            fix=f"convert it: `jupyter nbconvert --to notebook --inplace {path}` "
            "(or open it in JupyterLab and save it)",
        )
    if not isinstance(nb, dict) or "cells" not in nb or "nbformat" not in nb:
        raise LessonFormatError(
            path,
            "not a Jupyter notebook (no 'cells' and 'nbformat' at the top level)",
            fix="save a notebook from JupyterLab (File -> Save Notebook As... .ipynb)",
        )
    major, minor = nb.get("nbformat"), nb.get("nbformat_minor", 0)
    if major != 4 or not isinstance(minor, int) or minor < 4:
        raise LessonFormatError(
            path,
            f"notebook format {major}.{minor} is not supported (need 4.4 or newer)",
            fix="open it in JupyterLab and save it, or run "
            f"`jupyter nbconvert --to notebook --inplace {path}`",
        )
    if not isinstance(nb["cells"], list) or not isinstance(nb.get("metadata", {}), dict):
        raise LessonFormatError(path, "'cells' is not a list", fix="save it again from JupyterLab")
    nb.setdefault("metadata", {})
    for index, cell in enumerate(nb["cells"]):
        ok = (
            isinstance(cell, dict)
            and cell.get("cell_type") in ("code", "markdown", "raw")
            and _is_source(cell.get("source", ""))
            and isinstance(cell.get("metadata", {}), dict)
        )
        if not ok:
            raise LessonFormatError(
                path,
                "not a notebook cell (needs 'cell_type' code/markdown/raw, 'source', 'metadata')",
                cell=index,
                fix="delete the cell and re-create it in JupyterLab",
            )
    return nb


def _is_source(source: Any) -> bool:
    return isinstance(source, str) or (
        isinstance(source, list) and all(isinstance(line, str) for line in source)
    )


def notebooks_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.ipynb") if not p.name.startswith("."))


def data_files_in(folder: Path, notebook: Path | None = None) -> tuple[Path, ...]:
    """Every file a lesson gives learners' code, relative to the lesson folder.

    That is every file in the folder and its subfolders (data, helper modules and packages,
    images), except the source ``notebook``, hidden files and folders (``.ipynb_checkpoints``),
    Python's ``__pycache__`` and the author's top-level ``README*`` / ``LICENSE*``. A symbolic
    link is refused: its target may lie outside the lesson, where release and grading do not look.
    """
    folder = Path(folder)
    files: list[Path] = []
    for root, dirs, names in os.walk(folder):
        here = Path(root)
        for name in sorted(dirs):
            if _skipped(name) or name == "__pycache__":
                dirs.remove(name)
            elif (here / name).is_symlink():
                raise _symlink_error(folder, here / name)
        for name in names:
            path = here / name
            if _skipped(name) or name.endswith((".pyc", ".pyo")) or path == notebook:
                continue
            if here == folder and name.upper().startswith(_AUTHOR_FILES):
                continue
            if path.is_symlink():
                raise _symlink_error(folder, path)
            if path.is_file():
                files.append(path.relative_to(folder))
    return tuple(sorted(files))


# Files an author keeps beside a notebook for people, not for the lesson's code.
_AUTHOR_FILES = ("README", "LICENSE", "LICENCE")


def _skipped(name: str) -> bool:
    return name.startswith(".")


def _symlink_error(folder: Path, path: Path) -> LessonFormatError:
    return LessonFormatError(
        path,
        f"is a symbolic link (to {os.readlink(path)}); a lesson's files must be real files "
        f"inside {folder}",
        fix=f"replace the link by a copy of what it points to (cp -rL {path} ...), or move it "
        "out of the lesson folder",
    )


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source
