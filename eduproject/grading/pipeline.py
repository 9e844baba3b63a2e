"""Grade a whole class: ``grade_lesson(lesson_folder, submissions_dir, db_path)``.

The one library function behind ``eduproject grade``. It (re)writes the lesson's sealed bundle
when it is missing or stale, finds the submissions, skips those the gradebook already holds
for this lesson version, grades the rest with a local pool or Dask, and records each result
in its own transaction as soon as it is done -- so a run killed half-way loses nothing, and
a rerun finishes the job without grading anything twice. For a class of 40 (it grades in
sandboxes):

    >>> summary = grade_lesson(Path("exercises/01-functions"), Path("submissions"),
    ...                        Path("gradebook.sqlite"), workers=2)      # doctest: +SKIP
    >>> summary.graded, summary.statuses  # doctest: +SKIP
    (40, {'graded': 31, 'error': 6, 'timeout': 1, 'killed': 1, 'tampered': 1})
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from eduproject.authoring.parse import load_lesson
from eduproject.core.bundle import default_grader_dir, read_bundle, write_bundle
from eduproject.core.lesson import Lesson
from eduproject.errors import BundleError, SandboxError, SubmissionError
from eduproject.grading.gradebook import Gradebook
from eduproject.runner.backends import detect_backend_soon
from eduproject.runner.executors import GradeFailure, GradeJob, Outcome, make_executor
from eduproject.runner.sandbox import Limits
from eduproject.runner.submissions import discover, read_notebook, submission_hash

__all__ = ["GradeRunSummary", "grade_lesson", "lesson_for_grading"]


@dataclass(frozen=True)
class GradeRunSummary:
    """What one ``grade_lesson`` call did."""

    lesson: str
    version: str
    run_id: int
    db_path: Path
    graded: int  # recorded in this run
    skipped: int  # already in the gradebook (same submission hash and lesson version)
    failures: tuple[str, ...]  # the grader failed on these (not recorded; a rerun retries)
    statuses: dict[str, int]
    ignored: tuple[str, ...]  # files that are not submissions
    sandbox: str
    warning: str | None
    duration_s: float
    workers: str = ""
    total_score: float = 0.0
    max_score: float = field(default=0.0)
    bundle_note: str = ""  # "wrote the grader bundle ..." when grade (re)wrote it
    older_release: tuple[str, ...] = ()  # learners whose notebook came from an older release
    # Seconds per phase, summed over the graded submissions (see SubmissionResult.phases),
    # plus "record" (writing the gradebook) and "start" (the workers' sandboxes).
    phases: dict[str, float] = field(default_factory=dict)

    def phase_lines(self) -> list[str]:
        """The mean time per submission of each phase, for ``grade --profile``."""
        n = max(self.graded, 1)
        names = [
            ("start", "sandbox wait, all workers"),
            ("spawn", "fork learner process"),
            ("judge", "fork judge"),
            ("judge:cells", "learner cells"),
            ("judge:setup", "setup code in the judge"),
            ("judge:visible", "visible tests + forks"),
            ("judge:checkpoints", "checkpoint forks"),
            ("judge:hidden", "hidden tests"),
            ("end", "end processes"),
            ("record", "gradebook write"),
        ]
        out = []
        for key, label in names:
            if key in self.phases:
                seconds = self.phases[key] / (1 if key == "start" else n)
                out.append(f"  {label:26s} {seconds * 1000:9.1f} ms")
        if self.phases.get("replays"):
            out.append(f"  {'replays (a step hung)':26s} {self.phases['replays']:9.0f}")
        return out

    @property
    def seconds_per_submission(self) -> float:
        return self.duration_s / self.graded if self.graded else 0.0

    def describe(self) -> str:
        """One line: what was graded, the statuses, what was skipped.

        >>> summary.describe()   # doctest: +SKIP
        '12 graded (error 2, graded 7, killed 1, tampered 1, timeout 1), 0 already graded'
        """
        statuses = ", ".join(f"{k} {v}" for k, v in sorted(self.statuses.items())) or "none"
        line = f"{self.graded} graded ({statuses}), {self.skipped} already graded"
        if self.failures:
            line += f", {len(self.failures)} failed in the grader (rerun to retry)"
        return line


def lesson_for_grading(
    lesson_folder: Path, grader_dir: Path | None = None
) -> tuple[Lesson, dict[str, bytes]]:
    """The lesson from its sealed bundle (rewritten first if missing or stale) and its data files.

    ``grader_dir`` defaults to the course's ``build/grader/`` (where release puts it).
    """
    lesson, data_files, _ = _bundled_lesson(lesson_folder, grader_dir)
    return lesson, data_files


def _bundled_lesson(
    lesson_folder: Path, grader_dir: Path | None
) -> tuple[Lesson, dict[str, bytes], str]:
    """:func:`lesson_for_grading`, plus a note when the bundle had to be (re)written."""
    source = load_lesson(Path(lesson_folder))
    bundle_dir = Path(grader_dir or default_grader_dir(source.folder)) / source.id
    try:
        current = read_bundle(bundle_dir).version == source.version
        note = "" if current else "the lesson changed since it was released"
    except BundleError as exc:
        current = False
        note = "there was none" if not bundle_dir.exists() else str(exc).splitlines()[0]
    if not current:
        write_bundle(source, bundle_dir)
        note = f"wrote the grader bundle {bundle_dir / 'bundle.json'} ({note})"
    lesson = read_bundle(bundle_dir)
    data_files = {rel.as_posix(): (source.folder / rel).read_bytes() for rel in source.data_files}
    return lesson, data_files, note


def _released_version(raw: bytes) -> str | None:
    """The lesson version a submitted notebook was released as (its metadata), if readable."""
    try:
        meta = json.loads(raw).get("metadata", {}).get("eduproject", {})
    except (ValueError, AttributeError):
        return None
    version = meta.get("version") if isinstance(meta, dict) else None
    return version if isinstance(version, str) else None


def grade_lesson(
    lesson_folder: Path,
    submissions_dir: Path,
    db_path: Path,
    *,
    workers: int | None = None,
    cell_timeout: float = 30,
    timeout: float = 300,
    memory_mb: int = 1024,
    dask: str | None = None,
    progress: bool = True,
    grader_dir: Path | None = None,
    console: Console | None = None,
    unsandboxed: bool = False,
) -> GradeRunSummary:
    """Grade every submission of ``lesson_folder`` in ``submissions_dir`` into the gradebook ``db_path``.

    Without the bubblewrap sandbox this refuses to run (:class:`SandboxError` saying what
    learner code could reach) unless ``unsandboxed`` accepts that risk explicitly.
    """
    start = time.monotonic()
    limits = Limits(cell_timeout=cell_timeout, timeout=timeout, memory_mb=memory_mb)
    if not dask:
        # Whether bubblewrap works here is found out while the lesson and the submissions
        # are read (make_executor waits for the answer).
        detect_backend_soon()
    lesson, data_files, bundle_note = _bundled_lesson(lesson_folder, grader_dir)
    found = discover(Path(submissions_dir), lesson.id)
    console = console or Console(stderr=True)
    options = {
        "submissions": str(submissions_dir),
        "workers": workers,
        "dask": dask,
        "cell_timeout": cell_timeout,
        "timeout": timeout,
        "memory_mb": memory_mb,
    }
    executor = make_executor(lesson, data_files, limits, workers=workers, dask=dask)
    if executor.warning and not unsandboxed:
        executor.close()
        raise SandboxError(
            f"not grading: learner code would run without the sandbox ({executor.sandbox}). "
            "It could read the grader bundle with the hidden tests and solutions "
            f"({Path(grader_dir or default_grader_dir(Path(lesson_folder))) / lesson.id}), "
            "other learners' submissions "
            f"({submissions_dir}), the gradebook ({db_path}) and the grader's environment "
            "(API keys, tokens), and use the network",
            hint="install bubblewrap (apt-get install bubblewrap) and grade again, or "
            "accept the risk with --unsandboxed",
        )
    try:
        opened = Gradebook(db_path)
    except BaseException:
        executor.close()
        raise
    with opened as gradebook:
        todo: list[GradeJob] = []
        skipped = 0
        older: list[str] = []
        for ref in found.submissions:
            problem = ref.problem
            data = b""
            if problem is None:
                try:
                    data = read_notebook(ref.path)
                except SubmissionError as exc:
                    problem = exc.message  # recorded as invalid: the batch goes on
            digest = submission_hash(data)
            released = _released_version(data) if data else None
            if released is not None and released != lesson.version:
                older.append(ref.learner)
            if gradebook.already_graded(ref.learner, lesson.id, digest, lesson.version):
                skipped += 1
            else:
                todo.append(GradeJob(ref.learner, str(ref.path), problem))
        run_id = gradebook.start_run(lesson.id, lesson.version, options)
        statuses: Counter[str] = Counter()
        phases: dict[str, float] = {}
        failures: list[str] = []
        total = maximum = 0.0
        status = "failed"
        try:
            if executor.warning:
                console.print(executor.warning, style="bold red", markup=False, highlight=False)
            for outcome in _with_progress(
                executor.map(todo), len(todo), lesson.id, progress, console
            ):
                if isinstance(outcome, GradeFailure):
                    failures.append(
                        f"{outcome.job.learner} ({outcome.job.path}): {outcome.message}"
                    )
                    continue
                recorded = time.monotonic()
                gradebook.record(outcome, run_id)
                phases["record"] = phases.get("record", 0.0) + time.monotonic() - recorded
                for name, seconds in outcome.phases.items():
                    phases[name] = phases.get(name, 0.0) + seconds
                statuses[str(outcome.status)] += 1
                total += outcome.score
                maximum += outcome.max_score
            status = "finished"
        except KeyboardInterrupt:
            status = "interrupted"
            raise
        finally:
            executor.close()
            gradebook.finish_run(run_id, status=status)
    return GradeRunSummary(
        lesson=lesson.id,
        version=lesson.version,
        run_id=run_id,
        db_path=Path(db_path),
        graded=sum(statuses.values()),
        skipped=skipped,
        failures=tuple(failures),
        statuses=dict(statuses),
        ignored=found.skipped,
        sandbox=executor.sandbox,
        warning=executor.warning,
        duration_s=time.monotonic() - start,
        workers=f"dask {dask}" if dask else f"{getattr(executor, 'workers', 1)} local workers",
        total_score=total,
        max_score=maximum,
        bundle_note=bundle_note,
        older_release=tuple(older),
        phases={**phases, **({"start": executor.start_s} if executor.start_s else {})},
    )


def _with_progress(
    outcomes: Iterator[Outcome], total: int, lesson: str, show: bool, console: Console
) -> Iterator[Outcome]:
    if not show:
        yield from outcomes
        return
    columns = (
        TextColumn("grading {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task(lesson, total=total)
        for outcome in outcomes:
            bar.advance(task)
            yield outcome
