"""grade_lesson and `eduproject grade`: gradebook, resume after kill -9, CLI output, exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from eduproject.authoring.parse import load_lesson
from eduproject.cli import main
from eduproject.core.bundle import read_bundle
from eduproject.grading.gradebook import Gradebook
from eduproject.grading.pipeline import GradeRunSummary, grade_lesson, lesson_for_grading

from .grading_support import BASIC, BASIC_ANSWERS, WriteLesson, submission


@pytest.fixture
def course(write_lesson: WriteLesson, tmp_path: Path) -> Path:
    """A project folder: exercises/basic and an empty submissions/ folder."""
    write_lesson(BASIC, "basic")
    (tmp_path / "submissions").mkdir()
    return tmp_path


def write_class(course: Path, answers: dict[str, dict[str, str]]) -> None:
    lesson, _ = lesson_for_grading(course / "exercises" / "basic", course / "build" / "grader")
    for learner, given in answers.items():
        path = course / "submissions" / learner / "basic.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(submission(lesson, given))


def test_stale_or_missing_bundle_is_rewritten(course: Path) -> None:
    folder, grader = course / "exercises" / "basic", course / "build" / "grader"
    lesson, data = lesson_for_grading(folder, grader)
    assert lesson.version == load_lesson(folder).version and data == {}
    assert read_bundle(grader / "basic").version == lesson.version
    notebook = folder / "basic.ipynb"
    notebook.write_text(notebook.read_text().replace("Write `double(x)`.", "Write double."))
    again, _ = lesson_for_grading(folder, grader)
    assert again.version != lesson.version == lesson.version
    assert read_bundle(grader / "basic").version == again.version


def test_grade_lesson_records_everything_and_a_rerun_skips_it(course: Path) -> None:
    write_class(course, {"ada": BASIC_ANSWERS, "grace": {"double": BASIC_ANSWERS["double"]}})
    (course / "submissions" / "alan").mkdir()  # empty folder: invalid, recorded
    (course / "submissions" / "bob.ipynb").write_bytes(b"\xff\xfegarbage")
    (course / "submissions" / "notes.txt").write_text("not a submission")
    db = course / "gradebook.sqlite"

    def run() -> GradeRunSummary:
        return grade_lesson(
            course / "exercises" / "basic",
            course / "submissions",
            db,
            grader_dir=course / "build" / "grader",
            progress=False,
            workers=2,
        )

    summary = run()
    assert summary.graded == 4 and summary.skipped == 0 and summary.failures == ()
    assert summary.statuses == {"graded": 2, "invalid": 2}
    assert summary.describe() == "4 graded (graded 2, invalid 2), 0 already graded"
    assert summary.ignored == (
        f"ignored {course / 'submissions' / 'notes.txt'}: not a notebook (.ipynb)",
    )
    assert summary.sandbox.startswith("bwrap") and summary.warning is None
    with Gradebook(db, create=False) as gb:
        results = {r.learner: r for r in gb.results("basic")}
        assert {k: r.score for k, r in results.items()} == {
            "ada": 6.0,
            "alan": 0.0,
            "bob": 0.0,
            "grace": 3.0,
        }
        assert "not UTF-8" in results["bob"].detail and "empty folder" in results["alan"].detail
        assert gb.executed_notebook("ada", "basic") is not None
    again = run()
    assert again.graded == 0 and again.skipped == 4
    write_class(course, {"grace": BASIC_ANSWERS})  # a resubmission is graded again
    third = run()
    assert third.graded == 1 and third.skipped == 3
    with Gradebook(db, create=False) as gb:
        assert {r.learner: r.score for r in gb.results("basic")}["grace"] == 6.0


@pytest.mark.slow
def test_kill_9_mid_run_then_rerun_loses_and_duplicates_nothing(course: Path) -> None:
    slow = {k: "import time\ntime.sleep(0.4)\n" + v for k, v in BASIC_ANSWERS.items()}
    learners = [f"learner{i:02d}" for i in range(20)]
    write_class(course, dict.fromkeys(learners, slow))
    db = course / "gradebook.sqlite"
    command = [
        sys.executable,
        "-c",
        "from eduproject.cli import main; main()",
        "grade",
        "exercises/basic",
        "submissions",
        "--db",
        str(db),
        "--workers",
        "2",
        "--no-progress",
    ]
    proc = subprocess.Popen(
        command,
        cwd=course,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    recorded = 0
    deadline = time.monotonic() + 120
    while recorded < 4 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        if db.exists():
            with Gradebook(db, create=False) as gb:
                recorded = sum(r.submissions for r in gb.runs())
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    with Gradebook(db, create=False) as gb:
        (killed,) = gb.runs()
        assert killed.status == "running" and 4 <= killed.submissions < len(learners)
        before = killed.submissions
    summary = grade_lesson(
        course / "exercises" / "basic",
        course / "submissions",
        db,
        grader_dir=course / "build" / "grader",
        progress=False,
    )
    assert summary.skipped == before and summary.graded == len(learners) - before
    with Gradebook(db, create=False) as gb:
        results = list(gb.results("basic"))
        assert sorted(r.learner for r in results) == learners
        assert all(r.score == 6.0 for r in results)
        runs = gb.runs()
        assert [r.status for r in runs] == ["running", "finished"]
        assert sum(r.submissions for r in runs) == len(learners)


def test_cli_prints_the_sandbox_and_a_summary(
    course: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_class(course, {"ada": BASIC_ANSWERS})
    monkeypatch.chdir(course)
    args = ["grade", "exercises/basic", "submissions", "--db", "gb.sqlite", "--workers", "1"]
    main([*args, "--no-progress"])  # success returns normally
    out = capsys.readouterr().out
    assert "sandbox: bwrap+uid (network off, private filesystem)" in out
    assert "graded 1 submissions of basic" in out and "statuses: graded 1" in out
    assert "gradebook: gb.sqlite (run 1)" in out


def test_grade_profile_says_where_each_submissions_time_went(
    course: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`grade --profile`: the mean of each phase per submission, measured (a phase that
    did not happen is not shown: this lesson has no setup cell)."""
    write_class(course, {"ada": BASIC_ANSWERS, "bo": {"double": BASIC_ANSWERS["double"]}})
    monkeypatch.chdir(course)
    args = ["grade", "exercises/basic", "submissions", "--db", "gb.sqlite", "--workers", "2"]
    main([*args, "--no-progress", "--profile"])
    out = capsys.readouterr().out
    assert "where the time went (ms per submission; sandbox wait in all):" in out
    lines = out.split("where the time went", 1)[1].splitlines()[1:]
    phases = {line[:28].strip(): float(line[28:].split()[0]) for line in lines}
    assert list(phases) == [
        "sandbox wait, all workers",
        "fork learner process",
        "fork judge",
        "learner cells",
        "visible tests + forks",
        "checkpoint forks",
        "hidden tests",
        "end processes",
        "gradebook write",
    ], out
    assert all(ms >= 0 for ms in phases.values()) and phases["learner cells"] > 0


