"""The kernel engine, and the differential test: zygote and Jupyter kernel give identical verdicts.

The corpus is the whole grading test corpus: the simulated class of every sample-course lesson
(every kind of learner: correct, partial, broken, hostile) and the attack corpus.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from attack_corpus import corpus
from grading_support import BASIC, WriteLesson, bundle_lesson, stdout, submission

from eduproject.authoring.model import Lesson
from eduproject.grading.engine import Engine, preload_for
from eduproject.grading.kernel_engine import KernelProcess, KernelSpawner
from eduproject.grading.pipeline import lesson_for_grading
from eduproject.grading.results import SubmissionResult
from eduproject.grading.sandbox import Limits, Zygote, detect_backend
from eduproject.grading.simulate import simulate_class

ROOT = Path(__file__).resolve().parents[2]
LESSONS = sorted(p.name for p in (ROOT / "exercises").iterdir() if p.is_dir())
ADDRESS = re.compile(r"0x[0-9a-f]+")
LIMITS = Limits(cell_timeout=3, timeout=60, memory_mb=1024)


@pytest.fixture
def kernel() -> Iterator[KernelProcess]:
    process = KernelProcess(LIMITS, {"data/x.txt": b"42\n"})
    yield process
    process.end()


@pytest.mark.slow
def test_kernel_process_speaks_the_engine_protocol(kernel: KernelProcess) -> None:
    reply = kernel.ask(
        {
            "op": "run_cell",
            "code": "import os\nprint(open('data/x.txt').read().strip(), os.getuid() != 0)\n6 * 7",
        },
        30,
    )
    assert reply["status"] == "ok" and stdout(reply) == "42 True\n"
    assert reply["outputs"][-1]["data"]["text/plain"] == "42"
    reply = kernel.ask({"op": "run_cell", "code": "def f(x):\n    return [x, (x,)]"}, 30)
    got = kernel.ask({"op": "get", "names": ["f"]}, 30)
    ref = got["value"]["f"]["$ref"]
    assert kernel.ask({"op": "call", "ref": ref, "args": [1], "kwargs": []}, 30) == {
        "ok": True,
        "value": [1, {"$tuple": [1]}],
    }
    error = kernel.ask({"op": "run_cell", "code": "1 / 0"}, 30)
    assert error["status"] == "error" and error["error"]["type"] == "ZeroDivisionError"


def verdicts(result: SubmissionResult) -> list[Any]:
    """What must not depend on the engine: statuses, scores, every test's outcome.

    Two things may differ and are normalised: object addresses in messages (``0x7f...``), and
    *how* a process that learner code wrecked went down -- a zygote child whose builtins were
    patched away crashes (``killed``), an ipykernel in the same state hangs (``timeout``).
    Both are "the learner's process ended": same points, same failed tests.
    """

    def status(value: str) -> str:
        return "ended" if value in ("killed", "timeout") else value

    def message(text: str) -> str:
        if text.startswith(("not run:", "timed out after", "the learner's process ended")):
            return "ended"
        return ADDRESS.sub("0x", text)

    return [
        (
            e.exercise,
            status(str(e.status)),
            e.score,
            [(t.name, t.passed, t.points, message(t.message)) for t in e.tests],
        )
        for e in result.exercises
    ]


def differential(lesson: Lesson, data_files: dict[str, bytes], notebooks: dict[str, bytes]) -> None:
    preload = preload_for(lesson)
    with Zygote(detect_backend(), preload=preload, limits=LIMITS) as zygote:
        fast = Engine(lesson, data_files=data_files, spawner=zygote, limits=LIMITS)
        expected = {
            name: verdicts(fast.grade(name, Path(f"{name}.ipynb"), data))
            for name, data in notebooks.items()
        }
    reference = Engine(
        lesson, data_files=data_files, spawner=KernelSpawner(LIMITS, preload), limits=LIMITS
    )

    def by_kernel(item: tuple[str, bytes]) -> tuple[str, list[Any]]:
        name, data = item
        return name, verdicts(reference.grade(name, Path(f"{name}.ipynb"), data))

    with ThreadPoolExecutor(2) as pool:
        got = dict(pool.map(by_kernel, notebooks.items()))
    for name in notebooks:
        assert got[name] == expected[name], name


@pytest.mark.slow
@pytest.mark.parametrize("lesson_id", LESSONS)
def test_sample_course_class_gets_identical_verdicts(lesson_id: str, tmp_path: Path) -> None:
    folder = ROOT / "exercises" / lesson_id
    lesson, data_files = lesson_for_grading(folder, tmp_path / "grader")
    paths = simulate_class(folder, tmp_path / "class", n_learners=8, seed=3)
    differential(lesson, data_files, {p.parent.name: p.read_bytes() for p in paths})


@pytest.mark.slow
def test_attack_corpus_gets_identical_verdicts(write_lesson: WriteLesson, tmp_path: Path) -> None:
    lesson = bundle_lesson(write_lesson(BASIC, "basic"), tmp_path / "grader")
    notebooks = {
        name: submission(lesson, answers, edit) for name, (answers, edit) in corpus().items()
    }
    differential(lesson, {}, notebooks)
