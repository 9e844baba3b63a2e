"""What every importer shares: reading the source, the report, writing the lesson notebook.

An importer implements one narrow interface, :class:`Importer` (``convert(source) ->
Conversion``); :func:`run_import` does the bookkeeping around it: read and check the
source notebook, check the output folder, number the cells, write
``<out_dir>/<lesson>.ipynb`` deterministically, and return an :class:`ImportReport`.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from eduproject.errors import ImportConversionError

LESSON_ID_RE = re.compile(r"[a-z0-9][a-z0-9_-]*")
EXERCISE_ID_MAX = 48  # the parser's limit (room for "panel-<id>" cell ids)
_CELL_ID_RE = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_UNSAFE_ID_CHARS = re.compile(r"[^A-Za-z0-9_-]+")

# Tags of other tools that eduproject lets through (docs/format.md, "Cell tags").
FOREIGN_TAGS = frozenset(
    {
        "parameters",
        "raises-exception",
        "skip-execution",
        "hide-input",
        "hide-output",
        "remove-cell",
        "remove-input",
        "remove-output",
    }
)


@dataclass(frozen=True)
class Note:
    """One thing an import did not carry over as it was.

    Notes with the same ``group`` print as one line of the report ("49 tags dropped"), each
    note's ``item`` (a tag name) listed with its cells.
    """

    cell: int | None
    text: str
    group: str | None = None
    item: str = ""

    def __str__(self) -> str:
        return self.text if self.cell is None else f"cell {self.cell}: {self.text}"


@dataclass(frozen=True)
class ImportReport:
    """What an import wrote, and everything it could not carry over.

    Each problem names the source cell (0-based index, as JupyterLab counts), what was not
    converted and why. ``files`` are the files copied from beside the source notebook (relative
    to the lesson folder); ``requirements`` the shell and package-install lines of the notebook,
    which validation and grading never run. With nbgrader's example problem set on disk:

        >>> report = import_nbgrader(Path("ps1.ipynb"), Path("exercises/ps1"))  # doctest: +SKIP
        >>> report.exercises  # doctest: +SKIP
        ['squares', 'sum_of_squares', 'sum_of_squares_equation', 'cube', 'sum_of_squares_application']
    """

    notebook_path: Path
    lesson_id: str
    exercises: list[str]
    problems: list[str]
    notes: list[Note] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    requirements: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """A short text for a terminal: what was written, grouped notes, what to do next."""
        folder = self.notebook_path.parent
        lines = [
            f"wrote {self.notebook_path} (lesson {self.lesson_id!r}, "
            f"{len(self.exercises)} exercises: {', '.join(self.exercises) or 'none'})"
        ]
        if self.files:
            size = sum(
                (folder / rel).stat().st_size for rel in self.files if (folder / rel).is_file()
            )
            lines.append(
                f"copied {len(self.files)} file(s) from beside the source ({_size(size)}): "
                + _listed([rel.as_posix() for rel in self.files], 8)
            )
        if self.requirements:
            lines.append(
                f"{len(self.requirements)} shell / install line(s), never run by validate or "
                "grade (install what they need in the course environment):"
            )
            lines.extend(f"  {line}" for line in self.requirements)
        grouped = group_notes(self.notes or [Note(None, p) for p in self.problems])
        if grouped:
            lines.append(f"{len(grouped)} kind(s) of thing were not converted as they were:")
            lines.extend(f"  - {line}" for line in grouped)
        lines.append("next:")
        step = 1
        if grouped:
            lines.append(
                f"  {step}. read the notes above; fix in {self.notebook_path} what matters"
            )
            step += 1
        if self.requirements:
            lines.append(
                f"  {step}. install the packages the lines above install, in the course environment"
            )
            step += 1
        lines.append(f"  {step}. eduproject validate {folder}   (solutions pass, stubs fail)")
        lines.append(f"  {step + 1}. eduproject release {folder} -o notebooks/")
        return "\n".join(lines)


def group_notes(notes: list[Note]) -> list[str]:
    """One line per kind of note: a note alone as it is, repeated ones counted with their cells.

    Notes of one ``group`` list their items; notes without a group that differ only in quoted
    names and numbers (one per manually graded answer, say) print the first in full, then the
    others' names and cells.

    >>> group_notes([Note(3, "x", "tags dropped", "'a'"), Note(5, "y", "tags dropped", "'a'")])
    ["2 tags dropped: 'a' (cells 3, 5)"]
    """
    kinds: dict[str, list[Note]] = {}
    for note in notes:
        kinds.setdefault(note.group or _VARYING.sub("_", note.text), []).append(note)
    lines = []
    for key, members in kinds.items():
        if len(members) == 1:
            lines.append(str(members[0]))
            continue
        if members[0].group is None:
            others = [
                f"{n.text[m.start() : m.end()]} (cell {n.cell})"
                if (m := _QUOTED.search(n.text)) and n.cell is not None
                else _cells([] if n.cell is None else [n.cell])
                for n in members[1:]
            ]
            lines.append(f"{members[0]} -- and {len(others)} more like it: {_listed(others, 12)}")
            continue
        items: dict[str, list[int]] = {}
        for n in members:
            items.setdefault(n.item, []).extend([] if n.cell is None else [n.cell])
        listed = "; ".join(
            (f"{item} ({_cells(at)})" if at else item) if item else _cells(at)
            for item, at in items.items()
        )
        lines.append(f"{len(members)} {key}: {listed}")
    return lines


# What differs between notes of one kind: quoted names, numbers.
_QUOTED = re.compile(r"(?<!\w)'[^']*'(?!\w)")
_VARYING = re.compile(r"(?<!\w)'[^']*'(?!\w)|\d+(?:\.\d+)?(?: points?\b)?")


def _cells(cells: list[int]) -> str:
    if not cells:
        return "the notebook"
    shown = ", ".join(str(c) for c in cells[:12]) + (", ..." if len(cells) > 12 else "")
    return f"cell {shown}" if len(cells) == 1 else f"cells {shown}"


def _listed(items: list[str], most: int) -> str:
    return ", ".join(items[:most]) + (f" and {len(items) - most} more" if len(items) > most else "")


def _size(size: int) -> str:
    return f"{size / 1e6:.1f} MB" if size >= 100_000 else f"{size / 1e3:.1f} kB"


@dataclass
class Source:
    """The source notebook being imported: its path and parsed JSON."""

    path: Path
    notebook: dict[str, Any]

    @property
    def cells(self) -> list[dict[str, Any]]:
        cells: list[dict[str, Any]] = self.notebook["cells"]
        return cells

    def error(self, problem: str, *, cell: int | None = None, fix: str) -> ImportConversionError:
        where = f"{self.path}" if cell is None else f"{self.path}, cell {cell}"
        return ImportConversionError(f"{where}: {problem}", hint=fix)


@dataclass
class Conversion:
    """What an importer produces: cells in our format, exercise ids, problems.

    Cells are nbformat 4 dicts without ids; :func:`run_import` numbers them.
    ``id_hints`` (same length as ``cells``) gives a preferred id per cell, or None.
    """

    cells: list[dict[str, Any]] = field(default_factory=list)
    id_hints: list[str | None] = field(default_factory=list)
    exercises: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    def add(self, cell: dict[str, Any], id_hint: object = None) -> None:
        """Append ``cell``; ``id_hint`` (often the source cell's id) is used if it is a string."""
        self.cells.append(cell)
        self.id_hints.append(id_hint if isinstance(id_hint, str) and id_hint else None)

    def problem(
        self, cell: int | None, what: str, group: str | None = None, item: str = ""
    ) -> None:
        """Report ``what`` about source ``cell``; notes sharing a ``group`` print as one line."""
        note = Note(cell, what, group, item)
        self.problems.append(str(note))
        self.notes.append(note)


class Importer(Protocol):
    """Converts one tool's source notebook into the eduproject format."""

    tool: str  # "nbgrader", "otter": used in messages and notebook metadata

    def convert(self, source: Source) -> Conversion: ...


def cell_source(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def new_cell(
    kind: str,
    source: str,
    *,
    tags: list[str] | None = None,
    origin: str | None = None,
    attachments: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A fresh nbformat 4 cell in our format: no outputs, only our metadata."""
    metadata: dict[str, Any] = {}
    if origin is not None:
        metadata["eduproject"] = {"origin": origin}
    if tags:
        metadata["tags"] = list(dict.fromkeys(tags))
    cell: dict[str, Any] = {"cell_type": kind, "metadata": metadata, "source": _lines(source)}
    if kind == "code":
        cell["execution_count"] = None
        cell["outputs"] = []
    elif attachments:
        cell["attachments"] = attachments
    return cell


def foreign_tags(
    cell: dict[str, Any], index: int, conversion: Conversion, consumed: frozenset[str] = frozenset()
) -> list[str]:
    """The cell's tags that eduproject lets through; report the others, which it would reject.

    ``consumed`` tags were understood by the importer and are dropped silently.
    """
    tags = cell.get("metadata", {}).get("tags") or []
    kept: list[str] = []
    for tag in tags if isinstance(tags, list) else []:
        if tag in FOREIGN_TAGS:
            kept.append(tag)
        elif tag not in consumed:
            conversion.problem(
                index,
                f"tag {tag!r} dropped: eduproject rejects tags it does not know "
                "(docs/format.md lists the allowed ones)",
                group="tags dropped (eduproject rejects tags it does not know; docs/format.md "
                "lists the allowed ones)",
                item=repr(tag),
            )
    if "raises-exception" not in kept and _saved_error(cell):
        # "Run this and see what happens": the source notebook shows the error on purpose,
        # and validation must not call the lesson broken for it.
        kept.append("raises-exception")
        conversion.problem(
            index,
            "its saved output in the source is an error: tagged `raises-exception`, so the "
            "lesson runs on past it (remove the tag if the error was a mistake)",
        )
    return kept


def _saved_error(cell: dict[str, Any]) -> bool:
    outputs = cell.get("outputs") if cell.get("cell_type") == "code" else None
    return isinstance(outputs, list) and any(
        isinstance(o, dict) and o.get("output_type") == "error" for o in outputs
    )


def sanitize_id(raw: str) -> str:
    """``raw`` made into a valid exercise id: [A-Za-z0-9_-], at most 48 characters."""
    cleaned = _UNSAFE_ID_CHARS.sub("_", raw.strip()).strip("_")
    return (cleaned or "exercise")[:EXERCISE_ID_MAX]


def points_text(points: float) -> str:
    """``points`` as the format writes it: plain decimal digits, no exponent."""
    if float(points).is_integer():
        return str(int(points))
    text = repr(float(points))
    if "e" in text or "E" in text:
        text = f"{points:.17f}".rstrip("0")
    return text


def read_source(path: Path) -> Source:
    """Read ``path`` as an nbformat 4 notebook; every failure names the file and what to do."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ImportConversionError(
            f"{path}: no such file", hint="give the path of the source notebook (.ipynb)"
        ) from None
    except IsADirectoryError:
        raise ImportConversionError(
            f"{path}: is a folder, not a notebook", hint="give the path of one .ipynb file"
        ) from None
    try:
        notebook = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ImportConversionError(
            f"{path}: not UTF-8 text (byte {exc.start})",
            hint="open it in Jupyter and save it again",
        ) from None
    except json.JSONDecodeError as exc:
        raise ImportConversionError(
            f"{path}: malformed JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}",
            hint="fix the JSON there, or restore the notebook from version control",
        ) from None
    if not isinstance(notebook, dict) or not isinstance(notebook.get("cells"), list):
        raise ImportConversionError(
            f"{path}: not a Jupyter notebook (no list of 'cells' at the top level)",
            hint="give a .ipynb notebook saved by Jupyter",
        )
    major = notebook.get("nbformat")
    if major != 4:
        raise ImportConversionError(
            f"{path}: notebook format {major} is not supported (need nbformat 4)",
            hint=f"convert it first: `jupyter nbconvert --to notebook --nbformat 4 {path}`",
        )
    if not isinstance(notebook.get("metadata", {}), dict):
        raise ImportConversionError(
            f"{path}: notebook 'metadata' is not an object", hint="save it again from Jupyter"
        )
    notebook.setdefault("metadata", {})
    source = Source(path, notebook)
    for index, cell in enumerate(source.cells):
        ok = (
            isinstance(cell, dict)
            and cell.get("cell_type") in ("code", "markdown", "raw")
            and isinstance(cell.get("source", ""), str | list)
            and isinstance(cell.get("metadata", {}), dict)
        )
        if not ok:
            raise source.error(
                "not a notebook cell (needs 'cell_type' code/markdown/raw, 'source', 'metadata')",
                cell=index,
                fix="delete the cell and re-create it in Jupyter",
            )
        cell.setdefault("metadata", {})
    return source


def run_import(
    importer: Importer, src: Path, out_dir: Path, *, overwrite: bool = False, files: bool = True
) -> ImportReport:
    """Convert ``src`` with ``importer`` into ``out_dir/<out_dir.name>.ipynb``.

    With ``files`` the files beside ``src`` come along (see :mod:`.files`). Refuses to replace
    a different notebook or file already there unless ``overwrite``; writing the same bytes
    again is always fine.
    """
    from eduproject.authoring.importers.files import copy_beside, files_beside

    src, out_dir = Path(src), Path(out_dir)
    lesson_id = out_dir.name
    if not LESSON_ID_RE.fullmatch(lesson_id):
        raise ImportConversionError(
            f"{out_dir}: {lesson_id!r} is not a valid lesson id (the output folder's name)",
            hint="name the folder with lowercase letters, digits, '-' and '_', starting with a "
            "letter or digit, e.g. -o exercises/ps1",
        )
    source = read_source(src)
    conversion = importer.convert(source)
    if not conversion.exercises:
        raise ImportConversionError(
            f"{src}: no auto-graded question to import: the lesson would have no exercises",
            hint=f"check that this is the {importer.tool} source notebook (with its solution "
            "and test cells), not a released or submitted copy",
        )
    minor = source.notebook.get("nbformat_minor")
    if not isinstance(minor, int) or minor < 4:
        conversion.problem(
            None,
            f"notebook format 4.{minor} upgraded to 4.5 (cell ids added; nothing else changes)",
        )
    _tag_keyboard_cells(conversion)
    text = _notebook_text(source, conversion, importer.tool)
    target = out_dir / f"{lesson_id}.ipynb"
    _check_target(src, out_dir, target, text, overwrite)
    beside = files_beside(src, skip=out_dir) if files else []
    copy_beside(src, out_dir, beside, overwrite=overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    target.write_text(text, encoding="utf-8")
    return ImportReport(
        notebook_path=target,
        lesson_id=lesson_id,
        exercises=list(conversion.exercises),
        problems=list(conversion.problems),
        notes=list(conversion.notes),
        files=beside,
        requirements=shell_lines(conversion.cells),
    )


# Tags of the cells the format gives a role; other code cells are context.
_ROLE_TAGS = frozenset({"solution", "solution-cell", "tests", "hidden-tests", "setup"})


def _tag_keyboard_cells(conversion: Conversion) -> None:
    """Tag ``raises-exception`` the context cells that read the keyboard (``input()`` at top
    level, "type an expression and see"): validation and grading have no keyboard, so the
    call raises there, which must not count as a broken lesson."""
    for index, cell in enumerate(conversion.cells):
        tags = cell["metadata"].get("tags", [])
        if cell["cell_type"] != "code" or _ROLE_TAGS & set(tags) or "raises-exception" in tags:
            continue
        if _reads_keyboard(cell_source(cell)):
            cell["metadata"]["tags"] = [*tags, "raises-exception"]
            conversion.problem(
                None,
                f"imported cell {index} calls input(): tagged raises-exception (validation and "
                "grading have no keyboard; the call raises there)",
                group="cells calling input() tagged raises-exception (validation and grading "
                "have no keyboard; the call raises there)",
                item=f"imported cell {index}",
            )


def _reads_keyboard(source: str) -> bool:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    pending: list[ast.AST] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            continue  # runs only when called
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "input"
        ):
            return True
        pending.extend(ast.iter_child_nodes(node))
    return False


# `!cmd`, `%pip`/`%conda` installs, `%%bash`-style cells, `%system`/`%sx`: they start processes,
# which validation and grading never do (see eduproject.runner.harness.refuse_shell_escapes).
_SHELL_LINE = re.compile(
    r"^\s*(?:!|%(?:pip|conda|mamba|micromamba|uv|system|sx)\b|%%(?:bash|sh|script|system)\b)"
)


def shell_lines(cells: list[dict[str, Any]]) -> list[str]:
    """The distinct shell and install lines of ``cells``' code, in order."""
    found: dict[str, None] = {}
    for cell in cells:
        if cell.get("cell_type") != "code":
            continue
        for line in cell_source(cell).split("\n"):
            if _SHELL_LINE.match(line):
                found[line.strip()] = None
    return list(found)


def _check_target(src: Path, out_dir: Path, target: Path, text: str, overwrite: bool) -> None:
    if target.exists() and target.resolve() == src.resolve():
        raise ImportConversionError(
            f"{target}: the output would replace the source notebook itself",
            hint="import into another folder, e.g. -o exercises/<lesson>/",
        )
    if not out_dir.exists():
        return
    if not out_dir.is_dir():
        raise ImportConversionError(
            f"{out_dir}: exists and is not a folder", hint="give a folder for the lesson with -o"
        )
    others = sorted(
        p.name
        for p in out_dir.glob("*.ipynb")
        if p.name != target.name and not p.name.startswith(".")
    )
    if others:
        raise ImportConversionError(
            f"{out_dir}: already holds {', '.join(others)}; a lesson folder has exactly one notebook",
            hint="import into an empty folder, or move those notebooks away first",
        )
    if target.exists() and target.read_text(encoding="utf-8") != text and not overwrite:
        raise ImportConversionError(
            f"{target}: already exists and differs from this import",
            hint="pass --force (overwrite=True) to replace it, or import into another folder",
        )


def _notebook_text(source: Source, conversion: Conversion, tool: str) -> str:
    cells = [dict(c) for c in conversion.cells]
    taken: set[str] = set()
    for index, (cell, hint) in enumerate(zip(cells, conversion.id_hints, strict=True)):
        cell["id"] = _unique_id(hint or f"cell-{index}", taken)
    metadata: dict[str, Any] = {}
    for key in ("kernelspec", "language_info"):
        if isinstance(source.notebook["metadata"].get(key), dict):
            metadata[key] = source.notebook["metadata"][key]
    metadata["eduproject"] = {"imported_from": {"tool": tool, "file": source.path.name}}
    notebook = {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}
    # The layout nbformat itself writes (indent 1, sorted keys), so that saving the imported
    # notebook in JupyterLab changes nothing but what the instructor edits.
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def _unique_id(hint: str, taken: set[str]) -> str:
    base = _UNSAFE_ID_CHARS.sub("-", hint).strip("-")[:56] or "cell"
    if not _CELL_ID_RE.fullmatch(base) or base.startswith("panel-"):
        base = f"cell-{base}"[:56]
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def _lines(text: str) -> list[str]:
    lines = text.split("\n")
    return [line + "\n" for line in lines[:-1]] + ([lines[-1]] if lines[-1] else [])
