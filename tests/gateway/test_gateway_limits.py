"""Gateway availability (issue 11, class 8): ``eduproject serve`` on uvicorn against a loopback
attacker. Half-open connections and incomplete headers cannot lock learners out; request ids
out of range are a 4xx; the admin token is never left readable by others.

The attacker connects from 127.0.0.2 (all of 127/8 is loopback), the learner from 127.0.0.1.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from eduproject.errors import ConfigError
from eduproject.gateway.db import Database
from eduproject.gateway.limits import _address
from eduproject.gateway.settings import GatewaySettings
from eduproject.gateway.tokens import TokenStore
from tests.support.cli import run_cli

from .gateway_support import bearer, write_config

pytestmark = pytest.mark.slow

# 1,024 open files: the usual default of a service that nobody tuned.
_LIMITED = (
    "import os, resource, sys\n"
    "resource.setrlimit(resource.RLIMIT_NOFILE, (1024, 1024))\n"
    "os.execv(sys.executable, [sys.executable, '-m', 'eduproject.cli', *sys.argv[1:]])\n"
)
HALF_A_REQUEST = b"GET /v1/me HTTP/1.1\r\nHost: tutor\r\n"  # never the blank line that ends it


@contextlib.contextmanager
def serving(course: Path, tmp_path: Path, gateway: str = "") -> Iterator[tuple[str, str]]:
    """``eduproject serve`` with at most 1,024 open files; yields (url, ada's token)."""
    write_config(course, base_url=None, gateway=gateway)
    database = Database(course / "gateway.sqlite")
    token = TokenStore(database).issue(["ada"]).tokens[0][1]
    database.close()
    log = tmp_path / "serve.log"
    command = [sys.executable, "-c", _LIMITED, "serve", "--course", str(course), "--port", "0"]
    with log.open("wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not (found := re.search(r"listening on (http://\S+)", log.read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.1)
        yield found.group(1), token
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _attacker(url: str, source: str = "127.0.0.2") -> socket.socket:
    port = int(url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    sock.sendall(HALF_A_REQUEST)
    return sock


def _closed_by_server(sock: socket.socket, within: float) -> bytes | None:
    """What the server wrote before closing ``sock`` within ``within`` s; None if still open."""
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return received


def test_a_flood_of_half_open_connections_does_not_lock_learners_out(
    course: Path, tmp_path: Path
) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)  # this process holds 1,100 too
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), max(hard, 4096)))
    cap = GatewaySettings().max_pending_per_address
    with serving(course, tmp_path) as (url, token):
        flood = [_attacker(url) for _ in range(1100)]
        try:
            started = time.monotonic()
            reply = httpx.get(url + "/v1/me", headers=bearer(token), timeout=10)
            assert reply.status_code == 200 and reply.json()["learner"] == "ada"
            assert time.monotonic() - started < 5
            # Beyond the per-address cap, the attacker's connections are refused at once.
            answers = [_closed_by_server(s, 2) for s in flood[cap:]]
            assert all(a is not None and a.startswith(b"HTTP/1.1 503 ") for a in answers)
            assert _closed_by_server(flood[0], 0.5) is None  # within the cap: waited for
        finally:
            for sock in flood:
                sock.close()
    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, max(hard, 4096)))


def test_incomplete_request_headers_time_out(course: Path, tmp_path: Path) -> None:
    with serving(course, tmp_path, "[gateway]\nheader_timeout_s = 2\n") as (url, token):
        idle = _attacker(url, "127.0.0.3")
        trickle = _attacker(url, "127.0.0.3")
        started = time.monotonic()
        for _ in range(4):  # a byte every half second keeps no connection alive
            time.sleep(0.5)
            trickle.sendall(b"X")
        answers = [_closed_by_server(s, 6) for s in (idle, trickle)]
        took = time.monotonic() - started
        idle.close()
        trickle.close()
        assert answers[0] is not None and answers[0].startswith(b"HTTP/1.1 408 "), answers
        assert answers[1] is not None and answers[1].startswith(b"HTTP/1.1 408 "), answers
        assert took < 6
        # A learner's keep-alive connection is not a header timeout: it asks twice.
        with httpx.Client(base_url=url, headers=bearer(token), timeout=10) as ada:
            assert ada.get("/v1/me").status_code == 200
            time.sleep(3)
            assert ada.get("/v1/me").status_code == 200


