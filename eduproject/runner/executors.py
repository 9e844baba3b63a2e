"""Run many submissions: on this machine (:class:`LocalPool`) or on a Dask cluster (:class:`DaskExecutor`).

Both implement one narrow interface, :class:`Executor`: ``map(jobs)`` yields one
:class:`SubmissionResult` (or :class:`GradeFailure`) per job as soon as it is done, in any
order, with only a few jobs in flight (memory stays flat with class size). Each worker --
a thread of the local pool, or a thread of a Dask worker process -- keeps its own
:class:`~eduproject.runner.sandbox.Zygote`, so each submission still runs in a fresh,
isolated process while the expensive start-up (Python, IPython, pandas...) happens once per
worker. The workers of a local pool share one judge fork server (the judges it forks are
fresh processes too); on Dask each worker keeps its own.

    >>> with LocalPool(lesson, data_files, Limits(), workers=2) as pool:   # doctest: +SKIP
    ...     for result in pool.map(jobs):
    ...         print(result.learner, result.score)
"""

from __future__ import annotations

import atexit
import os
import threading
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from eduproject.core.lesson import Lesson
from eduproject.core.results import SubmissionResult
from eduproject.errors import ConfigError, SandboxError, SubmissionError
from eduproject.runner.engine import Engine, preload_for
from eduproject.runner.judges import JudgeServers
from eduproject.runner.sandbox import (
    Backend,
    Limits,
    Zygote,
    detect_backend,
    discard_prestarted,
    shared_judges,
)
from eduproject.runner.submissions import read_notebook

__all__ = ["DaskExecutor", "Executor", "GradeFailure", "GradeJob", "LocalPool", "make_executor"]


@dataclass(frozen=True)
class GradeJob:
    """One submission to grade. ``data`` is read from ``path`` by the worker when None."""

    learner: str
    path: str
    problem: str | None = None
    data: bytes | None = None

    def load(self) -> GradeJob:
        if self.data is not None or self.problem is not None:
            return self
        try:
            return GradeJob(self.learner, self.path, None, read_notebook(Path(self.path)))
        except SubmissionError as exc:
            return GradeJob(self.learner, self.path, exc.message)


@dataclass(frozen=True)
class GradeFailure:
    """The grader itself failed on one job (not the learner): not recorded, retried next run."""

    job: GradeJob
    message: str


Outcome = SubmissionResult | GradeFailure


class Executor(Protocol):
    sandbox: str
    warning: str | None
    start_s: float  # seconds workers waited for their sandboxes (0 when unknown, e.g. Dask)

    def map(self, jobs: Iterable[GradeJob]) -> Iterator[Outcome]: ...

    def close(self) -> None: ...


# -- one worker ------------------------------------------------------------------------------


class _Worker:
    """An engine bound to one zygote; used by one thread at a time."""

    def __init__(
        self,
        lesson: Lesson,
        data_files: dict[str, bytes],
        limits: Limits,
        backend: Backend,
        judges: JudgeServers | None = None,
    ) -> None:
        started = time.monotonic()
        self.zygote = Zygote(
            backend,
            preload=preload_for(lesson),
            limits=limits,
            lesson_files=data_files,
            judges=judges,
        )
        self.zygote.start()
        self.start_s = time.monotonic() - started
        self.engine = Engine(
            lesson,
            data_files=data_files,
            spawner=self.zygote,
            limits=limits,
            sandbox=backend.description,
        )

    def grade(self, job: GradeJob) -> Outcome:
        job = job.load()
        try:
            return self.engine.grade(job.learner, Path(job.path), job.data, job.problem)
        except SandboxError:
            raise
        except Exception as exc:  # a grader bug must not stop the batch; reported, not recorded
            return GradeFailure(job, f"{type(exc).__name__}: {exc}")


def _bounded(submit: Any, jobs: Iterable[GradeJob], in_flight: int) -> Iterator[Outcome]:
    """Submit jobs lazily, never more than ``in_flight`` at once, yield as they complete."""
    pending: set[Future[Outcome]] = set()
    iterator = iter(jobs)
    exhausted = False
    while True:
        while not exhausted and len(pending) < in_flight:
            job = next(iterator, None)
            if job is None:
                exhausted = True
            else:
                pending.add(submit(job))
        if not pending:
            return
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            yield future.result()


