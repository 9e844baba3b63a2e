"""Run the benchmark: the same prompts through every route, every answer judged and logged.

Every request goes through the :class:`~eduproject.models.router.Router`, so each attempt
becomes a ledger row; the benchmark reads back the rows of its own requests (through a
ledger that remembers what it wrote) for their cost and tokens, and marks each answer
accepted or not with ``Router.mark_accepted``. A *route* here may also be a fallback chain
``a>b`` (``b`` answers when ``a`` fails), which is what the fallback rate measures.

The benchmark never answers from the response cache and turns route cooldown off: it
measures every request against its route (a cooldown would turn one timeout into many
instant "unavailable" errors).

    options = BenchOptions(routes=("local-smollm2",), suites=("exercises",), limit=2)
    report = run_bench(options)
    for row in report.metrics:
        print(row.route, row.task, row.accepted_rate)
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Protocol

from eduproject.bench.grade import SandboxGrader
from eduproject.bench.metrics import Outcome, Record, TaskMetrics, task_metrics
from eduproject.bench.mutate import WrongAttempt, wrong_attempts
from eduproject.bench.suites import BenchItem, load_suite
from eduproject.bench.tasks import (
    TASKS,
    Verdict,
    completion_request,
    exercise_info,
    explain_request,
    hint_task_request,
    judge_completion,
    judge_explain,
    judge_hint,
    judge_repair,
    phung_accepts,
    repair_request,
)
from eduproject.core.pack import ExerciseInfo
from eduproject.errors import AllRoutesFailed, ConfigError, RouteError, RouteErrorKind
from eduproject.models.config import OFFLINE, Config, load_config
from eduproject.models.ledger import Attempt, Ledger
from eduproject.models.registry import registry_for
from eduproject.models.router import Router
from eduproject.models.types import ModelRequest, ModelResponse

__all__ = ["BenchOptions", "BenchReport", "Progress", "RouteInfo", "bench_router", "run_bench"]

_TIMEOUT_KINDS = (RouteErrorKind.TIMEOUT, RouteErrorKind.FIRST_TOKEN_TIMEOUT)
# RouteError's text is "route 'name': kind: message"; the ledger keeps only that text.
_KIND = re.compile(r"^route '[^']*': ([a-z_]+):")


@dataclass(frozen=True)
class BenchOptions:
    """What to run. ``routes`` are route names or fallback chains ``a>b``."""

    routes: tuple[str, ...] = ()
    suites: tuple[str, ...] = ("exercises",)
    tasks: tuple[str, ...] = TASKS
    samples: int = 1
    limit: int | None = None
    validate: bool = False
    repairs: int = 10
    course_dir: Path | None = None
    max_tokens: int | None = None  # a cap on every task's own token budget

    def check(self) -> None:
        unknown = [t for t in self.tasks if t not in TASKS]
        if unknown or not self.tasks:
            raise ConfigError(
                f"unknown task {unknown[0]!r}" if unknown else "no task given",
                hint=f"--tasks takes a comma-separated list of: {', '.join(TASKS)}",
            )
        if self.samples < 1:
            raise ConfigError(f"--samples must be at least 1, not {self.samples}")
        if self.repairs < 1:
            raise ConfigError(f"--repairs must be at least 1, not {self.repairs}")
        if self.max_tokens is not None and self.max_tokens < 16:
            raise ConfigError(f"--max-tokens must be at least 16, not {self.max_tokens}")
        if not self.suites:
            raise ConfigError("no suite given", hint="--suite exercises/ or --suite humaneval")


@dataclass(frozen=True)
class RouteInfo:
    """A contestant as the report shows it."""

    name: str
    chain: tuple[str, ...]
    models: tuple[str, ...]
    labels: tuple[str, ...]
    priced: bool  # every route of the chain has a price


@dataclass
class BenchReport:
    options: BenchOptions
    records: list[Record]
    metrics: list[TaskMetrics]
    routes: dict[str, RouteInfo]
    suites: dict[str, int]  # suite -> number of items
    wrong_attempts: dict[str, int]  # suite -> items that got a wrong attempt
    sandbox: str
    ledger_path: Path
    started_at: str
    duration_s: float
    files: list[Path] = field(default_factory=list)


class Progress(Protocol):
    """Where the runner reports progress (the CLI draws a bar)."""

    def add(self, total: int) -> None: ...

    def step(self, label: str) -> None: ...


class _Quiet:
    def add(self, total: int) -> None:
        return None

    def step(self, label: str) -> None:
        return None


class _TapLedger(Ledger):
    """The configured ledger, remembering the attempts written through it (for their cost)."""

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._written: list[Attempt] = []

    def record(self, attempt: Attempt) -> int:
        attempt_id = super().record(attempt)
        self._written.append(replace(attempt, id=attempt_id))
        return attempt_id

    def peek(self) -> list[Attempt]:
        return list(self._written)

    def drain(self) -> list[Attempt]:
        written, self._written = self._written, []
        return written


def bench_router(config: Config) -> Router:
    """A router on the configured ledger, without response cache and route cooldown."""
    routes = tuple(replace(r, cooldown_s=0.0) for r in config.routes)
    config = replace(config, routes=routes)
    registry = registry_for(config)
    return Router(
        config,
        ledger=_TapLedger(config.ledger_path),
        cache=None,
        families=registry.families,
        providers=registry.build(config.routes),
    )


def parse_routes(specs: Sequence[str], config: Config) -> dict[str, RouteInfo]:
    """Contestants from ``--routes`` (default: the config's bench routes), checked against it."""
    names = list(specs) or [r for r in config.routes_for("completion") if r != OFFLINE]
    if not names:
        raise ConfigError(
            "no route to benchmark",
            hint="pass --routes NAME[,NAME...]; define routes in eduproject.toml ([[routes]])",
        )
    known = {r.name: r for r in config.routes}
    out: dict[str, RouteInfo] = {}
    for spec in names:
        chain = tuple(part.strip() for part in spec.split(">") if part.strip())
        for name in chain:
            if name == OFFLINE:
                raise ConfigError(
                    "the offline tutor is not a model and cannot be benchmarked",
                    hint="leave `offline` out of --routes",
                )
            if name not in known:
                raise ConfigError(
                    f"no route named {name!r}",
                    hint=f"configured routes: {', '.join(known) or 'none'}; "
                    "define more with [[routes]] in eduproject.toml (see docs/models.md)",
                )
        if not chain:
            raise ConfigError(f"empty route in --routes: {spec!r}", hint="e.g. --routes a,b>c")
        routes = [known[n] for n in chain]
        out[">".join(chain)] = RouteInfo(
            name=">".join(chain),
            chain=chain,
            models=tuple(r.model for r in routes),
            labels=tuple(r.display_name or r.model for r in routes),
            priced=all(r.priced for r in routes),
        )
    return out


@dataclass
class _Run:
    """One benchmark run in progress."""

    options: BenchOptions
    router: Router
    tap: _TapLedger
    grader: SandboxGrader
    progress: Progress
    records: list[Record] = field(default_factory=list)
    # (route, item id) -> repairs that passed without a hint, out of options.repairs.
    baselines: dict[tuple[str, str], int] = field(default_factory=dict)

    def ask(
        self, route: RouteInfo, request: ModelRequest
    ) -> tuple[ModelResponse | None, Outcome, str, list[Attempt], float]:
        """One request on one contestant: (response, outcome, reason, ledger rows, seconds)."""
        cap = self.options.max_tokens
        if cap is not None and request.max_tokens > cap:
            request = replace(request, max_tokens=cap)
        self.tap.drain()
        started = time.perf_counter()
        response: ModelResponse | None = None
        try:
            response = self.router.complete_sync(request, routes=route.chain)
            outcome: Outcome = "ok"
            reason = ""
            if response.partial:
                outcome, reason = _partial(self.tap.peek())
            elif response.malformed:
                outcome, reason = "malformed", response.malformed
        except AllRoutesFailed as failed:
            outcome, reason = _failure(failed.errors)
        return response, outcome, reason, self.tap.drain(), time.perf_counter() - started

    def record(
        self,
        route: RouteInfo,
        suite: str,
        task: str,
        item: str,
        request: ModelRequest,
        judge: Callable[[str], Verdict],
        *,
        sample: int = 0,
        detail: Mapping[str, object] | None = None,
    ) -> Record:
        response, outcome, reason, attempts, seconds = self.ask(route, request)
        accepted = False
        verdict_detail: dict[str, object] = dict(detail or {})
        answered = response is not None and outcome in ("ok", "malformed")
        if response is not None and outcome == "ok":
            verdict = judge(response.text)
            accepted, reason = verdict.accepted, verdict.reason
            if not verdict.well_formed:
                outcome = "malformed"
            verdict_detail.update(verdict.detail)
            if verdict.program:
                verdict_detail["program"] = verdict.program
        if response is not None and response.attempt_id is not None:
            self.router.mark_accepted(response.attempt_id, accepted)
        costs = [a.cost_usd for a in attempts]
        record = Record(
            route=route.name,
            suite=suite,
            task=task,
            item=item,
            sample=sample,
            status=outcome,
            accepted=accepted,
            reason=reason,
            answered=answered,
            latency_s=response.latency_s if response is not None else seconds,
            ttft_s=response.ttft_s if response is not None else None,
            prompt_tokens=_total(a.prompt_tokens for a in attempts),
            completion_tokens=_total(a.completion_tokens for a in attempts),
            cost_usd=None if any(c is None for c in costs) else sum(c or 0.0 for c in costs),
            attempts=len(attempts),
            fallback_used=bool(response is not None and response.fallback_used),
            answered_by=response.route if response is not None else None,
            attempt_id=response.attempt_id if response is not None else None,
            output=response.text if response is not None else "",
            detail=verdict_detail,
        )
        self.records.append(record)
        self.progress.step(f"{route.name} {task} {item}")
        return record

    # -- tasks ---------------------------------------------------------------------------

    def completion(self, route: RouteInfo, items: Sequence[BenchItem]) -> None:
        code_shaped = self._code_shaped(route.chain[0])
        for item in items:
            judge = partial(judge_completion, item, grader=self.grader)
            for sample in range(self.options.samples):
                request = completion_request(
                    item, code_shaped=code_shaped, sample=sample, samples=self.options.samples
                )
                self.record(route, item.suite, "completion", item.id, request, judge, sample=sample)

    def hint(self, route: RouteInfo, attempts: Sequence[WrongAttempt]) -> None:
        for attempt in attempts:
            item = attempt.item
            info = exercise_info(item)
            request = hint_task_request(attempt, info)
            judge = partial(self._judge_hint, route, attempt, request, info)
            detail = {"attempt": attempt.program, "mutation": attempt.mutant.description}
            self.record(route, item.suite, "hint", item.id, request, judge, detail=detail)

    def _judge_hint(
        self,
        route: RouteInfo,
        attempt: WrongAttempt,
        request: ModelRequest,
        info: ExerciseInfo,
        text: str,
    ) -> Verdict:
        verdict = judge_hint(attempt, text, request, info, self.grader)
        if not (verdict.accepted and self.options.validate):
            return verdict
        return self._validate(route, attempt, text, verdict)

    def _validate(
        self, route: RouteInfo, attempt: WrongAttempt, hint: str, verdict: Verdict
    ) -> Verdict:
        """Phung et al.: n repairs without and with the hint by the same model."""
        n = self.options.repairs
        key = (route.name, attempt.item.id)
        if key not in self.baselines:
            self.baselines[key] = self._repairs(route, attempt, None)
        without, with_hint = self.baselines[key], self._repairs(route, attempt, hint)
        detail = {"repairs": n, "without_hint": without, "with_hint": with_hint}
        if phung_accepts(n=n, without_hint=without, with_hint=with_hint):
            reason = (
                f"{verdict.reason}; helps: {with_hint}/{n} repairs with it, {without}/{n} without"
            )
            return replace(verdict, reason=reason, detail=detail)
        reason = f"does not help enough: {with_hint}/{n} repairs with it, {without}/{n} without"
        return replace(verdict, accepted=False, reason=reason, detail=detail)

    def _repairs(self, route: RouteInfo, attempt: WrongAttempt, hint: str | None) -> int:
        passed = 0
        for sample in range(self.options.repairs):
            record = self.record(
                route,
                attempt.item.suite,
                "repair",
                attempt.item.id,
                repair_request(attempt, hint, sample=sample),
                partial(judge_repair, attempt, grader=self.grader),
                sample=sample,
                detail={"with_hint": hint is not None},
            )
            passed += record.accepted
        return passed

    def explain(self, route: RouteInfo, items: Sequence[BenchItem]) -> None:
        for item in items:
            request = explain_request(item)
            judge = partial(judge_explain, item, request=request)
            self.record(route, item.suite, "explain", item.id, request, judge)

    def _code_shaped(self, name: str) -> bool:
        """Whether the route renders completion as code (FIM or plain), not an instruction."""
        route = self.router.route(name)
        family = self.router.families[route.family]
        return (family.code_shaped or family.fim is not None) and not self.router.uses_chat(name)


def _failure(errors: Sequence[RouteError]) -> tuple[Outcome, str]:
    kinds = [e.kind for e in errors]
    text = "; ".join(str(e).splitlines()[0] for e in errors)[:500]
    if any(k in _TIMEOUT_KINDS for k in kinds):
        return "timeout", text
    if kinds and all(k == RouteErrorKind.MALFORMED for k in kinds):
        return "malformed", text
    return "error", text


def _partial(attempts: Sequence[Attempt]) -> tuple[Outcome, str]:
    """A stream that broke after its first token: a timeout if the total time ran out."""
    error = next((a.error for a in reversed(attempts) if a.status == "partial" and a.error), "")
    match = _KIND.search(error or "")
    kind = match.group(1) if match else ""
    reason = f"cut off after the first token: {error}"[:500]
    return ("timeout" if kind in _TIMEOUT_KINDS else "error"), reason


def _total(values: object) -> int | None:
    known = [v for v in values if v is not None]  # type: ignore[attr-defined]
    return sum(known) if known else None


def run_bench(
    options: BenchOptions,
    *,
    progress: Progress | None = None,
    router: Router | None = None,
    grader: SandboxGrader | None = None,
) -> BenchReport:
    """Run the benchmark described by ``options``; see the module docstring."""
    options.check()
    started = time.monotonic()
    started_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    config = load_config(options.course_dir)
    routes = parse_routes(options.routes, config)
    suites = {spec: load_suite(spec, limit=options.limit) for spec in options.suites}
    progress = progress or _Quiet()
    own_router = router is None
    own_grader = grader is None
    router = router or bench_router(config)
    grader = grader or SandboxGrader()
    tap = router.ledger
    if not isinstance(tap, _TapLedger):
        raise ConfigError("the benchmark needs a router built by bench_router()")
    run = _Run(options, router, tap, grader, progress)
    attempts_found: dict[str, int] = {}
    try:
        for items in suites.values():
            attempts: list[WrongAttempt] = []
            if "hint" in options.tasks:
                progress.add(len(items))
                for item in items:
                    attempts += wrong_attempts(item, grader)
                    progress.step(f"wrong attempt for {item.id}")
            if items:
                attempts_found[items[0].suite] = len(attempts)
            progress.add(_planned(options, len(items), len(attempts)) * len(routes))
            for route in routes.values():
                if "completion" in options.tasks:
                    run.completion(route, items)
                if "hint" in options.tasks:
                    run.hint(route, attempts)
                if "explain" in options.tasks:
                    run.explain(route, items)
    finally:
        if own_grader:
            grader.close()
        if own_router:
            router.close()
    return BenchReport(
        options=options,
        records=run.records,
        metrics=task_metrics(run.records, samples=options.samples),
        routes=routes,
        suites={items[0].suite: len(items) for items in suites.values() if items},
        wrong_attempts=attempts_found,
        sandbox=grader.sandbox,
        ledger_path=config.ledger_path,
        started_at=started_at,
        duration_s=time.monotonic() - started,
    )


def _planned(options: BenchOptions, items: int, attempts: int) -> int:
    """Requests per route (hint validation adds at most 2n repairs per attempt)."""
    total = 0
    if "completion" in options.tasks:
        total += items * options.samples
    if "hint" in options.tasks:
        total += attempts * (1 + (2 * options.repairs if options.validate else 0))
    if "explain" in options.tasks:
        total += items
    return total