def test_unauthenticated_connections_do_not_linger(course: Path, tmp_path: Path) -> None:
    with serving(course, tmp_path) as (url, _):
        port = int(url.rsplit(":", 1)[1])
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(b"GET /v1/me HTTP/1.1\r\nHost: tutor\r\n\r\n")
        answer = _closed_by_server(sock, 5)  # 401, then the server closes the connection
        sock.close()
        assert answer is not None and answer.startswith(b"HTTP/1.1 401 "), answer
        assert b"connection: close" in answer.lower()


def test_attempt_ids_out_of_range_are_a_clear_4xx(course: Path, tmp_path: Path) -> None:
    with serving(course, tmp_path) as (url, token):
        replies = [
            httpx.post(
                url + "/v1/feedback",
                headers=bearer(token),
                json={"attempt_id": attempt_id, "accepted": True},
                timeout=10,
            )
            for attempt_id in (2**63, -(2**63) - 1, 10**30)
        ]
    for reply in replies:
        assert reply.status_code == 422, reply.text
        assert "attempt_id" in reply.json()["error"]


def test_the_admin_token_is_never_left_readable_by_others(
    course: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(course, base_url=None)
    admin = ["tokens", "admin", "--course", str(course)]
    old = os.umask(0o022)
    try:
        # As documented before: `eduproject tokens admin > admin-token.txt` (a real file).
        redirected = tmp_path / "admin-token.txt"
        with redirected.open("w") as out:
            command = [sys.executable, "-m", "eduproject.cli", *admin]
            done = subprocess.run(command, stdout=out, stderr=subprocess.PIPE, text=True)
        assert done.returncode == 0, done.stderr
        assert stat.S_IMODE(redirected.stat().st_mode) == 0o600
        assert "-o" in done.stderr and "0600" in done.stderr  # says what it did and why
        assert redirected.read_text().startswith("edut_")
        # The new way: -o FILE, created 0600.
        chosen = tmp_path / "token-b.txt"
        code, said, _ = run_cli([*admin, "--name", "second", "-o", str(chosen)], capsys)
        assert code == 0 and "edut_" not in said
        assert stat.S_IMODE(chosen.stat().st_mode) == 0o600
        assert chosen.read_text().startswith("edut_")
        code, _, err = run_cli([*admin, "--name", "third", "-o", str(chosen)], capsys)
        assert code != 0 and "already exists" in err
    finally:
        os.umask(old)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"header_timeout_s": 0}, "'header_timeout_s' must be a positive number of seconds"),
        ({"header_timeout_s": "10"}, "'header_timeout_s' must be a positive number"),
        ({"max_connections": 0}, "'max_connections' must be a positive integer"),
        ({"max_pending_per_address": -1}, "'max_pending_per_address' must be an integer, 0"),
        ({"max_connections_per_address": 1.5}, "must be an integer, 0 or more"),
    ],
)
def test_limit_settings_are_checked(tmp_path: Path, table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        GatewaySettings.from_table(table, tmp_path)
    ok = GatewaySettings.from_table({"max_pending_per_address": 0, "header_timeout_s": 2}, tmp_path)
    assert (ok.max_pending_per_address, ok.header_timeout_s) == (0, 2.0)


class _Peer:
    def __init__(self, peer: object) -> None:
        self.peer = peer

    def get_extra_info(self, name: str) -> object:
        return self.peer


def test_an_ipv6_host_counts_as_one_address() -> None:
    one = _address(_Peer(("2001:db8:1:2::10", 80, 0, 0)))
    same = _address(_Peer(("2001:db8:1:2:ffff::1", 80, 0, 0)))
    other = _address(_Peer(("2001:db8:1:3::10", 80, 0, 0)))
    assert one == same == "2001:db8:1:2::/64" != other
    assert _address(_Peer(("::ffff:10.0.0.7", 80, 0, 0))) == "10.0.0.7"
    assert _address(_Peer(None)) == "local"
