"""Where the Jupyter server extension sends completions: this server's router, or the gateway.

:class:`LocalCompletions` answers in the learner's own Jupyter server with the course's router
(``eduproject.toml`` next to the notebook or up to two folders above) and the policy of the
``lesson.json`` next to the notebook. :class:`GatewayCompletions` forwards to the class gateway
when the tutor would use one (``EDUPROJECT_TUTOR_URL`` and ``EDUPROJECT_TUTOR_TOKEN``, or the
hub's tutor service); the gateway then decides (it is the authority) and records. Both tell the front end, per notebook, where the policy
turns completion off, so that it does not even ask there.

A request replaces the same browser tab's request still in flight (its next keystroke), and
``cancel`` stops one at once: the model call is cancelled with it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from eduproject.completion.context import CompletionInput
from eduproject.completion.gate import decide, notebook_policy
from eduproject.completion.service import Completer, Completion
from eduproject.core.pack import PACK_NAME, LessonPack
from eduproject.core.policy import AiPolicy, course_layer, resolve
from eduproject.errors import EduprojectError, TutorError

Reply = tuple[int, dict[str, Any]]  # HTTP status, JSON body


def is_instructor_source(path: str) -> bool:
    """A notebook in ``exercises/<lesson>/``: the instructor authoring, completion everywhere."""
    parts = Path(path).parts
    return len(parts) >= 3 and parts[-3] == "exercises"


class Inflight:
    """The completion task in flight per browser tab (``client``); a new one cancels the old."""

    def __init__(self) -> None:
        self._tasks: dict[str, asyncio.Task[Any]] = {}

    async def run(self, client: str, work: Awaitable[Reply]) -> Reply | None:
        """The result of ``work``, or None when a newer request or ``cancel`` stopped it."""
        self.cancel(client)
        task = asyncio.ensure_future(work)
        self._tasks[client] = task
        try:
            return await task
        except asyncio.CancelledError:
            if task.cancelled():
                return None
            raise  # our own caller was cancelled
        finally:
            if self._tasks.get(client) is task:
                del self._tasks[client]

    def cancel(self, client: str) -> None:
        task = self._tasks.pop(client, None)
        if task is not None:
            task.cancel()


@dataclass
class _Course:
    completer: Completer
    default: AiPolicy


class Backend:
    """What both backends share: notebooks under ``root`` and their lesson packs."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root).resolve()
        self.inflight = Inflight()
        self._packs: dict[Path, tuple[float, LessonPack]] = {}

    def folder_of(self, path: str) -> Path:
        folder = (self.root / path).resolve().parent
        if not folder.is_relative_to(self.root):
            raise TutorError(f"{path!r} is not a notebook under the server's root folder")
        return folder

    def pack(self, folder: Path, lesson: str | None) -> LessonPack | None:
        """The ``lesson.json`` next to the notebook (re-read when it changes)."""
        if lesson is None:
            return None
        path = folder / PACK_NAME
        try:
            mtime = path.stat().st_mtime
        except OSError:
            return None
        cached = self._packs.get(path)
        if cached is None or cached[0] != mtime:
            cached = (mtime, LessonPack.load(path))
            self._packs[path] = cached
        return cached[1] if cached[1].lesson == lesson else None

    def policy(self, path: str, lesson: str | None) -> dict[str, Any]:
        """Where the policy turns completion off in this notebook (for the front end)."""
        raise NotImplementedError

    async def complete(self, path: str, inp: CompletionInput, client: str) -> Reply | None:
        """One completion (None: replaced by a newer request or cancelled)."""
        raise NotImplementedError

    async def accept(self, path: str, attempt_id: int) -> Reply:
        raise NotImplementedError

    async def close(self) -> None:
        """Release HTTP clients (at server shutdown)."""


