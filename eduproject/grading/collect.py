"""``eduproject collect``: learners' notebooks from a hub's home folders into the grading layout.

Each ``--from`` glob names learners' homes (``/home/*``, ``/srv/jupyterhub/{learner}``) or
notebooks in a shared exchange folder (``/srv/exchange/01-functions/*.ipynb``). In a home the
notebook is looked for at ``<lesson>/<lesson>.ipynb``, then ``<lesson>.ipynb`` (the released
layout; ``paths`` names others). Each found notebook is copied to
``OUT/<learner>/<lesson>.ipynb`` with its modification time, which is also the submission
time: later than ``deadline`` means late. ``OUT/_manifest.csv`` lists every learner seen --
collected, missing or refused, with the time, the late flag and the copy's SHA-256.

Homes belong to learners, who may plant symbolic links to other people's files: every path
component below the glob's match is opened with ``O_NOFOLLOW`` relative to its parent, so a
link anywhere (even one swapped in while collecting) is refused, never followed; so are
files that are not regular files, have other hard links, or are too large. With
``require_owner`` a file must belong to the OS user named like the learner::

    report = collect("01-functions", ["/home/*"], Path("submissions"),
                     deadline=datetime.fromisoformat("2026-12-01T23:59+01:00"))
    report.collected, report.missing, report.refused
"""

from __future__ import annotations

import csv
import datetime
import errno
import glob
import hashlib
import io
import os
import pwd
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from eduproject.errors import CollectError
from eduproject.runner.submissions import MAX_NOTEBOOK_BYTES

__all__ = ["CollectReport", "Collected", "collect"]

DEFAULT_PATHS = ("{lesson}/{lesson}.ipynb", "{lesson}.ipynb")
MANIFEST = "_manifest.csv"
PLACEHOLDER = "{learner}"
_FIELDS = (
    "learner",
    "status",
    "reason",
    "source",
    "modified",
    "late",
    "late_by_s",
    "bytes",
    "sha256",
)


@dataclass(frozen=True)
class Collected:
    """One manifest row: ``status`` is collected, missing or refused (``reason`` says why)."""

    learner: str
    status: str
    source: str
    reason: str = ""
    modified: datetime.datetime | None = None
    late: bool | None = None
    late_by_s: float | None = None
    bytes: int | None = None
    sha256: str | None = None

    def row(self) -> dict[str, str]:
        return {
            "learner": self.learner,
            "status": self.status,
            "reason": self.reason,
            "source": self.source,
            "modified": self.modified.isoformat(timespec="seconds") if self.modified else "",
            "late": "" if self.late is None else ("yes" if self.late else "no"),
            "late_by_s": "" if self.late_by_s is None else f"{self.late_by_s:.0f}",
            "bytes": "" if self.bytes is None else str(self.bytes),
            "sha256": self.sha256 or "",
        }


@dataclass
class CollectReport:
    lesson: str
    out: Path
    rows: list[Collected] = field(default_factory=list)

    def _with(self, status: str) -> list[Collected]:
        return [r for r in self.rows if r.status == status]

    @property
    def collected(self) -> list[Collected]:
        return self._with("collected")

    @property
    def missing(self) -> list[Collected]:
        return self._with("missing")

    @property
    def refused(self) -> list[Collected]:
        return self._with("refused")

    @property
    def late(self) -> list[Collected]:
        return [r for r in self.collected if r.late]

    @property
    def manifest(self) -> Path:
        return self.out / MANIFEST


class _Refused(Exception):
    pass


def _open_below(top: Path, relative: str) -> tuple[int, os.stat_result]:
    """A read-only descriptor of ``top/relative`` that followed no symbolic link anywhere
    below ``top`` (FileNotFoundError when it is not there, _Refused when it is unsafe)."""
    parts = [p for p in relative.split("/") if p]
    if not parts or any(p in (".", "..") for p in parts):
        raise _Refused(f"the path {relative!r} must stay inside the folder")
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(top, flags | os.O_DIRECTORY)
    except OSError as exc:
        raise _Refused(f"cannot open the folder ({exc.strerror})") from None
    try:
        for part in parts[:-1]:
            try:
                child = os.open(part, flags | os.O_DIRECTORY, dir_fd=fd)
            except OSError as exc:
                if exc.errno in (errno.ELOOP, errno.ENOTDIR):
                    raise _Refused(f"{part!r} is a symbolic link or not a folder") from None
                raise
            os.close(fd)
            fd = child
        try:
            # O_NONBLOCK: a FIFO planted under the notebook's name must not hang the collection.
            file_fd = os.open(parts[-1], flags | os.O_NONBLOCK, dir_fd=fd)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise _Refused("the notebook is a symbolic link") from None
            raise
    finally:
        os.close(fd)
    info = os.fstat(file_fd)
    problem = None
    if not stat.S_ISREG(info.st_mode):
        problem = "the notebook is not a regular file"
    elif info.st_nlink > 1:
        problem = "the notebook has other hard links (it may be someone else's file)"
    elif info.st_size > MAX_NOTEBOOK_BYTES:
        problem = f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB"
    if problem is not None:
        os.close(file_fd)
        raise _Refused(problem)
    return file_fd, info


