"""Writing a benchmark's results: the terminal table, CSV, per-request JSONL, and the HTML page.

``write_report(report, out_dir)`` writes

* ``summary.csv`` -- one row per (route, suite, task), the table the terminal shows;
* ``records.jsonl`` -- one line per request: the output, the verdict and why;
* ``report.html`` -- the page with plots (:mod:`eduproject.bench.html`).

    paths = write_report(report, Path("bench"))
    Console().print(summary_table(report))
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

from rich.table import Table

from eduproject.bench.metrics import TaskMetrics
from eduproject.bench.runner import BenchReport
from eduproject.errors import ConfigError

CSV_COLUMNS = (
    "route",
    "models",
    "suite",
    "task",
    "requests",
    "accepted",
    "accepted_rate",
    "pass_at_1",
    "pass_at_k",
    "k",
    "p50_latency_s",
    "p95_latency_s",
    "p50_ttft_s",
    "timeout_rate",
    "error_rate",
    "fallback_rate",
    "malformed_rate",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "cost_per_accepted_usd",
)


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def csv_row(row: TaskMetrics, report: BenchReport) -> dict[str, str]:
    k = report.options.samples
    info = report.routes.get(row.route)
    return {
        "route": row.route,
        "models": " > ".join(info.models) if info else "",
        "suite": row.suite,
        "task": row.task,
        "requests": str(row.requests),
        "accepted": str(row.accepted),
        "accepted_rate": _num(row.accepted_rate),
        "pass_at_1": _num(row.pass_at.get(1)),
        "pass_at_k": _num(row.pass_at.get(k)) if k > 1 else "",
        "k": str(k) if k > 1 and row.task == "completion" else "",
        "p50_latency_s": _num(row.p50_latency_s, 3),
        "p95_latency_s": _num(row.p95_latency_s, 3),
        "p50_ttft_s": _num(row.p50_ttft_s, 3),
        "timeout_rate": _num(row.timeout_rate),
        "error_rate": _num(row.error_rate),
        "fallback_rate": _num(row.fallback_rate),
        "malformed_rate": _num(row.malformed_rate),
        "prompt_tokens": str(row.prompt_tokens),
        "completion_tokens": str(row.completion_tokens),
        "cost_usd": "unpriced" if row.unpriced else _num(row.cost_usd, 6),
        "cost_per_accepted_usd": "unpriced" if row.unpriced else _num(row.cost_per_accepted_usd, 6),
    }


def write_report(report: BenchReport, out_dir: Path) -> list[Path]:
    """Write summary.csv, records.jsonl and report.html into ``out_dir``; return their paths."""
    from eduproject.bench.html import render_html

    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the output folder {out_dir}: {exc.strerror}",
            hint="pass another folder with -o",
        ) from None
    summary = out_dir / "summary.csv"
    with summary.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for row in report.metrics:
            writer.writerow(csv_row(row, report))
    records = out_dir / "records.jsonl"
    with records.open("w", encoding="utf-8") as handle:
        for record in report.records:
            handle.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    page = out_dir / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    report.files = [summary, records, page]
    return report.files


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def summary_table(report: BenchReport) -> Table:
    """The rich table the command prints (the same figures as summary.csv)."""
    k = report.options.samples
    table = Table(
        title=f"eduproject bench ({report.started_at}, {report.duration_s:.0f} s)",
        title_justify="left",
    )
    columns = [
        ("route", "left"),
        ("suite", "left"),
        ("task", "left"),
        ("n", "right"),
        ("accepted", "right"),
        ("pass@1" + (f" / @{k}" if k > 1 else ""), "right"),
        ("p50 / p95 s", "right"),
        ("ttft s", "right"),
        ("timeout", "right"),
        ("error", "right"),
        ("fallback", "right"),
        ("malformed", "right"),
        ("tokens in / out", "right"),
        ("cost", "right"),
        ("$ / accepted", "right"),
    ]
    for name, justify in columns:
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in report.metrics:
        pass_text = "-"
        if row.task == "completion":
            pass_text = _pct(row.pass_at.get(1))
            if k > 1:
                pass_text += f" / {_pct(row.pass_at.get(k))}"
        table.add_row(
            row.route,
            row.suite,
            row.task,
            str(row.requests),
            f"{row.accepted} ({_pct(row.accepted_rate)})",
            pass_text,
            f"{_secs(row.p50_latency_s)} / {_secs(row.p95_latency_s)}",
            _secs(row.p50_ttft_s),
            _pct(row.timeout_rate),
            _pct(row.error_rate),
            _pct(row.fallback_rate),
            _pct(row.malformed_rate),
            f"{row.prompt_tokens} / {row.completion_tokens}",
            row.cost_text(),
            row.cost_per_accepted_text().replace("n/a (none accepted)", "n/a"),
        )
    return table
