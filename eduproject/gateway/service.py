"""The tutor service behind the HTTP layer: lessons, router, tokens, allowances and calls.

One :class:`TutorService` serves a whole course. It loads every lesson under
``<course>/exercises`` with the instructor's sources (the leak guard gets the full solution and
can run the tests), holds the one shared router (provider keys, cache, ledger), and runs each
tutor call on a worker thread, handing its text deltas to the event loop::

    service = TutorService.from_course(Path("course"))
    identity = service.authenticate(token)
    run = service.start(identity, TutorCall("hint", "03-lists-dicts", "sum_evens", code=code))
    async for event, data in run.events():     # ("delta", "Your loop ...") ... ("done", {...})
        ...
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eduproject.completion.context import CompletionInput
from eduproject.completion.gate import decide, decide_anywhere
from eduproject.completion.service import Completer, Completion
from eduproject.completion.settings import CompleteSettings, complete_settings
from eduproject.config import read_section
from eduproject.core.lesson import Lesson
from eduproject.core.pack import ExerciseInfo, LessonPack
from eduproject.core.policy import Action, AiPolicy, PolicyLayer, course_layer, resolve
from eduproject.errors import ConfigError, EduprojectError, TutorError
from eduproject.gateway.allowance import Allowance, Ticket
from eduproject.gateway.db import Database
from eduproject.gateway.records import AttributingLedger, CallLog, CallTag
from eduproject.gateway.server_tutor import FencedCodeGate
from eduproject.gateway.settings import SECTION as GATEWAY_SECTION
from eduproject.gateway.settings import GatewaySettings
from eduproject.gateway.tokens import Identity, TokenStore
from eduproject.models.config import OFFLINE, TUTOR_TASKS, Config, load_config
from eduproject.models.router import Router
from eduproject.tutor.settings import TutorSettings, tutor_settings
from eduproject.tutor.tutor import Reply, Tutor, TutorReply
from eduproject.tutor.wire import CheckReport, Limits, RequestRejected, TutorCall, reply_json

if TYPE_CHECKING:
    from eduproject.tutor.passcheck import HintRunner

log = logging.getLogger("eduproject.gateway")

Event = tuple[str, Any]
# Endpoint kind -> the policy action that governs it.
ACTION_OF: Mapping[str, Action] = {
    "hint": "hint",
    "explain": "explain_code",
    "explain-error": "explain_error",
    "ask": "ask",
    "check": "check",
    "complete": "complete",
}


@dataclass(frozen=True)
class Prepared:
    """A call that passed every check and holds its question (``ticket``) if it needs one."""

    identity: Identity
    call: TutorCall
    info: ExerciseInfo | None
    pack: LessonPack | None
    ticket: Ticket | None
    tag: CallTag


class TutorService:
    """Everything ``eduproject serve`` runs, minus HTTP (see ``app.py``)."""

    def __init__(
        self,
        *,
        router: Router,
        lessons: Mapping[str, Lesson],
        db: Database,
        tutor: TutorSettings,
        settings: GatewaySettings,
        complete: CompleteSettings | None = None,
        clock: Callable[[], float] = time.time,
        course_policy: PolicyLayer | None = None,
    ) -> None:
        self.router = router
        self.lessons = dict(lessons)
        self.packs = {
            lesson_id: LessonPack.from_lesson(ls, course_policy)
            for lesson_id, ls in lessons.items()
        }
        # For requests outside any lesson (a general question, an error in a scratch notebook).
        self.default_policy = resolve(course_policy, graded=False)
        self.db = db
        self.tokens = TokenStore(db)
        self.allowance = Allowance(
            db, allowance=tutor.allowance, refill_seconds=tutor.refill_seconds, clock=clock
        )
        self.calls = CallLog(db)
        complete = complete or CompleteSettings()
        self.completer = Completer(
            router, context_chars=complete.context_chars, max_tokens=complete.max_tokens
        )
        self.settings = settings
        self.limits = Limits(
            max_code_chars=settings.max_code_chars, max_question_chars=tutor.max_input_chars
        )
        self.executor = ThreadPoolExecutor(
            max_workers=settings.workers, thread_name_prefix="eduproject-gateway"
        )
        self._runners: dict[str, HintRunner] = {}  # per lesson: one sandboxed zygote each
        self._runners_lock = threading.Lock()
        self._closed = False
        if settings.run_tests:
            _require_sandbox()

    @classmethod
    def from_course(
        cls, course_dir: Path, *, config: Config | None = None, db_path: Path | None = None
    ) -> TutorService:
        """The service for the course in ``course_dir`` (``eduproject.toml``, ``exercises/``)."""
        from eduproject.models.cache import ResponseCache
        from eduproject.models.registry import registry_for

        config = config or load_config(course_dir)
        settings = read_section(config.other, GATEWAY_SECTION, course_dir)
        tutor, complete = tutor_settings(config), complete_settings(config)
        if db_path is not None:
            settings = replace(settings, db=db_path, database=None)
        lessons = load_lessons(course_dir / "exercises")
        # With a PostgreSQL database the ledger and the cache live there too, so that every
        # gateway host sees (and the summary sums) the same rows.
        shared = settings.database
        registry = registry_for(config)
        providers = registry.build(config.routes)  # before any database is opened
        router = Router(
            config,
            ledger=AttributingLedger(shared or config.ledger_path),
            cache=ResponseCache(shared or config.cache_path, ttl_s=config.cache_ttl_s)
            if config.cache_enabled
            else None,
            families=registry.families,
            providers=providers,
        )
        return cls(
            router=router,
            lessons=lessons,
            db=Database(settings.target),
            tutor=tutor,
            settings=settings,
            complete=complete,
            course_policy=course_layer(config),
        )

    # -- checks before a call ------------------------------------------------------------

    def authenticate(self, token: str) -> Identity | None:
        return self.tokens.verify(token)

    def uses_model(self, task: str) -> bool:
        """Whether ``task`` has a model route (and so costs a question of the allowance)."""
        return any(name != OFFLINE for name in self.router.routes_for(task))

    @property
    def limited(self) -> bool:
        """Whether learners have an allowance at all (no model, no limit)."""
        return any(self.uses_model(task) for task in TUTOR_TASKS)

    def remaining(self, learner: str) -> int | None:
        return self.allowance.remaining(learner) if self.limited else None

    def prepare(self, identity: Identity, call: TutorCall) -> Prepared:
        """Check the lesson and exercise, then take a question: RequestRejected (404, 429)."""
        pack, info = self.lesson_and_exercise(call.lesson, call.exercise)
        tag = CallTag(identity.name, call.lesson, call.exercise, call.kind)
        level = call.level if call.kind == "hint" else None
        self.enforce(identity, tag, pack, level=level)
        ticket = None
        if self.uses_model(call.task):
            taken = self.allowance.take(identity.name)
            if not taken.ok:
                self.calls.record(tag, outcome="quota")
                raise RequestRejected(429, taken.message, retry_in_s=taken.retry_in_s)
            ticket = Ticket(
                self.allowance, identity.name, taken.remaining, self.limits.max_question_chars
            )
        return Prepared(identity, call, info, pack, ticket, tag)

    def policy_for(self, pack: LessonPack | None, exercise: str | None) -> AiPolicy:
        """The policy in force: the exercise's, the lesson's, or the course's."""
        return pack.policy_for(exercise) if pack is not None else self.default_policy

    def enforce(
        self,
        identity: Identity,
        tag: CallTag,
        pack: LessonPack | None,
        *,
        level: int | None = None,
        in_solution: bool = False,
    ) -> None:
        """Refuse (403, recorded as outcome ``policy``) what the course's AI policy turns off.

        The gateway is the authority: a learner calling its API directly meets the same
        refusal as the panel, whatever their ``lesson.json`` says.
        """
        action = ACTION_OF[tag.kind]
        checks = self.calls.checks(identity.name, tag.lesson, tag.exercise)
        reason = self.policy_for(pack, tag.exercise).refusal(
            action, checks=checks, level=level, in_solution=in_solution
        )
        if reason is not None:
            self.calls.record(tag, outcome="policy", level=level)
            raise RequestRejected(403, reason, action=action)

    def lesson_and_exercise(
        self, lesson: str | None, exercise: str | None
    ) -> tuple[LessonPack | None, ExerciseInfo | None]:
        """The pack and exercise a request names; RequestRejected (404, 422) when unknown."""
        pack = info = None
        if lesson is not None:
            pack = self.packs.get(lesson)
            if pack is None:
                raise RequestRejected(
                    404, f"the tutor service does not serve the lesson {lesson!r}"
                )
        if exercise is not None:
            if pack is None:
                raise RequestRejected(422, "an exercise needs its lesson (field 'lesson')")
            try:
                info = pack.exercise(exercise)
            except TutorError as exc:
                raise RequestRejected(404, exc.message) from None
        return pack, info

    def check(self, identity: Identity, report: CheckReport) -> int:
        """Count one Check of the learner (what unlocks hints); returns their count so far."""
        pack, _ = self.lesson_and_exercise(report.lesson, report.exercise)
        tag = CallTag(identity.name, report.lesson, report.exercise, "check")
        self.enforce(identity, tag, pack)
        self.calls.record(
            tag, outcome="answered", passed=report.passed == report.total, latency_s=0.0
        )
        return self.calls.checks(identity.name, report.lesson, report.exercise)

    async def complete(self, identity: Identity, inp: CompletionInput) -> Completion:
        """One inline completion (on the event loop: cancelling the task stops the model).

        The policy is checked on the code itself, not only on what the request claims: code
        that defines what a graded exercise asks for is refused (403) where completion in
        solutions is off, with or without a lesson named.
        """
        pack, _ = self.lesson_and_exercise(inp.lesson, inp.exercise)
        if pack is not None:
            decision = decide(pack, self.default_policy, inp)
        else:
            decision = decide_anywhere(self.packs.values(), self.default_policy, inp)
        tag = CallTag(identity.name, decision.lesson, decision.exercise, "complete")
        if decision.reason is not None:
            self.calls.record(tag, outcome="policy")
            raise RequestRejected(403, decision.reason, action="complete")
        outcome, done = "cancelled", None
        try:
            with tag.active():
                done = await self.completer.complete(inp)
            outcome = "answered" if done.attempt_id is not None else "failed"
            return done
        finally:
            self.calls.record(
                tag,
                outcome=outcome,
                source="model" if done is not None and done.text else None,
                latency_s=time.monotonic() - tag.began,
                attempt_id=done.attempt_id if done is not None else None,
            )

    def start(self, identity: Identity, call: TutorCall) -> CallRun:
        """Prepare the call and start it on a worker thread (call from the event loop)."""
        return CallRun(self, self.prepare(identity, call))

    # -- the call itself (worker thread) ---------------------------------------------------

    def runner(self, lesson_id: str, exercise_id: str) -> Callable[[str], bool] | None:
        if not self.settings.run_tests:
            return None
        lesson = self.lessons[lesson_id]
        with self._runners_lock:
            if lesson_id not in self._runners:
                from eduproject.tutor.passcheck import HintRunner

                self._runners[lesson_id] = HintRunner(lesson)
            return self._runners[lesson_id].runner(lesson.exercise(exercise_id))

    def tutor_for(self, prepared: Prepared) -> Tutor:
        call = prepared.call
        runner = None
        if call.lesson is not None and call.exercise is not None:
            runner = self.runner(call.lesson, call.exercise)
        learner = prepared.identity.name
        return Tutor(
            prepared.pack,
            router=self.router,
            quota=prepared.ticket,
            learner=learner,
            runner=runner,
            default_policy=self.default_policy,
            check_counts=lambda exercise: self.calls.checks(learner, call.lesson, exercise),
        )

    def reply_stream(self, prepared: Prepared) -> Reply:
        tutor, call = self.tutor_for(prepared), prepared.call
        if call.kind == "hint":
            assert call.exercise is not None
            return tutor.hint_stream(call.exercise, call.code, call.tests, call.level)
        if call.kind == "explain":
            return tutor.explain_code_stream(call.code, call.exercise)
        if call.kind == "explain-error":
            return tutor.explain_error_stream(call.error, call.code, call.exercise)
        return tutor.ask_stream(call.question, call.context, call.exercise)

    # -- feedback and the learner's own view ---------------------------------------------

    def feedback(self, identity: Identity, attempt_id: int, accepted: bool) -> None:
        """Thumbs up/down on one of the learner's own answers (the ledger's accepted flag)."""
        if not self.calls.owns(identity.name, attempt_id):
            raise RequestRejected(404, "none of your answers has that id")
        self.router.mark_accepted(attempt_id, accepted)

    def me(self, identity: Identity) -> dict[str, Any]:
        """The learner's allowance and own usage (nothing about anyone else)."""
        calls = self.calls.calls(identity.name)
        by_kind: dict[str, int] = {}
        by_exercise: dict[str, int] = {}
        for c in calls:
            if c.outcome != "answered":
                continue
            by_kind[c.kind] = by_kind.get(c.kind, 0) + 1
            if c.exercise:
                key = f"{c.lesson}/{c.exercise}"
                by_exercise[key] = by_exercise.get(key, 0) + 1
        return {
            "learner": identity.name,
            "remaining": self.remaining(identity.name),
            "allowance": self.allowance.allowance if self.limited else None,
            "refill_seconds": self.allowance.refill_seconds if self.limited else None,
            "usage": {
                "answered": sum(by_kind.values()),
                "refused": sum(1 for c in calls if c.outcome == "quota"),
                "by_kind": by_kind,
                "by_exercise": by_exercise,
            },
        }

    def close(self) -> None:
        """Stop the workers and close the router and database (once; later calls do nothing)."""
        if self._closed:
            return
        self._closed = True
        self.executor.shutdown(wait=True, cancel_futures=True)
        for runner in self._runners.values():
            runner.close()
        self.router.close()
        self.db.close()


