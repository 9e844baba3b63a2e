"""The benchmark's HTML page: a scoreboard, four plots and the full tables, in one file.

Plots are matplotlib PNGs embedded as data URIs, so the page can be mailed or archived as
it is. Everything shown comes from :class:`~eduproject.bench.runner.BenchReport`; model
output is escaped (it is untrusted text).

    Path("bench/report.html").write_text(render_html(report))
"""

from __future__ import annotations

import base64
import html
import io
from collections import defaultdict
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen first
from matplotlib.figure import Figure

from eduproject.bench.metrics import Record, TaskMetrics
from eduproject.bench.runner import BenchReport

# Outcome colours, used alike in the plots and the per-item grid.
COLORS = {
    "accepted": "#2e9e5b",
    "rejected": "#f0b23c",
    "malformed": "#9c6ade",
    "timeout": "#8a8f98",
    "error": "#d64545",
}
ROUTE_COLORS = ("#3b6fd4", "#e07b39", "#2e9e5b", "#9c6ade", "#d64545", "#1aa3a3", "#8a8f98")
TASK_ORDER = ("completion", "hint", "explain", "repair")

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430;
       margin: 0; background: #f5f6f8; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 28px 60px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 34px 0 10px; border-bottom: 2px solid #dfe3ea; padding-bottom: 4px; }
