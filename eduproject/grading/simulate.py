"""A simulated class: learner submissions of one lesson, honest, buggy, broken and hostile.

The demo and the grader's tests need a class to grade without real learners. Every submission
starts from the *released* learner notebook and fills its stubs the way a learner would:

========================  ===================================================================
kind                      what the learner did
========================  ===================================================================
``correct``               every exercise solved (the instructor's solution bodies)
``partial``               some exercises solved, the others with a beginner bug
                          (off-by-one, print instead of return, flipped condition, ...:
                          ``runner/mutants.py``'s slips)
``broken-syntax``         one cell does not compile (a missing colon or bracket)
``broken-name``           one function raises NameError (a misspelt variable)
``hostile-eq``            every function returns an object whose ``__eq__`` is always True
``hostile-exit``          a cell calls ``os._exit(0)``
``hostile-loop``          a cell never ends (``while True: pass``)
``hostile-tamper``        prints "All tests passed", rewrites test cells to ``assert True``,
                          fakes their outputs and raises their points in metadata
========================  ===================================================================

Submissions carry nothing about their kind: the grader must judge them blind. The kinds are
written to ``out_dir/_manifest.json`` for the demo's printout.

    >>> paths = simulate_class(Path("exercises/01-functions"), Path("build/class"), seed=1)
    >>> learner = read_manifest(Path("build/class"))["radia"]
    >>> learner.kind, learner.failing
    ('broken-syntax', ('letter_grade',))
"""

from __future__ import annotations

import ast
import json
import random
import re
import tempfile
import tokenize
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any

from eduproject.authoring.release import dumps, release
from eduproject.core.lesson import Lesson, Role
from eduproject.errors import LessonError
from eduproject.runner.mutants import slips

MANIFEST_NAME = "_manifest.json"
KINDS = (
    "correct",
    "partial",
    "broken-syntax",
    "broken-name",
    "hostile-eq",
    "hostile-exit",
    "hostile-loop",
    "hostile-tamper",
)
# Order in which kinds are handed out: a class of 3 still gets the most telling mix.
_KIND_PRIORITY = (
    "correct",
    "partial",
    "hostile-eq",
    "broken-syntax",
    "hostile-exit",
    "hostile-loop",
    "hostile-tamper",
    "broken-name",
)
# Learners beyond the first eight: mostly honest, as in a real class.
_EXTRA_KINDS = (
    "correct",
    "correct",
    "partial",
    "partial",
    "partial",
    "broken-name",
    "broken-syntax",
)
NAMES = (
    "ada", "grace", "alan", "barbara", "edsger", "katherine", "linus", "margaret",
    "dennis", "frances", "ken", "radia", "hedy", "tim", "mary", "john",
    "sophie", "niklaus", "jean", "guido", "anita", "donald", "lynn", "claude",
)  # fmt: skip
_BEGIN, _END = "### BEGIN SOLUTION", "### END SOLUTION"
_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")


@dataclass(frozen=True)
class SimulatedLearner:
    """One entry of the manifest: who, which kind, and what exactly went wrong."""

    name: str
    kind: str
    detail: str
    failing: tuple[str, ...]  # exercises where at least one test should fail
    path: Path


@dataclass
class _Solution:
    """One solution cell: the correct code and where its answer regions are.

    ``regions`` are half-open line ranges of ``lines`` that a learner writes (the whole
    cell for a ``solution-cell``).
    """

    exercise: str
    lines: list[str]
    regions: list[tuple[int, int]]

    @classmethod
    def from_source(cls, exercise: str, source: str) -> _Solution:
        lines: list[str] = []
        regions: list[tuple[int, int]] = []
        start: int | None = None
        for line in source.split("\n"):
            if line.strip() == _BEGIN:
                start = len(lines)
            elif line.strip() == _END and start is not None:
                regions.append((start, len(lines)))
                start = None
            else:
                lines.append(line)
        return cls(exercise, lines, regions or [(0, len(lines))])

    @property
    def whole_cell(self) -> bool:
        return self.regions == [(0, len(self.lines))]

    def source(self) -> str:
        return "\n".join(self.lines)

    def stub(self) -> str:
        """The learner's untouched stub (what release wrote)."""
        out = list(self.lines)
        for start, end in reversed(self.regions):
            indent = _indent(out[start]) if not self.whole_cell else ""
            out[start:end] = [indent + s for s in _STUB]
        return "\n".join(out)


