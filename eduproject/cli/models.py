"""CLI commands of eduproject.models: ``routes check``, ``ask``, ``ledger``, ``model pull``.

Each parses options, calls one library function and prints; errors are
:class:`~eduproject.errors.EduprojectError` and the root CLI turns them into a message
and an exit code.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Annotated, get_args

import typer
from rich.console import Console
from rich.table import Table

from eduproject.core.storage import is_database_url
from eduproject.errors import ConfigError, ModelError
from eduproject.models.config import OFFLINE, load_config, local_route_for
from eduproject.models.ledger import Ledger, SummaryRow
from eduproject.models.probe import RouteCheck, check_routes
from eduproject.models.pull import KNOWN_MODELS, QUANTS, pull_model
from eduproject.models.registry import registry_for
from eduproject.models.router import Router
from eduproject.models.types import ModelRequest, Task

CourseOption = Annotated[
    Path | None,
    typer.Option("--course", help="Course folder with eduproject.toml (default: current folder)."),
]


def _console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def routes_check(
    route: Annotated[
        list[str] | None, typer.Option("--route", help="Only this route (repeatable).")
    ] = None,
    course: CourseOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Probe each configured route: status, latency and model."""
    config = load_config(course)
    if not config.routes:
        raise ConfigError(
            "no routes are configured (and the bundled SmolLM2 model is not installed)",
            hint="add [[routes]] to eduproject.toml, see docs/models.md",
        )
    router = Router.from_config(config)

    async def run() -> list[RouteCheck]:
        try:
            return await check_routes(router, route)
        finally:
            await router.aclose()

    try:
        checks = asyncio.run(run())
    finally:
        router.close()
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(c) for c in checks], indent=2))
    else:
        table = Table("route", "provider", "status", "latency", "model", "detail")
        for c in checks:
            latency = f"{c.latency_s * 1000:.0f} ms" if c.latency_s is not None else "-"
            table.add_row(c.route, c.provider, c.status, latency, c.model, c.detail)
        _console().print(table)
    failed = [c.route for c in checks if not c.ok]
    if failed:
        raise ModelError(
            f"{len(failed)} of {len(checks)} routes failed the check: {', '.join(failed)}",
            hint="see the status column; fix base_url, the key variable or start the server",
        )


def ask(
    question: Annotated[str, typer.Argument(help="The question to send.")],
    route: Annotated[str | None, typer.Option("--route", help="Use only this route.")] = None,
    model_path: Annotated[
        Path | None, typer.Option("--model-path", help="Answer with this local .gguf file.")
    ] = None,
    family: Annotated[
        str, typer.Option("--family", help="Model family of --model-path.")
    ] = "smollm2-instruct",
    task: Annotated[
        str, typer.Option("--task", help="hint, explain, ask, repair or completion.")
    ] = "ask",
    max_tokens: Annotated[int, typer.Option("--max-tokens")] = 256,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Do not answer from the cache.")
    ] = False,
    course: CourseOption = None,
) -> None:
    """Send one question through the router and stream the answer."""
    if task not in get_args(Task):
        raise ConfigError(f"unknown task {task!r}", hint=f"use one of {', '.join(get_args(Task))}")
    config = load_config(course)
    routes = [route] if route else None
    if routes is None and all(name == OFFLINE for name in config.routes_for(task)):
        # Nothing configured: try the bundled demonstration model (learners never get it
        # unless it is named), and say so.
        demo = [r.name for r in config.routes if r.demonstration]
        if demo:
            routes = demo
            Console(stderr=True, highlight=False).print(
                f"note: no route is set up for {task!r}; using the bundled demonstration "
                f"model ({demo[0]})",
                markup=False,
            )
    if model_path is not None:
        families = registry_for(config).families
        if family not in families:
            raise ConfigError(
                f"unknown family {family!r}", hint=f"use one of {', '.join(families)}"
            )
        local = local_route_for(model_path, family=family)
        config = replace(config, routes=(local,))
        routes = [local.name]
    request = ModelRequest(
        task=task,  # type: ignore[arg-type]
        instruction=question,
        prefix=question if task == "completion" else "",
        max_tokens=max_tokens,
        use_cache=not no_cache,
    )
    with Router.from_config(config) as router:
        stream = router.stream_sync(request, routes=routes)
        with stream:
            for delta in stream:
                sys.stdout.write(delta)
                sys.stdout.flush()
        response = stream.result
    assert response is not None
    sys.stdout.write(f"\n\n-- {response.label}\n")
    err = Console(stderr=True, highlight=False)
    if response.partial:
        err.print("note: the stream broke before the end; the answer is incomplete", markup=False)
    if response.malformed:
        err.print(f"note: the answer looks malformed: {response.malformed}", markup=False)


