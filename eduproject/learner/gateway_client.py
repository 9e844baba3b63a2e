"""The tutor in a learner's kernel when a gateway serves the class: same API, no keys.

:class:`GatewayTutor` has the public methods of :class:`~eduproject.tutor.tutor.Tutor` and
returns the same :class:`~eduproject.tutor.tutor.TutorReply`, so the panel cannot tell them
apart. Each call goes to the gateway (streaming over SSE); whatever the gateway cannot do --
unreachable, allowance used up, lesson unknown, token refused -- ends in the offline tutor,
which runs here on ``lesson.json``, with a one-line notice, exactly like the in-kernel tutor
when its model is down. ``eduproject.learner.make_tutor`` picks it when ``EDUPROJECT_TUTOR_URL``
and ``EDUPROJECT_TUTOR_TOKEN`` are set::

    tutor = GatewayTutor(LessonPack.find(), url="http://tutor.internal:8765", token=token)
    reply = tutor.hint("sum_evens", code, check_result.results, level=1)
    print(reply.text, reply.label, tutor.remaining())
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import replace
from typing import Any

import httpx

from eduproject.core.pack import LessonPack
from eduproject.core.results import TestResult
from eduproject.errors import GatewayError, PolicyRefused, TutorError
from eduproject.streaming import TextStream
from eduproject.tutor.tutor import Reply, Tutor, TutorCalls, TutorReply
from eduproject.tutor.wire import TutorCall, as_results, reply_from_json
from eduproject.util.sse import parse_sse

__all__ = ["DEFAULT_SERVICE", "GatewayTutor", "find_gateway"]


log = logging.getLogger(__name__)
DEFAULT_SERVICE = "eduproject-tutor"
REMAINING_TTL_S = 30.0
UNREACHABLE = "The tutor service is unreachable; the offline tutor answered."
_TIMEOUT = httpx.Timeout(connect=5.0, read=180.0, write=10.0, pool=10.0)


class GatewayTutor(TutorCalls):
    """:class:`~eduproject.tutor.tutor.Tutor`'s API, answered by the gateway at ``url``.

    ``transport`` is for tests only (an httpx transport in place of the network).
    """

    def __init__(
        self,
        pack: LessonPack | None,
        *,
        url: str,
        token: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.pack = pack
        self.url = url.rstrip("/")
        self._client = httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=_TIMEOUT,
            transport=transport,
        )
        self._remaining: int | None = None
        self._remaining_at = float("-inf")

    def __repr__(self) -> str:  # never show the token
        return f"GatewayTutor(url={self.url!r})"

    # -- Tutor's public API ----------------------------------------------------------------

    def hint_stream(
        self, exercise: str, code: str, test_results: Sequence[TestResult], level: int
    ) -> Reply:
        self._allow("hint", exercise, level)  # the gateway decides; this spares a request
        call = TutorCall(
            "hint",
            self._lesson_of(exercise),
            exercise,
            code=code,
            tests=as_results(test_results),
            level=level,
        )
        return self._stream(call, lambda t: t.hint_stream(exercise, code, test_results, level))

    def explain_code_stream(self, code: str, exercise: str | None = None) -> Reply:
        self._allow("explain_code", exercise)
        call = TutorCall("explain", self._lesson_of(exercise), exercise, code=code)
        return self._stream(call, lambda t: t.explain_code_stream(code, exercise))

    def explain_error_stream(self, error: str, code: str, exercise: str | None = None) -> Reply:
        self._allow("explain_error", exercise)
        call = TutorCall(
            "explain-error", self._lesson_of(exercise), exercise, code=code, error=error
        )
        return self._stream(call, lambda t: t.explain_error_stream(error, code, exercise))

    def ask_stream(self, question: str, context: str = "", exercise: str | None = None) -> Reply:
        self._allow("ask", exercise)
        if not question.strip():
            raise TutorError("Type a question first, then press Ask.")
        call = TutorCall(
            "ask", self._lesson_of(exercise), exercise, question=question, context=context
        )
        return self._stream(call, lambda t: t.ask_stream(question, context, exercise))

    def record_check(self, exercise: str, passed: int, total: int) -> int:
        """Count one Check on the gateway (it unlocks hints there); the new count.

        When the gateway cannot be reached the check is counted here only.
        """
        local = super().record_check(exercise, passed, total)
        body = {
            "lesson": self._lesson_of(exercise),
            "exercise": exercise,
            "passed": passed,
            "total": total,
        }
        try:
            response = self._client.post("/v1/check", json=body, timeout=5.0)
        except httpx.HTTPError:
            return local
        if response.status_code == 403 and _refused_by_policy(response):
            raise PolicyRefused(_error_of(response), action="check")
        try:
            counted = response.json().get("checks") if response.status_code == 200 else None
        except (ValueError, AttributeError):
            counted = None
        if isinstance(counted, int) and not isinstance(counted, bool):
            self._check_counts()[exercise] = counted
            return counted
        return local

    def feedback(self, reply: TutorReply, accepted: bool) -> None:
        """Thumbs up/down on a model reply (the ledger's accepted flag, on the server)."""
        if reply.attempt_id is None:
            return
        try:
            response = self._client.post(
                "/v1/feedback", json={"attempt_id": reply.attempt_id, "accepted": accepted}
            )
        except httpx.HTTPError:
            raise GatewayError("the tutor service is unreachable") from None
        if response.status_code != 200:
            raise GatewayError(_error_of(response) or f"HTTP {response.status_code}")

    def remaining(self) -> int | None:
        """Model questions left now, or None when there is no limit (or no answer)."""
        if time.monotonic() - self._remaining_at < REMAINING_TTL_S:
            return self._remaining
        try:
            response = self._client.get("/v1/me", timeout=2.0)
            value = response.json().get("remaining") if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError, AttributeError):
            value = None
        # Remembered even when unknown: the panel asks often, and must not wait each time.
        self._remember(value if isinstance(value, int) else None)
        return self._remaining

    def me(self) -> dict[str, Any]:
        """The learner's own allowance and usage, as the gateway reports it."""
        try:
            response = self._client.get("/v1/me")
        except httpx.HTTPError:
            raise GatewayError(f"cannot reach the tutor service at {self.url}") from None
        if response.status_code != 200:
            raise GatewayError(_error_of(response) or f"HTTP {response.status_code}")
        data: dict[str, Any] = response.json()
        return data

    def close(self) -> None:
        self._client.close()

    # -- one call --------------------------------------------------------------------------

    def _lesson_of(self, exercise: str | None) -> str | None:
        # Without an exercise the gateway needs no lesson (and one it does not serve would
        # only turn a general question away).
        return self.pack.lesson if self.pack is not None and exercise is not None else None

    def _remember(self, remaining: int | None) -> None:
        self._remaining, self._remaining_at = remaining, time.monotonic()

    def _offline(self, notice: str, answer: Callable[[Tutor], Reply]) -> Reply:
        return answer(Tutor(self.pack, setup_notice=notice))

    def _stream(self, call: TutorCall, offline: Callable[[Tutor], Reply]) -> Reply:
        return TextStream(self._generate(call, offline))

    def _generate(
        self, call: TutorCall, offline: Callable[[Tutor], Reply]
    ) -> Generator[str, None, TutorReply]:
        started = time.monotonic()
        notice = UNREACHABLE
        try:
            with self._client.stream(
                "POST",
                f"/v1/{call.kind}",
                json=call.body(),
                headers={"Accept": "text/event-stream"},
            ) as response:
                if response.status_code != 200:
                    response.read()
                    notice = self._refusal(response)
                else:
                    for event, data in parse_sse(response.iter_lines()):
                        if event == "delta":
                            yield str(json.loads(data)["text"])
                        elif event == "done":
                            reply, remaining = reply_from_json(json.loads(data))
                            self._remember(remaining)
                            return replace(reply, latency_s=time.monotonic() - started)
                        elif event == "error":
                            failure = json.loads(data)
                            if failure.get("status") == 400:
                                raise TutorError(str(failure["error"]))
                            notice = f"{failure['error']} The offline tutor answered."
                            break
        except (httpx.HTTPError, GatewayError, ValueError, KeyError, TypeError):
            notice = UNREACHABLE
        # Whatever the gateway could not do, the learner still gets help.
        return (yield from self._offline(notice, offline).relay())

    def _refusal(self, response: httpx.Response) -> str:
        """The notice for a refused call; TutorError for what the learner can fix."""
        status, message = response.status_code, _error_of(response)
        if status in (400, 413) and message:
            raise TutorError(message)
        if status == 403 and message and _refused_by_policy(response):
            # The course's policy: no offline answer either (that would get around it).
            raise PolicyRefused(message, action=str(response.json().get("action", "")))
        if status == 429 and message:
            self._remember(0)
            return f"{message} Meanwhile, the offline tutor answered."
        if status in (401, 403):
            return (
                "The tutor service did not accept your tutor token "
                "(EDUPROJECT_TUTOR_TOKEN): ask your instructor. The offline tutor answered."
            )
        if status == 404 and message:
            return f"The tutor service cannot help here ({message}); the offline tutor answered."
        return UNREACHABLE


