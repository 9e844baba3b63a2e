"""What keeps one learner's leftovers from the next learner and from the batch.

Shipped into the sandbox with ``zygote.py`` (standard library only, nothing from eduproject),
and used by the grader on the host too.

* :func:`remove_tree` removes whatever a learner left in a folder -- a 100,000-deep tree,
  symbolic links, pipes -- without recursion (``shutil.rmtree`` recurses up to Python 3.12 and
  raises ``RecursionError`` on a 1,500-deep tree), with one folder open at a time, never
  following a link, and never raising.

    >>> remove_tree("/tmp/eduproject-grade-x/work/j1")     # doctest: +SKIP
    True
"""

from __future__ import annotations

import os
import stat

__all__ = ["remove_tree"]

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def remove_tree(path: str | os.PathLike[str], *, keep: bool = False) -> bool:
    """Remove ``path`` and everything under it (``keep``: empty it, keep the folder itself).

    Returns True when nothing is left; never raises. What cannot be removed (a busy mount
    point, a folder the caller may not write) is left and skipped, so the walk always ends.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return keep or _unlink(os.fspath(path), None)
    try:
        fd = os.open(path, _DIR)
    except OSError:
        return False
    clean = True
    # Where ``fd`` is: the names walked down from ``path``, with the identity of the folder
    # each name was found in (checked on the way back up, so a tree that changed under us
    # is abandoned instead of followed somewhere else).
    trail: list[tuple[str, tuple[int, int]]] = []
    stuck: set[tuple[int, int]] = set()  # folders that could not be emptied: never re-entered
    try:
        while True:
            below, emptied = _clear_files(fd, stuck)
            clean = clean and emptied
            if below is not None:
                here = _identity(os.fstat(fd))
                try:
                    child = os.open(below, _DIR, dir_fd=fd)
                except OSError:
                    stuck.add(_identity(os.stat(below, dir_fd=fd, follow_symlinks=False)))
                    clean = False
                    continue
                os.close(fd)
                fd = child
                trail.append((below, here))
                continue
            if not trail:
                break
            name, parent_id = trail.pop()
            here = _identity(os.fstat(fd))
            parent = os.open("..", _DIR, dir_fd=fd)
            os.close(fd)
            fd = parent
            if _identity(os.fstat(fd)) != parent_id:
                return False
            try:
                os.rmdir(name, dir_fd=fd)
            except FileNotFoundError:
                pass
            except OSError:
                stuck.add(here)
                clean = False
    except OSError:
        return False
    finally:
        os.close(fd)
    if keep:
        return clean
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return clean


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _clear_files(fd: int, stuck: set[tuple[int, int]]) -> tuple[str | None, bool]:
    """Unlink every non-folder in ``fd``; the name of a subfolder still to empty, if any."""
    clean = True
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    clean = _unlink(entry.name, fd) and clean
                elif _identity(entry.stat(follow_symlinks=False)) not in stuck:
                    return entry.name, clean
            except OSError:
                clean = False
    return None, clean


def _unlink(name: str, dir_fd: int | None) -> bool:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True
