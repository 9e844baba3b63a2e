"""``[gateway] database = "postgresql://..."`` on a real PostgreSQL server the tests start:
two gateway instances (two hosts behind a load balancer) share tokens, allowances, calls,
the ledger and the cache, and an allowance stays atomic across them."""

from __future__ import annotations

import asyncio
import re
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest

from eduproject.errors import ConfigError
from eduproject.gateway.allowance import Allowance
from eduproject.gateway.db import Database
from eduproject.gateway.service import TutorService
from eduproject.gateway.settings import GatewaySettings
from eduproject.gateway.tokens import TokenStore
from eduproject.models.ledger import Attempt, Ledger
from tests.support.cli import run_cli

from .gateway_support import CODE, LESSON, bearer, fake_model, running_gateway, write_config

pytestmark = pytest.mark.slow

HINT = {"lesson": LESSON, "exercise": "sum_evens", "code": CODE, "tests": [], "level": 1}


def test_allowance_is_atomic_across_hosts(postgres: Any) -> None:
    url = postgres.new_database()
    # Two Database objects = two connections, as two gateway hosts have.
    hosts = [Database(url), Database(url)]
    buckets = [Allowance(db, allowance=7, refill_seconds=3600) for db in hosts]
    results: list[bool] = []
    lock = threading.Lock()

    def hammer(bucket: Allowance) -> None:
        for _ in range(15):
            ok = bucket.take("ada").ok
            with lock:
                results.append(ok)

    threads = [threading.Thread(target=hammer, args=(b,)) for b in buckets * 3]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 7 and len(results) == 90
    assert buckets[1].remaining("ada") == 0
    buckets[0].refund("ada")
    assert buckets[1].remaining("ada") == 1
    for db in hosts:
        db.close()


def test_tokens_issued_on_one_host_work_and_revoke_on_another(postgres: Any) -> None:
    url = postgres.new_database()
    a, b = Database(url), Database(url)
    token = TokenStore(a).issue(["ada"]).tokens[0][1]
    assert TokenStore(b).verify(token) is not None
    assert TokenStore(b).issue(["ada", "bob"]).kept == ["ada"]
    assert TokenStore(b).revoke("ada") == 1
    assert TokenStore(a).verify(token) is None
    assert [t.name for t in TokenStore(a).list()] == ["ada", "bob"]
    a.close()
    b.close()


def test_ledger_on_postgres(postgres: Any) -> None:
    url = postgres.new_database()
    ledger = Ledger(url)
    first = ledger.record(
        Attempt(
            task="hint",
            route="r",
            model="m",
            family="f",
            provider="openai",
            status="ok",
            latency_s=0.25,
            cost_usd=None,
            ts=1_700_000_000.123456,
        )
    )
    second = ledger.record(
        Attempt(
            task="hint",
            route="r",
            model="m",
            family="f",
            provider="openai",
            status="error",
            latency_s=1.0,
            cost_usd=0.002,
        )
    )
    assert second == first + 1
    ledger.mark_accepted(first, True)
    again = Ledger(url)  # another host reads the same rows
    rows = again.attempts()
    assert [r.id for r in rows] == [first, second]
    assert (
        rows[0].accepted is True and rows[0].cost_usd is None and rows[0].ts == 1_700_000_000.123456
    )
    (summary,) = again.summary()
    assert (summary.requests, summary.unpriced, summary.cost_usd) == (2, 1, 0.002)
    ledger.close()
    again.close()


def test_database_setting_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a postgresql:// URL"):
        GatewaySettings.from_table({"database": "gateway.sqlite"}, tmp_path)
    settings = GatewaySettings.from_table(
        {"database": "postgresql://tutor:s3cret@db.internal/course"}, tmp_path
    )
    assert settings.target == "postgresql://tutor:s3cret@db.internal/course"
    # An unreachable server: a clear error that never shows the password.
    with pytest.raises(ConfigError) as caught:
        Database("postgresql://tutor:s3cret@127.0.0.1:1/course")
    assert "cannot connect to the database postgresql://tutor:***@127.0.0.1:1/course" in str(
        caught.value
    )
    assert "s3cret" not in str(caught.value)


async def _burst(urls: list[str], token: str, n: int) -> list[int]:
    async with httpx.AsyncClient(headers=bearer(token), timeout=60) as client:
        responses = await asyncio.gather(
            *(client.post(f"{urls[i % 2]}/v1/hint", json=HINT) for i in range(n))
        )
    return [r.status_code for r in responses]


def test_two_gateways_share_one_database(
    postgres: Any, course: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = postgres.new_database()
    with fake_model(chunk_delay_s=0.01) as fake:
        write_config(
            course,
            base_url=fake.base_url,
            allowance=6,
            refill_seconds=3600,
            gateway=f'[gateway]\ndatabase = "{url}"',
        )
        services = [TutorService.from_course(course), TutorService.from_course(course)]
        learner = services[0].tokens.issue(["ada", "bob"]).tokens
        tokens = dict(learner)
        admin = services[1].tokens.issue(["teacher"], role="admin").tokens[0][1]
        with running_gateway(services[0]) as one, running_gateway(services[1]) as two:
            statuses = asyncio.run(_burst([one, two], tokens["ada"], 16))
            bob = httpx.post(f"{two}/v1/hint", json=HINT, headers=bearer(tokens["bob"]))
            summary = httpx.get(f"{one}/admin/summary", headers=bearer(admin), timeout=30)
        assert sorted(statuses) == [200] * 6 + [429] * 10
        assert bob.status_code == 200
        assert len(fake.requests) == 7
    report = summary.json()
    # Calls and attempts of both hosts, attributed to each learner.
    learners = {g["key"]: g for g in report["learners"]}
    assert learners["ada"]["answered"] == 6 and learners["ada"]["refused"] == 10
    assert learners["ada"]["attempts"] == 6 and learners["bob"]["attempts"] == 1
    assert report["total"]["cost_usd"] > 0
    # Nothing went to SQLite files in the course folder.
    assert not list(course.glob("*.sqlite*"))
    # `eduproject ledger` reads the shared ledger.
    code, out, err = run_cli(["ledger", "--course", str(course), "--json"], capsys)
    assert code == 0, err
    assert '"requests": 7' in out
    # So does the summary, without any gateway running.
    code, out, err = run_cli(["gateway", "summary", "--course", str(course)], capsys)
    assert code == 0, err
    assert re.search(r"^ada\n  calls 16  answered 6 \(model 6\)  refused 10", out, re.M)
    assert re.search(r"^bob\n  calls 1", out, re.M)