class LocalPool:
    """``workers`` threads on this machine, each driving its own sandboxed zygote."""

    def __init__(
        self,
        lesson: Lesson,
        data_files: dict[str, bytes],
        limits: Limits,
        *,
        workers: int | None = None,
        backend: Backend | None = None,
    ) -> None:
        self.workers = workers or os.cpu_count() or 1
        if self.workers < 1:
            raise ConfigError(f"--workers must be 1 or more, got {self.workers}")
        self.backend = backend or detect_backend()
        self.sandbox = self.backend.description
        self.warning = self.backend.warning
        # One judge server for all the workers: a second one would cost a sandbox start
        # (the judge imports, the lesson's preloads) and its memory.
        self._judges = shared_judges(self.backend, preload_for(lesson))
        self._args = (lesson, data_files, limits, self.backend, self._judges)
        self._local = threading.local()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="grade")
        self.start_s = 0.0

    def __enter__(self) -> LocalPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _grade(self, job: GradeJob) -> Outcome:
        worker = getattr(self._local, "worker", None)
        if worker is None:
            worker = _Worker(*self._args)
            self._local.worker = worker
            with self._lock:
                self._all.append(worker)
                self.start_s += worker.start_s
        return worker.grade(job)

    def map(self, jobs: Iterable[GradeJob]) -> Iterator[Outcome]:
        return _bounded(lambda job: self._pool.submit(self._grade, job), jobs, 2 * self.workers)

    def close(self) -> None:
        with self._lock:
            workers, self._all = self._all, []
        for worker in workers:  # every sandbox ends at once, then each is waited for
            worker.zygote.hang_up()
        self._judges.hang_up()
        for worker in workers:
            worker.zygote.close()
        self._judges.close()
        self._pool.shutdown(wait=True, cancel_futures=True)
        discard_prestarted()  # started for workers that got no submission


# -- Dask ------------------------------------------------------------------------------------

_DASK_WORKERS: dict[tuple[str, int], _Worker] = {}
_DASK_LOCK = threading.Lock()


def _dask_grade(spec: tuple[Lesson, dict[str, bytes], Limits], job: GradeJob) -> Outcome:
    """Runs on a Dask worker: grade with this worker thread's own zygote (started once)."""
    lesson, data_files, limits = spec
    key = (f"{lesson.id}@{lesson.version}/{limits!r}", threading.get_ident())
    with _DASK_LOCK:
        worker = _DASK_WORKERS.get(key)
    if worker is None:
        worker = _Worker(lesson, data_files, limits, detect_backend())
        with _DASK_LOCK:
            _DASK_WORKERS[key] = worker
    return worker.grade(job)


@atexit.register
def _close_dask_workers() -> None:
    with _DASK_LOCK:
        workers = list(_DASK_WORKERS.values())
        _DASK_WORKERS.clear()
    for worker in workers:
        worker.zygote.close()


class DaskExecutor:
    """Send submissions to a Dask cluster: ``address`` of a scheduler, or ``local:N``.

    ``local:N`` starts a LocalCluster of N single-threaded worker processes on this machine.
    Notebook bytes travel with each job (workers need no shared filesystem); the lesson is
    scattered to every worker once.
    """

    def __init__(
        self, address: str, lesson: Lesson, data_files: dict[str, bytes], limits: Limits
    ) -> None:
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:  # pragma: no cover - dask is a dependency
            raise ConfigError(
                "--dask needs the `distributed` package", hint="pip install 'dask[distributed]'"
            ) from exc
        self._cluster: Any = None
        try:
            if address.startswith("local:"):
                n = _positive(address.removeprefix("local:"))
                self._cluster = LocalCluster(
                    n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None
                )
                self.client = Client(self._cluster)
            else:
                self.client = Client(address, timeout="30s")
        except (OSError, TimeoutError) as exc:
            self.close()
            raise ConfigError(
                f"cannot reach the Dask scheduler at {address!r} ({exc})",
                hint="check the address (tcp://host:8786), or use --dask local:N",
            ) from exc
        backend = detect_backend()
        self.sandbox = f"{backend.description} on Dask workers"
        self.warning = backend.warning
        self.start_s = 0.0
        self._spec = self.client.scatter((lesson, data_files, limits), broadcast=True)
        threads = sum(self.client.nthreads().values()) or 1
        self._in_flight = 2 * threads

    def map(self, jobs: Iterable[GradeJob]) -> Iterator[Outcome]:
        from distributed import as_completed

        iterator = iter(jobs)
        queue = as_completed()
        for job in iterator:
            queue.add(self._submit(job))
            if queue.count() >= self._in_flight:
                break
        for future in queue:
            yield future.result()
            following = next(iterator, None)
            if following is not None:
                queue.add(self._submit(following))

    def _submit(self, job: GradeJob) -> Any:
        return self.client.submit(_dask_grade, self._spec, job.load(), pure=False)

    def close(self) -> None:
        client = getattr(self, "client", None)
        if client is not None:
            client.close()
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def _positive(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise ConfigError(f"--dask local:N needs a worker count N of 1 or more, got {text!r}")
    return n


def make_executor(
    lesson: Lesson,
    data_files: dict[str, bytes],
    limits: Limits,
    *,
    workers: int | None = None,
    dask: str | None = None,
) -> LocalPool | DaskExecutor:
    """The executor the options ask for: Dask when ``dask`` is set, else a local pool."""
    if dask:
        return DaskExecutor(dask, lesson, data_files, limits)
    return LocalPool(lesson, data_files, limits, workers=workers)
