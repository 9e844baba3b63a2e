"""The manual-grading page: ``eduproject manual LESSON --db DB`` (see docs/manual.md).

A small Starlette app over a :class:`~eduproject.grading.manual.ManualDesk`, served by
uvicorn on this machine only (``127.0.0.1`` unless ``--host`` says otherwise). The person
grading goes through the manual answers one question at a time, learner after learner, and
every points field and comment is written to the gradebook as soon as it is saved.

Trust boundaries:

- **Who may use it.** A one-time token is printed at start; the sign-in form exchanges it
  for a session cookie (random, HttpOnly, SameSite=Strict) and the token is then spent.
  Requests naming another ``Host`` than this server's address are refused, so a web page
  the instructor visits cannot reach the server through a rebound DNS name.
- **Forged requests.** Every POST carries the session's CSRF token (and, when the browser
  sends one, an ``Origin`` of this server); the cookie is not sent on cross-site requests.
- **Learner answers are hostile input.** They are rendered as the feedback pages render
  notebooks (:func:`~eduproject.grading.feedback.render_notebook`): text escaped, markdown
  without raw HTML, links only to http(s), images only as checked ``data:`` URIs, HTML
  outputs shown as text. The Content Security Policy lets only ``/static/manual.js`` run.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from html import escape
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from eduproject.core.lesson import Exercise, Role
from eduproject.errors import EduprojectError
from eduproject.grading.feedback import render_notebook
from eduproject.grading.manual import Answer, ManualDesk
from eduproject.util.html import html_page
from eduproject.util.net import listen

__all__ = ["DEFAULT_PORT", "create_manual_app", "serve_manual"]

DEFAULT_PORT = 8766
COOKIE = "eduproject-manual"
MAX_FORM = 64 * 1024  # bytes of a form read (a comment is at most 4,000 characters)
_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; img-src data:; "
    "style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_MARKERS = ("### BEGIN SOLUTION", "### END SOLUTION")
_CSS = """
body { max-width: none; padding: 0; }
header.bar { position: sticky; top: 0; z-index: 2; background: #24292f; color: #fff;
  padding: 8px 20px; display: flex; gap: 24px; align-items: center; flex-wrap: wrap; }
