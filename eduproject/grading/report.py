"""The course report: one HTML page with plots, and the same summary in the terminal.

    >>> summary = write_report(Path("gradebook.sqlite"), Path("report.html"))  # doctest: +SKIP
    >>> print_summary(summary)                                                # doctest: +SKIP

The page is self-contained (plots are PNG data: URIs, no script). Its sandbox line warns
loudly when any submission ran with resource limits only (no bubblewrap isolation).
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from html import escape
from pathlib import Path

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from rich.console import Console
from rich.table import Table
from rich.text import Text

from eduproject.core.results import ExerciseResult, Status, SubmissionResult
from eduproject.errors import GradebookError
from eduproject.grading.feedback import STATUS_COLORS
from eduproject.grading.gradebook import Gradebook
from eduproject.util.html import html_page, png_uri, table
from eduproject.util.stats import median

__all__ = [
    "CourseSummary",
    "ExerciseStats",
    "ManualStats",
    "SubmissionLine",
    "TestFailures",
    "course_summary",
    "is_rlimits_only",
    "print_summary",
    "render_report",
    "write_report",
]

TOP_FAILED = 10


def is_rlimits_only(sandbox: str) -> bool:
    """True for a submission that ran without bubblewrap (the grader's "rlimits only ...")."""
    return sandbox.strip().lower().startswith("rlimits")


@dataclass(frozen=True)
class ExerciseStats:
    lesson: str
    exercise: str
    submissions: int
    mean_score: float
    max_score: float
    passed: int  # submissions with full marks on this exercise
    statuses: dict[str, int]

    @property
    def pass_rate(self) -> float:
        return self.passed / self.submissions if self.submissions else 0.0


@dataclass(frozen=True)
class TestFailures:
    lesson: str
    exercise: str
    test: str
    hidden: bool
    failed: int
    ran: int
    # Why it failed, most common first: (message, how many submissions). Hidden tests' too:
    # the report is the instructor's.
    reasons: tuple[tuple[str, int], ...] = ()

    @property
    def why(self) -> str:
        return "; ".join(f"{m} (x{n})" if n > 1 else m for m, n in self.reasons)


@dataclass(frozen=True)
class ReviewItem:
    """A test that passed only in a way the grader cannot trust: a person must look."""

    learner: str
    lesson: str
    exercise: str
    test: str
    reason: str


@dataclass(frozen=True)
class ManualStats:
    """How far grading by hand has come on one manual exercise."""

    lesson: str
    exercise: str
    graded: int
    pending: int
    mean_points: float  # over the graded answers
    max_score: float


@dataclass(frozen=True)
class SubmissionLine:
    """One submission as the report lists it."""

    learner: str
    lesson: str
    score: float
    max_score: float
    status: str
    duration_s: float
    sandbox: str
    pending: float = 0.0  # points of manual answers not graded yet (not in score)

    @property
    def percent(self) -> float:
        return 100.0 * self.score / self.max_score if self.max_score else 0.0


@dataclass(frozen=True)
class CourseSummary:
    """Everything the report shows; :func:`course_summary` builds it from results."""

    lessons: tuple[str, ...]
    lines: tuple[SubmissionLine, ...]
    statuses: dict[str, int]  # submission statuses
    exercise_statuses: dict[str, int]
    exercises: tuple[ExerciseStats, ...]
    most_failed: tuple[TestFailures, ...]
    review: tuple[ReviewItem, ...] = ()
    manual: tuple[ManualStats, ...] = ()

    @property
    def manual_pending(self) -> int:
        """Manual answers nobody has graded yet."""
        return sum(m.pending for m in self.manual)

    @property
    def submissions(self) -> int:
        return len(self.lines)

    @property
    def learners(self) -> int:
        return len({x.learner for x in self.lines})

    @property
    def percents(self) -> list[float]:
        return [x.percent for x in self.lines]

    @property
    def durations(self) -> list[float]:
        return [x.duration_s for x in self.lines]

    @property
    def mean_percent(self) -> float:
        return statistics.fmean(self.percents) if self.lines else 0.0

    @property
    def median_percent(self) -> float:
        return median(self.percents) or 0.0

    @property
    def median_duration(self) -> float:
        return median(self.durations) or 0.0

    @property
    def sandboxes(self) -> dict[str, int]:
        return dict(Counter(x.sandbox or "unknown" for x in self.lines))

    @property
    def rlimits_only(self) -> tuple[SubmissionLine, ...]:
        return tuple(x for x in self.lines if is_rlimits_only(x.sandbox))

    @property
    def sandbox_line(self) -> str:
        kinds = ", ".join(f"{k} ({n})" for k, n in sorted(self.sandboxes.items()))
        bad = self.rlimits_only
        if not bad:
            return f"Sandbox: {kinds}. Every submission ran isolated."
        names = ", ".join(f"{x.learner} ({x.lesson})" for x in bad[:8])
        more = f" and {len(bad) - 8} more" if len(bad) > 8 else ""
        return (
            f"WARNING: {len(bad)} of {self.submissions} submissions ran with rlimits only, "
            "without bubblewrap: network and filesystem were NOT isolated from learner code "
            f"({names}{more}). Sandboxes: {kinds}. Install bubblewrap "
            "(apt-get install bubblewrap) and regrade them."
        )


def course_summary(results: Iterable[SubmissionResult]) -> CourseSummary:
    """Aggregate results (e.g. ``Gradebook.results()``) into a :class:`CourseSummary`."""
    lines: list[SubmissionLine] = []
    statuses: Counter[str] = Counter()
    exercise_statuses: Counter[str] = Counter()
    per_exercise: dict[tuple[str, str], list[tuple[float, float, str]]] = {}
    tests: dict[tuple[str, str, str], list[int]] = {}  # -> [failed, ran, hidden]
    reasons: dict[tuple[str, str, str], Counter[str]] = {}
    review: list[ReviewItem] = []
    manual: dict[tuple[str, str], list[ExerciseResult]] = {}
    for r in results:
        lines.append(
            SubmissionLine(
                r.learner,
                r.lesson,
                r.score,
                r.max_score,
                str(r.status),
                r.duration_s,
                r.sandbox,
                r.pending_points,
            )
        )
        statuses[str(r.status)] += 1
        for e in r.exercises:
            exercise_statuses[str(e.status)] += 1
            if e.manual and e.status in (Status.GRADED, Status.PENDING):
                manual.setdefault((r.lesson, e.exercise), []).append(e)
            per_exercise.setdefault((r.lesson, e.exercise), []).append(
                (e.score, e.max_score, str(e.status))
            )
            for t in e.tests:
                counts = tests.setdefault((r.lesson, e.exercise, t.name), [0, 0, int(t.hidden)])
                if t.passed or not _never_ran(t.message, e.status):
                    # "failed / ran": a test stopped before it ran did not fail.
                    counts[0] += not t.passed
                    counts[1] += 1
                if t.review:
                    review.append(ReviewItem(r.learner, r.lesson, e.exercise, t.name, t.review))
                why = f"marked for review: {t.review}" if t.review else t.message
                if not t.passed and why:
                    reasons.setdefault((r.lesson, e.exercise, t.name), Counter())[why[:200]] += 1
    exercises = tuple(
        ExerciseStats(
            lesson=lesson,
            exercise=exercise,
            submissions=len(rows),
            mean_score=statistics.fmean(s for s, _, _ in rows),
            max_score=max(m for _, m, _ in rows),
            passed=sum(1 for s, m, _ in rows if m > 0 and s >= m),
            statuses=dict(Counter(st for _, _, st in rows)),
        )
        for (lesson, exercise), rows in per_exercise.items()
    )
    failures = sorted(
        (
            TestFailures(
                lesson,
                exercise,
                test,
                bool(hidden),
                failed,
                ran,
                tuple(reasons.get((lesson, exercise, test), Counter()).most_common(3)),
            )
            for (lesson, exercise, test), (failed, ran, hidden) in tests.items()
            if failed
        ),
        key=lambda f: (-f.failed, f.lesson, f.exercise, f.test),
    )
    return CourseSummary(
        lessons=tuple(sorted({x.lesson for x in lines})),
        lines=tuple(lines),
        statuses=dict(statuses),
        exercise_statuses=dict(exercise_statuses),
        exercises=exercises,
        most_failed=tuple(failures[:TOP_FAILED]),
        review=tuple(review),
        manual=tuple(
            ManualStats(
                lesson,
                exercise,
                graded=sum(not e.pending for e in rows),
                pending=sum(e.pending for e in rows),
                mean_points=statistics.fmean([e.score for e in rows if not e.pending] or [0.0]),
                max_score=max(e.max_score for e in rows),
            )
            for (lesson, exercise), rows in manual.items()
        ),
    )


def _never_ran(message: str, status: Status) -> bool:
    """A test the grader never got to (its cell was stopped, or the notebook unreadable).

    Hidden tests carry no message, so a hidden test of a stopped cell still counts as run.
    """
    return message.startswith("not run") or status is Status.INVALID


def report_title(summary: CourseSummary, course: str | None = None) -> str:
    """ "Course report: <course>", else the lesson(s) graded -- never the gradebook's file name."""
    if course:
        return f"Course report: {course}"
    if len(summary.lessons) == 1:
        return f"Lesson report: {summary.lessons[0]}"
    return f"Course report: lessons {', '.join(summary.lessons)}"


def write_report(
    db: Path,
    out: Path,
    *,
    lesson: str | None = None,
    course: str | None = None,
    extra_html: str = "",
    extra_css: str = "",
) -> CourseSummary:
    """Write the course report of ``db`` (optionally one lesson) to ``out``; return its data.

    ``course`` names the course in the title (default: the lessons graded). ``extra_html``
    (safe HTML) is appended to the page: another part's section, such as the help-seeking
    section of ``eduproject report --ledger``.
    """
    with Gradebook(db, create=False) as gb:
        summary = course_summary(gb.results(lesson))
    if not summary.submissions:
        what = f"lesson {lesson!r}" if lesson else "any lesson"
        raise GradebookError(
            db,
            f"no graded submissions for {what}",
            hint=f"grade first: `eduproject grade exercises/<lesson> SUBMISSIONS --db {db}`",
        )
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        page = render_report(
            summary,
            title=report_title(summary, course),
            extra_html=extra_html,
            extra_css=extra_css,
        )
        out.write_text(page, "utf-8")
    except OSError as exc:
        raise GradebookError(out, f"cannot write the report: {exc.strerror or exc}") from exc
    return summary


# -- plots ---------------------------------------------------------------------------------

_BLUE, _GREY, _RED = "#1f6feb", "#8c959f", "#cf222e"


def _figure() -> Figure:
    return Figure(figsize=(6.2, 3.6))


def _empty(ax: Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", color=_GREY)
    ax.set_axis_off()


def _label(lesson: str, name: str, many: bool) -> str:
    return f"{lesson}/{name}" if many else name


def plot_scores(s: CourseSummary) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    groups = [[x.percent for x in s.lines if x.lesson == lesson] for lesson in s.lessons]
    ax.hist(groups, bins=range(0, 101, 10), stacked=True, label=list(s.lessons), edgecolor="white")
    ax.set(xlabel="score (% of points)", ylabel="submissions", xlim=(0, 100))
    ax.set_title("Score distribution")
    ax.axvline(
        s.median_percent, color=_RED, linestyle="--", label=f"median {s.median_percent:.0f}%"
    )
    ax.legend(fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return png_uri(fig)


def plot_pass_rate(s: CourseSummary) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    many = len(s.lessons) > 1
    names = [_label(e.lesson, e.exercise, many) for e in s.exercises][::-1]
    rates = [100 * e.pass_rate for e in s.exercises][::-1]
    bars = ax.barh(names, rates, color=_BLUE)
    ax.bar_label(bars, labels=[f"{r:.0f}%" for r in rates], padding=3, fontsize=8)
    ax.set(xlim=(0, 110), xlabel="submissions with full marks (%)")
    ax.set_title("Pass rate per exercise")
    return png_uri(fig)


def plot_most_failed(s: CourseSummary) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    if not s.most_failed:
        _empty(ax, "no test failed")
    else:
        many = len(s.lessons) > 1
        rows = s.most_failed[::-1]
        names = [
            _label(f.lesson, f"{f.exercise}: {f.test}", many) + (" (hidden)" if f.hidden else "")
            for f in rows
        ]
        bars = ax.barh(
            names, [f.failed for f in rows], color=[_GREY if f.hidden else _RED for f in rows]
        )
        ax.bar_label(bars, labels=[f"{f.failed}/{f.ran}" for f in rows], padding=3, fontsize=8)
        ax.set(xlabel="submissions failing the test")
        ax.set_xlim(0, max(f.failed for f in rows) * 1.2)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Most-failed tests")
    return png_uri(fig)


def plot_statuses(s: CourseSummary) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    order = [st for st in Status if s.exercise_statuses.get(str(st))]
    counts = [s.exercise_statuses[str(st)] for st in order]
    bars = ax.bar([str(st) for st in order], counts, color=[STATUS_COLORS[st] for st in order])
    ax.bar_label(bars, padding=2, fontsize=8)
    ax.set(ylabel="exercise results")
    ax.set_ylim(0, max(counts, default=1) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_title("Statuses (per exercise of each submission)")
    return png_uri(fig)


def plot_durations(s: CourseSummary) -> str:
    fig = _figure()
    ax = fig.add_subplot()
    ax.hist(
        s.durations, bins=min(30, max(5, len(s.durations) // 3)), color=_BLUE, edgecolor="white"
    )
    median = s.median_duration
    ax.axvline(median, color=_RED, linestyle="--", label=f"median {median:.2f} s")
    ax.set(xlabel="seconds per submission", ylabel="submissions")
    ax.set_title(f"Grading time per submission (total {sum(s.durations):.1f} s)")
    ax.legend(fontsize=8)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    return png_uri(fig)


PLOTS = (
    ("Score distribution", plot_scores),
    ("Pass rate per exercise", plot_pass_rate),
    ("Most-failed tests", plot_most_failed),
    ("Statuses", plot_statuses),
    ("Grading time per submission", plot_durations),
)

# -- HTML ----------------------------------------------------------------------------------

_REPORT_CSS = """
body { max-width: 1320px; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid #d0d7de; border-radius: 8px; padding: 10px 16px; min-width: 150px; }
.card b { display: block; font-size: 1.6em; } .card span { color: #57606a; }
.sandbox { padding: 10px 14px; border-radius: 8px; margin: 12px 0; font-weight: 600; }
.sandbox.ok { background: #e6f4ea; border: 1px solid #2e7d32; color: #1b5e20; }
.sandbox.bad { background: #c62828; color: #fff; font-size: 1.15em; border: 3px solid #7f0000; }
.plots { display: grid; grid-template-columns: repeat(2, 1fr); gap: 14px; }
.plots figure { margin: 0; border: 1px solid #d0d7de; border-radius: 8px; padding: 6px; }
.plots img { width: 100%; }
"""


def render_report(
    s: CourseSummary, *, title: str = "Course report", extra_html: str = "", extra_css: str = ""
) -> str:
    """The report page for ``s`` (self-contained HTML)."""
    cards = [
        (str(s.submissions), "submissions"),
        (str(s.learners), "learners"),
        (f"{s.mean_percent:.0f}%", "mean score"),
        (f"{s.median_percent:.0f}%", "median score"),
        (f"{s.median_duration:.2f} s", "median grading time"),
    ]
    sandbox_class = "bad" if s.rlimits_only else "ok"
    plots = "".join(
        f"<figure><img alt='{escape(name)}' src='{fn(s)}'></figure>" for name, fn in PLOTS
    )
    many = len(s.lessons) > 1
    exercise_rows = [
        [
            _label(e.lesson, e.exercise, many),
            f"{e.mean_score:.2f} / {e.max_score:g}",
            f"{100 * e.pass_rate:.0f}%",
            ", ".join(f"{k} {v}" for k, v in sorted(e.statuses.items())),
        ]
        for e in s.exercises
    ]
    failed_rows = [
        [
            _label(f.lesson, f.exercise, many),
            f.test + (" (hidden)" if f.hidden else ""),
            f"{f.failed} / {f.ran}",
            f.why,
        ]
        for f in s.most_failed
    ]
    review_rows = [
        [x.learner, _label(x.lesson, x.exercise, many), x.test, x.reason] for x in s.review
    ]
    status_rows = [
        [str(st), str(s.statuses.get(str(st), 0)), str(s.exercise_statuses.get(str(st), 0))]
        for st in Status
    ]
    manual_rows = [
        [
            _label(m.lesson, m.exercise, many),
            str(m.graded),
            str(m.pending),
            f"{m.mean_points:.2f} / {m.max_score:g}" if m.graded else "",
        ]
        for m in s.manual
    ]
    line_rows = [
        [
            x.learner,
            x.lesson,
            f"{x.score:g} / {x.max_score:g}" + (f" ({x.pending:g} pending)" if x.pending else ""),
            x.status,
            f"{x.duration_s:.2f}",
            x.sandbox or "unknown",
        ]
        for x in s.lines
    ]
    body = [
        f"<h1>{escape(title)}</h1>",
        f"<p class='muted'>Lessons: {escape(', '.join(s.lessons))} &middot; generated "
        f"{escape(time.strftime('%Y-%m-%d %H:%M'))}</p>",
        "<div class='cards'>"
        + "".join(f"<div class='card'><b>{escape(v)}</b><span>{k}</span></div>" for v, k in cards)
        + "</div>",
        f"<div class='sandbox {sandbox_class}'>{escape(s.sandbox_line)}</div>",
        f"<div class='plots'>{plots}</div>",
        "<h2>Exercises</h2>",
        table(["exercise", "mean score", "pass rate", "statuses"], exercise_rows, numeric={1, 2}),
        "<h2>Most-failed tests</h2>",
        table(["exercise", "test", "failed / ran", "why (most common)"], failed_rows, numeric={2})
        if failed_rows
        else "<p class='note'>No test failed.</p>",
        *(
            [
                "<h2>Needs review</h2><p class='note'>These tests passed only because learner "
                "code decided them (or the grader failed); their points are withheld until "
                "you look.</p>",
                table(["learner", "exercise", "test", "why"], review_rows),
            ]
            if review_rows
            else []
        ),
        *(
            [
                "<h2>Graded by hand</h2><p class='note'>"
                + (
                    f"{s.manual_pending} answers wait for your points (not in the scores "
                    "above): grade them with <code>eduproject manual exercises/&lt;lesson&gt; "
                    "--db GRADEBOOK</code>."
                    if s.manual_pending
                    else "Every manual answer is graded."
                )
                + "</p>",
                table(
                    ["exercise", "graded", "pending", "mean points"], manual_rows, numeric={1, 2, 3}
                ),
            ]
            if manual_rows
            else []
        ),
        "<h2>Statuses</h2>",
        table(["status", "submissions", "exercise results"], status_rows, numeric={1, 2}),
        f"<h2>Submissions</h2><details><summary>All {s.submissions} submissions</summary>",
        table(
            ["learner", "lesson", "score", "status", "seconds", "sandbox"],
            line_rows,
            numeric={2, 4},
        ),
        "</details>",
    ]
    return html_page(title, "\n".join([*body, extra_html]), extra_css=_REPORT_CSS + extra_css)


# -- terminal ------------------------------------------------------------------------------


def _row(table: Table, *cells: str) -> None:
    # Text(), not str: a test or learner name like "[red]" must print as written.
    table.add_row(*(Text(c) for c in cells))


def print_summary(s: CourseSummary, console: Console | None = None) -> None:
    """Print the report's summary as rich tables (the sandbox warning in bold red)."""
    console = console or Console()
    overview = Table(title="Course summary", title_justify="left")
    for col in ("lessons", "submissions", "learners", "mean", "median", "median time"):
        overview.add_column(col, justify="left" if col == "lessons" else "right")
    _row(
        overview,
        ", ".join(s.lessons),
        str(s.submissions),
        str(s.learners),
        f"{s.mean_percent:.0f}%",
        f"{s.median_percent:.0f}%",
        f"{s.median_duration:.2f} s",
    )
    console.print(overview)
    style = "bold white on red" if s.rlimits_only else "green"
    console.print(s.sandbox_line, style=style, markup=False, highlight=False)
    many = len(s.lessons) > 1
    ex = Table(title="Exercises", title_justify="left")
    for col, justify in (("exercise", "left"), ("mean score", "right"), ("pass rate", "right"),
                         ("statuses", "left")):  # fmt: skip
        ex.add_column(col, justify=justify)  # type: ignore[arg-type]
    for e in s.exercises:
        _row(
            ex,
            _label(e.lesson, e.exercise, many),
            f"{e.mean_score:.2f} / {e.max_score:g}",
            f"{100 * e.pass_rate:.0f}%",
            ", ".join(f"{k} {v}" for k, v in sorted(e.statuses.items())),
        )
    console.print(ex)
    if s.most_failed:
        failed = Table(title="Most-failed tests", title_justify="left")
        failed.add_column("exercise")
        failed.add_column("test")
        failed.add_column("failed / ran", justify="right")
        failed.add_column("why (most common)")
        for f in s.most_failed:
            _row(
                failed,
                _label(f.lesson, f.exercise, many),
                f.test + (" (hidden)" if f.hidden else ""),
                f"{f.failed} / {f.ran}",
                f.why if len(f.why) <= 160 else f.why[:157] + "...",
            )
        console.print(failed)
    if s.review:
        review = Table(title="Needs review (points withheld)", title_justify="left")
        for col in ("learner", "exercise", "test", "why"):
            review.add_column(col)
        for x in s.review:
            _row(review, x.learner, _label(x.lesson, x.exercise, many), x.test, x.reason)
        console.print(review)
    if s.manual:
        manual = Table(title="Graded by hand", title_justify="left")
        for col in ("exercise", "graded", "pending", "mean points"):
            manual.add_column(col, justify="left" if col == "exercise" else "right")
        for m in s.manual:
            _row(
                manual,
                _label(m.lesson, m.exercise, many),
                str(m.graded),
                str(m.pending),
                f"{m.mean_points:.2f} / {m.max_score:g}" if m.graded else "",
            )
        console.print(manual)
        if s.manual_pending:
            console.print(
                f"{s.manual_pending} manual answers wait for points: "
                "`eduproject manual exercises/<lesson> --db GRADEBOOK`",
                markup=False,
                highlight=False,
            )
    statuses = Table(title="Statuses", title_justify="left")
    statuses.add_column("status")
    statuses.add_column("submissions", justify="right")
    statuses.add_column("exercise results", justify="right")
    for st in Status:
        _row(
            statuses,
            str(st),
            str(s.statuses.get(str(st), 0)),
            str(s.exercise_statuses.get(str(st), 0)),
        )
    console.print(statuses)