def simulate_class(
    lesson_folder: Path, out_dir: Path, *, n_learners: int = 8, seed: int = 0
) -> list[Path]:
    """Write ``n_learners`` simulated submissions to ``out_dir/<learner>/<lesson>.ipynb``.

    With ``n_learners >= 8`` every kind in :data:`KINDS` is present. The same lesson and
    seed give byte-identical files. Returns the submission paths, sorted by learner name.
    In the sample course:

        >>> simulate_class(Path("exercises/03-lists-dicts"), Path("build/class"), n_learners=3)
        [PosixPath('build/class/ada/03-lists-dicts.ipynb'), ...]
    """
    if n_learners < 1:
        raise LessonError(
            f"cannot simulate a class of {n_learners} learners",
            hint="pass n_learners=1 or more",
        )
    with tempfile.TemporaryDirectory(prefix="eduproject-simulate-") as tmp:
        released = release(Path(lesson_folder), Path(tmp) / "notebooks", Path(tmp) / "grader")
        learner_nb = json.loads(released.notebook.read_text(encoding="utf-8"))
    lesson = released.lesson
    solutions = _solutions(lesson)
    if not solutions:
        raise LessonError(
            f"lesson {lesson.id!r} has no solution cells, so there is nothing to simulate",
            hint="tag the answer cells `solution` or `solution-cell` (see docs/format.md)",
        )
    rng = random.Random(seed)
    names = _names(rng, n_learners)
    kinds = _kinds(rng, n_learners)
    out_dir = Path(out_dir)
    entries: list[SimulatedLearner] = []
    for name, kind in zip(names, kinds, strict=True):
        # Seeded by name and lesson: a learner's bugs differ from lesson to lesson.
        learner_rng = random.Random(f"{seed}/{lesson.id}/{name}")
        made = _MAKERS[kind](learner_nb, solutions, learner_rng)
        path = out_dir / name / f"{lesson.id}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(dumps(made.notebook))
        entries.append(SimulatedLearner(name, kind, made.detail, made.failing, path))
    entries.sort(key=lambda e: e.name)
    manifest = {
        "lesson": lesson.id,
        "seed": seed,
        "learners": {
            e.name: {"kind": e.kind, "detail": e.detail, "failing": list(e.failing)}
            for e in entries
        },
    }
    (out_dir / MANIFEST_NAME).write_bytes(dumps(manifest))
    return [e.path for e in entries]


def read_manifest(out_dir: Path) -> dict[str, SimulatedLearner]:
    """Read ``out_dir/_manifest.json`` written by :func:`simulate_class`, by learner name."""
    path = Path(out_dir) / MANIFEST_NAME
    if not path.is_file():
        raise LessonError(
            f"no simulated class in {out_dir}: {MANIFEST_NAME} is missing",
            hint="run simulate_class(lesson_folder, out_dir) first",
        )
    data = json.loads(path.read_text(encoding="utf-8"))
    lesson = data["lesson"]
    return {
        name: SimulatedLearner(
            name,
            entry["kind"],
            entry["detail"],
            tuple(entry["failing"]),
            Path(out_dir) / name / f"{lesson}.ipynb",
        )
        for name, entry in data["learners"].items()
    }


# -- who gets what ---------------------------------------------------------------------------


