"""Grade exports from a gradebook: long CSV, Canvas gradebook import, Gradescope results.

    >>> export(Path("gradebook.sqlite"), "csv", Path("grades.csv"))          # doctest: +SKIP
    Exported(format='csv', files=(PosixPath('grades.csv'),), submissions=40, rows=120)

Formats (see docs/gradebook.md for every assumption):

- ``csv``: one row per exercise of each learner's latest submission, columns exactly
  ``learner,lesson,exercise,score,max_score,status``. A manual exercise nobody has graded
  yet has status ``pending`` and an empty score (not 0: it is not known yet).
- ``canvas``: a Canvas "Import" gradebook CSV: ``Student,ID,SIS User ID,SIS Login ID,Section``,
  then one column per lesson (the total score), a ``Points Possible`` row, one row per
  learner. Learners are matched by name (the learner id is written in ``Student``).
- ``gradescope``: ``OUT/<lesson>/<learner>/results.json`` per submission, in Gradescope's
  autograder results format. Hidden tests appear by name and points only.

In both CSV formats a text cell that a spreadsheet would run as a formula (it starts with
``=``, ``+``, ``-``, ``@``, a tab or a carriage return) gets a leading single quote, as OWASP
advises against CSV injection: ``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)``; a row
with a carriage return inside a cell is written fully quoted, so the return cannot start a
new row.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from eduproject.core.results import ExerciseResult, Status, SubmissionResult, TestOutcome
from eduproject.errors import ConfigError, GradebookError
from eduproject.grading.gradebook import Gradebook

__all__ = ["CSV_COLUMNS", "FORMATS", "Exported", "export", "file_stem", "gradescope_results"]

CSV_COLUMNS = ("learner", "lesson", "exercise", "score", "max_score", "status")
CANVAS_FIXED_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
# Canvas' own exports write the row label with four leading spaces; its importer finds
# the row by the words "Points Possible", so we keep its exact spelling.
CANVAS_POINTS_ROW = "    Points Possible"


@dataclass(frozen=True)
class Exported:
    """What :func:`export` wrote."""

    format: str
    files: tuple[Path, ...]
    submissions: int
    rows: int


def export(db: Path, fmt: str, out: Path, *, lesson: str | None = None) -> Exported:
    """Write the latest results in ``db`` to ``out`` in format ``fmt`` (see module doc).

    ``lesson`` restricts the export to one lesson. ``out`` is a file for ``csv`` and
    ``canvas``, a folder for ``gradescope``.
    """
    writer = FORMATS.get(fmt)
    if writer is None:
        raise ConfigError(
            f"unknown export format {fmt!r}",
            hint=f"use --format {' | '.join(sorted(FORMATS))}",
        )
    with Gradebook(db, create=False) as gb:
        if lesson is not None and lesson not in gb.lessons():
            known = ", ".join(gb.lessons()) or "none"
            raise GradebookError(
                db, f"no results for lesson {lesson!r}", hint=f"lessons in it: {known}"
            )
        results = list(gb.results(lesson))
    try:
        return writer(results, out)
    except OSError as exc:
        raise GradebookError(
            out, f"cannot write the export: {exc.strerror or exc}", hint="check the -o path"
        ) from exc


# A cell starting with one of these is a formula to Excel, LibreOffice or Google Sheets
# (OWASP, "CSV Injection"); fullwidth signs too, which some spreadsheets accept.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _text(value: str) -> str:
    """A text cell that no spreadsheet runs: a leading single quote before a formula sign.

    >>> _text('=HYPERLINK("evil.example")'), _text("ada")
    ('\\'=HYPERLINK("evil.example")', 'ada')
    """
    return "'" + value if value.startswith(_FORMULA_START) else value


def _row(fh: TextIO, cells: Iterable[str]) -> None:
    """One CSV row. Lines end with \n, so a bare \r in a cell would not be quoted by the
    csv module -- and would start a new row in a spreadsheet: such rows are fully quoted."""
    row = list(cells)
    if any("\r" in cell for cell in row):
        csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_ALL).writerow(row)
    else:
        csv.writer(fh, lineterminator="\n").writerow(row)


def _num(value: float) -> str:
    """Points as people write them: 2, 1.5, 0.333333 -- never 2.0 or 1e-07."""
    rounded = round(value, 6)
    if rounded == int(rounded):
        return str(int(rounded))
    return f"{rounded:.6f}".rstrip("0")


def _write_csv(results: list[SubmissionResult], out: Path) -> Exported:
    rows = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        _row(fh, CSV_COLUMNS)
        for r in results:
            # An unreadable notebook may come with no exercises at all; it still gets a
            # row so that no learner silently disappears from the grade sheet.
            exercises = r.exercises or (
                ExerciseResult(exercise="", score=0.0, max_score=0.0, status=r.status),
            )
            for e in exercises:
                score = "" if e.pending else _num(e.score)
                _row(
                    fh,
                    (
                        *map(_text, (r.learner, r.lesson, e.exercise)),
                        *(score, _num(e.max_score), e.status),
                    ),
                )
                rows += 1
    return Exported("csv", (out,), len(results), rows)


def _write_canvas(results: list[SubmissionResult], out: Path) -> Exported:
    lessons = sorted({r.lesson for r in results})
    learners = sorted({r.learner for r in results})
    scores = {(r.learner, r.lesson): r.score for r in results}
    # Points possible per lesson: the largest maximum seen (an invalid notebook may report
    # a maximum of 0 because none of its exercises could be read).
    possible = {les: max(r.max_score for r in results if r.lesson == les) for les in lessons}
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        _row(fh, (*CANVAS_FIXED_COLUMNS, *map(_text, lessons)))
        _row(fh, (CANVAS_POINTS_ROW, "", "", "", "", *(_num(possible[x]) for x in lessons)))
        for learner in learners:
            # A blank cell leaves Canvas' grade untouched (no submission for that lesson).
            cells = (_num(scores[(learner, x)]) if (learner, x) in scores else "" for x in lessons)
            _row(fh, (_text(learner), "", "", "", "", *cells))
    return Exported("canvas", (out,), len(results), len(learners))


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def file_stem(name: str) -> str:
    """A file-name-safe, collision-free stem for a learner or lesson id.

    Safe ids are kept as they are; others get their unsafe characters replaced and a short
    hash of the original appended, so "a b" and "a_b" never share a file.

        >>> file_stem("ada"), file_stem("../etc")
        ('ada', 'etc-f7f9121f')
    """
    cleaned = _UNSAFE.sub("_", name).strip("._")
    if cleaned == name and cleaned:
        return name
    digest = hashlib.sha256(name.encode("utf-8")).hexdigest()[:8]
    return f"{cleaned[:60]}-{digest}" if cleaned else digest


def _test_output(e: ExerciseResult, t: TestOutcome) -> str:
    # A failed test without a message of its own failed because of the exercise (an error
    # or timeout in the learner's code): say so.
    return t.learner_message or ("" if t.passed else e.detail)


def gradescope_results(result: SubmissionResult) -> dict[str, Any]:
    """One submission as a Gradescope autograder ``results.json`` document.

    Hidden tests keep their name and points; their output is always empty and their
    visibility ``after_published`` (learners see them once grades are published).
    """
    tests: list[dict[str, Any]] = []
    for i, e in enumerate(result.exercises, start=1):
        if e.manual and e.status in (Status.GRADED, Status.PENDING):
            # Graded by hand: the instructor's points and comment, or that they wait.
            tests.append(
                {
                    "name": f"{e.exercise} (graded by hand)",
                    "number": str(i),
                    "score": 0.0 if e.pending else e.score,
                    "max_score": e.max_score,
                    "status": "failed" if e.pending or e.score < e.max_score else "passed",
                    "output": "waiting for the instructor's grading" if e.pending else e.comment,
                    "output_format": "text",
                    "tags": [e.exercise, "manual"],
                    "visibility": "visible",
                }
            )
            continue
        if not e.tests:
            # No test ran (invalid, timeout before the tests...): one line per exercise so
            # that the learner sees why the points are missing.
            tests.append(
                {
                    "name": f"{e.exercise} ({e.status})",
                    "number": str(i),
                    "score": e.score,
                    "max_score": e.max_score,
                    "status": "passed" if e.score >= e.max_score > 0 else "failed",
                    "output": e.detail,
                    "output_format": "text",
                    "tags": [e.exercise],
                    "visibility": "visible",
                }
            )
        for j, t in enumerate(e.tests, start=1):
            entry: dict[str, Any] = {
                "name": f"{e.exercise}: {t.name}",
                "number": f"{i}.{j}",
                "score": t.points,
                "max_score": t.max_points,
                "status": "passed" if t.passed else "failed",
                "output_format": "text",
                "tags": [e.exercise],
            }
            if t.hidden and not t.learner_message:
                # Never a hidden test's own message (the gradebook keeps it for instructors).
                entry.update(output="", visibility="after_published")
            else:
                entry.update(output=_test_output(e, t), visibility="visible")
            tests.append(entry)
    summary = [f"{result.lesson}: {_num(result.score)} / {_num(result.max_score)} points"]
    if result.pending_points:
        summary.append(f"{_num(result.pending_points)} points wait for grading by hand")
    summary.append(f"status: {result.status}" + (f" ({result.detail})" if result.detail else ""))
    for e in result.exercises:
        if e.detail and e.tests:
            summary.append(f"{e.exercise}: {e.status}: {e.detail}")
    return {
        "score": result.score,
        "execution_time": round(result.duration_s, 3),
        "output": "\n".join(summary),
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
        "extra_data": {
            "learner": result.learner,
            "lesson": result.lesson,
            "lesson_version": result.lesson_version,
            "submission_hash": result.submission_hash,
            "status": str(result.status),
            "max_score": result.max_score,
        },
    }


def _write_gradescope(results: list[SubmissionResult], out: Path) -> Exported:
    files = []
    for r in results:
        folder = out / file_stem(r.lesson) / file_stem(r.learner)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "results.json"
        path.write_text(json.dumps(gradescope_results(r), indent=2) + "\n", encoding="utf-8")
        files.append(path)
    return Exported("gradescope", tuple(files), len(results), len(files))


FORMATS: dict[str, Callable[[list[SubmissionResult], Path], Exported]] = {
    "csv": _write_csv,
    "canvas": _write_canvas,
    "gradescope": _write_gradescope,
}