def _refused_by_policy(response: httpx.Response) -> bool:
    try:
        data = response.json()
    except ValueError:
        return False
    return isinstance(data, dict) and data.get("refused") == "policy"


def _error_of(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return ""
    error = data.get("error") if isinstance(data, dict) else None
    return error if isinstance(error, str) else ""


def find_gateway(
    environ: Mapping[str, str] | None = None, *, transport: httpx.BaseTransport | None = None
) -> tuple[str, str] | None:
    """The gateway's URL and the token to use with it, found from the environment, or None.

    * ``EDUPROJECT_TUTOR_URL`` with ``EDUPROJECT_TUTOR_TOKEN``: a gateway without a hub.
    * In a JupyterHub server (``JUPYTERHUB_API_URL`` and ``JUPYTERHUB_API_TOKEN``, which a
      kernel inherits from its server): the hub's token, and the URL of the hub service named
      ``EDUPROJECT_TUTOR_SERVICE`` (default ``eduproject-tutor``) as the hub reports it (its
      ``url`` and ``/services/<name>/`` prefix; the server's token needs
      ``read:services!service=<name>``). ``EDUPROJECT_TUTOR_URL`` overrides that URL when
      kernels reach the service by another address.
    """
    env = os.environ if environ is None else environ
    url = env.get("EDUPROJECT_TUTOR_URL", "").strip()
    token = env.get("EDUPROJECT_TUTOR_TOKEN", "").strip()
    if url and token:
        return url, token
    hub_api = env.get("JUPYTERHUB_API_URL", "").strip()
    hub_token = env.get("JUPYTERHUB_API_TOKEN", "").strip()
    if not hub_api or not hub_token or env.get("JUPYTERHUB_SERVICE_NAME"):
        return None  # no hub (or this is a hub service, not a learner's server)
    if url:
        return url, hub_token
    name = env.get("EDUPROJECT_TUTOR_SERVICE", "").strip() or DEFAULT_SERVICE
    status: object = "unreachable"
    model: Any = {}
    try:
        with httpx.Client(timeout=3.0, transport=transport) as client:
            response = client.get(
                f"{hub_api.rstrip('/')}/services/{name}",
                headers={"Authorization": f"token {hub_token}"},
            )
        status = response.status_code
        model = response.json() if status == 200 else {}
    except (httpx.HTTPError, ValueError):
        pass
    service_url = model.get("url") if isinstance(model, dict) else None
    prefix = model.get("prefix") if isinstance(model, dict) else None
    if not isinstance(service_url, str) or not service_url or not isinstance(prefix, str):
        # 403: the server's token lacks read:services!service=<name> (docs/classroom.md).
        log.info("no tutor service %r found on this hub (%s)", name, status)
        return None
    return service_url.rstrip("/") + "/" + prefix.strip("/"), hub_token
