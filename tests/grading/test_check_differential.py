"""``eduproject.check`` in a real kernel agrees with the grading engine, test by test.

For the sample course, the idioms lesson and a real course notebook (nbgrader's own example
problem set ps1, problem 1, shipped in the nbgrader wheel and imported as an instructor would),
a simulated class (solved, partly solved, broken
submissions) and the released stub run in a real Jupyter kernel as a learner runs them, top to
bottom, with ``eduproject.check("<exercise>")`` where the tutor panel stands; the same
notebooks are graded by the engine in the sandbox. Every visible test must get the same
verdict from both (hidden tests and tests with hidden parts only run when graded).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import nbgrader
import pytest
from jupyter_client import KernelManager

from eduproject.authoring.importers.nbgrader import import_nbgrader
from eduproject.authoring.parse import load_lesson
from eduproject.authoring.release import dumps, learner_notebook, learner_pack
from eduproject.core.lesson import Lesson, Role
from eduproject.grading.simulate import read_manifest, simulate_class
from eduproject.runner.engine import Engine, preload_for
from eduproject.runner.sandbox import Backend, Limits, Zygote
from tests.support.lessons import notebook_json

from .grading_support import bundle_lesson
from .idioms import IDIOMS

pytestmark = pytest.mark.slow
COURSE = Path(__file__).resolve().parents[2] / "exercises"
HONEST = ("correct", "partial", "broken-name", "broken-syntax")
LIMITS = Limits(cell_timeout=10, timeout=60, memory_mb=1024)


def lessons(root: Path) -> Iterator[Path]:
    yield from sorted(p for p in COURSE.iterdir() if p.is_dir())
    idioms = root / "idioms"
    idioms.mkdir()
    (idioms / "idioms.ipynb").write_text(json.dumps(notebook_json(IDIOMS)), encoding="utf-8")
    yield idioms
    ps1 = Path(nbgrader.__file__).parent / "docs" / "source" / "user_guide" / "source" / "ps1"
    import_nbgrader(ps1 / "problem1.ipynb", root / "ps1-problem1")
    yield root / "ps1-problem1"


class Kernel:
    """One real kernel per lesson, in a folder with the lesson's files and its lesson.json;
    each notebook runs after ``%reset -f``, cell by cell, errors and all (like Run All that
    does not stop)."""

    def __init__(self, lesson: Lesson, work: Path) -> None:
        work.mkdir(parents=True)
        for rel in lesson.data_files:
            (work / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(lesson.folder / rel, work / rel)
        (work / "lesson.json").write_bytes(dumps(learner_pack(lesson)))
        self.manager = KernelManager(kernel_name="python3")
        self.manager.start_kernel(
            cwd=str(work), extra_arguments=["--IPKernelApp.log_level=CRITICAL"]
        )
        self.client = self.manager.blocking_client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str) -> str:
        printed: list[str] = []

        def hook(msg: dict[str, Any]) -> None:
            if msg["header"]["msg_type"] == "stream":
                printed.append(msg["content"]["text"])

        self.client.execute_interactive(code, timeout=60, output_hook=hook, allow_stdin=False)
        return "".join(printed)

    def check_all(self, notebook: bytes) -> dict[tuple[str, str], bool]:
        """Run the notebook top to bottom; check() where each exercise's panel is."""
        self.run("%reset -f")
        found: dict[tuple[str, str], bool] = {}
        for cell in json.loads(notebook)["cells"]:
            if cell["cell_type"] != "code":
                continue
            meta = cell.get("metadata", {}).get("eduproject", {})
            source = "".join(cell["source"])
            if meta.get("role") == Role.PANEL.value:
                if not meta.get("exercise"):
                    continue
                source = (
                    "import eduproject, json\n"
                    f"__r = eduproject.check({meta['exercise']!r}, display=False)\n"
                    "print('CHECK', json.dumps({r.name: r.passed for r in __r.results}))"
                )
            for line in self.run(source).splitlines():
                if line.startswith("CHECK "):
                    for name, passed in json.loads(line[6:]).items():
                        found[(meta["exercise"], name)] = passed
        return found

    def close(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def test_check_in_the_kernel_agrees_with_the_engine(backend: Backend, tmp_path: Path) -> None:
    compared = 0
    for folder in lessons(tmp_path):
        lesson = bundle_lesson(folder, tmp_path / "grader")
        source = load_lesson(folder)
        lesson = Lesson(**{**lesson.__dict__, "folder": source.folder})  # data files
        simulate_class(folder, tmp_path / "class" / lesson.id, n_learners=8, seed=3)
        manifest = read_manifest(tmp_path / "class" / lesson.id)
        notebooks: dict[str, bytes] = {"stub": dumps(learner_notebook(lesson))}
        for name, learner in manifest.items():
            if learner.kind in HONEST:
                notebooks[name] = learner.path.read_bytes()
        data = {rel.as_posix(): (source.folder / rel).read_bytes() for rel in source.data_files}
        runner = Kernel(lesson, tmp_path / "run" / lesson.id)
        with Zygote(backend, preload=preload_for(lesson), limits=LIMITS) as zygote:
            engine = Engine(lesson, data_files=data, spawner=zygote, limits=LIMITS)
            for who, notebook in notebooks.items():
                graded = engine.grade(who, Path(f"{lesson.id}.ipynb"), notebook)
                kernel = runner.check_all(notebook)
                visible = {
                    (t.exercise, t.name): t.passed
                    for e in graded.exercises
                    for t in e.tests
                    if not t.hidden
                }
                mismatch: dict[Any, Any] = {
                    key: (visible.get(key), kernel.get(key))
                    for key in visible.keys() | kernel.keys()
                    if kernel.get(key) != visible.get(key)
                }
                assert mismatch == {}, (lesson.id, who, mismatch)
                compared += len(visible)
        runner.close()
    assert compared > 100
