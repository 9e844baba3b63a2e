"""``eduproject serve`` as a real process: no provider key and no token in any response, log
or database -- even when the model server echoes the key back -- and learners see nothing of
each other."""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from eduproject.gateway.db import Database
from eduproject.gateway.tokens import TokenStore
from tests.support.cli import run_cli

from .gateway_support import CODE, ECHO_AUTH, LESSON, SERVER_ERROR, bearer, fake_model, write_config

pytestmark = pytest.mark.slow

HINT = {"lesson": LESSON, "exercise": "sum_evens", "code": CODE, "tests": [], "level": 1}
ASK = {"lesson": LESSON, "exercise": "sum_evens", "question": "Why 10?", "context": CODE}
SSE = {"Accept": "text/event-stream"}


def _start(
    course: Path, env: dict[str, str], log: Path, *options: str
) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "eduproject.cli", "serve", "--course", str(course)]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*command, "--port", "0", *options], stdout=out, stderr=subprocess.STDOUT, env=env
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+)", log.read_text(errors="replace"))
        if found:  # the socket listens already: requests wait in its backlog
            return proc, found.group(1)
        if proc.poll() is not None:
            raise AssertionError(f"serve exited early:\n{log.read_text()}")
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"serve did not start within 60 s:\n{log.read_text()}")


def test_no_key_or_token_in_responses_logs_or_files(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "sk-planted-" + secrets.token_hex(16)
    roster = tmp_path / "roster.csv"
    roster.write_text("learner\nada\nbob\n", encoding="utf-8")
    code, _, _ = run_cli(
        [
            "tokens",
            "issue",
            "--learners",
            str(roster),
            "--course",
            str(course),
            "-o",
            str(tmp_path / "t.csv"),
        ],
        capsys,
    )
    assert code == 0
    tokens = dict(line.split(",") for line in (tmp_path / "t.csv").read_text().split()[1:])
    code, admin, _ = run_cli(["tokens", "admin", "--course", str(course)], capsys)
    admin = admin.strip()
    secrets_ = {"key": key, "ada": tokens["ada"], "bob": tokens["bob"], "admin": admin}

    log = tmp_path / "serve.log"
    with fake_model([ECHO_AUTH, SERVER_ERROR]) as fake:
        write_config(course, base_url=fake.base_url, api_key_env="EDUPROJECT_TEST_PROVIDER_KEY")
        env = {**os.environ, "EDUPROJECT_TEST_PROVIDER_KEY": key}
        proc, url = _start(course, env, log, "--access-log")
        try:
            ada = httpx.Client(base_url=url, headers=bearer(tokens["ada"]), timeout=30)
            bob = httpx.Client(base_url=url, headers=bearer(tokens["bob"]), timeout=30)
            seen_by_ada = [
                ada.post("/v1/hint", json=HINT, headers=SSE),  # the model echoes the key
                ada.post("/v1/ask", json=ASK),  # the model fails, quoting the key
                ada.post("/v1/explain", json={"code": CODE}),
                ada.get("/v1/me"),
            ]
            bob_attempt = bob.post("/v1/hint", json=HINT).json()["attempt_id"]
            seen_by_ada.append(
                ada.post("/v1/feedback", json={"attempt_id": bob_attempt, "accepted": True})
            )
            seen_by_ada.append(ada.get("/admin/summary"))
            anon = httpx.get(url + "/v1/me", headers=bearer(tokens["ada"] + "x"))
            summary = httpx.get(url + "/admin/summary", headers=bearer(admin))
            code, text, err = run_cli(
                ["gateway", "summary", "--url", url, "--token", admin], capsys
            )
            code_bad, _, err_bad = run_cli(
                ["gateway", "summary", "--url", url, "--token", tokens["bob"]], capsys
            )
            ada.close()
            bob.close()
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        assert f"Bearer {key}" in fake.authorizations  # the key was really in use

    # The scenario really went through the dangerous paths.
    assert seen_by_ada[0].status_code == 200 and seen_by_ada[1].json()["source"] == "offline"
    assert [r.status_code for r in seen_by_ada[3:]] == [200, 404, 403]
    assert anon.status_code == 401 and summary.status_code == 200
    served_log = log.read_text(errors="replace")
    assert "[redacted]" in served_log  # the model's error quoted the key: redacted
    assert "POST /v1/hint" in served_log and "hint (fns/sum_evens): answered by model" in served_log

    # Nothing secret anywhere.
    ada_saw = "\n".join(r.text + str(dict(r.headers)) for r in seen_by_ada)
    assert "bob" not in ada_saw  # nor anything of another learner
    admin_saw = summary.text + text + err + err_bad
    files = b"".join(p.read_bytes() for p in course.glob("*.sqlite*")) + b"".join(
        p.read_bytes() for p in course.glob("*.sqlite3*")
    )
    for name, secret in secrets_.items():
        assert secret not in ada_saw, name
        assert secret not in admin_saw, name
        assert secret not in served_log, name
        assert secret.encode() not in files, name

    # The summary CLI: readable figures with an admin token, a clear refusal without one.
    assert code == 0 and "PER LEARNER" in text
    assert re.search(r"^ada\n  calls 3", text, re.M) and re.search(r"^bob\n  calls 1", text, re.M)
    assert code_bad == 1 and "refused the token (HTTP 403)" in err_bad
    # The same figures straight from the course's files, with the server stopped.
    code, local, _ = run_cli(["gateway", "summary", "--course", str(course)], capsys)
    assert code == 0 and re.search(r"^ada\n  calls 3", local, re.M)
    assert local.split("PER EXERCISE")[1] == text.split("PER EXERCISE")[1]


async def _burst(url: str, token: str, n: int) -> list[int]:
    async with httpx.AsyncClient(base_url=url, headers=bearer(token), timeout=60) as client:
        responses = await asyncio.gather(*(client.post("/v1/hint", json=HINT) for _ in range(n)))
    return [r.status_code for r in responses]


def test_two_processes_share_tokens_and_allowances(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, token, _ = run_cli(["tokens", "admin", "--course", str(course), "--name", "t"], capsys)
    assert code == 0
    db = Database(course / "gateway.sqlite")
    learner = TokenStore(db).issue(["ada"]).tokens[0][1]
    db.close()
    log = tmp_path / "serve.log"
    with fake_model(chunk_delay_s=0.01) as fake:
        write_config(course, base_url=fake.base_url, allowance=5, refill_seconds=3600)
        proc, url = _start(course, dict(os.environ), log, "--workers", "2")
        try:
            statuses = asyncio.run(_burst(url, learner, 20))
            summary = httpx.get(url + "/admin/summary", headers=bearer(token.strip()), timeout=30)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    served = log.read_text(errors="replace")
    assert "processes: 2" in served and served.count("Started server process") == 2
    assert sorted(statuses) == [200] * 5 + [429] * 15
    assert len(fake.requests) == 5
    assert summary.json()["total"]["answered"] == 5