.sub { color: #5b6576; margin: 0 0 18px; }
.card { background: #fff; border: 1px solid #dfe3ea; border-radius: 8px; padding: 14px 16px;
        margin: 12px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 5px 8px; border-bottom: 1px solid #e8ebf0; text-align: right; white-space: nowrap; }
th { background: #f0f2f6; font-weight: 600; }
td.l, th.l { text-align: left; }
.score { font-size: 20px; font-weight: 700; text-align: center; border-radius: 6px; }
.muted { color: #7a8494; }
.flag { background: #fff3d6; color: #7a5200; border-radius: 4px; padding: 1px 6px; font-weight: 600; }
img { max-width: 100%; display: block; margin: 0 auto; }
.grid { width: auto; }
.grid th { text-align: center; }
.grid td { text-align: center; font-weight: 700; color: #fff; min-width: 90px; }
.grid td.l, .grid th.l { color: #1d2430; font-weight: 400; text-align: left; padding-right: 18px; }
.legend span { display: inline-block; padding: 2px 8px; margin-right: 8px; border-radius: 4px;
               color: #fff; font-size: 13px; }
dl { margin: 0; } dt { font-weight: 600; margin-top: 8px; } dd { margin: 2px 0 0 18px; }
"""


def render_html(report: BenchReport) -> str:
    """The whole page as one HTML string."""
    opts = report.options
    suites = ", ".join(f"{html.escape(s)} ({n} items)" for s, n in report.suites.items())
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>eduproject bench</title>",
        f"<style>{_CSS}</style></head><body><main>",
        "<h1>Model benchmark</h1>",
        f"<p class='sub'>{html.escape(report.started_at)} &middot; {report.duration_s:.0f} s "
        f"&middot; suites: {suites} &middot; tasks: {html.escape(', '.join(opts.tasks))} "
        f"&middot; samples per completion: {opts.samples}"
        + (f" &middot; hint validation: {opts.repairs} repairs" if opts.validate else "")
        + f"<br>grading sandbox: {html.escape(report.sandbox)} &middot; ledger: "
        f"{html.escape(str(report.ledger_path))}</p>",
        _scoreboard(report),
        "<h2>Accepted outputs</h2><div class='card'>",
        _img(_accepted_figure(report.metrics, _labels(report))),
        "</div><h2>What happened to every request</h2><div class='card'>",
        _img(_outcome_figure(report.records, _labels(report))),
        "</div><h2>Latency</h2><div class='card'>",
        _img(_latency_figure(report.metrics, _labels(report))),
        "</div><h2>Cost per accepted output</h2><div class='card'>",
        _cost_section(report.metrics, _labels(report)),
        "</div>",
        _metrics_table(report),
        _item_grid(report),
        _definitions(report),
        "</main></body></html>",
    ]
    return "\n".join(parts)


# -- labels ------------------------------------------------------------------------------


def _labels(report: BenchReport) -> dict[tuple[str, str], str]:
    """A short series label per (route, suite): the route alone when there is one suite."""
    keys = list(dict.fromkeys((m.route, m.suite) for m in report.metrics))
    one_suite = len({s for _, s in keys}) == 1
    return {k: k[0] if one_suite else f"{k[0]} · {k[1]}" for k in keys}


def _tasks(metrics: Sequence[TaskMetrics]) -> list[str]:
    present = {m.task for m in metrics}
    return [t for t in TASK_ORDER if t in present]


# -- scoreboard --------------------------------------------------------------------------


def _shade(rate: float | None) -> str:
    """Background from red (0) through amber to green (1)."""
    if rate is None:
        return "background:#eef0f4;color:#7a8494"
    hue = int(120 * rate)
    return f"background:hsl({hue},65%,88%);color:hsl({hue},70%,22%)"


def _scoreboard(report: BenchReport) -> str:
    labels = _labels(report)
    tasks = [t for t in _tasks(report.metrics) if t != "repair"]
    by_key = {(m.route, m.suite, m.task): m for m in report.metrics}
    head = "".join(f"<th>{t}<br><span class='muted'>accepted</span></th>" for t in tasks)
    rows = []
    for (route, suite), label in labels.items():
        info = report.routes.get(route)
        model = html.escape(" > ".join(info.labels)) if info else ""
        cells = []
        for task in tasks:
            m = by_key.get((route, suite, task))
            rate = m.accepted_rate if m else None
            text = "-" if m is None else f"{100 * m.accepted_rate:.0f}%"
            if m is not None and task == "completion" and len(m.pass_at) > 1:
                k = max(m.pass_at)
                text += f"<br><span class='muted' style='font-size:12px'>pass@{k} {100 * m.pass_at[k]:.0f}%</span>"
            cells.append(f"<td class='score' style='{_shade(rate)}'>{text}</td>")
        answered = [m for m in report.metrics if (m.route, m.suite) == (route, suite)]
        p50 = [m.p50_latency_s for m in answered if m.p50_latency_s is not None]
        cost = _route_cost(answered)
        rows.append(
            f"<tr><td class='l'><b>{html.escape(label)}</b><br><span class='muted'>{model}</span></td>"
            + "".join(cells)
            + f"<td>{(sum(p50) / len(p50)) if p50 else 0:.2f} s</td><td>{cost}</td></tr>"
        )
    return (
        "<h2>Scoreboard</h2><div class='card'><table><tr><th class='l'>route</th>"
        + head
        + "<th>median latency<br><span class='muted'>mean of tasks' p50</span></th>"
        "<th>cost per accepted<br><span class='muted'>all tasks</span></th></tr>"
        + "".join(rows)
        + "</table></div>"
    )


def _route_cost(rows: Sequence[TaskMetrics]) -> str:
    if any(m.unpriced for m in rows):
        return "<span class='flag'>unpriced</span>"
    accepted = sum(m.accepted for m in rows)
    cost = sum(m.cost_usd or 0.0 for m in rows)
    if not accepted:
        return f"<span class='muted'>none accepted (${cost:.4f} spent)</span>"
    return f"${cost / accepted:.6f}"


# -- figures ------------------------------------------------------------------------------


def _img(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='plot' src='data:image/png;base64,{data}'>"


def _series_colors(labels: dict[tuple[str, str], str]) -> dict[tuple[str, str], str]:
    return {k: ROUTE_COLORS[i % len(ROUTE_COLORS)] for i, k in enumerate(labels)}


def _accepted_figure(metrics: Sequence[TaskMetrics], labels: dict[tuple[str, str], str]) -> Figure:
    tasks = _tasks(metrics)
    by_key = {(m.route, m.suite, m.task): m for m in metrics}
    colors = _series_colors(labels)
    series = list(labels)
    height = 0.8 / max(len(series), 1)
    fig, ax = plt.subplots(figsize=(10, 0.9 + 0.55 * len(tasks) * max(len(series), 1) ** 0.8))
    for i, key in enumerate(series):
        ys, values = [], []
        for t, task in enumerate(tasks):
            m = by_key.get((*key, task))
            if m is None:
                continue
            ys.append(t + (i - (len(series) - 1) / 2) * height)
            values.append(100 * m.accepted_rate)
        bars = ax.barh(ys, values, height=height * 0.9, color=colors[key], label=labels[key])
        for bar, value in zip(bars, values, strict=True):
            ax.text(
                min(value, 100) + 1, bar.get_y() + bar.get_height() / 2, f"{value:.0f}%",
                va="center", fontsize=10,
            )  # fmt: skip
    ax.set_yticks(range(len(tasks)), tasks, fontsize=11)
    ax.invert_yaxis()
    ax.set_xlim(0, 112)
    ax.set_xlabel("accepted outputs (% of requests)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(loc="lower right", frameon=False, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return fig


def _outcome_figure(records: Sequence[Record], labels: dict[tuple[str, str], str]) -> Figure:
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in records:
        kind: str = "accepted" if r.accepted else ("rejected" if r.status == "ok" else r.status)
        counts[(r.route, r.suite, r.task)][kind] += 1
    order = {t: i for i, t in enumerate(TASK_ORDER)}
    rows = sorted(counts, key=lambda k: (list(labels).index((k[0], k[1])), order.get(k[2], 9)))
    fig, ax = plt.subplots(figsize=(10, 0.8 + 0.42 * len(rows)))
    names = [f"{labels[(r[0], r[1])]} · {r[2]}" for r in rows]
    left = [0.0] * len(rows)
    for kind, color in COLORS.items():
        values = []
        for key in rows:
            total = sum(counts[key].values())
            values.append(100 * counts[key].get(kind, 0) / total)
        bars = ax.barh(range(len(rows)), values, left=left, color=color, label=kind, height=0.7)
        for bar, value, key in zip(bars, values, rows, strict=True):
            if value >= 7:
                n = counts[key].get(kind, 0)
                ax.text(
                    bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2,
                    str(n), ha="center", va="center", color="white", fontsize=9, fontweight="bold",
                )  # fmt: skip
        left = [a + b for a, b in zip(left, values, strict=True)]
    ax.set_yticks(range(len(rows)), names, fontsize=10)
    ax.invert_yaxis()
    ax.set_xlim(0, 100)
    ax.set_xlabel("% of requests (numbers inside bars are request counts)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(
        ncol=5,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12 - 0.6 / (len(rows) + 2)),
        frameon=False,
    )
    return fig


def _latency_figure(metrics: Sequence[TaskMetrics], labels: dict[tuple[str, str], str]) -> Figure:
    rows = [m for m in metrics if m.p50_latency_s is not None]
    colors = _series_colors(labels)
    fig, ax = plt.subplots(figsize=(10, 0.8 + 0.42 * max(len(rows), 1)))
    for i, m in enumerate(rows):
        key = (m.route, m.suite)
        p50, p95 = m.p50_latency_s or 0.0, m.p95_latency_s or 0.0
        ax.barh(i, p50, color=colors[key], height=0.6)
        ax.plot([p50, p95], [i, i], color="#1d2430", linewidth=1.5)
        ax.plot([p95], [i], marker="|", color="#1d2430", markersize=14)
        ttft = f", first token {m.p50_ttft_s:.2f} s" if m.p50_ttft_s is not None else ""
        ax.text(p95, i, f"  p50 {p50:.2f} s, p95 {p95:.2f} s{ttft}", va="center", fontsize=9)
    ax.set_yticks(range(len(rows)), [f"{labels[(m.route, m.suite)]} · {m.task}" for m in rows])
    ax.invert_yaxis()
    top = max([m.p95_latency_s or 0.0 for m in rows] + [0.1])
    ax.set_xlim(0, top * 1.9)
    ax.set_xlabel("seconds per answered request (bar: median; whisker: 95th percentile)")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    if not rows:
        ax.text(0.5, 0.5, "no request was answered", transform=ax.transAxes, ha="center")
    return fig


def _cost_section(metrics: Sequence[TaskMetrics], labels: dict[tuple[str, str], str]) -> str:
    priced = [m for m in metrics if not m.unpriced and m.cost_per_accepted_usd is not None]
    notes = []
    for m in metrics:
        name = html.escape(f"{labels[(m.route, m.suite)]} · {m.task}")
        if m.unpriced:
            notes.append(
                f"<li>{name}: <span class='flag'>unpriced</span> (the route has no price; never counted as $0)</li>"
            )
        elif m.cost_per_accepted_usd is None:
            notes.append(f"<li>{name}: nothing accepted, ${m.cost_usd or 0.0:.6f} spent</li>")
    if not any((m.cost_per_accepted_usd or 0.0) > 0 for m in priced):
        body = "<p>No priced route spent money per accepted output"
        if priced:
            body += " (local routes are priced at $0 per second of your own CPU)"
        body += ".</p>"
    else:
        body = _img(_cost_figure(priced, labels))
    return body + (f"<ul>{''.join(notes)}</ul>" if notes else "")


def _cost_figure(rows: Sequence[TaskMetrics], labels: dict[tuple[str, str], str]) -> Figure:
    colors = _series_colors(labels)
    fig, ax = plt.subplots(figsize=(10, 0.8 + 0.42 * len(rows)))
    for i, m in enumerate(rows):
        value = m.cost_per_accepted_usd or 0.0
        ax.barh(i, value, color=colors[(m.route, m.suite)], height=0.6)
        ax.text(value, i, f"  ${value:.6f}", va="center", fontsize=9)
    ax.set_yticks(range(len(rows)), [f"{labels[(m.route, m.suite)]} · {m.task}" for m in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, max(m.cost_per_accepted_usd or 0.0 for m in rows) * 1.35)
    ax.set_xlabel("USD per accepted output")
    ax.spines[["top", "right"]].set_visible(False)
    return fig


# -- tables -------------------------------------------------------------------------------


def _metrics_table(report: BenchReport) -> str:
    from eduproject.bench.report import csv_row

    columns = [
        ("route", "route"), ("suite", "suite"), ("task", "task"), ("requests", "n"),
        ("accepted", "accepted"), ("pass_at_1", "pass@1"), ("pass_at_k", "pass@k"),
        ("latency", "p50 / p95 s"), ("p50_ttft_s", "ttft s"), ("timeout_rate", "timeout"),
        ("error_rate", "error"), ("fallback_rate", "fallback"), ("malformed_rate", "malformed"),
        ("tokens", "tokens in / out"), ("cost_usd", "cost $"),
        ("cost_per_accepted_usd", "$ / accepted"),
    ]  # fmt: skip
    head = "".join(
        f"<th class='{'l' if key in ('route', 'suite', 'task') else ''}'>{title}</th>"
        for key, title in columns
    )
    body = []
    for row in report.metrics:
        values = csv_row(row, report)
        values["latency"] = f"{values['p50_latency_s'] or '-'} / {values['p95_latency_s'] or '-'}"
        values["tokens"] = f"{values['prompt_tokens']} / {values['completion_tokens']}"
        cells = []
        for key, _ in columns:
            value = values[key]
            if value == "unpriced":
                value = "<span class='flag'>unpriced</span>"
            else:
                value = html.escape(value) or "-"
            cells.append(
                f"<td class='{'l' if key in ('route', 'suite', 'task') else ''}'>{value}</td>"
            )
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<h2>All figures</h2><div class='card' style='overflow-x:auto'><table>"
        f"<tr>{head}</tr>{''.join(body)}</table>"
        "<p class='muted'>Rates are fractions of all requests; latencies are over answered "
        "requests; cost sums every attempt the ledger priced (retries and fallbacks "
        "included).</p></div>"
    )


def _item_grid(report: BenchReport) -> str:
    """Items down, (route, task) across: what happened to each request."""
    columns = list(dict.fromkeys((r.route, r.task) for r in report.records if r.task != "repair"))
    items = list(dict.fromkeys(r.item for r in report.records))
    cells: dict[tuple[str, str, str], list[Record]] = defaultdict(list)
    for r in report.records:
        cells[(r.item, r.route, r.task)].append(r)
    head = "".join(
        f"<th>{html.escape(route)}<br><span class='muted'>{task}</span></th>"
        for route, task in columns
    )
    rows = []
    for item in items:
        tds = []
        for route, task in columns:
            found = cells.get((item, route, task), [])
            tds.append(_grid_cell(found))
        rows.append(f"<tr><td class='l'>{html.escape(item)}</td>{''.join(tds)}</tr>")
    legend = "".join(
        f"<span style='background:{color}'>{name}</span>" for name, color in COLORS.items()
    )
    return (
        "<h2>Every item</h2><div class='card' style='overflow-x:auto'>"
        f"<p class='legend'>{legend} <span class='muted' style='color:#5b6576'>hover a cell for the reason</span></p>"
        f"<table class='grid'><tr><th class='l'>item</th>{head}</tr>{''.join(rows)}</table></div>"
    )


def _grid_cell(records: Sequence[Record]) -> str:
    if not records:
        return "<td style='background:#eef0f4'></td>"
    accepted = sum(r.accepted for r in records)
    first = records[0]
    kind: str = "accepted" if accepted else ("rejected" if first.status == "ok" else first.status)
    if accepted and accepted < len(records):
        kind = "rejected"
    mark = {"accepted": "✓", "rejected": "✗", "malformed": "~", "timeout": "⏱", "error": "!"}[kind]
    if len(records) > 1:
        mark = f"{accepted}/{len(records)}"
    reason = html.escape("; ".join(dict.fromkeys(r.reason for r in records))[:400], quote=True)
    return f"<td style='background:{COLORS[kind]}' title='{reason}'>{mark}</td>"


def _definitions(report: BenchReport) -> str:
    validate = (
        f" With <code>--validate</code>, a simulated student (the same model) makes "
        f"{report.options.repairs} repair attempts without and with the hint; the hint is "
        "accepted when n2 &ge; n1 and (n2/n &ge; 0.5 or (n2&minus;n1)/n &ge; 0.25) (Phung et al., 2024)."
        if report.options.validate
        else ""
    )
    return (
        "<h2>What counts as accepted</h2><div class='card'><dl>"
        "<dt>completion</dt><dd>The model writes the exercise's solution region (FIM for families "
        "that have it, the family's instruct template otherwise). Accepted when every test of the "
        "exercise, hidden ones included, passes when the completed cell is graded in the grading "
        "sandbox. pass@k uses the unbiased estimator 1 &minus; C(n&minus;c, k)/C(n, k).</dd>"
        "<dt>hint</dt><dd>A hint for a known-wrong attempt (a mutant of the solution that fails "
        "the tests), asked with the tutor's own prompt. Accepted when the tutor's guards pass it: "
        "well-formed, and no leak of the solution (code in the hint that passes the tests counts "
        f"as a leak).{validate}</dd>"
        "<dt>explain</dt><dd>An explanation of the reference solution. Accepted when well-formed, "
        "it names at least one of the code's own identifiers, and every name it writes as code "
        "(in backticks) exists in the code, its strings and comments, Python's builtins and "
        "keywords, the standard library, or the modules the code imports.</dd>"
        "<dt>status</dt><dd><b>malformed</b>: the router rejected the answer's form (empty, cut at "
        "the token limit, looping, template tokens) or the task's well-formedness check failed; "
        "<b>timeout</b> and <b>error</b>: no answer. <b>unpriced</b>: some attempt had no price "
        "&mdash; never shown as $0.</dd></dl></div>"
    )
