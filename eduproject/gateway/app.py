"""The gateway's HTTP layer: a Starlette app over a :class:`TutorService`.

Every route needs ``Authorization: Bearer <token>``; a missing or wrong token gets
``401 {"error": "unauthorized"}`` -- the same body whatever was wrong. Learner tokens reach
``/v1/*`` only, admin tokens ``/admin/*`` only (403 otherwise).

=====================  ==========================================================
``POST /v1/hint``      ``{lesson, exercise, code, tests, level}``
``POST /v1/explain``   ``{lesson?, exercise?, code}``
``POST /v1/explain-error``  ``{lesson?, exercise?, error, code}``
``POST /v1/ask``       ``{lesson?, exercise?, question, context}``
``POST /v1/feedback``  ``{attempt_id, accepted}`` (the learner's own answers only)
``GET /v1/me``         remaining allowance and own usage
``GET /admin/summary`` cost per learner and exercise, latency percentiles, error rates
=====================  ==========================================================

Tutor endpoints answer JSON, or Server-Sent Events with ``Accept: text/event-stream``
(see ``wire.py``). Bodies over ``[gateway] max_body_bytes`` get 413, oversized fields 413
with the tutor's own words, an exhausted allowance 429 with ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from eduproject.gateway.service import CallRun, TutorService
from eduproject.gateway.summary import build_summary
from eduproject.gateway.tokens import Identity
from eduproject.gateway.wire import KINDS, RequestRejected, parse_call, sse

IDENTITY = "eduproject.identity"
KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies from closing a quiet stream
_UNAUTHORIZED = b'{"error":"unauthorized"}'


class TokenAuth:
    """ASGI middleware: no route, known or not, is reached without a valid token."""

    def __init__(self, app: ASGIApp, service: TutorService) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        identity = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                scheme, _, token = value.decode("latin-1").partition(" ")
                if scheme.lower() == "bearer":
                    identity = self.service.authenticate(token.strip())
                break
        if identity is None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 401,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(_UNAUTHORIZED)).encode()),
                        (b"www-authenticate", b"Bearer"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": _UNAUTHORIZED})
            return
        scope[IDENTITY] = identity
        await self.app(scope, receive, send)


def create_app(service: TutorService, *, owns_service: bool = False) -> Starlette:
    """The ASGI app; with ``owns_service`` its lifespan closes the service at shutdown."""

    def identity(request: Request, role: str) -> Identity:
        who: Identity = request.scope[IDENTITY]
        if who.role != role:
            raise RequestRejected(403, "forbidden")
        return who

    async def read_json(request: Request) -> Any:
        cap = service.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            raise RequestRejected(413, f"the request is larger than {cap:,} bytes")
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > cap:
                raise RequestRejected(413, f"the request is larger than {cap:,} bytes")
        try:
            return json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RequestRejected(422, "the request body is not valid JSON") from None

    def tutor_endpoint(kind: str) -> Any:
        async def endpoint(request: Request) -> Response:
            who = identity(request, "learner")
            call = parse_call(kind, await read_json(request), service.limits)
            run = service.start(who, call)
            if "text/event-stream" in request.headers.get("accept", ""):
                return StreamingResponse(
                    _sse_body(run),
                    media_type="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
                )
            event, data = await run.result()
            if event == "done":
                return JSONResponse(data)
            return JSONResponse({"error": data["error"]}, status_code=data["status"])

        return endpoint

    async def feedback(request: Request) -> Response:
        who = identity(request, "learner")
        data = await read_json(request)
        if (
            not isinstance(data, dict)
            or set(data) != {"attempt_id", "accepted"}
            or isinstance(data["attempt_id"], bool)
            or not isinstance(data["attempt_id"], int)
            or not isinstance(data["accepted"], bool)
        ):
            raise RequestRejected(422, "send {attempt_id: <integer>, accepted: true|false}")
        service.feedback(who, data["attempt_id"], data["accepted"])
        return JSONResponse({"ok": True})

    async def me(request: Request) -> Response:
        return JSONResponse(service.me(identity(request, "learner")))

    async def summary(request: Request) -> Response:
        identity(request, "admin")
        report = await asyncio.get_running_loop().run_in_executor(
            service.executor, build_summary, service
        )
        return JSONResponse(report.to_json())

    async def rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestRejected)
        body: dict[str, Any] = {"error": exc.message}
        headers = {}
        if exc.retry_in_s is not None:
            body["retry_in_s"] = round(exc.retry_in_s, 1)
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_in_s)))
        return JSONResponse(body, status_code=exc.status, headers=headers)

    routes = [Route(f"/v1/{kind}", tutor_endpoint(kind), methods=["POST"]) for kind in KINDS]
    routes += [
        Route("/v1/feedback", feedback, methods=["POST"]),
        Route("/v1/me", me, methods=["GET"]),
        Route("/admin/summary", summary, methods=["GET"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            if owns_service:
                service.close()

    app = Starlette(
        routes=routes, exception_handlers={RequestRejected: rejected}, lifespan=lifespan
    )
    app.add_middleware(TokenAuth, service=service)
    return app


async def _sse_body(run: CallRun) -> AsyncIterator[bytes]:
    try:
        async for event, data in run.events(keepalive_s=KEEPALIVE_S):
            if event == "keepalive":
                yield b": keepalive\n\n"
            elif event == "delta":
                yield sse("delta", {"text": data})
            else:
                yield sse(event, data)
    finally:
        run.cancel()  # harmless when the call is over; stops it when the learner left
