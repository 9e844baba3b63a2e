"""Find submissions on disk, read them strictly, and match their cells to the bundle's.

Three layouts are understood (learner ids come from the path):

* ``SUBMISSIONS/<learner>.ipynb``
* ``SUBMISSIONS/<learner>/<name>.ipynb``
* nbgrader's ``submitted/<learner>/<assignment>/<name>.ipynb`` (pass ``submitted/`` or the
  course folder that holds it)

Names starting with ``.`` or ``_`` are ignored (checkpoints, manifests); other files that are
not notebooks are reported. A learner folder without a notebook becomes an *invalid*
submission with the reason, so the gradebook shows it. Symbolic links (a learner folder or a
notebook linking to another learner's) are refused the same way, never followed.

Cells are matched to the bundle by ``metadata.eduproject.cell``, else nbgrader's
``metadata.nbgrader.grade_id`` (lessons imported from nbgrader), else, for otter notebooks,
by the ``grader.check("q")`` cell that follows a question's answer cells. With the
notebooks of two learners on disk:

    >>> found = discover(Path("submissions"), "01-functions")  # doctest: +SKIP
    >>> [s.learner for s in found.submissions]  # doctest: +SKIP
    ['ada', 'grace']
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from eduproject.core.learner_ids import look_alikes, normalize_learner_id, shown
from eduproject.core.lesson import Cell, Lesson, Role
from eduproject.errors import LearnerIdError, SubmissionError

__all__ = [
    "Discovery",
    "Matched",
    "SubmissionRef",
    "SubmittedCell",
    "discover",
    "match_cells",
    "parse_notebook",
    "read_notebook",
    "submission_hash",
]

MAX_NOTEBOOK_BYTES = 100 * 2**20
_IGNORED_FILES = {"timestamp.txt"}  # nbgrader writes one next to every submission
_OTTER_CHECK = re.compile(r"""grader\s*\.\s*check\(\s*["']([^"']+)["']""")
_OTTER_INFRA = re.compile(r"otter\s*\.\s*Notebook\(|grader\s*\.\s*(check_all|export)\(")


@dataclass(frozen=True)
class SubmissionRef:
    """One learner's submission: a notebook path, or a folder with ``problem`` set."""

    learner: str
    path: Path
    problem: str | None = None


@dataclass(frozen=True)
class Discovery:
    submissions: tuple[SubmissionRef, ...]
    skipped: tuple[str, ...] = ()  # one line per ignored file


def _visible(path: Path) -> bool:
    return not path.name.startswith((".", "_"))


def _notebooks(folder: Path) -> list[Path]:
    # Anything named .ipynb that is not a folder (a pipe, a link...): reading it says why not.
    return sorted(
        p for p in folder.iterdir() if p.suffix == ".ipynb" and _visible(p) and not p.is_dir()
    )


def discover(root: Path, lesson_id: str) -> Discovery:
    """Every submission under ``root`` (see the module docstring for the layouts)."""
    root = Path(root)
    if not root.is_dir():
        raise SubmissionError(
            f"{root} is not a folder of submissions",
            hint="pass the folder that holds <learner>.ipynb files or <learner>/ folders",
        )
    nested = root / "submitted"
    if nested.is_dir() and not _notebooks(root):
        root = nested
    found: dict[str, SubmissionRef] = {}
    skipped: list[str] = []
    for entry in sorted(root.iterdir()):
        if not _visible(entry):
            continue
        if entry.is_symlink() and (entry.suffix == ".ipynb" or entry.is_dir()):
            learner = entry.stem if entry.suffix == ".ipynb" else entry.name
            _add(found, SubmissionRef(learner, entry, _linked(entry)), skipped)
        elif entry.is_symlink():
            skipped.append(f"ignored {entry}: a symbolic link")
        elif entry.is_dir():
            _add(found, _learner_folder(entry, lesson_id, skipped), skipped)
        elif entry.suffix == ".ipynb":
            _add(found, SubmissionRef(entry.stem, entry), skipped)
        else:
            skipped.append(f"ignored {entry}: not a notebook (.ipynb)")
    named = _identities(found.values(), skipped)
    return Discovery(tuple(named[k] for k in sorted(named)), tuple(skipped))


def _identities(refs: Iterable[SubmissionRef], skipped: list[str]) -> dict[str, SubmissionRef]:
    """Submissions by learner id in NFKC form (see ``eduproject.core.learner_ids``).

    An id that hides characters or mixes look-alike scripts, or that displays like another
    learner's, is refused: an invalid submission recorded under the id made visible
    (``ada<U+200B>``), never a second ``ada``.
    """
    out: dict[str, SubmissionRef] = {}
    kept: dict[str, list[SubmissionRef]] = {}
    for ref in refs:
        try:
            kept.setdefault(normalize_learner_id(ref.learner), []).append(ref)
        except LearnerIdError as exc:
            _refuse(out, ref, f"{exc.message} ({exc.hint})")
    # Of ids with one NFKC form (fullwidth 'ada' and 'ada'), the one written in that form is
    # the learner; an id that displays like another ('ace' in Cyrillic next to 'ace') is refused.
    named: dict[str, SubmissionRef] = {}
    for learner, group in kept.items():
        exact = [r for r in group if r.learner == learner]
        for ref in group:
            if ref in exact or len(group) == 1:
                named[learner] = replace(ref, learner=learner)
            else:
                _refuse(out, ref, _looks_like(ref.learner, learner))
    alike = look_alikes(named)
    for learner, ref in named.items():
        if learner in alike:
            _refuse(out, ref, _looks_like(ref.learner, alike[learner]))
        elif learner in out:
            skipped.append(
                f"ignored {ref.path}: learner {learner!r} already has {out[learner].path}"
            )
        else:
            out[learner] = ref
    return out


def _looks_like(raw: str, other: str) -> str:
    return (
        f"learner id {shown(raw)!r} looks like learner {other!r} (another submission); "
        "rename the folder to the learner's user name as it displays, in plain letters"
    )


def _refuse(out: dict[str, SubmissionRef], ref: SubmissionRef, reason: str) -> None:
    out.setdefault(shown(ref.learner), SubmissionRef(shown(ref.learner), ref.path, reason))


def _linked(path: Path) -> str:
    """Why a link is refused: it could be another learner's notebook (whose grade and code
    the linking learner would get)."""
    return (
        f"{path.name} is a symbolic link; only notebooks and folders themselves are graded "
        "(submit a copy, not a link)"
    )


def _add(found: dict[str, SubmissionRef], ref: SubmissionRef, skipped: list[str]) -> None:
    if ref.learner in found:
        skipped.append(
            f"ignored {ref.path}: learner {ref.learner!r} already has {found[ref.learner].path}"
        )
    else:
        found[ref.learner] = ref


def _learner_folder(folder: Path, lesson_id: str, skipped: list[str]) -> SubmissionRef:
    learner = folder.name
    notebooks = _notebooks(folder)
    if not notebooks:
        # nbgrader: <learner>/<assignment>/<name>.ipynb
        assignments = [
            d for d in sorted(folder.iterdir()) if d.is_dir() and _visible(d) and _notebooks(d)
        ]
        chosen = [d for d in assignments if d.name == lesson_id] or assignments
        if len(chosen) > 1:
            names = ", ".join(d.name for d in chosen)
            return SubmissionRef(learner, folder, f"several assignment folders ({names}); keep one")
        if chosen and chosen[0].is_symlink():
            return SubmissionRef(learner, chosen[0], _linked(chosen[0]))
        if chosen:
            folder, notebooks = chosen[0], _notebooks(chosen[0])
    for other in sorted(folder.iterdir()) if folder.is_dir() else []:
        if (
            other.is_file()
            and other.suffix != ".ipynb"
            and _visible(other)
            and other.name not in _IGNORED_FILES
        ):
            skipped.append(f"ignored {other}: not a notebook (.ipynb)")
    if not notebooks:
        return SubmissionRef(learner, folder, "empty folder: no notebook (.ipynb) in it")
    preferred = [p for p in notebooks if p.stem == lesson_id]
    if len(notebooks) > 1 and not preferred:
        names = ", ".join(p.name for p in notebooks)
        return SubmissionRef(learner, folder, f"several notebooks ({names}); keep one")
    return SubmissionRef(learner, (preferred or notebooks)[0])


def submission_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_notebook(path: Path) -> bytes:
    """The bytes of a submitted notebook; SubmissionError with the reason when it cannot be read.

    Links are not followed (a link to another learner's notebook or to ``/proc/self/mem`` is
    refused), pipes and devices are refused without waiting on them, and nothing over 100 MB
    is read into memory.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SubmissionError(_linked(path)) from None
        raise SubmissionError(f"cannot read the file ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as fh:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SubmissionError(f"{path.name} is not a regular file (a pipe or a device)")
        if info.st_size > MAX_NOTEBOOK_BYTES:
            raise SubmissionError(_too_large(info.st_size))
        try:
            data = fh.read(MAX_NOTEBOOK_BYTES + 1)
        except OSError as exc:
            raise SubmissionError(f"cannot read the file ({exc.strerror})") from None
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(_too_large(len(data)))
    return data


def _too_large(size: int) -> str:
    return f"notebook too large ({size / 2**20:.0f} MB; the limit is 100 MB)"


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SubmittedCell:
    index: int  # position in the submitted notebook
    kind: str  # code | markdown | raw
    source: str
    metadata: dict[str, Any]
    attachments: dict[str, Any] | None = None


def parse_notebook(data: bytes) -> tuple[dict[str, Any], tuple[SubmittedCell, ...]]:
    """Strictly read notebook bytes; every problem raises SubmissionError with the reason."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise SubmissionError(_too_large(len(data)))
    if not data.strip():
        raise SubmissionError("empty file: not a notebook")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SubmissionError(
            f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); "
            "notebooks are UTF-8 JSON"
        ) from None
    try:
        nb = json.loads(text)
    except (ValueError, RecursionError) as exc:
        raise SubmissionError(
            f"not valid JSON ({exc}); the file is corrupt or not a notebook"
        ) from None
    if not isinstance(nb, dict) or not {"cells", "worksheets", "nbformat"} & set(nb):
        raise SubmissionError("not a Jupyter notebook (no cells)")
    major = nb.get("nbformat")
    if major != 4:
        raise SubmissionError(
            f"nbformat {major} notebook; only nbformat 4 is graded",
            hint="open it in Jupyter 4 or later and save it again",
        )
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise SubmissionError("malformed notebook: 'cells' is not a list")
    out = []
    for i, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") not in ("code", "markdown", "raw"):
            raise SubmissionError(f"malformed notebook: cell {i} has no valid cell_type")
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(s, str) for s in source):
            source = "".join(source)
        if not isinstance(source, str):
            raise SubmissionError(f"malformed notebook: cell {i} has a malformed source")
        meta = cell.get("metadata")
        attachments = cell.get("attachments")
        out.append(
            SubmittedCell(
                i,
                cell["cell_type"],
                source,
                meta if isinstance(meta, dict) else {},
                attachments if isinstance(attachments, dict) else None,
            )
        )
    meta = nb.get("metadata")
    return (meta if isinstance(meta, dict) else {}), tuple(out)


