"""Course report: the numbers, all five plots, the sandbox line, the terminal summary."""

from __future__ import annotations

import base64
import io
import re
import struct
from dataclasses import replace
from pathlib import Path

import pytest
from rich.console import Console

from eduproject.cli import main
from eduproject.errors import GradebookError
from eduproject.grading.gradebook import Gradebook
from eduproject.grading.report import (
    course_summary,
    is_rlimits_only,
    print_summary,
    render_report,
    write_report,
)

from .gradebook_samples import HIDDEN_SECRET, L1, L2, REVIEW_REASON, RLIMITS, V1, make_class

PLOT_TITLES = [
    "Score distribution",
    "Pass rate per exercise",
    "Most-failed tests",
    "Statuses",
    "Grading time per submission",
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "gradebook.sqlite"
    with Gradebook(path) as gb:
        run = gb.start_run(L1, V1, {})
        for r in make_class():
            gb.record(r, run)
    return path


def _console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=130, color_system=None), buf


def test_summary_numbers() -> None:
    s = course_summary(make_class())
    assert s.submissions == 9 and s.learners == 7 and s.lessons == (L1, L2)
    assert s.statuses == {
        "graded": 3,
        "error": 1,
        "timeout": 1,
        "killed": 1,
        "invalid": 1,
        "tampered": 1,
        "review": 1,
    }
    assert s.exercise_statuses["invalid"] == 2 and s.exercise_statuses["graded"] == 9
    ex = {(e.lesson, e.exercise): e for e in s.exercises}
    sum_evens = ex[(L1, "sum_evens")]
    # Full marks: ada and zoë; 7 submissions of L1.
    assert (sum_evens.submissions, sum_evens.passed) == (7, 2)
    assert sum_evens.mean_score == pytest.approx((5 + 1 + 0 + 3 + 0 + 0 + 5) / 7)
    assert ex[(L2, "count")].pass_rate == 0.5
    top = s.most_failed[0]
    assert (top.exercise, top.test, top.hidden, top.failed, top.ran) == (
        "sum_evens",
        "big-range",
        True,
        2,
        4,
    )
    assert s.median_percent == pytest.approx(100 * 3 / 7)
    assert [x.learner for x in s.rlimits_only] == ["dee"]
    assert s.median_duration == 0.41  # of 0.01 0.2 0.25 0.38 0.41 0.45 0.52 1.3 10.2


def test_rlimits_detection() -> None:
    assert is_rlimits_only(RLIMITS) and is_rlimits_only("  RLIMITS only")
    assert not is_rlimits_only("bwrap+uid") and not is_rlimits_only("")


def _images(html: str) -> list[tuple[str, bytes]]:
    found = re.findall(r"<img alt='([^']+)' src='data:image/png;base64,([A-Za-z0-9+/=]+)'>", html)
    return [(alt, base64.b64decode(b64)) for alt, b64 in found]


