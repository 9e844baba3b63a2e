"""The files beside a source notebook, brought along into the imported lesson folder.

A course keeps data files and helper modules next to its notebooks (``farmers_markets.csv``,
``functions/``, ``PHYS121.py``). The importer copies every file of the source notebook's folder
into the lesson folder at the same relative path, as release then copies them beside the
learner notebook and grading into every sandbox (see ``data_files_in``), except:

- other notebooks (a lesson folder holds exactly one) and hidden files and folders;
- otter-assign's own output folder (``dist/`` holding ``autograder/`` or ``student/``);
- Python's ``__pycache__``.

A symbolic link, or a path leaving the folder, is refused: the lesson would depend on a file
outside it that release and grading never see.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from eduproject.errors import ImportConversionError

# Beyond these a folder is a course repository or a downloads folder, not a notebook's own files.
MAX_FILES = 2000
MAX_BYTES = 1_000_000_000


def files_beside(src: Path, skip: Path | None = None) -> list[Path]:
    """The files to bring along from ``src``'s folder, relative to it, sorted; ``skip`` is a
    folder left out (the lesson folder being written, when it lies inside that folder)."""
    folder = src.parent
    skipped = skip.resolve() if skip is not None else None
    found: list[Path] = []
    size = 0
    for root, dirs, names in os.walk(folder):
        here = Path(root)
        for name in sorted(dirs):
            path = here / name
            if (
                name.startswith(".")
                or name == "__pycache__"
                or _tool_output(here, folder, name)
                or path.resolve() == skipped
            ):
                dirs.remove(name)
            elif path.is_symlink():
                raise _link_error(src, path)
        for name in sorted(names):
            path = here / name
            if name.startswith(".") or name.endswith((".pyc", ".ipynb")):
                continue
            if path.is_symlink():
                raise _link_error(src, path)
            if path.is_file():
                found.append(path.relative_to(folder))
                size += path.stat().st_size
        if len(found) > MAX_FILES or size > MAX_BYTES:
            raise ImportConversionError(
                f"{folder}: the folder of {src.name} holds more than {MAX_FILES} files or "
                f"{MAX_BYTES // 1_000_000} MB; the importer would copy them all into the lesson",
                hint="put the notebook and the files it reads in a folder of their own and "
                "import from there, or pass --no-files and copy what it needs by hand",
            )
    return sorted(found)


def copy_beside(src: Path, out_dir: Path, files: list[Path], *, overwrite: bool) -> None:
    """Copy ``files`` (from :func:`files_beside`) from ``src``'s folder into ``out_dir``."""
    folder = src.parent
    clashes = [
        rel
        for rel in files
        if (out_dir / rel).exists()
        and (
            not (out_dir / rel).is_file()
            or (out_dir / rel).read_bytes() != (folder / rel).read_bytes()
        )
    ]
    if clashes and not overwrite:
        raise ImportConversionError(
            f"{out_dir}: already holds {', '.join(r.as_posix() for r in clashes[:5])}"
            + (f" and {len(clashes) - 5} more" if len(clashes) > 5 else "")
            + f", different from the file(s) beside {src.name}",
            hint="pass --force to replace them, or import into an empty folder",
        )
    for rel in files:
        target = out_dir / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_file() and target.read_bytes() == (folder / rel).read_bytes():
            continue
        shutil.copyfile(folder / rel, target)


def check_listed(src: Path, listed: object, key: str) -> list[str]:
    """Paths an otter config lists (``files: [...]``): each must stay inside ``src``'s folder.

    Returns the listed paths that do not exist there (the caller reports them).
    """
    if not isinstance(listed, list):
        return []
    missing = []
    folder = src.parent.resolve()
    for entry in listed:
        rel = str(entry)
        path = (src.parent / rel).resolve()
        if Path(rel).is_absolute() or not path.is_relative_to(folder):
            raise ImportConversionError(
                f"{src}: the assignment config's {key} lists {rel!r}, which is outside the "
                f"notebook's folder {src.parent}",
                hint="copy the file beside the notebook (or into a subfolder) and list it by its "
                "relative path; the lesson folder must hold every file the notebook reads",
            )
        if not path.exists():
            missing.append(rel)
    return missing


def _tool_output(here: Path, folder: Path, name: str) -> bool:
    """otter assign's output folder (``dist/autograder``, ``dist/student``) beside the master."""
    path = here / name
    return (
        here == folder
        and name == "dist"
        and ((path / "autograder").is_dir() or (path / "student").is_dir())
    )


def _link_error(src: Path, path: Path) -> ImportConversionError:
    return ImportConversionError(
        f"{path}: a symbolic link (to {os.readlink(path)}) beside {src.name}; a lesson's files "
        "must be real files inside the lesson folder",
        hint="replace the link by a copy of what it points to (cp -rL), or pass --no-files and "
        "copy the files the notebook reads by hand",
    )