def test_cli_errors_are_one_clear_message_and_an_exit_code(
    course: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(course)
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", "exercises/basic", "nowhere", "--db", "gb.sqlite"])
    assert exit_info.value.code == 1
    err = capsys.readouterr().err
    assert "nowhere is not a folder of submissions" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_info:
        main(
            ["grade", "exercises/basic", "submissions", "--db", "gb.sqlite", "--cell-timeout", "0"]
        )
    assert exit_info.value.code == 2
    assert "cell_timeout must be positive" in capsys.readouterr().err


def test_grade_refuses_to_run_without_the_sandbox_unless_told(course: Path) -> None:
    write_class(course, {"ada": BASIC_ANSWERS})
    # No bubblewrap on PATH: the backend would be the rlimits-only fallback.
    env = {**os.environ, "PATH": str(Path(sys.executable).parent)}
    args = [sys.executable, "-m", "eduproject.cli", "grade", "exercises/basic", "submissions"]
    refused = subprocess.run(
        [*args, "--db", "gb.sqlite", "--no-progress"],
        cwd=course, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert refused.returncode == 1, refused.stderr
    assert "not grading: learner code would run without the sandbox" in refused.stderr
    assert "hidden tests and solutions" in refused.stderr and "--unsandboxed" in refused.stderr
    assert "Traceback" not in refused.stderr and not (course / "gb.sqlite").exists()
    done = subprocess.run(
        [*args, "--db", "gb.sqlite", "--no-progress", "--unsandboxed", "--workers", "1"],
        cwd=course, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "SANDBOX WARNING" in done.stdout + done.stderr and "graded 1 submissions" in done.stdout


def test_grade_says_when_it_writes_the_bundle_and_warns_about_older_releases(
    course: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = course / "exercises" / "basic"
    lesson, _ = lesson_for_grading(folder)  # the bundle goes beside the course, not the cwd
    assert (course / "build" / "grader" / "basic" / "bundle.json").is_file()

    def older(nb: dict[str, object]) -> None:
        nb["metadata"]["eduproject"]["version"] = "0" * 64  # type: ignore[index]

    for learner, edit in (("ada", None), ("grace", older)):
        path = course / "submissions" / learner / "basic.ipynb"
        path.parent.mkdir(parents=True)
        path.write_bytes(submission(lesson, BASIC_ANSWERS, edit))
    # The author changes the lesson after release: grade rewrites the bundle and says so.
    notebook = folder / "basic.ipynb"
    notebook.write_text(notebook.read_text().replace("Write `double(x)`.", "Write double."))
    elsewhere = course / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    main(["grade", str(folder), str(course / "submissions"), "--db", "gb.sqlite", "--no-progress"])
    captured = capsys.readouterr()
    bundle = course / "build" / "grader" / "basic" / "bundle.json"
    assert f"wrote the grader bundle {bundle} (the lesson changed since it was released)" in (
        captured.out
    )
    assert not (elsewhere / "build").exists()
    # Both notebooks predate the change now; the one edited above was older still.
    assert "warning: 2 submission(s) were made from an older release of basic (ada, grace)" in (
        captured.err
    )
    assert captured.out.count("sandbox:") == 1 and "sandbox" not in captured.err


def _course_config(course: Path, monkeypatch: pytest.MonkeyPatch, text: str) -> Path:
    """``text`` as the course's eduproject.toml, with no user file and no variables."""
    for name in ("EDUPROJECT_CONFIG", "EDUPROJECT_USER_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(course / "no-user-config"))
    path = course / "eduproject.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_grading_table_sets_grades_defaults_and_the_command_line_wins(
    course: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    slow = {**BASIC_ANSWERS, "double": "import time\ntime.sleep(3)\n" + BASIC_ANSWERS["double"]}
    write_class(course, {"ada": slow})
    _course_config(
        course,
        monkeypatch,
        "[grading]\nworkers = 1\ncell_timeout = 1\ntimeout = 100\nmemory = 700\n",
    )
    monkeypatch.chdir(course / "submissions")  # the course is found from the lesson folder
    lesson = str(course / "exercises" / "basic")
    main(["grade", lesson, ".", "--db", "first.sqlite", "--no-progress"])
    assert "statuses: timeout 1" in capsys.readouterr().out  # the file's 1 s per cell
    with Gradebook(course / "submissions" / "first.sqlite", create=False) as gb:
        (run,) = gb.runs()
    assert {k: run.options[k] for k in ("workers", "cell_timeout", "timeout", "memory_mb")} == {
        "workers": 1,
        "cell_timeout": 1.0,
        "timeout": 100.0,
        "memory_mb": 700,
    }
    main(["grade", lesson, ".", "--db", "second.sqlite", "--no-progress", "--cell-timeout", "20", "--memory", "800"])  # fmt: skip
    assert "statuses: graded 1" in capsys.readouterr().out  # the option wins over the file
    with Gradebook(course / "submissions" / "second.sqlite", create=False) as gb:
        (run,) = gb.runs()
    assert (run.options["cell_timeout"], run.options["memory_mb"], run.options["timeout"]) == (
        20.0,
        800,
        100.0,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[grading]\nwokers = 2\n", "table [grading]: unknown key 'wokers'"),
        (
            '[grading]\ncell_timeout = "fast"\n',
            "table [grading]: key 'cell_timeout' must be a positive number of seconds, not 'fast'",
        ),
        ("[grading]\nworkers = 0\n", "table [grading]: key 'workers' must be a positive integer"),
        ("[grading]\nmemory = 1.5\n", "table [grading]: key 'memory' must be a positive integer"),
    ],
    ids=["typo", "type", "workers", "memory"],
)
def test_a_wrong_grading_table_is_one_message_naming_file_table_and_key(
    course: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    text: str,
    message: str,
) -> None:
    path = _course_config(course, monkeypatch, text)
    monkeypatch.chdir(course)
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", "exercises/basic", "submissions", "--db", "gb.sqlite", "--no-progress"])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert f"{path}: {message}" in err and "Traceback" not in err
    assert not (course / "gb.sqlite").exists()


@pytest.mark.parametrize("table", ["sandbox", "course", "authoring", "gradng"])
def test_a_table_nothing_reads_is_refused(
    course: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    path = _course_config(course, monkeypatch, f"[{table}]\nbackend = 'bwrap'\n")
    monkeypatch.chdir(course)
    with pytest.raises(SystemExit) as exit_info:
        main(["grade", "exercises/basic", "submissions", "--db", "gb.sqlite", "--no-progress"])
    assert exit_info.value.code != 0
    err = capsys.readouterr().err
    assert f"{path}: top level: unknown key {table!r}" in err and "known keys here: " in err
    assert "grading" in err and "Traceback" not in err