def test_report_has_every_plot_as_a_real_png(db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    summary = write_report(db, out)
    html = out.read_text(encoding="utf-8")
    images = _images(html)
    assert [alt for alt, _ in images] == PLOT_TITLES
    for _, png in images:
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = struct.unpack(">II", png[16:24])
        assert (width, height) == (620, 360)
        assert len(png) > 5_000  # drawn, not blank
    assert summary.submissions == 9
    assert "<script" not in html.lower()
    for text in ("Exercises", "Most-failed tests", "Statuses", "All 9 submissions"):
        assert text in html
    assert "01-functions/sum_evens" in html and "big-range (hidden)" in html
    assert "zoë o&#x27;brien" in html


def test_sandbox_line_warns_loudly_only_when_needed(tmp_path: Path) -> None:
    bad = render_report(course_summary(make_class()))
    assert "class='sandbox bad'" in bad
    assert "WARNING: 1 of 9 submissions ran with rlimits only" in bad
    assert "dee (01-functions)" in bad
    isolated = [replace(r, sandbox="bwrap+uid") for r in make_class()]
    good = render_report(course_summary(isolated))
    assert "class='sandbox ok'" in good and "WARNING" not in good
    assert "Sandbox: bwrap+uid (9). Every submission ran isolated." in good


def test_terminal_summary(db: Path) -> None:
    console, buf = _console()
    with Gradebook(db) as gb:
        print_summary(course_summary(gb.results()), console)
    text = buf.getvalue()
    for title in ("Course summary", "Exercises", "Most-failed tests", "Statuses"):
        assert title in text
    assert "WARNING: 1 of 9 submissions ran with rlimits only" in text
    assert re.search(r"01-functions/sum_evens\s*│\s*2\.00 / 5\s*│\s*29%", text)
    assert re.search(r"big-range \(hidden\)\s*│\s*2 / 4", text)
    assert re.search(r"tampered\s*│\s*1\s*│\s*1", text)


def test_terminal_summary_prints_names_literally() -> None:
    odd = [replace(r, lesson="[bold]les[/bold]") for r in make_class()[:1]]
    console, buf = _console()
    print_summary(course_summary(odd), console)
    assert "[bold]les[/bold]" in buf.getvalue()


def test_report_of_one_lesson_and_of_nothing(db: Path, tmp_path: Path) -> None:
    summary = write_report(db, tmp_path / "loops.html", lesson=L2)
    assert summary.lessons == (L2,) and summary.submissions == 2
    assert "All 2 submissions" in (tmp_path / "loops.html").read_text(encoding="utf-8")
    with pytest.raises(GradebookError, match="no graded submissions for lesson 'x'"):
        write_report(db, tmp_path / "x.html", lesson="x")
    with Gradebook(tmp_path / "empty.sqlite"):
        pass
    with pytest.raises(GradebookError, match="grade first"):
        write_report(tmp_path / "empty.sqlite", tmp_path / "e.html")


def test_report_without_failures_still_draws_five_plots() -> None:
    perfect = [r for r in make_class() if r.learner == "ada"]
    html = render_report(course_summary(perfect))
    assert [alt for alt, _ in _images(html)] == PLOT_TITLES
    assert "No test failed." in html


def test_report_command_prints_the_summary(
    db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.html"
    main(["report", str(db), "-o", str(out)])
    printed = capsys.readouterr().out
    assert "Course summary" in printed and "Most-failed tests" in printed
    assert "WARNING" in printed and f"report written to {out}" in printed
    assert len(_images(out.read_text(encoding="utf-8"))) == 5


def test_the_instructor_sees_why_tests_failed_and_what_needs_review() -> None:
    s = course_summary(make_class())
    hidden = next(f for f in s.most_failed if f.test == "big-range")
    assert hidden.hidden and hidden.reasons == ((HIDDEN_SECRET, 2),)  # the instructor's view
    count = next(f for f in s.most_failed if f.test == "count-1")
    assert count.why == f"marked for review: {REVIEW_REASON}"
    assert [(x.learner, x.test, x.reason) for x in s.review] == [("bob", "count-1", REVIEW_REASON)]
    page = render_report(s)
    assert "Needs review" in page and HIDDEN_SECRET.split()[0] in page


def test_tests_that_never_ran_are_neither_failed_nor_ran() -> None:
    from eduproject.core.results import ExerciseResult, Status, TestOutcome

    def stopped(learner: str) -> object:
        tests = (
            TestOutcome("basics", "sum_evens", 0.0, 1.0, False, False, "not run: ran over 5 s"),
            TestOutcome("negatives", "sum_evens", 2.0, 2.0, True, False, ""),
        )
        ex = ExerciseResult("sum_evens", 2.0, 3.0, Status.TIMEOUT, "ran over 5 s", tests)
        return replace(make_class()[0], learner=learner, exercises=(ex,))

    s = course_summary([*make_class()[:2], stopped("gus"), stopped("hal")])  # type: ignore[list-item]
    negatives = next(f for f in s.most_failed if f.test == "negatives")
    assert (negatives.failed, negatives.ran) == (1, 4)  # bob failed it; gus and hal passed it
    assert all(f.test != "basics" for f in s.most_failed)  # never failed where it ran


def test_the_report_is_titled_with_the_course_or_lesson(db: Path, tmp_path: Path) -> None:
    write_report(db, tmp_path / "all.html")
    assert f"<h1>Course report: lessons {L1}, {L2}</h1>" in (tmp_path / "all.html").read_text()
    write_report(db, tmp_path / "one.html", lesson=L1)
    assert f"<h1>Lesson report: {L1}</h1>" in (tmp_path / "one.html").read_text()
    write_report(db, tmp_path / "named.html", course="Python 101")
    named = (tmp_path / "named.html").read_text()
    assert "<h1>Course report: Python 101</h1>" in named and "gradebook.sqlite" not in named