def _read(fd: int) -> bytes:
    chunks, total = [], 0
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(1 << 20):
            total += len(chunk)
            if total > MAX_NOTEBOOK_BYTES:
                raise _Refused(f"the notebook is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB")
            chunks.append(chunk)
    return b"".join(chunks)


def _owner(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def _sources(pattern: str) -> list[tuple[str, Path]]:
    """``(learner, path)`` for each match of ``pattern`` (``{learner}`` marks the learner's
    part of the path; else the match's own name is the learner)."""
    if PLACEHOLDER in pattern:
        before, _, after = pattern.partition(PLACEHOLDER)
        matches = glob.glob(before + "*" + after)
        depth = before.count("/")
        found = [
            (Path(m).parts[depth] if before.startswith("/") else m.split("/")[depth], Path(m))
            for m in matches
        ]
    else:
        found = [
            (Path(m).stem if m.endswith(".ipynb") else Path(m).name, Path(m))
            for m in glob.glob(pattern)
        ]
    return sorted((learner, path) for learner, path in found if not learner.startswith((".", "_")))


def collect(
    lesson: str,
    patterns: Sequence[str],
    out: Path,
    *,
    paths: Sequence[str] = DEFAULT_PATHS,
    deadline: datetime.datetime | None = None,
    require_owner: bool = False,
) -> CollectReport:
    """Copy each learner's notebook of ``lesson`` into ``out`` (see the module docstring)."""
    if deadline is not None and deadline.tzinfo is None:
        deadline = deadline.astimezone()  # a deadline without an offset is local time
    report = CollectReport(lesson, out)
    seen: dict[str, str] = {}
    matched = False
    for pattern in patterns:
        for learner, source in _sources(pattern):
            matched = True
            if learner in seen:
                report.rows.append(
                    Collected(
                        learner, "refused", str(source), f"already collected from {seen[learner]}"
                    )
                )
                continue
            row = _collect_one(lesson, learner, source, out, paths, deadline, require_owner)
            if row.status == "collected":
                seen[learner] = row.source
            report.rows.append(row)
    if not matched:
        raise CollectError(
            f"nothing matches {', '.join(repr(p) for p in patterns)}",
            hint="quote the glob so the shell leaves it to eduproject, e.g. --from '/home/*'",
        )
    _write_manifest(report)
    return report


def _collect_one(
    lesson: str,
    learner: str,
    source: Path,
    out: Path,
    paths: Sequence[str],
    deadline: datetime.datetime | None,
    require_owner: bool,
) -> Collected:
    if source.is_symlink():
        return Collected(learner, "refused", str(source), "a symbolic link (give the real folder)")
    if source.is_file():  # an exchange folder: <learner>.ipynb
        top, candidates = source.parent, [source.name]
    else:
        top, candidates = source, [p.format(lesson=lesson, learner=learner) for p in paths]
    for relative in candidates:
        where = str(top / relative)
        try:
            fd, info = _open_below(top, relative)
        except FileNotFoundError:
            continue
        except _Refused as exc:
            return Collected(learner, "refused", where, str(exc))
        except OSError as exc:
            return Collected(learner, "refused", where, f"cannot read it ({exc.strerror})")
        if require_owner and _owner(info.st_uid) != learner:
            os.close(fd)
            return Collected(
                learner,
                "refused",
                where,
                f"the file belongs to {_owner(info.st_uid)!r}, not {learner!r}",
            )
        try:
            data = _read(fd)
        except _Refused as exc:
            return Collected(learner, "refused", where, str(exc))
        modified = datetime.datetime.fromtimestamp(info.st_mtime, datetime.UTC).astimezone()
        late_by = (modified - deadline).total_seconds() if deadline is not None else None
        _write_copy(out / learner / f"{lesson}.ipynb", data, info.st_mtime, modified)
        return Collected(
            learner,
            "collected",
            where,
            modified=modified,
            late=None if late_by is None else late_by > 0,
            late_by_s=None if late_by is None else max(0.0, late_by),
            bytes=len(data),
            sha256=hashlib.sha256(data).hexdigest(),
        )
    return Collected(learner, "missing", str(top), f"no {' or '.join(candidates)}")


def _write_copy(dest: Path, data: bytes, mtime: float, modified: datetime.datetime) -> None:
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
        partial = dest.with_name(f".{dest.name}.partial")
        partial.write_bytes(data)
        os.utime(partial, (mtime, mtime))
        partial.replace(dest)
        # nbgrader's name for the submission time; grading ignores the file.
        (dest.parent / "timestamp.txt").write_text(modified.isoformat() + "\n", encoding="utf-8")
    except OSError as exc:
        raise CollectError(
            f"cannot write {dest}: {exc.strerror}", hint="check -o: a writable folder"
        ) from None


def _write_manifest(report: CollectReport) -> None:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_FIELDS, lineterminator="\n")
    writer.writeheader()
    for row in sorted(report.rows, key=lambda r: r.learner):
        writer.writerow(row.row())
    try:
        report.out.mkdir(parents=True, exist_ok=True)
        report.manifest.write_text(buffer.getvalue(), encoding="utf-8")
    except OSError as exc:
        raise CollectError(
            f"cannot write {report.manifest}: {exc.strerror}", hint="check -o"
        ) from None