class LocalCompletions(Backend):
    """Completions by this server's router; ``root`` is the server's root folder."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self._courses: dict[Path, _Course] = {}

    def __repr__(self) -> str:
        return f"LocalCompletions(root={str(self.root)!r})"

    def course(self, folder: Path) -> _Course:
        """The router and course policy of the course ``folder`` belongs to (built once)."""
        from eduproject.completion.settings import complete_settings
        from eduproject.models.config import load_config
        from eduproject.models.router import Router

        course_dir = next(
            (d for d in (folder, *list(folder.parents)[:2]) if (d / "eduproject.toml").is_file()),
            folder,
        )
        if course_dir not in self._courses:
            config = load_config(course_dir)
            settings = complete_settings(config)
            completer = Completer(
                Router.from_config(config),
                context_chars=settings.context_chars,
                max_tokens=settings.max_tokens,
            )
            self._courses[course_dir] = _Course(
                completer, resolve(course_layer(config), graded=False)
            )
        return self._courses[course_dir]

    def policy(self, path: str, lesson: str | None) -> dict[str, Any]:
        folder = self.folder_of(path)
        if is_instructor_source(path):
            return {"complete": True, "reason": "", "exercises": {}, "instructor": True}
        return {
            **notebook_policy(self.pack(folder, lesson), self.course(folder).default),
            "instructor": False,
        }

    async def complete(self, path: str, inp: CompletionInput, client: str) -> Reply | None:
        folder = self.folder_of(path)
        course = self.course(folder)
        if not is_instructor_source(path):
            decision = decide(self.pack(folder, inp.lesson), course.default, inp)
            if decision.reason is not None:
                return 403, {"error": decision.reason, "refused": "policy", "action": "complete"}

        async def work() -> Reply:
            done: Completion = await course.completer.complete(inp)
            return 200, done.to_json()

        return await self.inflight.run(client, work())

    async def accept(self, path: str, attempt_id: int) -> Reply:
        self.course(self.folder_of(path)).completer.accept(attempt_id)
        return 200, {"ok": True}

    async def close(self) -> None:
        for course in self._courses.values():
            await course.completer.router.aclose()


class GatewayCompletions(Backend):
    """Completions by the class gateway (it enforces the policy and keeps the ledger)."""

    def __init__(self, root: Path, url: str, token: str) -> None:
        super().__init__(root)
        self.url = url.rstrip("/")
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(30.0, connect=5.0),
        )

    def __repr__(self) -> str:  # never show the token
        return f"GatewayCompletions(url={self.url!r})"

    def policy(self, path: str, lesson: str | None) -> dict[str, Any]:
        # Shown to spare requests; the gateway refuses them anyway.
        folder = self.folder_of(path)
        return {**notebook_policy(self.pack(folder, lesson), AiPolicy()), "instructor": False}

    async def complete(self, path: str, inp: CompletionInput, client: str) -> Reply | None:
        self.folder_of(path)
        return await self.inflight.run(client, self._post("/v1/complete", inp.body()))

    async def accept(self, path: str, attempt_id: int) -> Reply:
        return await self._post("/v1/feedback", {"attempt_id": attempt_id, "accepted": True})

    async def _post(self, route: str, body: dict[str, Any]) -> Reply:
        try:
            response = await self._client.post(route, json=body)
        except httpx.HTTPError:
            return 502, {"error": f"the tutor service at {self.url} is unreachable"}
        try:
            data = response.json()
        except ValueError:
            data = {}
        if not isinstance(data, dict):
            data = {}
        if response.status_code != 200 and "error" not in data:
            data["error"] = f"the tutor service answered HTTP {response.status_code}"
        return response.status_code, data

    async def close(self) -> None:
        await self._client.aclose()


def backend_from_env(root: Path) -> Backend:
    """The class gateway when one is found, as the tutor panel finds it
    (:func:`eduproject.learner.gateway_client.find_gateway`: ``EDUPROJECT_TUTOR_URL`` and
    ``EDUPROJECT_TUTOR_TOKEN``, or the hub's ``eduproject-tutor`` service with this server's
    hub token), else this server's router."""
    from eduproject.learner.gateway_client import find_gateway

    found = find_gateway()
    if found is not None:
        return GatewayCompletions(root, *found)
    return LocalCompletions(root)


async def answer(call: Callable[[], Awaitable[Reply | None]]) -> Reply | None:
    """Run one backend call; eduproject errors become a JSON error reply, never a traceback."""
    try:
        return await call()
    except TutorError as exc:
        return 400, {"error": exc.message}
    except EduprojectError as exc:
        return 502, {"error": str(exc).splitlines()[0]}