# -- matching --------------------------------------------------------------------------------


@dataclass
class Matched:
    """Submitted cells paired with bundle cells, and what was found tampered.

    ``pairs`` keeps submission order; ``bundle`` is None for cells the learner added (or
    cells that are ignored, like otter's ``grader.check`` cells, with ``ignored`` True).
    ``tampered`` maps an exercise id to the reasons (``None`` key: the whole notebook).
    """

    pairs: list[tuple[SubmittedCell, Cell | None]]
    ignored: set[int] = field(default_factory=set)
    tampered: dict[str | None, list[str]] = field(default_factory=dict)

    def copies(self, cell_id: str) -> list[SubmittedCell]:
        return [s for s, b in self.pairs if b is not None and b.cell_id == cell_id]


def _meta(cell: SubmittedCell, key: str) -> dict[str, Any]:
    value = cell.metadata.get(key)
    return value if isinstance(value, dict) else {}


def match_cells(lesson: Lesson, meta: dict[str, Any], cells: tuple[SubmittedCell, ...]) -> Matched:
    """Pair ``cells`` with ``lesson``'s cells and look for tampering (see :class:`Matched`)."""
    claimed = _meta_dict(meta).get("lesson")
    if isinstance(claimed, str) and claimed != lesson.id:
        raise SubmissionError(
            f"this notebook was released for lesson {claimed!r}, not {lesson.id!r}"
        )
    by_id = {c.cell_id: c for c in lesson.cells}
    by_origin: dict[tuple[str, str], Cell] = {}
    for c in lesson.cells:
        if c.origin is not None:
            by_origin.setdefault((c.kind, c.origin), c)
    matched = Matched(pairs=[])
    otter = not any(_meta(c, "eduproject") or _meta(c, "nbgrader") for c in cells)
    if otter:
        _match_otter(lesson, cells, matched)
    else:
        for cell in cells:
            key = _meta(cell, "eduproject").get("cell")
            bundle = by_id.get(key) if isinstance(key, str) else None
            grade_id = _meta(cell, "nbgrader").get("grade_id")
            if bundle is None and isinstance(grade_id, str):
                bundle = by_origin.get((cell.kind, grade_id))
            if (
                bundle is not None
                and bundle.learner_source is None
                and bundle.role != Role.HIDDEN_TESTS
            ):
                bundle = None  # hints and other unreleased cells cannot be "submitted"
            if bundle is None and _meta(cell, "eduproject").get("role") == Role.PANEL.value:
                matched.ignored.add(len(matched.pairs))  # the tutor panel: shown, never run
            matched.pairs.append((cell, bundle))
    if not any(b is not None for _, b in matched.pairs):
        raise SubmissionError(
            f"no cell of this notebook belongs to lesson {lesson.id!r}",
            hint="submit the notebook released for this lesson (cells keep their metadata)",
        )
    _check_tampering(lesson, matched, check_missing=not otter)
    return matched