class CallRun:
    """One tutor call running on a worker thread; its events arrive on the event loop."""

    def __init__(self, service: TutorService, prepared: Prepared) -> None:
        self.service = service
        self.prepared = prepared
        self.loop = asyncio.get_running_loop()
        # Events cross from the worker thread in a deque; the loop is woken once per batch
        # (not once per delta), which matters with hundreds of streams at once.
        self._pending: collections.deque[Event] = collections.deque()
        self._lock = threading.Lock()
        self._woken = False
        self._ready = asyncio.Event()
        self.cancelled = threading.Event()
        # A fresh context per call: the CallTag set in it reaches the router's tasks.
        context = contextvars.copy_context()
        self.future = self.loop.run_in_executor(service.executor, context.run, self._work)

    def cancel(self) -> None:
        """The client went away: stop at the next delta."""
        self.cancelled.set()

    async def events(self, keepalive_s: float | None = None) -> AsyncIterator[Event]:
        """``("delta", text)`` events, then one ``("done", reply)`` or ``("error", {error,
        status})``; ``("keepalive", None)`` after ``keepalive_s`` without news. Deltas that
        arrived together come as one."""
        while True:
            try:
                await asyncio.wait_for(self._ready.wait(), keepalive_s)
            except TimeoutError:
                yield ("keepalive", None)
                continue
            with self._lock:
                batch = list(self._pending)
                self._pending.clear()
                self._woken = False
                self._ready.clear()
            text = "".join(data for kind, data in batch if kind == "delta")
            if text:
                yield ("delta", text)
            if batch and batch[-1][0] != "delta":
                yield batch[-1]
                return

    async def result(self) -> Event:
        """The final ``done`` or ``error`` event (deltas are dropped)."""
        async for event in self.events():
            if event[0] not in ("delta", "keepalive"):
                return event
        raise AssertionError("unreachable: events() always ends with done or error")

    def _push(self, event: Event) -> None:
        with self._lock:
            self._pending.append(event)
            if self._woken:
                return
            self._woken = True
        self.loop.call_soon_threadsafe(self._ready.set)

    def _work(self) -> None:
        prepared, service = self.prepared, self.service
        tag, ticket = prepared.tag, prepared.ticket
        outcome, source = "failed", None
        final: tuple[str, dict[str, Any]] | None = None  # the last event, sent once recorded
        answer: TutorReply | None = None
        try:
            with tag.active():
                stream = service.reply_stream(prepared)
                gate = FencedCodeGate()
                with stream:  # leaving it (cancelled, or an error) closes the model call
                    while True:
                        if self.cancelled.is_set():
                            outcome = "cancelled"
                            return
                        delta = next(stream, None)
                        if delta is None:
                            break
                        shown = gate.feed(delta)
                        if shown:
                            self._push(("delta", shown))
                reply = stream.finish()
            if ticket is not None:
                ticket.settle()
            outcome, source, answer = "answered", reply.source, reply
        except TutorError as exc:  # the learner can fix it: say how, in the tutor's words
            final = ("error", {"error": exc.message, "status": 400})
        except EduprojectError as exc:
            log.info("tutor call failed: %s", str(exc).splitlines()[0])
            message = f"The tutor could not answer: {exc.message}"
            final = ("error", {"error": message, "status": 502})
        except Exception:
            log.exception("tutor call failed")
            message = "The tutor service hit a problem. Your notebook is fine: try again."
            final = ("error", {"error": message, "status": 500})
        finally:
            if ticket is not None and outcome != "answered":
                ticket.settle()
            latency = time.monotonic() - tag.began
            # Who asked stays in the database; the log says what happened, not to whom.
            where = f"{tag.lesson}/{tag.exercise}" if tag.exercise else "no exercise"
            log.info("%s (%s): %s by %s in %.2f s", tag.kind, where, outcome, source, latency)
            call = prepared.call
            leak = answer is not None and answer.guard is not None and answer.guard.leak
            try:  # recorded before the learner hears back: /v1/me is current at once
                service.calls.record(
                    tag,
                    outcome=outcome,
                    source=source,
                    latency_s=latency,
                    level=call.level if call.kind == "hint" else None,
                    attempt_id=answer.attempt_id if answer is not None else None,
                    flag="leak" if leak else None,
                    # What learners asked that would have drawn the answer out, for the
                    # instructor's page (the admin only).
                    question=call.question[:1000] if leak and call.kind == "ask" else None,
                )
            except Exception:  # bookkeeping must never take the answer down with it
                log.exception("could not record a tutor call")
            if answer is not None:
                final = ("done", reply_json(answer, service.remaining(prepared.identity.name)))
            if final is not None:
                self._push(final)


def _require_sandbox() -> None:
    """The test-run leak check runs model-written code: only in the grading sandbox."""
    from eduproject.runner.sandbox import detect_backend

    backend = detect_backend()
    if backend.name != "bwrap":
        raise ConfigError(
            "[gateway] run_tests = true runs model-written code against the exercises' tests, "
            f"and the grading sandbox is not available here ({backend.description})",
            hint="install bubblewrap (apt-get install bubblewrap), or set run_tests = false in "
            "the [gateway] section of eduproject.toml",
        )


def load_lessons(folder: Path) -> dict[str, Lesson]:
    """Every lesson under ``folder`` (instructor sources), keyed by lesson id."""
    from eduproject.authoring.parse import load_lesson

    if not folder.is_dir():
        raise ConfigError(
            f"no exercises folder at {folder}",
            hint="run `eduproject serve` from the course folder, or pass --course DIR",
        )
    lessons: dict[str, Lesson] = {}
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        lesson = load_lesson(sub)
        lessons[lesson.id] = lesson
    if not lessons:
        raise ConfigError(
            f"no lessons in {folder}", hint="put each lesson's source notebook in its own folder"
        )
    return lessons
