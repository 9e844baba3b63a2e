"""The benchmark page's plots (matplotlib, Agg), one figure per question a reader asks.

Every figure is faceted the same way -- one row of panels per suite -- and every route keeps
its colour everywhere, so the plots read together with the scoreboard.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # the backend is chosen first
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from eduproject.bench.metrics import Record, TaskMetrics

# Outcome colours, used alike in the plots and the page's per-item grid.
OUTCOME_COLORS = {
    "accepted": "#2e9e5b",
    "rejected": "#f0b23c",
    "malformed": "#9c6ade",
    "timeout": "#8a8f98",
    "error": "#d64545",
}
ROUTE_COLORS = ("#3b6fd4", "#e07b39", "#1aa3a3", "#b5487a", "#6d8a1f", "#7a5cc2", "#8a6d3b")
TASK_ORDER = ("completion", "hint", "explain", "repair")


def route_colors(routes: Sequence[str]) -> dict[str, str]:
    return {r: ROUTE_COLORS[i % len(ROUTE_COLORS)] for i, r in enumerate(routes)}


def ordered_tasks(metrics: Sequence[TaskMetrics], *, repair: bool = True) -> list[str]:
    present = {m.task for m in metrics}
    return [t for t in TASK_ORDER if t in present and (repair or t != "repair")]


def outcome(record: Record) -> str:
    """The grid/plot category of one request."""
    if record.accepted:
        return "accepted"
    return "rejected" if record.status == "ok" else record.status


def _tidy(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="x", alpha=0.3)
    ax.set_axisbelow(True)


def accepted_figure(
    metrics: Sequence[TaskMetrics], routes: Sequence[str], suites: Sequence[str]
) -> Figure:
    """Accepted-output rate: a panel per (suite, task), a bar per route."""
    tasks = ordered_tasks(metrics, repair=False)
    by_key = {(m.route, m.suite, m.task): m for m in metrics}
    colors = route_colors(routes)
    rows, cols = len(suites), max(len(tasks), 1)
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(10.5, 0.4 + rows * (0.42 * len(routes) + 0.75)),
        squeeze=False,
        sharey=True,
    )
    for r, suite in enumerate(suites):
        for c, task in enumerate(tasks):
            ax = axes[r][c]
            values = [by_key.get((route, suite, task)) for route in routes]
            rates = [100 * m.accepted_rate if m else 0.0 for m in values]
            ax.barh(range(len(routes)), rates, color=[colors[x] for x in routes], height=0.7)
            for y, (m, rate) in enumerate(zip(values, rates, strict=True)):
                text = "-" if m is None else f"{rate:.0f}%"
                ax.text(min(rate, 100) + 2, y, text, va="center", fontsize=9)
            ax.set_xlim(0, 118)
            ax.set_xticks([0, 50, 100], ["0", "50", "100%"])
            title = task if len(suites) == 1 else f"{suite} · {task}"
            ax.set_title(title, fontsize=11, loc="left")
            _tidy(ax)
        axes[r][0].set_yticks(range(len(routes)), routes, fontsize=10)
    axes[0][0].invert_yaxis()  # the y axis is shared: once turns every panel
    fig.tight_layout()
    return fig


def outcome_figure(
    records: Sequence[Record], routes: Sequence[str], suites: Sequence[str]
) -> Figure:
    """What happened to every request: stacked shares per (route, task), a panel per suite."""
    counts: dict[tuple[str, str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for record in records:
        counts[(record.suite, record.route, record.task)][outcome(record)] += 1
    panels = [
        [(route, task) for route in routes for task in TASK_ORDER if (suite, route, task) in counts]
        for suite in suites
    ]
    heights = [max(len(p), 1) for p in panels]
    fig, axes = plt.subplots(
        len(suites),
        1,
        figsize=(10.5, 0.9 + sum(0.36 * h + 0.5 for h in heights)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, suite, keys in zip((a[0] for a in axes), suites, panels, strict=True):
        left = [0.0] * len(keys)
        for kind, color in OUTCOME_COLORS.items():
            shares = []
            for route, task in keys:
                row = counts[(suite, route, task)]
                shares.append(100 * row.get(kind, 0) / sum(row.values()))
            bars = ax.barh(
                range(len(keys)), shares, left=left, color=color, label=kind, height=0.72
            )
            for bar, share, (route, task) in zip(bars, shares, keys, strict=True):
                if share >= 6:
                    n = counts[(suite, route, task)].get(kind, 0)
                    ax.text(
                        bar.get_x() + bar.get_width() / 2, bar.get_y() + bar.get_height() / 2,
                        str(n), ha="center", va="center", color="white", fontsize=8.5,
                        fontweight="bold",
                    )  # fmt: skip
            left = [a + b for a, b in zip(left, shares, strict=True)]
        ax.set_yticks(range(len(keys)), [f"{route} · {task}" for route, task in keys], fontsize=9.5)
        ax.invert_yaxis()
        ax.set_xlim(0, 100)
        if len(suites) > 1:
            ax.set_title(suite, fontsize=11, loc="left")
        ax.spines[["top", "right"]].set_visible(False)
    axes[-1][0].set_xlabel("% of requests (numbers in the bars: request counts)")
    handles, labels = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, labels, ncol=5, loc="lower center", frameon=False, bbox_to_anchor=(0.5, 0))
    fig.tight_layout(rect=(0, 0.06 if len(suites) == 1 else 0.035, 1, 1))
    return fig


def latency_figure(
    metrics: Sequence[TaskMetrics], routes: Sequence[str], suites: Sequence[str]
) -> Figure:
    """Median (bar) and 95th percentile (whisker) seconds of answered requests."""
    colors = route_colors(routes)
    panels = [[m for m in metrics if m.suite == s and m.p50_latency_s is not None] for s in suites]
    heights = [max(len(p), 1) for p in panels]
    top = max([m.p95_latency_s or 0.0 for p in panels for m in p] + [0.1])
    fig, axes = plt.subplots(
        len(suites),
        1,
        figsize=(10.5, 0.5 + sum(0.36 * h + 0.5 for h in heights)),
        squeeze=False,
        gridspec_kw={"height_ratios": heights},
    )
    for ax, suite, rows in zip((a[0] for a in axes), suites, panels, strict=True):
        for i, m in enumerate(rows):
            p50, p95 = m.p50_latency_s or 0.0, m.p95_latency_s or 0.0
            ax.barh(i, p50, color=colors.get(m.route, "#3b6fd4"), height=0.6)
            ax.plot([p50, p95], [i, i], color="#1d2430", linewidth=1.4)
            ax.plot([p95], [i], marker="|", color="#1d2430", markersize=12)
            ttft = f", first token {m.p50_ttft_s:.2f}" if m.p50_ttft_s is not None else ""
            ax.text(p95, i, f"  {p50:.2f} / {p95:.2f} s{ttft}", va="center", fontsize=8.5)
        if not rows:
            ax.text(0.5, 0.5, "no request was answered", transform=ax.transAxes, ha="center")
            ax.set_yticks([])
        else:
            ax.set_yticks(range(len(rows)), [f"{m.route} · {m.task}" for m in rows], fontsize=9.5)
            ax.invert_yaxis()
        ax.set_xlim(0, top * 1.7)
        if len(suites) > 1:
            ax.set_title(suite, fontsize=11, loc="left")
        _tidy(ax)
    axes[-1][0].set_xlabel("seconds per answered request (bar: median; whisker: 95th percentile)")
    fig.tight_layout()
    return fig


def cost_figure(rows: Sequence[TaskMetrics], routes: Sequence[str], one_suite: bool) -> Figure:
    """USD per accepted output, priced rows only (unpriced ones are listed beside the plot)."""
    colors = route_colors(routes)
    fig, ax = plt.subplots(figsize=(10.5, 0.7 + 0.38 * len(rows)))
    for i, m in enumerate(rows):
        value = m.cost_per_accepted_usd or 0.0
        ax.barh(i, value, color=colors.get(m.route, "#3b6fd4"), height=0.6)
        ax.text(value, i, f"  ${value:.6f}", va="center", fontsize=9)
    names = [
        f"{m.route} · {m.task}" if one_suite else f"{m.route} · {m.suite} · {m.task}" for m in rows
    ]
    ax.set_yticks(range(len(rows)), names, fontsize=9.5)
    ax.invert_yaxis()
    ax.set_xlim(0, max(m.cost_per_accepted_usd or 0.0 for m in rows) * 1.4)
    ax.set_xlabel("USD per accepted output")
    _tidy(ax)
    fig.tight_layout()
    return fig