def _meta_dict(meta: dict[str, Any]) -> dict[str, Any]:
    value = meta.get("eduproject")
    return value if isinstance(value, dict) else {}


def _match_otter(lesson: Lesson, cells: tuple[SubmittedCell, ...], matched: Matched) -> None:
    solutions: dict[str, list[Cell]] = {}
    for c in lesson.cells:
        if c.role == Role.SOLUTION and c.origin is not None:
            solutions.setdefault(c.origin, []).append(c)
    pending: list[int] = []
    for cell in cells:
        matched.pairs.append((cell, None))
        if cell.kind != "code":
            continue
        check = _OTTER_CHECK.search(cell.source)
        if check or _OTTER_INFRA.search(cell.source):
            matched.ignored.add(len(matched.pairs) - 1)
        if check:
            for position, target in zip(pending, solutions.get(check.group(1), []), strict=False):
                matched.pairs[position] = (matched.pairs[position][0], target)
            pending = []
        elif not _OTTER_INFRA.search(cell.source):
            pending.append(len(matched.pairs) - 1)


def _normal(source: str) -> list[str]:
    """Lines without trailing blanks or empty lines: whitespace edits are not tampering."""
    return [line.rstrip() for line in source.splitlines() if line.strip()]


def _check_tampering(lesson: Lesson, matched: Matched, *, check_missing: bool) -> None:
    exercises_after: dict[int, list[str]] = {}
    later: list[str] = []
    for c in reversed(lesson.cells):
        if c.role == Role.PROMPT and c.exercise is not None:
            later.insert(0, c.exercise)
        exercises_after[c.index] = list(later)
    for cell in lesson.cells:
        if cell.role not in (Role.TESTS, Role.SETUP) or cell.learner_source is None:
            continue
        what = "test cell" if cell.role == Role.TESTS else "read-only setup cell"
        copies = matched.copies(cell.cell_id)
        reasons = []
        if not copies and check_missing:
            reasons.append(f"{what} {cell.cell_id!r} was deleted")
        if len(copies) > 1:
            reasons.append(f"{what} {cell.cell_id!r} appears {len(copies)} times (duplicated)")
        if any(_normal(s.source) != _normal(cell.learner_source) for s in copies):
            reasons.append(f"{what} {cell.cell_id!r} was edited")
        for s in copies:
            changed = _points_changed(s, cell)
            if changed:
                reasons.append(
                    f"points of {what} {cell.cell_id!r} changed to {changed} in its metadata"
                )
        if not reasons:
            continue
        owners: list[str | None] = (
            [cell.exercise]
            if cell.exercise is not None
            else list(exercises_after[cell.index]) or [None]
        )
        for owner in owners:
            matched.tampered.setdefault(owner, []).extend(reasons)


def _points_changed(cell: SubmittedCell, bundle: Cell) -> str | None:
    expected = bundle.points if bundle.points is not None else None
    for key in ("eduproject", "nbgrader"):
        points = _meta(cell, key).get("points")
        if points is None:
            continue
        if not isinstance(points, int | float) or isinstance(points, bool) or points != expected:
            return repr(points)
    return None
