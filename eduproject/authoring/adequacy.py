"""Do a lesson's tests catch the slips learners make? Mutation testing of the solution.

Each solution region of an exercise is changed in one small way (``runner/mutants.py``: an
off-by-one bound, ``<`` for ``<=``, ``and`` for ``or``, a dropped statement...), and the
changed notebook is graded like a submission, by the grading engine in its sandbox. A mutant
the exercise's tests all pass *survives*: the tests accept that slip. No grader offers this.

    report = mutation_report(lesson, engine)
    report[0].score, report[0].survivors[0].describe()
    # (0.8, "your tests accept `range(1, n)` for `range(1, n + 1)` (an integer constant off by one)")
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from eduproject.authoring.markers import CellRef, Marker, regions, scan, without_markers
from eduproject.authoring.release import dumps, solution_notebook
from eduproject.core.lesson import Lesson, Role
from eduproject.runner.mutants import Mutant, mutants

if TYPE_CHECKING:
    from eduproject.runner.engine import Engine

__all__ = ["ExerciseAdequacy", "Survivor", "mutation_report"]

MUTANTS_PER_EXERCISE = 8


@dataclass(frozen=True)
class Survivor:
    """A slip the tests accept: ``was`` and ``now`` are the first line that differs."""

    exercise: str
    mutant: Mutant
    was: str
    now: str

    def describe(self) -> str:
        return f"your tests accept `{self.now}` for `{self.was}` ({self.mutant.description})"


@dataclass(frozen=True)
class ExerciseAdequacy:
    """How many of the exercise's mutants its tests caught."""

    exercise: str
    tried: int
    caught: int
    survivors: tuple[Survivor, ...]

    @property
    def score(self) -> float:
        return self.caught / self.tried if self.tried else 1.0


def mutation_report(
    lesson: Lesson, engine: Engine, *, per_exercise: int = MUTANTS_PER_EXERCISE
) -> list[ExerciseAdequacy]:
    """Grade up to ``per_exercise`` mutants of each exercise's solution; see the module doc."""
    path = Path(f"{lesson.id}.ipynb")
    out = []
    for exercise in lesson.exercises:
        tried = caught = 0
        survivors: list[Survivor] = []
        for cell_id, region, program in _mutated_cells(lesson, exercise.id):
            if tried >= per_exercise:
                break
            tried += 1
            result = engine.grade(
                "mutant", path, dumps(solution_notebook(lesson, {cell_id: program[1]}))
            )
            graded = next(e for e in result.exercises if e.exercise == exercise.id)
            if graded.tests and all(t.passed for t in graded.tests):
                was, now = _first_difference(region, program[0].code)
                survivors.append(Survivor(exercise.id, program[0], was, now))
            else:
                caught += 1
        out.append(ExerciseAdequacy(exercise.id, tried, caught, tuple(survivors)))
    return out


def _mutated_cells(lesson: Lesson, exercise: str) -> list[tuple[str, str, tuple[Mutant, str]]]:
    """``(cell id, region, (mutant, the cell's whole source with it))`` for the exercise."""
    found = []
    for cell in lesson.cells:
        if cell.role != Role.SOLUTION or cell.exercise != exercise:
            continue
        where = CellRef(lesson.notebook_path, cell.index)
        lines = cell.source.split("\n")
        pairs = regions(scan(cell.source, where), Marker.BEGIN_SOLUTION, Marker.END_SOLUTION, where)
        if not pairs:  # a whole-cell solution
            pairs_lines = [(0, len(lines))]
        else:
            pairs_lines = [(begin.number, end.number - 1) for begin, end in pairs]
        for start, stop in pairs_lines:
            region = "\n".join(lines[start:stop])
            indent = next(
                (
                    line[: len(line) - len(line.lstrip())]
                    for line in lines[start:stop]
                    if line.strip()
                ),
                "",
            )
            for mutant in mutants(region):
                body = textwrap.indent(mutant.code, indent)
                changed = "\n".join([*lines[:start], body, *lines[stop:]])
                found.append((cell.cell_id, region, (mutant, without_markers(changed, where))))
    return found


def _first_difference(region: str, mutated: str) -> tuple[str, str]:
    import ast

    original = ast.unparse(ast.parse(textwrap.dedent(region)))  # as mutants are written
    before = [line.strip() for line in original.split("\n") if line.strip()]
    after = [line.strip() for line in mutated.split("\n") if line.strip()]
    for was, now in zip(before, after, strict=False):
        if was != now:
            return was, now
    if len(before) > len(after):
        return before[len(after)], "(nothing)"
    return "(nothing)", after[len(before)] if len(after) > len(before) else ""
