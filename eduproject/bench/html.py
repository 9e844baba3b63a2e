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

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

from eduproject.bench.metrics import Record, TaskMetrics
from eduproject.bench.plots import (
    OUTCOME_COLORS,
    accepted_figure,
    cost_figure,
    latency_figure,
    ordered_tasks,
    outcome,
    outcome_figure,
)
from eduproject.bench.runner import BenchReport
from eduproject.util.html import html_page
from eduproject.util.stats import percentile

_CSS = """
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d2430;
       margin: 0; background: #f5f6f8; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 24px 60px; }
h1 { font-size: 28px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 34px 0 10px; border-bottom: 2px solid #dfe3ea; padding-bottom: 4px; }
.sub { color: #5b6576; margin: 0 0 18px; }
.card { background: #fff; border: 1px solid #dfe3ea; border-radius: 8px; padding: 14px 16px;
        margin: 12px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { padding: 4px 6px; border-bottom: 1px solid #e8ebf0; text-align: right; white-space: nowrap; }
th { background: #f0f2f6; font-weight: 600; }
td.l, th.l { text-align: left; }
.score { font-size: 19px; font-weight: 700; text-align: center; border: 2px solid #fff;
         border-radius: 8px; min-width: 70px; }
.score small { display: block; font-size: 11.5px; font-weight: 600; opacity: 0.8; }
.board th { text-align: center; }
.board th.group { border-bottom: 2px solid #c9d0db; }
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
    routes = list(report.routes) or list(dict.fromkeys(m.route for m in report.metrics))
    suite_names = list(dict.fromkeys(m.suite for m in report.metrics))
    one_suite = len(suite_names) == 1
    parts = [
        "<main><h1>Model benchmark</h1>",
        f"<p class='sub'>{html.escape(report.started_at)} &middot; {report.duration_s:.0f} s "
        f"&middot; suites: {suites} &middot; tasks: {html.escape(', '.join(opts.tasks))} "
        f"&middot; samples per completion: {opts.samples}"
        + (f" &middot; hint validation: {opts.repairs} repairs" if opts.validate else "")
        + f"<br>grading sandbox: {html.escape(report.sandbox)} &middot; ledger: "
        f"{html.escape(str(report.ledger_path))}</p>",
        _scoreboard(report, routes, suite_names),
        "<h2>Accepted outputs</h2><div class='card'>",
        _img(accepted_figure(report.metrics, routes, suite_names)),
        "</div><h2>What happened to every request</h2><div class='card'>",
        _img(outcome_figure(report.records, routes, suite_names)),
        "</div><h2>Latency</h2><div class='card'>",
        _img(latency_figure(report.metrics, routes, suite_names)),
        "</div><h2>Cost per accepted output</h2><div class='card'>",
        _cost_section(report.metrics, routes, one_suite),
        "</div>",
        _metrics_table(report),
        _item_grid(report),
        _definitions(report),
        "</main>",
    ]
    return html_page("eduproject bench", "\n".join(parts), css=_CSS)


# -- scoreboard --------------------------------------------------------------------------


def _shade(rate: float | None) -> str:
    """Background from red (0) through amber to green (1)."""
    if rate is None:
        return "background:#eef0f4;color:#7a8494"
    hue = int(120 * rate)
    return f"background:hsl({hue},65%,88%);color:hsl({hue},70%,22%)"


def _scoreboard(report: BenchReport, routes: list[str], suites: list[str]) -> str:
    tasks = ordered_tasks(report.metrics, repair=False)
    by_key = {(m.route, m.suite, m.task): m for m in report.metrics}
    multi = len(suites) > 1
    head = "<tr><th class='l' rowspan='2'>route</th>"
    for suite in suites:
        head += f"<th colspan='{len(tasks)}' class='group'>{html.escape(suite)}</th>"
    head += (
        "<th rowspan='2'>median latency<br><span class='muted'>answered requests</span></th>"
        "<th rowspan='2'>cost per accepted<br><span class='muted'>all tasks</span></th></tr><tr>"
    )
    head += "".join(f"<th>{t}</th>" for _ in suites for t in tasks) + "</tr>"
    rows = []
    for route in routes:
        info = report.routes.get(route)
        model = html.escape(" > ".join(info.labels)) if info else ""
        cells = []
        for suite in suites:
            for task in tasks:
                m = by_key.get((route, suite, task))
                text = "-" if m is None else f"{100 * m.accepted_rate:.0f}%"
                if m is not None and task == "completion" and len(m.pass_at) > 1:
                    k = max(m.pass_at)
                    text += f"<small>pass@{k} {100 * m.pass_at[k]:.0f}%</small>"
                style = _shade(m.accepted_rate if m else None)
                cells.append(f"<td class='score' style='{style}'>{text}</td>")
        answered = sorted(
            r.latency_s
            for r in report.records
            if r.route == route and r.answered and r.latency_s is not None
        )
        latency = (
            f"{percentile(answered, 0.5):.2f} s" if answered else "<span class='muted'>-</span>"
        )
        mine = [m for m in report.metrics if m.route == route]
        rows.append(
            f"<tr><td class='l'><b>{html.escape(route)}</b><br><span class='muted'>{model}</span></td>"
            + "".join(cells)
            + f"<td>{latency}</td><td>{_route_cost(mine)}</td></tr>"
        )
    note = (
        "Accepted outputs as a share of all requests"
        + (", per suite" if multi else "")
        + "; pass@k from several samples under the completion rate."
    )
    return (
        "<h2>Scoreboard</h2><div class='card'><table class='board'>"
        + head
        + "".join(rows)
        + f"</table><p class='muted'>{note}</p></div>"
    )


def _route_cost(rows: Sequence[TaskMetrics]) -> str:
    if any(m.unpriced for m in rows):
        return "<span class='flag'>unpriced</span>"
    accepted = sum(m.accepted for m in rows if m.task != "repair")
    cost = sum(m.cost_usd or 0.0 for m in rows)
    if not accepted:
        return f"<span class='muted'>none accepted ({_usd(cost, False)} spent)</span>"
    return _usd(cost / accepted, False)


def _img(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f"<img alt='plot' src='data:image/png;base64,{data}'>"


def _cost_section(metrics: Sequence[TaskMetrics], routes: list[str], one_suite: bool) -> str:
    priced = [m for m in metrics if not m.unpriced and m.cost_per_accepted_usd is not None]
    notes = []
    for m in metrics:
        name = html.escape(
            f"{m.route} · {m.task}" if one_suite else f"{m.route} · {m.suite} · {m.task}"
        )
        if m.unpriced:
            notes.append(
                f"<li>{name}: <span class='flag'>unpriced</span> "
                "(the route has no price; never counted as $0)</li>"
            )
        elif m.cost_per_accepted_usd is None:
            notes.append(f"<li>{name}: nothing accepted, ${m.cost_usd or 0.0:.6f} spent</li>")
    if any((m.cost_per_accepted_usd or 0.0) > 0 for m in priced):
        body = _img(cost_figure(priced, routes, one_suite))
    else:
        body = "<p>No priced route spent money per accepted output"
        if priced:
            body += " (local routes are priced at $0 per second of your own CPU)"
        body += ".</p>"
    return body + (f"<ul>{''.join(notes)}</ul>" if notes else "")


# -- tables -------------------------------------------------------------------------------


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.0f}%"


def _usd(value: float | None, unpriced: bool) -> str:
    if unpriced:
        return "<span class='flag'>unpriced</span>"
    if value is None:
        return "<span class='muted'>n/a</span>"
    return "$0" if value == 0 else f"${value:.6f}"


def _metrics_table(report: BenchReport) -> str:
    """The figures of summary.csv, formatted for reading (the CSV keeps full precision)."""
    k = report.options.samples
    head = (
        "<tr><th class='l'>route</th><th class='l'>suite</th><th class='l'>task</th><th>n</th>"
        "<th>accepted</th><th>pass@1</th>"
        + (f"<th>pass@{k}</th>" if k > 1 else "")
        + "<th>p50 / p95 s</th><th>ttft s</th><th>timeout</th><th>error</th><th>fallback</th>"
        "<th>malformed</th><th>tokens<br>in / out</th><th>cost</th><th>$ per<br>accepted</th></tr>"
    )
    body = []
    for m in report.metrics:
        p50 = "-" if m.p50_latency_s is None else f"{m.p50_latency_s:.2f}"
        p95 = "-" if m.p95_latency_s is None else f"{m.p95_latency_s:.2f}"
        ttft = "-" if m.p50_ttft_s is None else f"{m.p50_ttft_s:.2f}"
        cells = [
            f"<td class='l'>{html.escape(m.route)}</td>",
            f"<td class='l'>{html.escape(m.suite)}</td>",
            f"<td class='l'>{m.task}</td>",
            f"<td>{m.requests}</td>",
            f"<td>{m.accepted} ({_pct(m.accepted_rate)})</td>",
            f"<td>{_pct(m.pass_at.get(1))}</td>",
            f"<td>{_pct(m.pass_at.get(k))}</td>" if k > 1 else "",
            f"<td>{p50} / {p95}</td><td>{ttft}</td>",
            f"<td>{_pct(m.timeout_rate)}</td><td>{_pct(m.error_rate)}</td>",
            f"<td>{_pct(m.fallback_rate)}</td><td>{_pct(m.malformed_rate)}</td>",
            f"<td>{m.prompt_tokens} / {m.completion_tokens}</td>",
            f"<td>{_usd(m.cost_usd, m.unpriced)}</td>",
            f"<td>{_usd(m.cost_per_accepted_usd, m.unpriced)}</td>",
        ]
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        "<h2>All figures</h2><div class='card' style='overflow-x:auto'><table>"
        f"{head}{''.join(body)}</table>"
        "<p class='muted'>Rates are shares of all requests; latencies are over answered "
        "requests; cost sums every attempt the ledger priced (retries and fallbacks "
        "included). summary.csv has the same figures at full precision.</p></div>"
    )


def _item_grid(report: BenchReport) -> str:
    """Items down, (route, task) across: what happened to each request."""
    columns = list(dict.fromkeys((r.route, r.task) for r in report.records if r.task != "repair"))
    items = list(dict.fromkeys(r.item for r in report.records if r.task != "repair"))
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
        f"<span style='background:{color}'>{name}</span>" for name, color in OUTCOME_COLORS.items()
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
    kinds = [outcome(r) for r in records]
    kind = "accepted" if accepted == len(records) else next(k for k in kinds if k != "accepted")
    mark = {"accepted": "✓", "rejected": "✗", "malformed": "~", "timeout": "⏱", "error": "!"}[kind]
    if len(records) > 1:
        mark = f"{accepted}/{len(records)}"
    reason = html.escape("; ".join(dict.fromkeys(r.reason for r in records))[:400], quote=True)
    return f"<td style='background:{OUTCOME_COLORS[kind]}' title='{reason}'>{mark}</td>"


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