def ledger(
    db: Annotated[
        str | None,
        typer.Option(
            "--db",
            help="Ledger file or postgresql:// URL (default: [gateway] database, else [ledger] path).",
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    course: CourseOption = None,
    url: Annotated[
        str | None,
        typer.Option("--url", help="A tutor gateway's summary instead (needs an admin --token)."),
    ] = None,
    token: Annotated[
        str | None,
        typer.Option("--token", envvar="EDUPROJECT_ADMIN_TOKEN", help="Admin token for --url."),
    ] = None,
) -> None:
    """Summarise the ledger per route, model and task (or a gateway's, per learner, with --url)."""
    if url is not None:
        from eduproject.cli.gateway import print_summary

        print_summary(url, token, as_json=as_json)
        return
    target: Path | str
    if db is not None:
        target = db if is_database_url(db) else Path(db)
    else:
        from eduproject.config import read_section
        from eduproject.gateway.settings import SECTION as GATEWAY_SECTION

        config = load_config(course)
        # A gateway on PostgreSQL keeps the class's ledger there ([gateway] database).
        shared = read_section(config.other, GATEWAY_SECTION, course or Path.cwd()).database
        target = shared if shared is not None else config.ledger_path
    if isinstance(target, Path) and not target.is_file():
        raise ConfigError(f"no ledger at {target}", hint="pass --db, or make a request first")
    book = Ledger(target)
    try:
        rows = book.summary()
    finally:
        book.close()
    if as_json:
        typer.echo(json.dumps([dataclasses.asdict(r) for r in rows], indent=2))
        return
    typer.echo(summary_text(rows))


def summary_text(rows: list[SummaryRow]) -> str:
    """The ledger summary as a few lines per (route, model, task); readable at any width."""

    def pct(x: float | None) -> str:
        return "-" if x is None else f"{x:.0%}"

    def secs(x: float | None) -> str:
        return "-" if x is None else f"{x:.2f} s"

    def usd(x: float | None) -> str:
        return "-" if x is None else f"${x:.4f}"

    if not rows:
        return "the ledger is empty"
    blocks = []
    for r in rows:
        blocks.append(
            f"{r.route} | {r.model} | {r.task}\n"
            f"  requests {r.requests}  latency p50 {secs(r.p50_latency_s)}  "
            f"p95 {secs(r.p95_latency_s)}  cache hits {r.cache_hits}\n"
            f"  timeout {pct(r.timeout_rate)}  error {pct(r.error_rate)}  "
            f"fallback {pct(r.fallback_rate)}  malformed {pct(r.malformed_rate)}  "
            f"partial {pct(r.partial_rate)}  accepted {pct(r.accepted_rate)}\n"
            f"  cost {usd(r.cost_usd)}  per accepted {usd(r.cost_per_accepted_usd)}  "
            f"unpriced {r.unpriced}"
        )
    return "\n\n".join(blocks)


def model_pull(
    name: Annotated[str, typer.Argument(help=f"One of: {', '.join(KNOWN_MODELS)}.")],
    quant: Annotated[str, typer.Option("--quant", help=f"One of: {', '.join(QUANTS)}.")] = "Q4_K_M",
    dest: Annotated[Path | None, typer.Option("--dest", help="Folder to download into.")] = None,
) -> None:
    """Download a StarCoder2 GGUF file for the local provider."""
    pulled = pull_model(name, quant=quant, dest=dest)
    typer.echo(f"downloaded {pulled.filename} to {pulled.path}\n")
    typer.echo("add this route to eduproject.toml:\n")
    typer.echo(pulled.route_toml())


def register(app: typer.Typer) -> None:
    """Add this area's commands to the root app."""
    routes_app = typer.Typer(help="Model routes.", no_args_is_help=True)
    routes_app.command("check")(routes_check)
    model_app = typer.Typer(help="Local model files.", no_args_is_help=True)
    model_app.command("pull")(model_pull)
    app.add_typer(routes_app, name="routes")
    app.add_typer(model_app, name="model")
    app.command("ask")(ask)
    app.command("ledger")(ledger)
