"""A small simulated class as SubmissionResult values, for the gradebook and output tests.

Two lessons, seven learners, every status; one planted hidden-test message (which the
engine never produces) and hostile learner outputs, so that the tests can check that
neither leaks nor runs.
"""

from __future__ import annotations

import base64
import random
import struct
import zlib
from typing import Any

from eduproject.core.results import ExerciseResult, Status, SubmissionResult, TestOutcome

L1 = "01-functions"
L2 = "02-loops"
V1 = "v1-" + "a" * 12
V2 = "v2-" + "b" * 12
HIDDEN_SECRET = "HIDDEN-SECRET assert sum_evens(list(range(101))) == 2550"
SCRIPT = "<script>alert('pwned')</script>"
VISIBLE_MESSAGE = "AssertionError: sum_evens([-2, -3]) returned 0, expected -2"
RLIMITS = "rlimits only (bubblewrap not found)"


def tiny_png() -> str:
    """A real 2x2 red PNG, base64 (as Jupyter stores image/png outputs)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\xff\x00\x00" * 2 for _ in range(2))
    png = (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )
    return base64.b64encode(png).decode()


def notebook(hostile: bool = False) -> dict[str, Any]:
    """An executed notebook; ``hostile`` adds outputs that try to inject script."""
    cells: list[dict[str, Any]] = [
        {"cell_type": "markdown", "metadata": {}, "source": "# Sum of evens\nWrite `sum_evens`."},
        {
            "cell_type": "code",
            "execution_count": 1,
            "metadata": {"eduproject": {"cell": "c1", "role": "solution", "exercise": "sum_evens"}},
            "source": "def sum_evens(ns):\n    return sum(n for n in ns if n % 2 == 0)\nprint('done')",
            "outputs": [{"output_type": "stream", "name": "stdout", "text": ["done\n"]}],
        },
        {
            "cell_type": "code",
            "execution_count": 2,
            "metadata": {},
            "source": "plot()",
            "outputs": [
                {
                    "output_type": "display_data",
                    "metadata": {},
                    "data": {"image/png": tiny_png(), "text/plain": "<Figure size 2x2>"},
                }
            ],
        },
    ]
    if hostile:
        cells.append(
            {
                "cell_type": "markdown",
                "metadata": {},
                "source": f"Note {SCRIPT} [click](javascript:alert(1)) <img src=x onerror=alert(2)>",
            }
        )
        cells.append(
            {
                "cell_type": "code",
                "execution_count": 3,
                "metadata": {},
                "source": "from IPython.display import HTML, Javascript\nHTML(evil)",
                "outputs": [
                    {"output_type": "stream", "name": "stdout", "text": f"printed {SCRIPT}\n"},
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"text/html": f"<b>bold</b>{SCRIPT}"},
                    },
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"application/javascript": "alert('js-output')"},
                    },
                    {
                        "output_type": "display_data",
                        "metadata": {},
                        "data": {"image/svg+xml": "<svg onload=alert(3)></svg>"},
                    },
                    {
                        "output_type": "error",
                        "ename": "ValueError",
                        "evalue": SCRIPT,
                        "traceback": ["\x1b[31mValueError\x1b[0m: " + SCRIPT],
                    },
                ],
            }
        )
    return {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}


def _sum_evens(basics: bool, negatives: bool, hidden: bool, message: str = "") -> ExerciseResult:
    tests = (
        TestOutcome("basics", "sum_evens", 1.0 if basics else 0.0, 1.0, basics, False,
                    "" if basics else "AssertionError: sum_evens([1, 2, 3, 4]) returned 4"),
        TestOutcome("negatives", "sum_evens", 2.0 if negatives else 0.0, 2.0, negatives, False,
                    "" if negatives else message or VISIBLE_MESSAGE),
        # The planted message: the engine keeps hidden messages empty; outputs must not
        # show it even if one slips in.
        TestOutcome("big-range", "sum_evens", 2.0 if hidden else 0.0, 2.0, hidden, True,
                    "" if hidden else HIDDEN_SECRET),
    )  # fmt: skip
    return ExerciseResult("sum_evens", sum(t.points for t in tests), 5.0, Status.GRADED, "", tests)


def _fizz(passed: bool, status: Status = Status.GRADED, detail: str = "") -> ExerciseResult:
    if status is not Status.GRADED:
        return ExerciseResult("fizz", 0.0, 2.0, status, detail, ())
    tests = (
        TestOutcome("fizz-1", "fizz", 1.0 if passed else 0.0, 1.0, passed, False,
                    "" if passed else "AssertionError: fizz(3) returned '3'"),
        TestOutcome("fizz-hidden", "fizz", 1.0 if passed else 0.0, 1.0, passed, True, ""),
    )  # fmt: skip
    return ExerciseResult("fizz", sum(t.points for t in tests), 2.0, Status.GRADED, "", tests)


def _count(passed: bool) -> ExerciseResult:
    t = TestOutcome("count-1", "count", 3.0 if passed else 0.0, 3.0, passed, False,
                    "" if passed else "AssertionError: count([]) returned None")  # fmt: skip
    return ExerciseResult("count", t.points, 3.0, Status.GRADED, "", (t,))


REVIEW_REASON = "Tally.__eq__ (learner code) decided `==` against a plain value"


def _count_review() -> ExerciseResult:
    """A test the notebook passes only through a learner __eq__: points withheld, for review."""
    t = TestOutcome("count-1", "count", 0.0, 3.0, False, False, "", review=REVIEW_REASON)
    detail = f"test 'count-1' passed only because {REVIEW_REASON}"
    return ExerciseResult("count", 0.0, 3.0, Status.REVIEW, detail, (t,))


def submission(
    learner: str,
    lesson: str,
    exercises: tuple[ExerciseResult, ...],
    *,
    status: Status | None = None,
    detail: str = "",
    digest: str | None = None,
    duration: float = 0.5,
    sandbox: str = "bwrap+uid",
    nb: dict[str, Any] | None = None,
) -> SubmissionResult:
    worst = status or next(
        (e.status for e in exercises if e.status != Status.GRADED), Status.GRADED
    )
    return SubmissionResult(
        learner=learner,
        lesson=lesson,
        lesson_version=V1 if lesson == L1 else V2,
        path=f"submissions/{learner}/{lesson}.ipynb",
        submission_hash=digest or f"sha-{learner}-{lesson}",
        exercises=exercises,
        status=worst,
        detail=detail,
        duration_s=duration,
        sandbox=sandbox,
        executed_notebook=nb,
    )


def make_class() -> list[SubmissionResult]:
    """Seven learners over two lessons, every status, one rlimits-only submission."""
    return [
        submission("ada", L1, (_sum_evens(True, True, True), _fizz(True)), duration=0.41,
                   nb=notebook()),
        submission("bob", L1, (_sum_evens(True, False, False), _fizz(True)), duration=0.52,
                   nb=notebook(hostile=True)),
        submission("cy", L1, (
            ExerciseResult("sum_evens", 0.0, 5.0, Status.ERROR,
                           "NameError: name 'sum_evnes' is not defined"),
            _fizz(False)), duration=0.38),
        submission("dee", L1, (_sum_evens(True, True, False),
                               _fizz(False, Status.TIMEOUT, "cell 7 ran over 10 s")),
                   duration=10.2, sandbox=RLIMITS),
        submission("eve", L1, (
            ExerciseResult("sum_evens", 0.0, 5.0, Status.INVALID, "not JSON: line 1 column 1"),
            ExerciseResult("fizz", 0.0, 2.0, Status.INVALID, "not JSON: line 1 column 1")),
            detail="not JSON: line 1 column 1", duration=0.01),
        submission("fay", L1, (
            ExerciseResult("sum_evens", 0.0, 5.0, Status.TAMPERED,
                           "test cell 'c3' was edited"), _fizz(True)), duration=0.45),
        submission("zoë o'brien", L1, (_sum_evens(True, True, True),
                                       _fizz(False, Status.KILLED, "memory limit 512 MB")),
                   duration=1.3),
        submission("ada", L2, (_count(True),), duration=0.2),
        submission("bob", L2, (_count_review(),), duration=0.25),
    ]  # fmt: skip


def numbered(i: int, *, big_notebook: bool = False) -> SubmissionResult:
    """Submission number ``i`` of a large class (learner ``learner000``...), lesson L1."""
    nb = notebook()
    if big_notebook:
        # 50 kB that do not compress: writing it keeps the process inside its write
        # transaction long enough for a kill to land there.
        noise = random.Random(i).randbytes(25_000).hex()
        nb["cells"].append({"cell_type": "raw", "metadata": {}, "source": noise})
    return submission(
        f"learner{i:03d}",
        L1,
        (_sum_evens(True, i % 2 == 0, i % 3 == 0), _fizz(i % 5 != 0)),
        duration=0.1 + (i % 7) / 10,
        nb=nb,
    )