def _names(rng: random.Random, n: int) -> list[str]:
    pool = list(NAMES)
    rng.shuffle(pool)
    return [
        pool[i % len(pool)] + ("" if i < len(pool) else str(i // len(pool) + 1)) for i in range(n)
    ]


def _kinds(rng: random.Random, n: int) -> list[str]:
    kinds = list(_KIND_PRIORITY[:n]) + [
        rng.choice(_EXTRA_KINDS) for _ in range(n - len(_KIND_PRIORITY))
    ]
    rng.shuffle(kinds)
    return kinds


def _solutions(lesson: Lesson) -> dict[str, _Solution]:
    """Solution cells by cell id, parsed from the instructor source."""
    return {
        cell.cell_id: _Solution.from_source(cell.exercise or "", cell.source)
        for cell in lesson.cells
        if cell.role is Role.SOLUTION
    }


# -- building submissions ----------------------------------------------------------------------

_Notebook = dict[str, Any]


@dataclass(frozen=True)
class _Made:
    notebook: _Notebook
    detail: str
    failing: tuple[str, ...]  # exercises whose tests this learner should fail


_Maker = Callable[[_Notebook, dict[str, _Solution], random.Random], _Made]


def _fill(learner_nb: _Notebook, sources: dict[str, str]) -> _Notebook:
    """A copy of the learner notebook with the given solution cells' sources replaced."""
    notebook: _Notebook = json.loads(json.dumps(learner_nb))
    for cell in notebook["cells"]:
        cell_id = cell["metadata"].get("eduproject", {}).get("cell")
        if cell_id in sources:
            cell["source"] = sources[cell_id].splitlines(keepends=True)
    return notebook


def _all_exercises(sols: dict[str, _Solution]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(s.exercise for s in sols.values()))


def _correct(nb: _Notebook, sols: dict[str, _Solution], rng: random.Random) -> _Made:
    return _Made(
        _fill(nb, {cid: s.source() for cid, s in sols.items()}), "every exercise solved", ()
    )


def _partial(nb: _Notebook, sols: dict[str, _Solution], rng: random.Random) -> _Made:
    exercises = _all_exercises(sols)
    buggy = set(rng.sample(exercises, rng.randint(1, max(1, len(exercises) - 1))))
    sources, notes, failing = {}, [], []
    for cid, sol in sols.items():
        mutated = _mutate(sol, rng) if sol.exercise in buggy else None
        if mutated is None:
            sources[cid] = sol.source()
        else:
            sources[cid], what = mutated
            notes.append(f"{sol.exercise}: {what}")
            failing.append(sol.exercise)
    return _Made(_fill(nb, sources), "; ".join(notes), tuple(failing))


def _broken(mistake: Callable[[_Solution], tuple[str, str] | None]) -> _Maker:
    """A learner who solves everything but breaks one exercise with ``mistake``."""

    def make(nb: _Notebook, sols: dict[str, _Solution], rng: random.Random) -> _Made:
        order = list(sols)
        rng.shuffle(order)
        sources = {cid: s.source() for cid, s in sols.items()}
        for cid in order:
            broken = mistake(sols[cid])
            if broken is not None:
                sources[cid] = broken[0]
                exercise = sols[cid].exercise
                return _Made(_fill(nb, sources), f"{exercise}: {broken[1]}", (exercise,))
        return _Made(_fill(nb, sources), "every exercise solved (no place for the mistake)", ())

    return make


def _hostile_eq(nb: _Notebook, sols: dict[str, _Solution], rng: random.Random) -> _Made:
    sources = {cid: _always_equal(sol) for cid, sol in sols.items()}
    detail = "every function returns an object whose __eq__ is always True"
    return _Made(_fill(nb, sources), detail, _all_exercises(sols))


def _with_first_cell_trick(code: str, detail: str) -> _Maker:
    """Stubs everywhere, and ``code`` appended to the first solution cell."""

    def make(nb: _Notebook, sols: dict[str, _Solution], rng: random.Random) -> _Made:
        first = next(iter(sols))
        sources = {cid: s.stub() for cid, s in sols.items()}
        sources[first] += "\n\n" + code
        where = f"{detail} (in {sols[first].exercise}'s cell)"
        return _Made(_fill(nb, sources), where, _all_exercises(sols))

    return make


def _hostile_tamper(nb: _Notebook, sols: dict[str, _Solution], rng: random.Random) -> _Made:
    first = next(iter(sols))
    sources = {cid: s.stub() for cid, s in sols.items()}
    sources[first] += '\n\nprint("All tests passed! Score: 100%")'
    notebook = _fill(nb, sources)
    edited = 0
    for cell in notebook["cells"]:
        meta = cell["metadata"]
        if meta.get("eduproject", {}).get("role") != Role.TESTS.value:
            continue
        names = re.findall(r"^### TEST (\S+)", "".join(cell["source"]), flags=re.MULTILINE)
        fake = [f"### TEST {name} points=100\nassert True\n" for name in names]
        cell["source"] = fake or ["assert True\n"]
        passed = {"name": "stdout", "output_type": "stream", "text": ["All tests passed!\n"]}
        cell["outputs"] = [passed]
        meta["eduproject"]["points"] = 100
        meta["tags"] = [*meta.get("tags", []), "points=100"]
        meta["nbgrader"] = {"grade": True, "points": 100, "solution": False, "locked": True}
        edited += 1
    detail = (
        f"prints 'All tests passed', {edited} test cells rewritten to `assert True`, points=100"
    )
    return _Made(notebook, detail, _all_exercises(sols))


_MAKERS: dict[str, _Maker] = {
    "correct": _correct,
    "partial": _partial,
    "broken-syntax": _broken(lambda sol: _syntax_error(sol)),
    "broken-name": _broken(lambda sol: _name_error(sol)),
    "hostile-eq": _hostile_eq,
    "hostile-exit": _with_first_cell_trick("import os\nos._exit(0)", "os._exit(0) in a cell"),
    "hostile-loop": _with_first_cell_trick("while True:\n    pass", "while True: pass in a cell"),
    "hostile-tamper": _hostile_tamper,
}


# -- beginner bugs ---------------------------------------------------------------------------


def _mutate(sol: _Solution, rng: random.Random) -> tuple[str, str] | None:
    """Apply one plausible beginner bug inside an answer region; None if none applies.

    The kind of bug is drawn first and the line second, so that answers with many
    ``return`` lines do not nearly always get a return bug.
    """
    by_label: dict[str, list[str]] = {}
    for slip in slips(sol.lines, sol.regions):
        by_label.setdefault(slip.description, []).append(slip.code)
    if not by_label:
        return None
    labels = sorted(by_label)
    # Return slips fit almost every answer; weight the other bugs up so a class shows variety.
    weights = [1 if "return" in label else 3 for label in labels]
    label = rng.choices(labels, weights)[0]
    return rng.choice(by_label[label]), label


def _syntax_error(sol: _Solution) -> tuple[str, str] | None:
    for start, end in sol.regions:
        for number in range(start, end):
            line = sol.lines[number]
            if line.rstrip().endswith(":") and not line.strip().startswith("#"):
                return _replaced(sol, number, line.rstrip()[:-1]), "SyntaxError: missing ':'"
            if line.rstrip().endswith(")"):
                return _replaced(sol, number, line.rstrip()[:-1]), "SyntaxError: missing ')'"
    return None


def _name_error(sol: _Solution) -> tuple[str, str] | None:
    """Misspell the first use of a parameter inside the answer (``numbers`` -> ``nubmers``)."""
    params = _parameters(sol.source())
    tokens = _tokens(sol.source())
    for start, end in sol.regions:
        for tok in tokens:
            row = tok.start[0] - 1
            if tok.type == tokenize.NAME and tok.string in params and start <= row < end:
                line = sol.lines[row]
                col = tok.start[1]
                typo = _misspell(tok.string)
                new = line[:col] + typo + line[col + len(tok.string) :]
                return _replaced(sol, row, new), f"NameError: wrote {typo!r} for {tok.string!r}"
    return None


def _always_equal(sol: _Solution) -> str:
    """The solution with every answer replaced by ``return AlwaysEqual()``."""
    cls = [
        "class AlwaysEqual:",
        "    def __eq__(self, other):",
        "        return True",
        "",
        "    def __ne__(self, other):",
        "        return False",
        "",
        "    __hash__ = object.__hash__",
    ]
    if sol.whole_cell:
        functions = [n for n in ast.parse(sol.source()).body if isinstance(n, ast.FunctionDef)]
        defs = [
            f"def {f.name}({ast.unparse(f.args)}):\n    return AlwaysEqual()" for f in functions
        ]
        return "\n".join(cls) + "\n\n\n" + "\n\n\n".join(defs)
    lines = list(sol.lines)
    for start, end in reversed(sol.regions):
        indent = _indent(lines[start])
        lines[start:end] = [indent + c if c else "" for c in cls] + [
            indent + "return AlwaysEqual()"
        ]
    return "\n".join(lines)


# -- small helpers ---------------------------------------------------------------------------


def _replaced(sol: _Solution, number: int, new_line: str) -> str:
    lines = list(sol.lines)
    lines[number] = new_line
    return "\n".join(lines)


def _parameters(source: str) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    return {
        arg.arg
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        for arg in node.args.args + node.args.kwonlyargs
    }


def _tokens(source: str) -> list[tokenize.TokenInfo]:
    try:
        return list(tokenize.generate_tokens(StringIO(source).readline))
    except (tokenize.TokenError, SyntaxError):
        return []


def _misspell(word: str) -> str:
    """Swap two neighbouring letters near the middle (``numbers`` -> ``nubmers``)."""
    middle = len(word) // 2 - 1
    for i in sorted(range(len(word) - 1), key=lambda i: abs(i - middle)):
        a, b = word[i], word[i + 1]
        if a.isalpha() and b.isalpha() and a != b:
            return word[:i] + b + a + word[i + 2 :]
    return word + word[-1]


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]
