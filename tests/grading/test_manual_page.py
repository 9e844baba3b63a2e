"""The manual-grading page over HTTP: sign-in, CSRF, host check, saving, hostile answers."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from eduproject.core.lesson import Lesson
from eduproject.grading.gradebook import Gradebook
from eduproject.grading.manual import ManualDesk
from eduproject.grading.manual_page import create_manual_app
from eduproject.runner.sandbox import Zygote
from tests.support.manual_lesson import MANUAL

from .grading_support import WriteLesson, bundle_lesson, grade
from .test_manual import answered

ORIGIN = "http://127.0.0.1:8766"
TOKEN = "one-time-token-for-tests"
HOSTILE = (
    "<script>alert('x')</script> <img src=x onerror=alert(1)> "
    "[click](javascript:alert(2)) ![pic](http://evil.example/track.png)"
)
HOSTILE_CODE = (
    "from IPython.display import HTML, display\n"
    "display(HTML('<b onmouseover=alert(3)>bold</b><script>alert(4)</script>'))\n"
    "print('</pre><script>alert(5)</script>')"
)


@pytest.fixture
def desk(write_lesson: WriteLesson, tmp_path: Path, zygote: Zygote) -> ManualDesk:
    lesson: Lesson = bundle_lesson(write_lesson(MANUAL, "loops"), tmp_path / "grader")
    db = tmp_path / "gb.sqlite"
    with Gradebook(db) as gb:
        run = gb.start_run("loops", lesson.version, {})
        for learner, written, code in (
            ("ada", "Each item once.", "print(1)"),
            ("bob", HOSTILE, HOSTILE_CODE),
        ):
            result = grade(lesson, zygote, answered(lesson, written, code))
            from dataclasses import replace

            gb.record(replace(result, learner=learner), run)
    return ManualDesk(lesson, db)


def signed_in(desk: ManualDesk) -> tuple[TestClient, str]:
    client = TestClient(create_manual_app(desk, token=TOKEN, origin=ORIGIN), base_url=ORIGIN)
    response = client.post("/login", data={"token": TOKEN}, follow_redirects=False)
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
    page = client.get("/grade?q=explain&l=ada").text
    csrf = re.search(r"name='csrf' value='([0-9a-f]+)'", page)
    assert csrf is not None
    return client, csrf.group(1)


def test_the_token_opens_one_session_only(desk: ManualDesk) -> None:
    app = create_manual_app(desk, token=TOKEN, origin=ORIGIN)
    stranger = TestClient(app, base_url=ORIGIN)
    assert stranger.get("/", follow_redirects=False).headers["location"] == "/login"
    assert stranger.get("/grade?q=explain", follow_redirects=False).status_code == 303
    assert stranger.post("/save", data={}).status_code == 401
    wrong = stranger.post("/login", data={"token": "guess"})
    assert wrong.status_code == 401 and "not the token" in wrong.text
    client = TestClient(app, base_url=ORIGIN)
    assert client.post("/login", data={"token": TOKEN}, follow_redirects=False).status_code == 303
    again = stranger.post("/login", data={"token": TOKEN})
    assert again.status_code == 401 and "already used" in again.text
    page = client.get("/")  # follows to the first answer left to grade
    assert page.status_code == 200 and "Why a loop?" in page.text
    assert "default-src 'none'" in page.headers["content-security-policy"]


def test_other_host_names_are_refused(desk: ManualDesk) -> None:
    app = create_manual_app(desk, token=TOKEN, origin=ORIGIN)
    rebound = TestClient(app, base_url="http://evil.example:8766")
    assert rebound.post("/login", data={"token": TOKEN}).status_code == 421
    assert TestClient(app, base_url="http://localhost:8766").get("/login").status_code == 200


def test_saving_needs_the_csrf_token_and_our_origin(desk: ManualDesk) -> None:
    client, csrf = signed_in(desk)
    answer = desk.answers("explain")[0]
    form = {
        "exercise": "explain",
        "learner": "ada",
        "answer_hash": answer.answer_hash,
        "points": "2",
        "comment": "Clear.",
    }
    json_accept = {"accept": "application/json"}
    assert client.post("/save", data=form, headers=json_accept).status_code == 403
    forged = client.post(
        "/save",
        data={**form, "csrf": csrf},
        headers={**json_accept, "origin": "http://evil.example"},
    )
    assert forged.status_code == 403
    assert desk.answers("explain")[0].pending
    saved = client.post(
        "/save", data={**form, "csrf": csrf}, headers={**json_accept, "origin": ORIGIN}
    )
    assert saved.status_code == 200
    assert saved.json() == {
        "ok": True,
        "points": 2.0,
        "question_left": 1,
        "lesson_left": 3,
        "lesson_total": 4,
    }
    stored = desk.answers("explain")[0]
    assert (stored.points, stored.comment) == (2, "Clear.")
    bad = client.post("/save", data={**form, "csrf": csrf, "points": "7"}, headers=json_accept)
    assert bad.status_code == 400 and "outside 0..2" in bad.json()["error"]
    words = client.post("/save", data={**form, "csrf": csrf, "points": "two"}, headers=json_accept)
    assert words.status_code == 400 and "is not a number" in words.json()["error"]
    # Without script: the form posts, saves and goes on to the next learner.
    plain = client.post(
        "/save", data={**form, "csrf": csrf, "points": "1,5"}, follow_redirects=False
    )
    assert plain.status_code == 303 and plain.headers["location"] == "/grade?q=explain&l=bob"
    assert desk.answers("explain")[0].points == 1.5
    cleared = client.post("/save", data={**form, "csrf": csrf, "points": ""}, headers=json_accept)
    assert cleared.json()["points"] is None and desk.answers("explain")[0].pending


def test_hostile_answers_are_shown_as_text(desk: ManualDesk) -> None:
    client, _ = signed_in(desk)
    for question in ("explain", "squares"):
        page = client.get(f"/grade?q={question}&l=bob").text
        scripts = re.findall(r"<script[^>]*>", page)
        assert scripts == ["<script src='/static/manual.js'>"]
        assert "onerror=" not in page.replace("onerror=alert(1)&gt;", "")
        assert "javascript:" not in page.replace("(javascript:alert(2))", "")
        assert "evil.example" not in page.replace("http://evil.example/track.png", "")
        assert "<b onmouseover" not in page
    explain = client.get("/grade?q=explain&l=bob").text
    assert "&lt;script&gt;alert('x')&lt;/script&gt;" in explain
    squares = client.get("/grade?q=squares&l=bob").text
    assert "&lt;/pre&gt;&lt;script&gt;alert(5)&lt;/script&gt;" in squares  # printed
    assert "MODEL-SECRET" in client.get("/grade?q=explain&l=ada").text  # the instructor's key
    script = client.get("/static/manual.js")
    assert script.headers["content-type"].startswith("text/javascript")


def test_the_page_shows_progress_and_where_the_keys_lead(desk: ManualDesk) -> None:
    client, _ = signed_in(desk)
    page = client.get("/grade?q=explain&l=ada").text
    assert "4 of 4 answers left" in page and "learner 1 of 2" in page
    nav = re.search(r"<div id='nav' hidden ([^>]*)>", page)
    assert nav is not None
    attributes = dict(re.findall(r"data-([a-z-]+)='([^']*)'", nav.group(1)))
    assert attributes["next"] == "/grade?q=explain&amp;l=bob"
    assert attributes["prev"] == ""
    assert attributes["next-question"] == "/grade?q=squares"
    assert attributes["next-pending"] == "/grade?q=explain&amp;l=bob"
    missing = client.get("/grade?q=explain&l=nobody")
    assert missing.status_code == 404 and "no gradable answer" in missing.text
    assert client.get("/grade?q=double").status_code == 404  # auto-graded: not here
    assert json.loads(json.dumps(desk.progress("squares").__dict__))["question_total"] == 2


def _cli(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    from eduproject.cli import main

    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    return code, capsys.readouterr().err


def test_the_command_says_what_is_missing(
    write_lesson: WriteLesson, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    auto = write_lesson(MANUAL[:4], "auto")
    manual = write_lesson(MANUAL, "loops")
    db = tmp_path / "gb.sqlite"
    code, err = _cli(["manual", str(manual), "--db", str(db)], capsys)
    assert code == 1 and "no gradebook here" in err and "eduproject grade" in err
    Gradebook(db).close()
    code, err = _cli(["manual", str(auto), "--db", str(db)], capsys)
    assert code == 1 and "has no manual exercises" in err
    code, err = _cli(["manual", str(manual), "--db", str(db)], capsys)
    assert code == 1 and "no graded submissions of lesson 'loops'" in err
    assert "Traceback" not in err
