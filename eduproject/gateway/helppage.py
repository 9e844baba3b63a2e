"""The instructor's help-seeking page: plots first, then the tables behind them.

Served by the gateway at ``GET /admin/help`` (admin only: it names learners), and embedded in
the course report by ``eduproject report --ledger``. Self-contained HTML: plots are PNG data
URIs, no script::

    html = help_page(report, title="Help-seeking: CS101")
    section = help_section(report)      # the same without <html>, for another page
"""

from __future__ import annotations

import time
import zlib
from html import escape

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from eduproject.gateway.helpseeking import (
    STUCK_CHECKS,
    STUCK_HINTS,
    HelpReport,
    LearnerExercise,
    minutes,
)
from eduproject.util.html import html_page, png_uri, table

_GREEN, _RED, _GREY, _BLUE = "#2e7d32", "#c62828", "#8c959f", "#1f6feb"
_HELP_COLORS = ("#9ecae1", "#4292c6", "#08519c", "#fdae6b", "#a1d99b", "#6a51a3")

HELP_CSS = """
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 16px; min-width: 130px; }
.card b { display: block; font-size: 1.6em; } .card span { color: #57606a; }
.plots { display: grid; grid-template-columns: repeat(2, 1fr); gap: 14px; }
.plots figure { margin: 0; border: 1px solid #d0d7de; border-radius: 8px; padding: 6px; }
.plots img { width: 100%; }
tr.stuck td { background: #fff1f0; }
"""


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color=_GREY)
    ax.set_axis_off()


def _name(lesson: str, exercise: str, many: bool) -> str:
    return f"{lesson}/{exercise}" if many else exercise


def plot_checks(report: HelpReport) -> str:
    """Checks until the first pass, one dot per learner (red: no pass yet)."""
    fig = Figure(figsize=(6.2, 3.6))
    ax = fig.add_subplot()
    if not report.rows:
        _empty(ax, "no Checks yet")
    else:
        many = len({e.lesson for e in report.exercises}) > 1
        names = [_name(e.lesson, e.exercise, many) for e in report.exercises]
        where = {(e.lesson, e.exercise): i for i, e in enumerate(report.exercises)}
        for row in report.rows:
            y = where[(row.lesson, row.exercise)]
            # Learners of one exercise spread a little so that equal counts stay visible.
            jitter = (zlib.crc32(row.learner.encode()) % 7 - 3) * 0.05
            if row.checks_to_pass is not None:
                ax.plot(row.checks_to_pass, y + jitter, "o", color=_GREEN, alpha=0.8)
            else:
                ax.plot(row.checks, y + jitter, "x", color=_RED, markersize=8)
        ax.set_yticks(range(len(names)), names)
        ax.invert_yaxis()
        ax.set_xlabel("Checks (green: until the first pass, red x: no pass yet)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlim(left=0)
    ax.set_title("Checks until the first pass")
    return png_uri(fig)


def plot_help(report: HelpReport) -> str:
    """Help used per exercise, stacked: hints by level, questions, explanations, completions."""
    fig = Figure(figsize=(6.2, 3.6))
    ax = fig.add_subplot()
    if not report.exercises:
        _empty(ax, "no help asked for yet")
    else:
        many = len({e.lesson for e in report.exercises}) > 1
        names = [_name(e.lesson, e.exercise, many) for e in report.exercises]
        parts = [
            ("hint 1", [e.hints.get(1, 0) for e in report.exercises]),
            ("hint 2", [e.hints.get(2, 0) for e in report.exercises]),
            ("hint 3", [e.hints.get(3, 0) for e in report.exercises]),
            ("questions", [e.questions for e in report.exercises]),
            ("explanations", [e.explanations for e in report.exercises]),
            ("completions taken", [e.completions_accepted for e in report.exercises]),
        ]
        left = [0] * len(names)
        for (label, values), color in zip(parts, _HELP_COLORS, strict=True):
            ax.barh(names, values, left=left, label=label, color=color)
            left = [a + b for a, b in zip(left, values, strict=True)]
        ax.invert_yaxis()
        ax.set_xlabel("requests answered")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
    ax.set_title("Help used per exercise")
    return png_uri(fig)


def plot_stuck(report: HelpReport) -> str:
    """Checks against hints per learner and exercise; the stuck corner shaded."""
    fig = Figure(figsize=(6.2, 3.6))
    ax = fig.add_subplot()
    if not report.rows:
        _empty(ax, "nobody has started yet")
    else:
        top_x = max(max(r.checks for r in report.rows), STUCK_CHECKS) + 1
        top_y = max(max(r.hint_total for r in report.rows), STUCK_HINTS) + 1
        ax.axvspan(STUCK_CHECKS - 0.5, top_x, color=_RED, alpha=0.06)
        ax.axhspan(STUCK_HINTS - 0.5, top_y, color=_RED, alpha=0.06)
        for label, color, rows in (
            ("passed", _GREEN, [r for r in report.rows if r.passed]),
            ("working", _GREY, [r for r in report.rows if not r.passed and not r.stuck]),
            ("looks stuck", _RED, [r for r in report.rows if r.stuck]),
        ):
            if rows:
                ax.scatter(
                    [r.checks for r in rows],
                    [r.hint_total for r in rows],
                    color=color,
                    label=label,
                    alpha=0.8,
                    s=[30 + 15 * r.questions for r in rows],
                )
        ax.set(xlim=(-0.5, top_x), ylim=(-0.5, top_y))
        ax.set_xlabel("Checks")
        ax.set_ylabel("hints")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="upper left")
    ax.set_title("Learners per exercise (dot size: questions)")
    return png_uri(fig)


