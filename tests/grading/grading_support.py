"""Helpers for the grading-engine tests: fixture lessons, submissions, engines."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eduproject.authoring.parse import load_lesson
from eduproject.authoring.release import learner_notebook
from eduproject.core.bundle import read_bundle, write_bundle
from eduproject.core.lesson import Lesson, Role
from eduproject.core.results import SubmissionResult
from eduproject.grading.gradebook import Gradebook
from eduproject.grading.pipeline import grade_lesson, lesson_for_grading
from eduproject.runner.channel import ChannelClosed
from eduproject.runner.engine import Engine
from eduproject.runner.sandbox import ChildExit, Limits, Zygote

CellSpec = tuple[str, str]

# Two exercises, visible and hidden tests, per-test and per-cell points (max 3 + 3).
BASIC: list[CellSpec] = [
    ("md", "# A small lesson"),
    ("md exercise=double", "# Double\nWrite `double(x)`."),
    (
        "code solution",
        "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
    ),
    (
        "code tests",
        "### TEST small points=1\nassert double(2) == 4, f'double(2) gave {double(2)!r}'\n"
        "### TEST large points=2\n### BEGIN HIDDEN TESTS\n"
        "assert double(21) == 42, 'SECRET-EXPECTED-42'\n### END HIDDEN TESTS",
    ),
    ("md exercise=words", "# Words\nWrite `words(text)`."),
    (
        "code solution",
        "def words(text):\n    ### BEGIN SOLUTION\n    return text.split()\n    ### END SOLUTION",
    ),
    ("code tests", "assert words('a b') == ['a', 'b']"),
    (
        "code hidden-tests points=2",
        "HIDDEN_INPUT_MARKER = 'x  y z'\nassert words(HIDDEN_INPUT_MARKER) == ['x', 'y', 'z']\n"
        "assert words('') == []",
    ),
]
BASIC_ANSWERS = {
    "double": "def double(x):\n    return 2 * x",
    "words": "def words(text):\n    return text.split()",
}

WriteLesson = Callable[..., Path]


def bundle_lesson(folder: Path, grader_dir: Path) -> Lesson:
    """Load the lesson folder, seal its bundle and read it back, as grading does."""
    source = load_lesson(folder)
    write_bundle(source, grader_dir / source.id)
    return read_bundle(grader_dir / source.id)


def submission(
    lesson: Lesson, answers: dict[str, str], edit: Callable[[dict[str, Any]], None] | None = None
) -> bytes:
    """The released learner notebook with each exercise's solution cell replaced by ``answers``."""
    nb = learner_notebook(lesson)
    for cell in nb["cells"]:
        meta = cell["metadata"].get("eduproject", {})
        if meta.get("role") == Role.SOLUTION.value and meta.get("exercise") in answers:
            cell["source"] = answers[meta["exercise"]]
    if edit is not None:
        edit(nb)
    return json.dumps(nb).encode()


def cells_with_role(nb: dict[str, Any], role: str) -> list[dict[str, Any]]:
    return [c for c in nb["cells"] if c["metadata"].get("eduproject", {}).get("role") == role]


def grade(
    lesson: Lesson,
    zygote: Zygote,
    data: bytes | None,
    *,
    limits: Limits | None = None,
    data_files: dict[str, bytes] | None = None,
    problem: str | None = None,
) -> SubmissionResult:
    engine = Engine(
        lesson, data_files=data_files or {}, spawner=zygote, limits=limits or zygote.limits
    )
    return engine.grade("ada", Path("ada.ipynb"), data, problem)


def scores(result: SubmissionResult) -> dict[str, float]:
    return {e.exercise: e.score for e in result.exercises}


def statuses(result: SubmissionResult) -> dict[str, str]:
    return {e.exercise: str(e.status) for e in result.exercises}


def all_text(result: SubmissionResult) -> str:
    """Everything a learner could see about this result: executed notebook and messages."""
    parts = [json.dumps(result.executed_notebook), result.detail]
    for e in result.exercises:
        parts.append(e.detail)
        parts += [t.message for t in e.tests if not t.hidden]  # hidden: the instructor's
    return "\n".join(parts)


def run(
    zygote: Zygote, code: str, files: dict[str, bytes] | None = None, timeout: float = 10
) -> tuple[dict[str, Any], ChildExit]:
    """Run one cell in a fresh child; the reply ({"status": "died"} if it ended) and its exit."""
    child = zygote.spawn(files or {})
    try:
        reply = child.ask({"op": "run_cell", "code": code}, timeout)
    except ChannelClosed:
        reply = {"status": "died", "outputs": []}
    return reply, child.end()


def stdout(reply: dict[str, Any]) -> str:
    return "".join(
        o.get("text", "")
        for o in reply["outputs"]
        if o["output_type"] == "stream" and o["name"] == "stdout"
    )


class Listener:
    """A loopback TCP server in a thread that records whether anyone connected."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.connections: list[object] = []
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            connection = self.server.accept()
            if not self.closing:
                self.connections.append(connection)
            connection[0].close()

    def close(self) -> None:
        self.closing = True  # a connection of our own wakes the blocked accept()
        socket.create_connection(("127.0.0.1", self.port), timeout=5).close()
        self.thread.join(timeout=5)
        self.server.close()


# -- whole classes: a course folder with exercises/basic and submissions/ --------------------


def write_submission(course: Path, learner: str, answers: dict[str, str]) -> Path:
    """``submissions/<learner>/basic.ipynb`` with ``answers`` in the BASIC lesson's cells."""
    lesson, _ = lesson_for_grading(course / "exercises" / "basic", course / "build" / "grader")
    path = course / "submissions" / learner / "basic.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(submission(lesson, answers))
    return path


def grade_course(course: Path, workers: int = 1) -> dict[str, tuple[float, str, str]]:
    """Grade ``course/submissions`` with ``grade_lesson``: learner -> (score, status, detail)."""
    db = course / "gradebook.sqlite"
    summary = grade_lesson(
        course / "exercises" / "basic",
        course / "submissions",
        db,
        grader_dir=course / "build" / "grader",
        progress=False,
        workers=workers,
    )
    assert summary.failures == ()
    with Gradebook(db, create=False) as gb:
        return {r.learner: (r.score, str(r.status), r.detail) for r in gb.results("basic")}
