"""Small parts of the gateway: the fenced-code gate, settings, the socket."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from eduproject.errors import ConfigError, GatewayError
from eduproject.gateway.server_tutor import FencedCodeGate
from eduproject.gateway.settings import GatewaySettings
from eduproject.tutor.wire import reply_from_json
from eduproject.util.net import listen


def feed_all(pieces: list[str]) -> list[str]:
    gate = FencedCodeGate()
    return [gate.feed(p) for p in pieces]


def test_the_gate_holds_everything_from_the_first_fence() -> None:
    assert feed_all(["Try ", "this: ``", "`python\nx = 1\n", "```\n", "Then run it."]) == [
        "Try ",
        "this: ",
        "",
        "",
        "",
    ]


def test_the_gate_lets_inline_code_through_once_it_is_closed() -> None:
    assert feed_all(["Use `", "n % 2", "` to test", " it."]) == [
        "Use ",
        "`n % 2",
        "` to test",
        " it.",
    ]
    assert "".join(feed_all(["no code at all, ", "just words."])) == "no code at all, just words."


def test_a_malformed_reply_is_a_gateway_error() -> None:
    with pytest.raises(GatewayError, match="malformed reply"):
        reply_from_json({"text": "x"})
    with pytest.raises(GatewayError, match="malformed reply"):
        reply_from_json({"text": "x", "source": "model", "label": "l", "attempt_id": "7"})


def test_settings_reject_unknown_keys_and_bad_values(tmp_path: Path) -> None:
    settings = GatewaySettings.from_table({"db": "g.sqlite", "workers": 4}, tmp_path)
    assert settings.db == tmp_path / "g.sqlite" and settings.workers == 4
    assert GatewaySettings.from_table({}, tmp_path).db == tmp_path / "gateway.sqlite"
    cases: list[tuple[dict[str, object], str]] = [
        ({"port": 1}, "unknown key 'port'"),
        ({"workers": 0}, "'workers' must be a positive integer"),
        ({"max_body_bytes": True}, "'max_body_bytes' must be a positive integer"),
        ({"run_tests": "yes"}, "'run_tests' must be true or false"),
        ({"db": ""}, "'db' must be a file name"),
    ]
    for table, words in cases:
        with pytest.raises(ConfigError, match=words):
            GatewaySettings.from_table(table, tmp_path)


def test_the_socket_is_tcp_so_asyncio_turns_nagle_off() -> None:
    # Connections accepted from a socket whose proto is 0 keep Nagle on: every SSE event on a
    # kept-alive connection would then wait ~40 ms for a delayed ACK.
    sock = listen("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        with pytest.raises(ConfigError, match=r"cannot listen on 127\.0\.0\.1"):
            listen("127.0.0.1", sock.getsockname()[1])
    finally:
        sock.close()