def plot_helpful(report: HelpReport) -> str:
    """Thumbs up and down per exercise."""
    fig = Figure(figsize=(6.2, 3.6))
    ax = fig.add_subplot()
    rated = [e for e in report.exercises if e.helpful or e.not_helpful]
    if not rated:
        _empty(ax, "no answer rated yet")
    else:
        many = len({e.lesson for e in rated}) > 1
        names = [_name(e.lesson, e.exercise, many) for e in rated]
        ax.barh(names, [e.helpful for e in rated], color=_GREEN, label="helpful")
        ax.barh(names, [-e.not_helpful for e in rated], color=_RED, label="not helpful")
        ax.axvline(0, color=_GREY, linewidth=0.8)
        ax.invert_yaxis()
        ax.set_xlabel("answers rated (not helpful to the left)")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)
    ax.set_title("Was the answer helpful?")
    return png_uri(fig)


PLOTS = (
    ("Checks until the first pass", plot_checks),
    ("Help used per exercise", plot_help),
    ("Who looks stuck", plot_stuck),
    ("Was the answer helpful?", plot_helpful),
)


def _hints(hints: dict[int, int]) -> str:
    return ", ".join(f"L{level} {n}" for level, n in sorted(hints.items())) or "0"


def _learner_row(r: LearnerExercise) -> list[str]:
    return [
        r.learner,
        f"{r.lesson}/{r.exercise}",
        str(r.checks),
        "-" if r.checks_to_pass is None else str(r.checks_to_pass),
        _hints(r.hints),
        str(r.questions),
        str(r.explanations),
        f"{r.helpful} / {r.not_helpful}",
        f"{r.completions_accepted} / {r.completions}",
        str(r.refused),
        minutes(r.time_to_pass_s),
    ]


_LEARNER_HEAD = [
    "learner",
    "exercise",
    "checks",
    "checks to pass",
    "hints",
    "questions",
    "explanations",
    "helpful / not",
    "completions taken / shown",
    "refused by policy",
    "time to pass",
]


def help_section(report: HelpReport, *, heading: str = "h2") -> str:
    """The help-seeking part of a page (cards, plots, tables), safe HTML."""
    rows = report.rows
    passed = sum(r.passed for r in rows)
    cards = [
        (str(len({r.learner for r in rows})), "learners"),
        (f"{passed} / {len(rows)}", "passed / started (learner x exercise)"),
        (str(len(report.stuck)), "look stuck"),
        (str(sum(r.hint_total for r in rows)), "hints"),
        (str(sum(r.questions for r in rows)), "questions"),
        (str(sum(r.completions_accepted for r in rows)), "completions taken"),
        (str(len(report.rejected)), "questions the leak guard caught"),
    ]
    plots = "".join(
        f"<figure><img alt='{escape(name)}' src='{draw(report)}'></figure>" for name, draw in PLOTS
    )
    exercise_rows = [
        [
            f"{e.lesson}/{e.exercise}",
            f"{e.passed} / {e.learners}",
            "-" if e.median_checks_to_pass is None else f"{e.median_checks_to_pass:g}",
            _hints(e.hints),
            str(e.questions),
            str(e.explanations),
            f"{e.helpful} / {e.not_helpful}",
            f"{e.completions_accepted} / {e.completions}",
            str(e.refused),
            minutes(e.median_time_to_pass_s),
            str(e.stuck),
        ]
        for e in report.exercises
    ]
    h = heading
    parts = [
        "<div class='cards'>"
        + "".join(f"<div class='card'><b>{escape(v)}</b><span>{k}</span></div>" for v, k in cards)
        + "</div>",
        f"<div class='plots'>{plots}</div>",
        f"<{h}>Per exercise</{h}>",
        table(
            [
                "exercise",
                "passed",
                "median checks to pass",
                "hints",
                "questions",
                "explanations",
                "helpful / not",
                "completions taken / shown",
                "refused by policy",
                "median time to pass",
                "look stuck",
            ],
            exercise_rows,
        )
        if exercise_rows
        else "<p class='muted'>No Checks or tutor requests with an exercise yet.</p>",
        f"<{h}>Looks stuck</{h}>",
        f"<p class='muted'>No pass yet after {STUCK_CHECKS} Checks or {STUCK_HINTS} hints.</p>",
        table(_LEARNER_HEAD, [_learner_row(r) for r in report.stuck])
        if report.stuck
        else "<p>Nobody.</p>",
        f"<{h}>Questions the leak guard rejected</{h}>",
        "<p class='muted'>The model's answer would have given the solution away; the learner "
        "got the instructor's hint or the offline tutor instead.</p>",
        table(
            ["learner", "exercise", "when", "question"],
            [
                [
                    q.learner,
                    f"{q.lesson}/{q.exercise}" if q.exercise else "-",
                    time.strftime("%Y-%m-%d %H:%M", time.localtime(q.ts)),
                    q.question,
                ]
                for q in report.rejected
            ],
        )
        if report.rejected
        else "<p>None.</p>",
        f"<{h}>Every learner and exercise</{h}>",
        "<details><summary>"
        f"{len(rows)} learner-exercise pairs</summary>"
        + table(
            _LEARNER_HEAD,
            [_learner_row(r) for r in rows],
            row_classes=["stuck" if r.stuck else "" for r in rows],
        )
        + "</details>",
    ]
    return "\n".join(parts)


def help_page(report: HelpReport, *, title: str = "Help-seeking") -> str:
    """The whole page (the gateway's ``/admin/help``)."""
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(report.generated_at))
    body = (
        f"<h1>{escape(title)}</h1>"
        f"<p class='muted'>Generated {escape(stamp)}. Learner names are shown to you only "
        "(the admin token); learners see their own usage and nothing else.</p>"
        + help_section(report)
    )
    return html_page(title, body, extra_css=HELP_CSS)