header.bar a { color: #fff; } header.bar .left { color: #d0d7de; }
header.bar progress { width: 180px; }
nav.questions { padding: 8px 20px; border-bottom: 1px solid #d0d7de; background: #f6f8fa; }
nav.questions a { margin-right: 6px; padding: 3px 10px; border-radius: 12px;
  text-decoration: none; color: #1f2328; border: 1px solid #d0d7de; background: #fff;
  display: inline-block; margin-bottom: 4px; }
nav.questions a.current { background: #0969da; color: #fff; border-color: #0969da; }
main.desk { display: grid; grid-template-columns: minmax(0, 1fr) 400px; gap: 24px;
  padding: 12px 20px 40px; }
.who { display: flex; gap: 12px; align-items: center; margin: 4px 0 8px; flex-wrap: wrap; }
.who .name { font-size: 1.3em; font-weight: 600; }
.prompt-box { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px;
  padding: 2px 14px; margin-bottom: 8px; }
.answer-box { border: 2px solid #0969da; border-radius: 6px; padding: 4px 14px; }
aside.key { position: sticky; top: 56px; align-self: start; max-height: calc(100vh - 70px);
  overflow-y: auto; }
form.grade { background: #fff8c5; border: 1px solid #d4a72c; border-radius: 6px;
  padding: 10px 12px; }
form.grade label { display: block; font-weight: 600; margin: 6px 0 2px; }
form.grade input[name=points] { font-size: 1.4em; width: 6em; padding: 2px 6px; }
form.grade textarea { width: 100%; box-sizing: border-box; min-height: 5em; font: inherit; }
#status { margin-left: 8px; } #status.saved { color: #2e7d32; } #status.error { color: #c62828; }
.model { border: 1px solid #d0d7de; border-radius: 6px; padding: 2px 12px; margin-top: 12px; }
.keys { margin-top: 12px; font-size: 0.9em; color: #57606a; }
kbd { border: 1px solid #afb8c1; border-bottom-width: 2px; border-radius: 4px;
  padding: 0 4px; font: 12px ui-monospace, monospace; background: #f6f8fa; }
.pill { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em; }
.pill.pending { background: #fff4e5; color: #9a3412; border: 1px solid #ef6c00; }
.pill.done { background: #e8f5e9; color: #1b5e20; border: 1px solid #2e7d32; }
"""


class _Sessions:
    """The one-time token and the sessions it opened (this process's memory only)."""

    def __init__(self, token: str) -> None:
        self._token = _digest(token)
        self._spent = False
        self._sessions: set[str] = set()

    def sign_in(self, token: str) -> str | None:
        """A new session id for the right, unspent token; else None."""
        if self._spent or not hmac.compare_digest(_digest(token), self._token):
            return None
        self._spent = True
        session = secrets.token_urlsafe(32)
        self._sessions.add(_digest(session))
        return session

    @property
    def spent(self) -> bool:
        return self._spent

    def valid(self, session: str | None) -> bool:
        return bool(session) and _digest(session or "") in self._sessions

    def csrf(self, session: str) -> str:
        return hmac.new(session.encode(), b"csrf", hashlib.sha256).hexdigest()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def create_manual_app(desk: ManualDesk, *, token: str, origin: str) -> ASGIApp:
    """The page's app. ``origin`` is this server's ``http://host:port`` (Host and Origin
    headers must name it; ``localhost`` is accepted for ``127.0.0.1`` too)."""
    sessions = _Sessions(token)
    allowed = _allowed_hosts(origin)
    script = resources.files("eduproject.grading").joinpath("static/manual.js").read_bytes()

    def page(body: str, status: int = 200, title: str = "Manual grading") -> HTMLResponse:
        return HTMLResponse(
            html_page(title, body, extra_css=_CSS, csp=_CSP),
            status_code=status,
            headers=_headers(),
        )

    def session_of(request: Request) -> str | None:
        value = request.cookies.get(COOKIE)
        return value if sessions.valid(value) else None

    async def login(request: Request) -> Response:
        problem = ""
        if request.method == "POST":
            form = await _form(request)
            session = sessions.sign_in(form.get("token", "").strip())
            if session is not None:
                response = RedirectResponse("/", status_code=303, headers=_headers())
                response.set_cookie(COOKIE, session, httponly=True, samesite="strict", path="/")
                return response
            problem = (
                "This token was already used: each token opens one browser session. Restart "
                "`eduproject manual` for a new one."
                if sessions.spent
                else "That is not the token `eduproject manual` printed."
            )
        return page(_login_body(problem), 401 if problem else 200, "Sign in: manual grading")

    async def home(request: Request) -> Response:
        if session_of(request) is None:
            return RedirectResponse("/login", status_code=303)
        first = desk.next_pending() or next(iter(desk.answers()), None)
        if first is None:
            return page("<p class='note'>No graded submission has a manual answer yet.</p>")
        return RedirectResponse(_grade_url(first.exercise, first.learner), status_code=303)

    async def grade_page(request: Request) -> Response:
        session = session_of(request)
        if session is None:
            return RedirectResponse("/login", status_code=303)
        exercise = request.query_params.get("q") or desk.questions[0].id
        learner = request.query_params.get("l")
        try:
            question = desk.question(exercise)
        except EduprojectError as exc:
            return page(f"<p class='warn'>{escape(str(exc))}</p>", 404)
        answers = desk.answers(exercise)
        if learner is None and answers:
            learner = next((a.learner for a in answers if a.pending), answers[0].learner)
        answer = desk.answer(exercise, learner) if learner is not None else None
        body = _desk_body(desk, question, answers, answer, sessions.csrf(session))
        return page(body, 200 if answer is not None or not answers else 404)

    async def save(request: Request) -> Response:
        session = session_of(request)
        wants_json = "application/json" in request.headers.get("accept", "")
        if session is None:
            return JSONResponse({"error": "sign in again"}, status_code=401)
        sent_origin = request.headers.get("origin")
        form = await _form(request)
        if (sent_origin is not None and sent_origin not in allowed["origins"]) or not (
            hmac.compare_digest(form.get("csrf", ""), sessions.csrf(session))
        ):
            return JSONResponse({"error": "forged request refused"}, status_code=403)
        exercise, learner = form.get("exercise", ""), form.get("learner", "")
        text = form.get("points", "").strip().replace(",", ".")
        try:
            points = float(text) if text else None
            if points is not None and points != points:  # NaN
                raise ValueError
        except ValueError:
            return _problem(f"{text!r} is not a number of points", wants_json)
        try:
            desk.grade(
                exercise,
                learner,
                form.get("answer_hash", ""),
                points,
                form.get("comment", ""),
            )
        except EduprojectError as exc:
            return _problem(exc.message, wants_json, hint=exc.hint)
        progress = desk.progress(exercise)
        if wants_json:
            return JSONResponse(
                {
                    "ok": True,
                    "points": points,
                    "question_left": progress.question_left,
                    "lesson_left": progress.lesson_left,
                    "lesson_total": progress.lesson_total,
                },
                headers=_headers(),
            )
        target = _neighbour(desk.answers(exercise), learner, +1) or learner
        return RedirectResponse(_grade_url(exercise, target), status_code=303)

    async def static_js(request: Request) -> Response:
        return Response(script, media_type="text/javascript", headers=_headers())

    app = Starlette(
        routes=[
            Route("/", home),
            Route("/login", login, methods=["GET", "POST"]),
            Route("/grade", grade_page),
            Route("/save", save, methods=["POST"]),
            Route("/static/manual.js", static_js),
        ]
    )
    return _HostCheck(app, allowed["hosts"])


class _HostCheck:
    """Refuse requests for another host name (DNS rebinding) before any route runs."""

    def __init__(self, app: ASGIApp, hosts: set[str]) -> None:
        self.app, self.hosts = app, hosts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
            if host not in self.hosts:
                response = Response("unknown host", status_code=421, media_type="text/plain")
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _form(request: Request) -> dict[str, str]:
    """An urlencoded form (what the page's form and script send), at most 64 KiB of it."""
    body = (await request.body())[:MAX_FORM].decode("utf-8", "replace")
    return dict(parse_qsl(body, keep_blank_values=True))


def _allowed_hosts(origin: str) -> dict[str, set[str]]:
    host_port = origin.split("://", 1)[1].rstrip("/")
    host, _, port = host_port.rpartition(":")
    hosts = {host_port}
    if host in ("127.0.0.1", "[::1]", "localhost"):
        hosts |= {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
    return {"hosts": hosts, "origins": {f"http://{h}" for h in hosts}}


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": _CSP,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def _problem(message: str, wants_json: bool, *, hint: str | None = None) -> Response:
    text = message + (f" ({hint})" if hint else "")
    if wants_json:
        return JSONResponse({"error": text}, status_code=400, headers=_headers())
    return HTMLResponse(
        html_page("Not saved", f"<p class='warn'>{escape(text)}</p>", csp=_CSP),
        400,
        headers=_headers(),
    )


def _grade_url(exercise: str, learner: str) -> str:
    return "/grade?" + urlencode({"q": exercise, "l": learner})


def _points(value: float) -> str:
    return f"{value:g} point" + ("" if value == 1 else "s")


def _question_url(exercise: str) -> str:
    """A question's page: it opens at its first answer left to grade."""
    return "/grade?" + urlencode({"q": exercise})


def _neighbour(answers: list[Answer], learner: str, step: int) -> str | None:
    names = [a.learner for a in answers]
    if learner not in names:
        return None
    at = names.index(learner) + step
    return names[at] if 0 <= at < len(names) else None


def _login_body(problem: str) -> str:
    note = f"<p class='warn'>{escape(problem)}</p>" if problem else ""
    return (
        "<main style='max-width:520px;margin:60px auto'><h1>Manual grading</h1>"
        "<p>Paste the token that <code>eduproject manual</code> printed in the terminal.</p>"
        f"{note}<form method='post' action='/login' id='login'>"
        "<label for='token'>token</label><br>"
        "<input id='token' name='token' type='password' autocomplete='off' size='50' autofocus>"
        " <button type='submit'>Sign in</button></form></main>"
        "<script src='/static/manual.js'></script>"
    )


def _cells_html(cells: list[dict[str, Any]]) -> str:
    return render_notebook({"cells": cells})


def _model_answer(desk: ManualDesk, question: Exercise) -> str:
    cells = []
    for cell in desk.lesson.cells:
        if cell.exercise != question.id or cell.role is not Role.ANSWER:
            continue
        source = "\n".join(line for line in cell.source.split("\n") if line.strip() not in _MARKERS)
        cells.append({"cell_type": cell.kind, "source": source, "metadata": {}, "outputs": []})
    if not cells:
        return "<p class='note'>No model answer: learners answer in cells of their own.</p>"
    return _cells_html(cells)


def _desk_body(
    desk: ManualDesk,
    question: Exercise,
    answers: list[Answer],
    answer: Answer | None,
    csrf: str,
) -> str:
    progress = desk.progress(question.id)
    done = progress.lesson_total - progress.lesson_left
    links = []
    for q in desk.questions:
        left = desk.progress(q.id).question_left
        current = " class='current' aria-current='page'" if q.id == question.id else ""
        links.append(
            f"<a{current} href='{escape(_question_url(q.id))}'>{escape(q.title)} "
            f"<span class='qleft'>({left} left)</span></a>"
        )
    header = (
        f"<header class='bar'><b>{escape(desk.lesson.title)}</b><span>manual grading</span>"
        f"<progress id='lesson-progress' max='{progress.lesson_total}' value='{done}'></progress>"
        f"<span class='left' id='lesson-left'>{progress.lesson_left} of "
        f"{progress.lesson_total} answers left</span></header>"
        f"<nav class='questions' aria-label='questions'>{''.join(links)}</nav>"
    )
    q_index = [q.id for q in desk.questions].index(question.id)
    nav = {
        "next-question": desk.questions[(q_index + 1) % len(desk.questions)].id,
        "prev-question": desk.questions[(q_index - 1) % len(desk.questions)].id,
    }
    prompt = _cells_html([{"cell_type": "markdown", "source": question.prompt, "metadata": {}}])
    rubric = (
        _cells_html([{"cell_type": "markdown", "source": question.rubric, "metadata": {}}])
        if question.rubric.strip()
        else "<p class='note'>No rubric in the lesson.</p>"
    )
    key = (
        f"<div class='model'><h3>Model answer</h3>{_model_answer(desk, question)}</div>"
        f"<div class='model'><h3>Rubric</h3>{rubric}</div>"
        "<div class='keys'><b>Keys</b>: <kbd>j</kbd> or <kbd>&rarr;</kbd> next learner, "
        "<kbd>k</kbd> or <kbd>&larr;</kbd> previous learner, <kbd>n</kbd> / <kbd>p</kbd> "
        "next / previous question, <kbd>u</kbd> next answer left to grade, <kbd>g</kbd> "
        "points field, <kbd>Enter</kbd> in the points field: save and next learner, "
        "<kbd>Esc</kbd> leave a field. Points and comment are saved as you leave them.</div>"
    )
    if answer is None:
        text = (
            "No graded submission has an answer to this question yet."
            if not answers
            else "This learner has no gradable answer to this question."
        )
        return (
            f"{header}<main class='desk'><section><h1>{escape(question.title)}</h1>"
            f"<p class='note'>{escape(text)}</p></section><aside class='key'>{key}</aside>"
            f"</main>{_nav_data(nav, None, None, None, csrf)}"
        )
    names = [a.learner for a in answers]
    position = names.index(answer.learner)
    prev_l = _neighbour(answers, answer.learner, -1)
    next_l = _neighbour(answers, answer.learner, +1)
    pending = [a for a in answers if a.pending and a.learner != answer.learner]
    later = [a for a in pending if names.index(a.learner) > position]
    next_url = None
    if later or pending:
        next_url = _grade_url(question.id, (later or pending)[0].learner)
    elif progress.lesson_left:
        other = desk.next_pending()
        next_url = _grade_url(other.exercise, other.learner) if other is not None else None
    state = (
        "<span class='pill pending' id='state'>not graded yet</span>"
        if answer.pending
        else f"<span class='pill done' id='state'>graded: {answer.points:g} / "
        f"{answer.max_points:g}</span>"
    )
    cells = (
        _cells_html(list(answer.cells))
        if answer.cells
        else ("<p class='note'>The learner wrote nothing here.</p>")
    )
    points = "" if answer.points is None else f"{answer.points:g}"
    form = (
        "<form class='grade' id='grade' method='post' action='/save'>"
        f"<input type='hidden' name='csrf' value='{escape(csrf)}'>"
        f"<input type='hidden' name='exercise' value='{escape(question.id)}'>"
        f"<input type='hidden' name='learner' value='{escape(answer.learner)}'>"
        f"<input type='hidden' name='answer_hash' value='{escape(answer.answer_hash)}'>"
        f"<label for='points'>Points (0 to {answer.max_points:g})</label>"
        f"<input id='points' name='points' inputmode='decimal' autocomplete='off' "
        f"value='{escape(points)}' data-max='{answer.max_points:g}'> / {answer.max_points:g}"
        "<label for='comment'>Comment (the learner reads it in the feedback)</label>"
        f"<textarea id='comment' name='comment'>{escape(answer.comment)}</textarea>"
        "<button type='submit'>Save</button><span id='status' role='status'></span></form>"
    )
    who = (
        f"<div class='who'><span class='name' id='learner'>{escape(answer.learner)}</span>"
        f"<span class='muted'>learner {position + 1} of {len(answers)}</span>{state}"
        f"<span class='muted' id='question-left'>{progress.question_left} of "
        f"{progress.question_total} left in this question</span></div>"
    )
    return (
        f"{header}<main class='desk'><section>"
        f"<p class='muted qhead'>Question {q_index + 1} of {len(desk.questions)} &middot; "
        f"{_points(answer.max_points)}</p><div class='prompt-box' id='prompt'>{prompt}</div>"
        f"{who}"
        f"<div class='answer-box' id='answer'>{cells}</div></section>"
        f"<aside class='key'>{form}{key}</aside></main>"
        f"{_nav_data(nav, prev_l, next_l, next_url, csrf, question.id)}"
    )


def _nav_data(
    nav: dict[str, str],
    prev_l: str | None,
    next_l: str | None,
    next_pending: str | None,
    csrf: str,
    exercise: str = "",
) -> str:
    """Where the keys lead, for manual.js (data attributes: no inline script)."""
    urls = {
        "prev": _grade_url(exercise, prev_l) if prev_l else "",
        "next": _grade_url(exercise, next_l) if next_l else "",
        "next-question": _question_url(nav["next-question"]),
        "prev-question": _question_url(nav["prev-question"]),
        "next-pending": next_pending or "",
    }
    attributes = " ".join(f"data-{k}='{escape(v)}'" for k, v in urls.items())
    return f"<div id='nav' hidden {attributes}></div><script src='/static/manual.js'></script>"


def serve_manual(
    desk: ManualDesk,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    on_ready: Callable[[str, str], None] | None = None,
) -> None:
    """Serve the page until interrupted; ``on_ready(url, token)`` once the socket listens."""
    import uvicorn

    sock = listen(host, port)
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{sock.getsockname()[1]}"
    token = secrets.token_urlsafe(24)
    app = create_manual_app(desk, token=token, origin=url)
    config = uvicorn.Config(
        app, log_level="warning", access_log=False, server_header=False, lifespan="off"
    )
    try:
        if on_ready is not None:
            on_ready(url, token)
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        sock.close()
