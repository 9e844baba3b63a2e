"""Load on the tutor gateway: many learners at once, and what the gateway adds to each answer.

Three processes on loopback: a fast fake OpenAI-compatible model server, ``eduproject serve``
on the sample course (one token per simulated learner, allowance out of the way, cache on,
ledger on), and this load generator. Each simulated learner thinks for a while (exponential,
mean ``--think`` seconds), then asks for a hint on ``03-lists-dicts/sum_evens`` with its own
variant of a broken solution (so no answer comes from the cache), twice at the same moment:

* **direct**: a streamed chat completion to the model server, read to ``[DONE]``;
* **gateway**: ``POST /v1/hint`` with ``Accept: text/event-stream``, read to ``event: done``
  (token auth, allowance, prompt building, router, ledger, guards, SSE).

The order of the two alternates. *Added* latency is gateway minus direct for the same pair.
The default think time (60 s) makes 500 learners ask ~8-13 hints a second: three to four times
what the default allowance (10 questions, one more every 3 minutes) lets 500 learners sustain.
``--think 10`` shows where one process saturates; ``--processes 2`` runs
``eduproject serve --workers 2``. ``--instances 2`` starts two separate gateways (two hosts
behind a load balancer; learners alternate between them), which then share tokens,
allowances, calls, ledger and cache through ``--database postgresql://...`` -- or through a
throwaway PostgreSQL cluster with ``--postgres`` (Debian's postgresql package).
The gateway's resident memory is sampled every second. Goal: p95 added <= 50 ms, zero errors,
memory flat over a 5-minute run. The run stops by itself after ``--duration`` seconds (plus
at most one request timeout)::

    .venv/bin/python benchmarks/gateway_load.py                      # 500 learners, 60 s
    .venv/bin/python benchmarks/gateway_load.py --duration 300       # the 5-minute run
    .venv/bin/python benchmarks/gateway_load.py --instances 2 --postgres   # two hosts, one DB
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
LESSON, EXERCISE = "03-lists-dicts", "sum_evens"
REPLY = (
    "Your loop adds every number in the list to the total, so the result is too big. "
    "Only some of the numbers should count. Think about how you can tell whether a number "
    "is even: what is left over when you divide it by two? Check that inside the loop, "
    "before you add the number, and try your code again on a short list."
)
CODE = (
    "def sum_evens(numbers):\n"
    '    """Return the sum of the even numbers in `numbers`."""\n'
    "    total = 0\n"
    "    for n in numbers:\n"
    "        total += n\n"
    "    return total\n"
)
TESTS = [
    {"name": "basics", "passed": False, "message": "sum_evens([1, 2, 3, 4]) should be 6, got 10"},
    {"name": "empty_list", "passed": True, "message": ""},
]
REQUEST_TIMEOUT_S = 30.0


# -- the fake model server (its own process) ----------------------------------------------


def serve_fake_model(delay_s: float, chunks: int) -> None:
    """A tiny OpenAI-compatible server: streams REPLY in ``chunks`` pieces over ``delay_s``."""
    import uvicorn

    size = -(-len(REPLY) // chunks)
    pieces = [REPLY[i : i + size] for i in range(0, len(REPLY), size)]
    pause = delay_s / len(pieces)

    def event(data: dict[str, Any]) -> bytes:
        return f"data: {json.dumps(data)}\n\n".encode()

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        request = json.loads(body or b"{}")
        chat = scope["path"].endswith("/chat/completions")
        usage = {"prompt_tokens": 120, "completion_tokens": 60}
        if not request.get("stream"):
            choice = {"message": {"content": REPLY}} if chat else {"text": REPLY}
            raw = json.dumps(
                {"model": "fake/sc2", "choices": [{**choice, "index": 0}], "usage": usage}
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [(b"content-type", b"application/json")],
                }
            )
            await send({"type": "http.response.body", "body": raw})
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        for piece in pieces:
            await asyncio.sleep(pause)
            delta: dict[str, Any] = {"delta": {"content": piece}} if chat else {"text": piece}
            out = event({"model": "fake/sc2", "choices": [{**delta, "index": 0}]})
            await send({"type": "http.response.body", "body": out, "more_body": True})
        end: dict[str, Any] = {"delta": {}} if chat else {"text": ""}
        tail = event(
            {"model": "fake/sc2", "choices": [{**end, "index": 0, "finish_reason": "stop"}]}
        )
        tail += event({"model": "fake/sc2", "choices": [], "usage": usage}) + b"data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": tail})

    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on connections of such sockets.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)
    print(sock.getsockname()[1], flush=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False, timeout_keep_alive=75)
    uvicorn.Server(config).run(sockets=[sock])


# -- setting up the course and the processes -------------------------------------------------


def write_course(folder: Path, model_url: str, workers: int, database: str | None) -> Path:
    course = folder / "course"
    course.mkdir()
    (course / "exercises").symlink_to(ROOT / "exercises")
    (course / "eduproject.toml").write_text(
        f"""
