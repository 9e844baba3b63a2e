"""Allowances and size caps, enforced on the server -- also under concurrent requests."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import httpx
import pytest

from eduproject.errors import QuotaExceeded
from eduproject.gateway.allowance import Allowance, Ticket
from eduproject.gateway.db import Database

from .gateway_support import CODE, LESSON, StartGateway, bearer

HINT = {"lesson": LESSON, "exercise": "sum_evens", "code": CODE, "tests": [], "level": 1}


async def _burst(url: str, token: str, n: int) -> list[httpx.Response]:
    """``n`` hint requests of one learner at once, half of them streamed."""
    async with httpx.AsyncClient(base_url=url, headers=bearer(token), timeout=60) as client:

        async def one(i: int) -> httpx.Response:
            headers = {"Accept": "text/event-stream"} if i % 2 else {}
            return await client.post("/v1/hint", json=HINT, headers=headers)

        return list(await asyncio.gather(*(one(i) for i in range(n))))


def test_twenty_concurrent_requests_against_five_questions(start_gateway: StartGateway) -> None:
    with start_gateway(allowance=5, refill_seconds=600, fake_options={"chunk_delay_s": 0.01}) as gw:
        responses = asyncio.run(_burst(gw.url, gw.tokens["ada"], 20))
        served = [r for r in responses if r.status_code == 200]
        refused = [r for r in responses if r.status_code == 429]
        assert (len(served), len(refused)) == (5, 15)
        assert gw.fake is not None and len(gw.fake.requests) == 5
        for r in refused:
            body = r.json()
            assert body["error"].startswith("You have used your 5 questions; one more in ")
            assert 0 < body["retry_in_s"] <= 600
            assert 1 <= int(r.headers["retry-after"]) <= 600
        with gw.client("ada") as ada:
            me = ada.get("/v1/me").json()
        assert me["remaining"] == 0 and me["usage"] == {
            "answered": 5,
            "refused": 15,
            "by_kind": {"hint": 5},
            "by_exercise": {f"{LESSON}/sum_evens": 5},
        }
        # Another learner's allowance is untouched.
        with gw.client("bob") as bob:
            assert bob.post("/v1/hint", json=HINT).status_code == 200


def test_size_caps(start_gateway: StartGateway) -> None:
    config = {
        "max_input_chars": 50,
        "gateway": "[gateway]\nmax_body_bytes = 4000\nmax_code_chars = 1000",
    }
    with start_gateway(**config) as gw, gw.client("ada") as ada:
        long_question = ada.post("/v1/ask", json={"question": "why " * 20})
        assert long_question.status_code == 413
        assert long_question.json()["error"] == (
            "Your question is 80 characters long; the limit is 50. "
            "Shorten it to the part you are stuck on and ask again."
        )
        long_code = ada.post("/v1/explain", json={"code": "x = 1\n" * 200})
        assert long_code.status_code == 413
        assert long_code.json()["error"].startswith("Your code is 1,200 characters long")
        big = ada.post("/v1/explain", json={"code": "#" * 5000})
        assert (big.status_code, big.json()) == (
            413,
            {"error": "the request is larger than 4,000 bytes"},
        )

        def chunks() -> object:  # no Content-Length: the cap must hold while reading
            for _ in range(10):
                yield b"x" * 1000

        chunked = ada.post("/v1/explain", content=chunks())  # type: ignore[arg-type]
        assert chunked.status_code == 413
        assert ada.get("/v1/me").json()["remaining"] == 10


def test_bucket_refills_one_question_per_period(tmp_path: Path) -> None:
    now = [1000.0]
    bucket = Allowance(
        Database(tmp_path / "g.sqlite"), allowance=2, refill_seconds=60, clock=lambda: now[0]
    )
    assert [bucket.take("ada").ok for _ in range(3)] == [True, True, False]
    refused = bucket.take("ada")
    assert refused.retry_in_s == pytest.approx(60.0)
    assert refused.message == "You have used your 2 questions; one more in 1 min."
    now[0] += 45
    assert bucket.take("ada").retry_in_s == pytest.approx(15.0)
    now[0] += 15
    assert bucket.take("ada").ok and bucket.remaining("ada") == 0
    now[0] += 10_000  # never more than the allowance
    assert bucket.remaining("ada") == 2
    now[0] -= 5_000  # a clock set back does not drain the bucket
    assert bucket.remaining("ada") == 2
    bucket.refund("ada")
    assert bucket.remaining("ada") == 2
    assert bucket.remaining("someone-new") == 2


def test_two_processes_worth_of_connections_hand_out_no_more(tmp_path: Path) -> None:
    # Two Database objects = two SQLite connections, as two server processes would have.
    path = tmp_path / "g.sqlite"
    buckets = [Allowance(Database(path), allowance=7, refill_seconds=3600) for _ in range(2)]
    results: list[bool] = []
    lock = threading.Lock()

    def hammer(bucket: Allowance) -> None:
        for _ in range(20):
            ok = bucket.take("ada").ok
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=hammer, args=(b,)) for b in buckets * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 7 and len(results) == 120


def test_ticket_refunds_what_the_tutor_did_not_use(tmp_path: Path) -> None:
    bucket = Allowance(Database(tmp_path / "g.sqlite"), allowance=3, refill_seconds=3600)
    taken = bucket.take("ada")
    unused = Ticket(bucket, "ada", taken.remaining, 100)
    unused.settle()
    assert bucket.remaining("ada") == 3

    bucket.take("ada")
    used = Ticket(bucket, "ada", 2, 100)
    assert used.consume("ada") == 2
    with pytest.raises(QuotaExceeded):
        used.consume("ada")
    used.settle()
    assert bucket.remaining("ada") == 2
    used.refund("ada")
    used.refund("ada")  # at most once
    assert bucket.remaining("ada") == 3
