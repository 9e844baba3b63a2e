"""The gateway's HTTP layer: a Starlette app over a :class:`TutorService`.

Every route needs ``Authorization: Bearer <token>``; a missing or wrong token gets
``401 {"error": "unauthorized"}`` -- the same body whatever was wrong. Learner tokens reach
``/v1/*`` only, admin tokens ``/admin/*`` only (403 otherwise). As a JupyterHub service
(``hub.py``) the routes live under ``/services/<name>/``, hub users' tokens and OAuth cookies
are accepted too, and ``/oauth_callback`` finishes a browser's login. A browser
without a hub signs in at ``/admin/login`` with an admin token, kept in an HttpOnly cookie that
only reads the admin pages (``GET /admin/...``).

=====================  ==========================================================
``POST /v1/hint``      ``{lesson, exercise, code, tests, level}``
``POST /v1/explain``   ``{lesson?, exercise?, code}``
``POST /v1/explain-error``  ``{lesson?, exercise?, error, code}``
``POST /v1/ask``       ``{lesson?, exercise?, question, context}``
``POST /v1/feedback``  ``{attempt_id, accepted}`` (the learner's own answers only)
``POST /v1/check``     ``{lesson, exercise, passed, total}``: a Check, counted (hints unlock)
``POST /v1/complete``  ``{prefix, suffix, above, below, lesson?, exercise?, role?}``: inline
                       completion ``{text, attempt_id, ...}``; accept it with /v1/feedback
``GET /v1/me``         remaining allowance and own usage
``GET /admin/summary`` cost per learner and exercise, latency percentiles, error rates
``GET /admin/help``    the help-seeking page (HTML; ``/admin/help.json`` the same as JSON)
=====================  ==========================================================

Tutor endpoints answer JSON, or Server-Sent Events with ``Accept: text/event-stream``
(see ``wire.py``). Bodies over ``[gateway] max_body_bytes`` get 413, oversized fields 413
with the tutor's own words, an exhausted allowance 429 with ``Retry-After``, and what the
course's AI policy turns off 403 ``{"error": <reason>, "refused": "policy", "action": ...}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import urllib.parse
from collections.abc import AsyncIterator
from html import escape
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from eduproject.completion.context import BadCompletionRequest, parse_input
from eduproject.errors import GatewayError
from eduproject.gateway.helppage import help_page
from eduproject.gateway.helpseeking import build_help
from eduproject.gateway.hub import (
    COOKIE_MAX_AGE_S,
    FORBIDDEN,
    HubLogin,
    HubUnavailable,
    cookie_header,
)
from eduproject.gateway.service import CallRun, TutorService
from eduproject.gateway.summary import build_summary, summary_text
from eduproject.gateway.tokens import TOKEN_PREFIX, Identity
from eduproject.tutor.wire import KINDS, RequestRejected, parse_call, parse_check
from eduproject.util.html import html_page
from eduproject.util.sse import sse_event

IDENTITY = "eduproject.identity"
ADMIN_COOKIE = "eduproject_admin"
LOGIN = "/admin/login"
KEEPALIVE_S = 15.0  # an SSE comment this often keeps proxies from closing a quiet stream
_UNAUTHORIZED = b'{"error":"unauthorized"}'
_FORBIDDEN = b'{"error":"forbidden"}'
_NOT_FOUND = b'{"error":"not found"}'
_SAFE_METHODS = ("GET", "HEAD")


async def _send_json(
    send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _redirect(send: Send, location: str, cookies: list[bytes]) -> None:
    headers = [(b"location", location.encode("latin-1")), (b"content-length", b"0")]
    headers += [(b"set-cookie", c) for c in cookies]
    headers.append((b"cache-control", b"no-store"))
    await send({"type": "http.response.start", "status": 302, "headers": headers})
    await send({"type": "http.response.body", "body": b""})


class Auth:
    """ASGI middleware: no route, known or not, is reached without an identity.

    Gateway tokens (``Bearer edut_...``) are checked against the token table. Under JupyterHub
    (``hub``), other tokens are the hub's (a kernel's ``JUPYTERHUB_API_TOKEN``), and browsers
    log in through the hub's OAuth and keep a signed cookie, honoured for ``GET`` only. Paths
    live under ``prefix`` (``/services/<name>/`` on a hub); anything else is 404.
    """

    def __init__(
        self, app: ASGIApp, service: TutorService, hub: HubLogin | None = None, prefix: str = "/"
    ) -> None:
        self.app = app
        self.service = service
        self.hub = hub
        self.prefix = "/" + prefix.strip("/") + "/" if prefix.strip("/") else "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.prefix != "/":
            if path + "/" == self.prefix:
                path = self.prefix
            if not path.startswith(self.prefix):
                await _send_json(send, 404, _NOT_FOUND, [])
                return
            scope = dict(scope, path="/" + path[len(self.prefix) :])
            scope["root_path"] = scope.get("root_path", "") + self.prefix.rstrip("/")
        headers = Headers(scope=scope)
        if self.hub is not None and scope["path"] == "/oauth_callback":
            await self._oauth_callback(scope, headers, send)
            return
        if scope["path"] == LOGIN:
            await self.app(scope, receive, send)  # the form that turns a token into a cookie
            return
        try:
            identity = await self._identify(scope, headers)
        except HubUnavailable as exc:
            await _send_json(send, 503, json.dumps({"error": exc.message}).encode(), [])
            return
        if identity is FORBIDDEN:
            await _send_json(send, 403, _FORBIDDEN, [])
            return
        if identity is None:
            if self._browser(scope, headers):
                assert self.hub is not None
                target = self.prefix.rstrip("/") + scope["path"]
                if scope.get("query_string"):
                    target += "?" + scope["query_string"].decode("latin-1")
                location, state = self.hub.start_login(target)
                cookie = cookie_header(
                    self.hub.cookie_name + "-oauth-state",
                    state,
                    path=self.prefix,
                    max_age=600,
                    secure=scope.get("scheme") == "https",
                )
                await _redirect(send, location, [cookie])
                return
            # Nothing without a token keeps a connection (and a file) open.
            closing = [(b"www-authenticate", b"Bearer"), (b"connection", b"close")]
            await _send_json(send, 401, _UNAUTHORIZED, closing)
            return
        scope[IDENTITY] = identity
        await self.app(scope, receive, send)

    async def _identify(self, scope: Scope, headers: Headers) -> Identity | None:
        scheme, _, token = headers.get("authorization", "").partition(" ")
        token = token.strip()
        if token and scheme.lower() in ("bearer", "token"):
            if token.startswith(TOKEN_PREFIX) or self.hub is None:
                return self.service.authenticate(token)
            return await self.hub.identify(token)
        if scope["method"] in _SAFE_METHODS and scope["path"].startswith("/admin/"):
            admin = _cookies(headers).get(ADMIN_COOKIE)
            who = self.service.authenticate(admin) if admin else None
            if who is not None and who.admin:
                return who
        if self.hub is not None and scope["method"] in _SAFE_METHODS:
            cookie = _cookies(headers).get(self.hub.cookie_name)
            if cookie:
                return await self.hub.identify_cookie(cookie)
        return None

    def _browser(self, scope: Scope, headers: Headers) -> bool:
        return (
            self.hub is not None
            and scope["method"] in _SAFE_METHODS
            and "authorization" not in headers
            and "text/html" in headers.get("accept", "")
        )

    async def _oauth_callback(self, scope: Scope, headers: Headers, send: Send) -> None:
        assert self.hub is not None
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        state_name = self.hub.cookie_name + "-oauth-state"
        saved = _cookies(headers).get(state_name, "")
        if "code" not in query or "state" not in query or not saved:
            await _send_json(
                send, 400, b'{"error":"log in through the hub: open the page again"}', []
            )
            return
        try:
            value, next_url = await self.hub.finish_login(query["code"], query["state"], saved)
        except GatewayError as exc:
            await _send_json(send, 400, json.dumps({"error": exc.message}).encode(), [])
            return
        secure = scope.get("scheme") == "https"
        cookies = [
            cookie_header(
                self.hub.cookie_name,
                value,
                path=self.prefix,
                max_age=COOKIE_MAX_AGE_S,
                secure=secure,
            ),
            cookie_header(state_name, "", path=self.prefix, max_age=0, secure=secure),
        ]
        await _redirect(send, next_url, cookies)


def _cookies(headers: Headers) -> dict[str, str]:
    jar: dict[str, str] = {}
    for header in headers.getlist("cookie"):
        for part in header.split(";"):
            name, _, value = part.strip().partition("=")
            if name and name not in jar:
                jar[name] = value
    return jar


def create_app(
    service: TutorService,
    *,
    owns_service: bool = False,
    hub: HubLogin | None = None,
    prefix: str | None = None,
) -> Starlette:
    """The ASGI app; with ``owns_service`` its lifespan closes the service at shutdown.

    ``hub`` makes it a JupyterHub service answering under ``prefix`` (default: the hub's
    ``/services/<name>/``); without a hub, paths start at ``prefix`` (default ``/``).
    """

    def identity(request: Request, role: str) -> Identity:
        who: Identity = request.scope[IDENTITY]
        allowed = who.learner if role == "learner" else who.admin
        if not allowed:
            raise RequestRejected(403, "forbidden")
        return who

    async def read_json(request: Request) -> Any:
        cap = service.settings.max_body_bytes
        declared = request.headers.get("content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > cap):
            raise RequestRejected(413, f"the request is larger than {cap:,} bytes")
        body = bytearray()
        limit = service.settings.header_timeout_s
        try:
            async with asyncio.timeout(limit):  # a body trickling in holds a connection
                async for chunk in request.stream():
                    body += chunk
                    if len(body) > cap:
                        raise RequestRejected(413, f"the request is larger than {cap:,} bytes")
        except TimeoutError:
            raise RequestRejected(408, f"the request did not arrive within {limit:g} s") from None
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
        if not -(2**63) <= data["attempt_id"] < 2**63:  # what SQLite can hold
            raise RequestRejected(422, "attempt_id is out of range: send the id of an answer")
        service.feedback(who, data["attempt_id"], data["accepted"])
        return JSONResponse({"ok": True})

    async def check(request: Request) -> Response:
        who = identity(request, "learner")
        report = parse_check(await read_json(request))
        return JSONResponse({"checks": service.check(who, report)})

    async def complete(request: Request) -> Response:
        who = identity(request, "learner")
        try:
            inp = parse_input(await read_json(request))
        except BadCompletionRequest as exc:
            raise RequestRejected(422, str(exc)) from None
        work = asyncio.ensure_future(service.complete(who, inp))
        gone = asyncio.ensure_future(_disconnected(request))
        try:
            await asyncio.wait({work, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not work.done():  # the learner typed on: stop the model call
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await work
            return Response(status_code=499)
        return JSONResponse(work.result().to_json())

    async def me(request: Request) -> Response:
        return JSONResponse(service.me(identity(request, "learner")))

    async def summary(request: Request) -> Response:
        identity(request, "admin")
        report = await asyncio.get_running_loop().run_in_executor(
            service.executor, build_summary, service
        )
        if "text/html" in request.headers.get("accept", ""):
            # An instructor opening the page in a browser (through the hub's login).
            body = f"<pre>{escape(summary_text(report))}</pre>"
            return HTMLResponse(html_page("Tutor summary", body))
        return JSONResponse(report.to_json())

    async def help_json(request: Request) -> Response:
        identity(request, "admin")
        report = await asyncio.get_running_loop().run_in_executor(
            service.executor, build_help, service
        )
        return JSONResponse(report.to_json())

    async def help_html(request: Request) -> Response:
        identity(request, "admin")

        def page() -> str:
            title = f"Help-seeking: {', '.join(service.lessons)}"
            return help_page(build_help(service), title=title)

        html = await asyncio.get_running_loop().run_in_executor(service.executor, page)
        return HTMLResponse(html, headers={"Cache-Control": "no-store"})

    async def login(request: Request) -> Response:
        if request.method == "GET":
            return HTMLResponse(login_page())
        body = (await request.body())[:4096].decode("utf-8", "replace")
        token = (urllib.parse.parse_qs(body).get("token") or [""])[0].strip()
        who = service.authenticate(token) if token else None
        if who is None or not who.admin:
            return HTMLResponse(login_page("That is not an admin token."), status_code=401)
        root = request.scope.get("root_path", "")  # /services/<name> under a hub
        response = RedirectResponse(f"{root}/admin/help", status_code=303)
        response.set_cookie(
            ADMIN_COOKIE,
            token,
            max_age=8 * 3600,
            path=f"{root}/admin",
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
        )
        return response

    async def rejected(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestRejected)
        body: dict[str, Any] = {"error": exc.message}
        if exc.action is not None:
            body.update(refused="policy", action=exc.action)
        headers = {}
        if exc.retry_in_s is not None:
            body["retry_in_s"] = round(exc.retry_in_s, 1)
            headers["Retry-After"] = str(max(1, math.ceil(exc.retry_in_s)))
        return JSONResponse(body, status_code=exc.status, headers=headers)

    routes = [Route(f"/v1/{kind}", tutor_endpoint(kind), methods=["POST"]) for kind in KINDS]
    routes += [
        Route("/v1/feedback", feedback, methods=["POST"]),
        Route("/v1/check", check, methods=["POST"]),
        Route("/v1/complete", complete, methods=["POST"]),
        Route("/v1/me", me, methods=["GET"]),
        Route("/admin/summary", summary, methods=["GET"]),
        Route("/admin/help", help_html, methods=["GET"]),
        Route("/admin/help.json", help_json, methods=["GET"]),
        Route(LOGIN, login, methods=["GET", "POST"]),
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await service.router.aclose()  # the HTTP clients completions used on this loop
            if owns_service:
                service.close()

    app = Starlette(
        routes=routes, exception_handlers={RequestRejected: rejected}, lifespan=lifespan
    )
    where = prefix if prefix is not None else (hub.prefix if hub is not None else "/")
    app.add_middleware(Auth, service=service, hub=hub, prefix=where)
    return app


def login_page(problem: str = "") -> str:
    """The admin's sign-in form (the token goes into an HttpOnly cookie, never a URL)."""
    note = f"<p class='fail'>{escape(problem)}</p>" if problem else ""
    body = (
        "<h1>eduproject tutor: instructor sign-in</h1>"
        "<p class='muted'>Paste an admin token from <code>eduproject tokens admin</code>.</p>"
        f"{note}<form method='post' action='login'>"
        "<input type='password' name='token' autocomplete='off' size='48' "
        "aria-label='admin token' required> <button type='submit'>Sign in</button></form>"
    )
    return html_page("Instructor sign-in", body)


async def _disconnected(request: Request) -> None:
    """Returns when the client closes the connection (the body is read already)."""
    while True:
        message = await request.receive()
        if message["type"] == "http.disconnect":
            return


async def _sse_body(run: CallRun) -> AsyncIterator[bytes]:
    try:
        async for event, data in run.events(keepalive_s=KEEPALIVE_S):
            if event == "keepalive":
                yield b": keepalive\n\n"
            elif event == "delta":
                yield sse_event("delta", {"text": data})
            else:
                yield sse_event(event, data)
    finally:
        run.cancel()  # harmless when the call is over; stops it when the learner left