[[routes]]
name = "sc2-fake"
provider = "openai"
model = "bigcode/starcoder2-15b-instruct-v0.1"
family = "starcoder2-instruct"
base_url = "{model_url}"
retries = 0
price_per_million_input = 0.4
price_per_million_output = 0.4
[routes.timeouts]
connect = 5
first_token = 20
total = 30

[tutor]
allowance = 1000000
refill_seconds = 1

[cache]
path = "cache.sqlite3"

[ledger]
path = "ledger.sqlite3"

[gateway]
workers = {workers}
"""
        + (f'database = "{database}"\n' if database else ""),
        encoding="utf-8",
    )
    return course


def issue_tokens(course: Path, learners: int, database: str | None) -> list[str]:
    from eduproject.gateway.db import Database
    from eduproject.gateway.tokens import TokenStore

    db = Database(database or course / "gateway.sqlite")
    try:
        issued = TokenStore(db).issue([f"learner{i:04d}" for i in range(learners)])
    finally:
        db.close()
    return [token for _, token in issued.tokens]


def start_fake_model(delay_s: float, chunks: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-fake-model", str(delay_s), str(chunks)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, f"http://127.0.0.1:{port}/v1"


def start_gateway(course: Path, log: Path, processes: int) -> tuple[subprocess.Popen[bytes], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDUPROJECT_")}
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "eduproject.cli",
                "serve",
                "--course",
                str(course),
                "--port",
                "0",
                "--workers",
                str(processes),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = re.search(r"listening on (http://\S+)", log.read_text(errors="replace"))
        if found:
            return proc, found.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"the gateway did not start:\n{log.read_text(errors='replace')}")


def tree(pid: int) -> list[int]:
    """``pid`` and its child processes (the gateway's workers with --processes > 1)."""
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                children.append(int(entry.name))
    return [pid, *children]


def rss_mb(pid: int) -> float:
    """Resident memory of the gateway's processes together."""
    total = 0
    for p in tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def cpu_s(pid: int) -> float:
    """CPU seconds used so far by the gateway's processes."""
    total = 0
    for p in tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


# -- the load ----------------------------------------------------------------------------------


@dataclass
class Sample:
    at: float
    direct_s: float
    gateway_s: float


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    requests: int = 0

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1


async def direct(client: Any, model_url: str, code: str) -> float:
    started = time.perf_counter()
    body = {
        "model": "bigcode/starcoder2-15b-instruct-v0.1",
        "messages": [{"role": "user", "content": f"Give a hint for this code:\n{code}"}],
        "max_tokens": 256,
        "stream": True,
    }
    async with client.stream("POST", f"{model_url}/chat/completions", json=body) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line == "data: [DONE]":
                break
    return time.perf_counter() - started


async def through_gateway(client: Any, url: str, token: str, code: str) -> float:
    started = time.perf_counter()
    body = {"lesson": LESSON, "exercise": EXERCISE, "code": code, "tests": TESTS, "level": 2}
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    done = None
    async with client.stream("POST", f"{url}/v1/hint", json=body, headers=headers) as response:
        if response.status_code != 200:
            raise RuntimeError(f"HTTP {response.status_code}")
        event = ""
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("done", "error"):
                done = (event, json.loads(line[5:]))
                break
    elapsed = time.perf_counter() - started
    if done is None:
        raise RuntimeError("stream ended without done")
    if done[0] == "error":
        raise RuntimeError(f"error event: {done[1].get('error')}")
    if done[1]["source"] != "model":
        raise RuntimeError(f"answered by {done[1]['source']}: {done[1]['notice']}")
    return elapsed


async def learner(
    index: int,
    token: str,
    args: argparse.Namespace,
    run: Run,
    client: Any,
    urls: tuple[list[str], str],
    end: float,
) -> None:
    gateways, model_url = urls
    gateway_url = gateways[index % len(gateways)]  # a load balancer's round robin
    rng = random.Random(index)
    await asyncio.sleep(rng.uniform(0, args.think))  # learners do not start in step
    attempt = 0
    while time.monotonic() < end:
        attempt += 1
        # Each learner's code differs a little, as real code does: no cache hits.
        code = CODE.replace("total = 0", f"total = 0  # try {index}-{attempt}")
        run.requests += 1
        try:
            if attempt % 2:
                d = await direct(client, model_url, code)
                g = await through_gateway(client, gateway_url, token, code)
            else:
                g = await through_gateway(client, gateway_url, token, code)
                d = await direct(client, model_url, code)
            run.samples.append(Sample(time.monotonic(), d, g))
        except Exception as exc:
            run.error(str(exc)[:80] or type(exc).__name__)
        pause = rng.expovariate(1 / args.think)
        if time.monotonic() + pause >= end:
            return
        await asyncio.sleep(pause)


async def sample_memory(pids: list[int], end: float, out: list[tuple[float, float]]) -> None:
    while time.monotonic() < end:
        out.append((time.monotonic(), sum(rss_mb(pid) for pid in pids)))
        await asyncio.sleep(1.0)


async def load(
    args: argparse.Namespace,
    tokens: list[str],
    urls: tuple[list[str], str],
    pids: tuple[list[int], int],
) -> tuple[Run, list[tuple[float, float]], float, dict[str, float]]:
    """The learners' run; CPU seconds of gateway, fake model and this generator meanwhile."""
    import httpx

    run = Run()
    memory: list[tuple[float, float]] = []
    # One client (one connection pool) for every learner: 500 clients would each build
    # their own TLS context, which alone takes many seconds.
    limits = httpx.Limits(
        max_connections=4 * len(tokens), max_keepalive_connections=4 * len(tokens)
    )
    async with httpx.AsyncClient(timeout=REQUEST_TIMEOUT_S, limits=limits) as client:
        started = time.monotonic()
        end = started + args.duration
        tasks = [
            asyncio.create_task(learner(i, t, args, run, client, urls, end))
            for i, t in enumerate(tokens)
        ]
        gateway_pids, model_pid = pids

        def gateway_cpu() -> float:
            return sum(cpu_s(pid) for pid in gateway_pids)

        sampler = asyncio.create_task(sample_memory(gateway_pids, end, memory))
        cpu_start = (gateway_cpu(), cpu_s(model_pid), time.process_time())
        # Bounded: every learner stops by `end` plus at most two request timeouts.
        _, pending = await asyncio.wait(
            [*tasks, sampler], timeout=args.duration + 2 * REQUEST_TIMEOUT_S + 5
        )
        cpu = {
            "gateway": gateway_cpu() - cpu_start[0],
            "model": cpu_s(model_pid) - cpu_start[1],
            "load": time.process_time() - cpu_start[2],
            "wall": time.monotonic() - started,
        }
        for task in pending:
            task.cancel()
        if pending:
            run.error(f"{len(pending)} learners still running at the deadline (cancelled)")
    return run, memory, started, cpu


# -- the report ----------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * q
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def slope_mb_per_min(points: list[tuple[float, float]]) -> float:
    if len(points) < 3:
        return float("nan")
    xs = [t / 60 for t, _ in points]
    ys = [m for _, m in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


def report(
    args: argparse.Namespace,
    run: Run,
    memory: list[tuple[float, float]],
    started: float,
    cpu: dict[str, float],
) -> dict[str, Any]:
    kept = [s for s in run.samples if s.at - started >= args.warmup]
    measured = max(1e-9, args.duration - args.warmup)
    added = [1000 * (s.gateway_s - s.direct_s) for s in kept]
    gateway = [1000 * s.gateway_s for s in kept]
    direct_ = [1000 * s.direct_s for s in kept]
    mem = [(t - started, m) for t, m in memory if t - started >= args.warmup]
    result = {
        "instances": args.instances,
        "processes": args.processes,
        "database": "postgresql" if args.database else "sqlite",
        "learners": args.learners,
        "duration_s": args.duration,
        "warmup_s": args.warmup,
        "think_s": args.think,
        "model_delay_ms": args.model_delay_ms,
        "requests": run.requests,
        "pairs_measured": len(kept),
        "throughput_per_s": len(kept) / measured,
        "errors": sum(run.errors.values()),
        "error_kinds": run.errors,
        "direct_ms": {
            "p50": pct(direct_, 0.5),
            "p95": pct(direct_, 0.95),
            "p99": pct(direct_, 0.99),
        },
        "gateway_ms": {
            "p50": pct(gateway, 0.5),
            "p95": pct(gateway, 0.95),
            "p99": pct(gateway, 0.99),
        },
        "added_ms": {"p50": pct(added, 0.5), "p95": pct(added, 0.95), "p99": pct(added, 0.99)},
        "gateway_cpu_ms_per_request": 1000 * cpu["gateway"] / max(1, run.requests),
        "cpu_s": cpu,
        "load_average_1min": os.getloadavg()[0],
        "rss_mb": {
            "after_warmup": mem[0][1] if mem else float("nan"),
            "end": mem[-1][1] if mem else float("nan"),
            "max": max((m for _, m in mem), default=float("nan")),
            "slope_mb_per_min": slope_mb_per_min(mem),
            # The last sample of each minute: growth that slows down is caches filling up.
            "by_minute": [
                m
                for i, (t, m) in enumerate(mem)
                if i + 1 == len(mem) or mem[i + 1][0] // 60 > t // 60
            ],
        },
    }
    return result


def print_report(r: dict[str, Any]) -> None:
    print(
        f"\n{r['instances']} gateway instance(s) x {r['processes']} process(es), database: "
        f"{r['database']}"
    )
    print(
        f"{r['learners']} learners, {r['duration_s']} s (first {r['warmup_s']} s not counted), "
        f"think time {r['think_s']} s mean, model streams over {r['model_delay_ms']} ms"
    )
    print(
        f"requests {r['requests']}  measured pairs {r['pairs_measured']}  "
        f"throughput {r['throughput_per_s']:.1f} hints/s  errors {r['errors']}"
    )
    for kind, count in r["error_kinds"].items():
        print(f"  error x{count}: {kind}")
    print(f"{'latency (ms)':<22}{'p50':>8}{'p95':>8}{'p99':>8}")
    for name, key in (
        ("direct to model", "direct_ms"),
        ("through gateway", "gateway_ms"),
        ("added by gateway", "added_ms"),
    ):
        v = r[key]
        print(f"{name:<22}{v['p50']:>8.1f}{v['p95']:>8.1f}{v['p99']:>8.1f}")
    m = r["rss_mb"]
    print(
        f"gateway RSS: {m['after_warmup']:.1f} MB after warm-up, {m['end']:.1f} MB at the end, "
        f"max {m['max']:.1f} MB, trend {m['slope_mb_per_min']:+.2f} MB/min"
    )
    print("  at the end of each minute: " + ", ".join(f"{x:.1f}" for x in m["by_minute"]) + " MB")
    c = r["cpu_s"]
    print(
        f"CPU seconds over {c['wall']:.0f} s: gateway {c['gateway']:.1f} "
        f"({r['gateway_cpu_ms_per_request']:.1f} ms per hint), fake model {c['model']:.1f}, "
        f"load generator {c['load']:.1f}; machine load average {r['load_average_1min']:.1f} "
        f"on {os.cpu_count()} cores"
    )
    goal = r["added_ms"]["p95"] <= 50 and r["errors"] == 0
    print(f"goal p95 added <= 50 ms and zero errors: {'met' if goal else 'NOT met'}")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--serve-fake-model":
        serve_fake_model(float(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learners", type=int, default=500)
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of load (300 for the 5-minute run)"
    )
    parser.add_argument("--warmup", type=float, default=10.0, help="first seconds not counted")
    parser.add_argument(
        "--think", type=float, default=60.0, help="mean seconds between a learner's hints"
    )
    parser.add_argument(
        "--model-delay-ms", type=float, default=40.0, help="how long the fake model streams"
    )
    parser.add_argument("--workers", type=int, default=32, help="[gateway] workers (threads)")
    parser.add_argument(
        "--processes", type=int, default=1, help="gateway processes (eduproject serve --workers)"
    )
    parser.add_argument(
        "--instances", type=int, default=1, help="separate gateways (hosts) sharing the database"
    )
    parser.add_argument("--database", help="[gateway] database: a postgresql:// URL")
    parser.add_argument(
        "--postgres", action="store_true", help="start a throwaway PostgreSQL for --database"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--gateway-log", type=Path, help="keep the gateway's log here")
    args = parser.parse_args()
    if args.warmup >= args.duration:
        parser.error("--warmup must be shorter than --duration")

    with contextlib.ExitStack() as stack:
        if args.postgres:
            sys.path.insert(0, str(ROOT))
            from tests.support.postgres import postgres_server

            args.database = stack.enter_context(postgres_server()).new_database()
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="eduproject-gateway-load-"))
        folder = Path(tmp)
        fake, model_url = start_fake_model(args.model_delay_ms / 1000, 8)
        gateways: list[subprocess.Popen[bytes]] = []
        try:
            course = write_course(folder, model_url, args.workers, args.database)
            tokens = issue_tokens(course, args.learners, args.database)
            urls = []
            for i in range(args.instances):
                gateway, url = start_gateway(course, folder / f"gateway{i}.log", args.processes)
                gateways.append(gateway)
                urls.append(url)
            print(
                f"model {model_url}  gateways {' '.join(urls)}  {len(tokens)} tokens",
                flush=True,
            )
            run, memory, started, cpu = asyncio.run(
                load(args, tokens, (urls, model_url), ([g.pid for g in gateways], fake.pid))
            )
            result = report(args, run, memory, started, cpu)
        finally:
            for i, gateway in enumerate(gateways):
                gateway.terminate()
                gateway.wait(timeout=30)
                if args.gateway_log:
                    log = args.gateway_log
                    if args.instances > 1:
                        log = log.with_name(f"{log.name}.{i}")
                    log.write_bytes((folder / f"gateway{i}.log").read_bytes())
            fake.terminate()
            fake.wait(timeout=30)
    print_report(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
