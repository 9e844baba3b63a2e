"""Grading throughput: `nbgrader autograde` vs `eduproject grade` on the same submissions.

Builds an nbgrader course (3 questions, visible and hidden tests) in a temporary folder,
generates the student version with `nbgrader generate_assignment`, writes N submissions
(correct, partly wrong, raising, one infinite loop) into `submitted/`, then times:

1. `nbgrader autograde ps` (serial; nbgrader has no parallel mode), and
2. `eduproject grade` on the SAME submission files, the lesson imported from the nbgrader
   source with `eduproject.authoring.importers.nbgrader.import_nbgrader`,

checks that both give every learner the same total score, and prints seconds per submission
for both and the ratio. Both tools then grade the same class with the loop replaced by a
correct answer (eduproject three times, the median run kept): the "no loop" ratio compares the
two on that class. Then it times a lesson whose learners import pandas (the sample course's
04-pandas-intro with a simulated class). Both tools get the same per-cell timeout. Each
command is timed as a whole process (start-up included).

    .venv/bin/python benchmarks/grading.py [--submissions 44] [--workers 2] [--cell-timeout 5]
                                           [--rss 1000]

``--rss N`` also grades N submissions in one process and prints the grader's peak RSS.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CPU: dict[str, float] = {}  # CPU seconds of the last run of each subcommand
BIN = Path(sys.executable).parent

QUESTIONS = [
    # (grade_id, instructor solution, test cell, points)
    (
        "squares",
        "def squares(n):\n    ### BEGIN SOLUTION\n    return [i * i for i in range(1, n + 1)]\n    ### END SOLUTION",
        "assert squares(1) == [1]\nassert squares(3) == [1, 4, 9]\n"
        "### BEGIN HIDDEN TESTS\nassert squares(10)[-1] == 100\n### END HIDDEN TESTS",
        2,
    ),
    (
        "total",
        "def total(xs):\n    ### BEGIN SOLUTION\n    return sum(xs)\n    ### END SOLUTION",
        "assert total([1, 2, 3]) == 6\nassert total([]) == 0",
        1,
    ),
    (
        "word_count",
        "def word_count(text):\n    ### BEGIN SOLUTION\n    counts = {}\n    for w in text.split():\n"
        "        counts[w] = counts.get(w, 0) + 1\n    return counts\n    ### END SOLUTION",
        "assert word_count('a b a') == {'a': 2, 'b': 1}\n"
        "### BEGIN HIDDEN TESTS\nassert word_count('') == {}\n### END HIDDEN TESTS",
        2,
    ),
]
ANSWERS = {
    "correct": {
        "squares": "def squares(n):\n    return [i * i for i in range(1, n + 1)]",
        "total": "def total(xs):\n    return sum(xs)",
        "word_count": "def word_count(text):\n    counts = {}\n    for w in text.split():\n"
        "        counts[w] = counts.get(w, 0) + 1\n    return counts",
    },
    "partly-wrong": {"total": "def total(xs):\n    return sum(xs) + 1"},
    "raising": {"squares": "def squares(n):\n    raise ValueError('not done yet')"},
    "infinite-loop": {"word_count": "while True:\n    pass"},
}


def cell(kind: str, source: str, nbgrader: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"cell_type": kind, "metadata": {}, "source": source}
    if nbgrader is not None:
        out["metadata"]["nbgrader"] = {
            "schema_version": 3,
            "locked": False,
            "task": False,
            **nbgrader,
        }
    if kind == "code":
        out.update(outputs=[], execution_count=None)
    return out


def source_notebook() -> dict[str, Any]:
    cells = [cell("markdown", "# Problem set\nThree small functions.")]
    for grade_id, solution, tests, points in QUESTIONS:
        cells.append(cell("markdown", f"## {grade_id}\nWrite `{grade_id}`."))
        cells.append(
            cell("code", solution, {"grade_id": grade_id, "solution": True, "grade": False})
        )
        cells.append(
            cell(
                "code",
                tests,
                {
                    "grade_id": f"test_{grade_id}",
                    "solution": False,
                    "grade": True,
                    "points": points,
                    "locked": True,
                },
            )
        )
    return {
        "cells": cells,
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


# CPU time of a command's whole process tree. getrusage(RUSAGE_CHILDREN) misses processes no
# one waits for (the judge server lets the kernel reap its judges), so where a cgroup v1
# cpuacct hierarchy is writable (root), each command runs in a cgroup of its own.
CPUACCT = Path("/sys/fs/cgroup/cpuacct")
CPU_HOW = "cgroup cpuacct"
_RUNS = itertools.count()


def _cgroup() -> Path | None:
    group = CPUACCT / f"eduproject-bench-{os.getpid()}-{next(_RUNS)}"
    try:
        group.mkdir()
        (group / "cpuacct.usage").read_text()
    except OSError:
        return None
    return group


def _join(group: Path) -> None:  # runs in the child, before exec
    (group / "cgroup.procs").write_text(str(os.getpid()))


OUTPUT: dict[str, str] = {}  # stdout of the last run of each subcommand


def run(cmd: list[str], cwd: Path) -> float:
    """Wall seconds of ``cmd``; its CPU seconds (whole process tree) go to ``CPU[cmd[1]]``,
    its output to ``OUTPUT[cmd[1]]``."""
    global CPU_HOW
    group = _cgroup()
    if group is None:
        CPU_HOW = "getrusage (misses processes reaped by the kernel)"
    cpu = cpu_of_children() if group is None else 0.0
    start = time.perf_counter()
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    }  # nbgrader runs `alembic`
    done = subprocess.run(
        cmd,
        cwd=cwd,
        capture_output=True,
        text=True,
        env=env,
        preexec_fn=None if group is None else lambda: _join(group),
    )
    took = time.perf_counter() - start
    if group is None:
        CPU[cmd[1]] = cpu_of_children() - cpu
    else:
        CPU[cmd[1]] = int((group / "cpuacct.usage").read_text()) / 1e9
        _drop(group)
    OUTPUT[cmd[1]] = done.stdout
    if done.returncode != 0:
        sys.exit(
            f"{' '.join(cmd[:3])} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )
    return took


def _drop(group: Path) -> None:
    """Remove the command's cgroup once every process of it has ended (a sandbox may take a
    moment to go after the command returns)."""
    for _ in range(100):
        try:
            group.rmdir()
            return
        except OSError:
            time.sleep(0.05)


def kinds_for(n: int) -> list[str]:
    """Mostly correct, some partly wrong, some raising, exactly one infinite loop."""
    kinds = ["infinite-loop"]
    for i in range(n - 1):
        kinds.append("correct" if i % 5 < 3 else "partly-wrong" if i % 5 == 3 else "raising")
    return kinds


def build_course(tmp: Path, n: int, cell_timeout: int) -> tuple[Path, dict[str, str]]:
    course = tmp / "course"
    (course / "source" / "ps").mkdir(parents=True)
    (course / "source" / "ps" / "ps.ipynb").write_text(json.dumps(source_notebook(), indent=1))
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'bench'\n"
        f"c.Execute.timeout = {cell_timeout}\n"
        "c.Execute.interrupt_on_timeout = True\n"
    )
    run([str(BIN / "nbgrader"), "generate_assignment", "ps", "--force"], course)
    learners = {}
    for i, kind in enumerate(kinds_for(n)):
        name = f"s{i:03d}"
        write_submission(course, course / "submitted", name, kind)
        learners[name] = kind
    return course, learners


def write_submission(course: Path, folder: Path, name: str, kind: str) -> None:
    """``folder/name/ps/ps.ipynb``: the student version with ``kind``'s answers."""
    student = json.loads((course / "release" / "ps" / "ps.ipynb").read_text())
    answers = {**ANSWERS["correct"], **ANSWERS[kind]}
    for c in student["cells"]:
        meta = c["metadata"].get("nbgrader", {})
        if meta.get("solution") and meta.get("grade_id") in answers:
            c["source"] = f"# {name}\n" + answers[meta["grade_id"]]
    path = folder / name / "ps" / "ps.ipynb"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(student, indent=1))
    (path.parent / "timestamp.txt").write_text("2026-01-01 00:00:00.000000 UTC")


def nbgrader_scores(course: Path, learners: dict[str, str]) -> dict[str, float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        return {name: float(gb.find_submission("ps", name).score) for name in learners}


def eduproject_scores(db: Path, lesson: str) -> tuple[dict[str, float], dict[str, int]]:
    from eduproject.grading.gradebook import Gradebook

    with Gradebook(db, create=False) as gb:
        results = list(gb.results(lesson))
    statuses: dict[str, int] = {}
    for r in results:
        statuses[str(r.status)] = statuses.get(str(r.status), 0) + 1
    return {r.learner: r.score for r in results}, statuses


def grade_command(
    lesson: Path, submissions: Path, db: Path, workers: int | None, cell_timeout: int
) -> list[str]:
    return [
        str(BIN / "eduproject"), "grade", str(lesson), str(submissions), "--db", str(db),
        *(["--workers", str(workers)] if workers else []),
        "--cell-timeout", str(cell_timeout), "--no-progress", "--profile",
    ]  # fmt: skip


def phases_of(output: str) -> dict[str, float]:
    """The per-phase breakdown ``grade --profile`` printed: label -> ms per submission
    (``sandbox wait, all workers``: ms in all; ``replays``: a count)."""
    out: dict[str, float] = {}
    if "where the time went" not in output:
        return out
    for line in output.split("where the time went", 1)[1].splitlines()[1:]:
        parts = line.split()
        if not line.startswith("  ") or len(parts) < 2:
            continue
        if parts[-1] == "ms":
            out[" ".join(parts[:-2])] = float(parts[-2])
        else:
            out[" ".join(parts[:-1])] = float(parts[-1])
    return out


def print_phases(title: str, phases: dict[str, float]) -> None:
    print(f"  where the time went, {title} (ms per submission; sandbox wait: in all):")
    for label, value in phases.items():
        unit = "" if label.startswith("replays") else " ms"
        print(f"    {label:32s} {value:9.1f}{unit}")


def compare_with_nbgrader(tmp: Path, n: int, workers: int, cell_timeout: int) -> dict[str, Any]:
    from eduproject.authoring.importers.nbgrader import import_nbgrader

    course, learners = build_course(tmp, n, cell_timeout)
    t_nbgrader = run([str(BIN / "nbgrader"), "autograde", "ps", "--force"], course)
    cpu_nbgrader = CPU["autograde"]
    lesson = tmp / "exercises" / "ps"
    import_nbgrader(course / "source" / "ps" / "ps.ipynb", lesson)
    db = tmp / "gradebook.sqlite"
    t_ours = run(grade_command(lesson, course / "submitted", db, workers, cell_timeout), tmp)
    cpu_ours, phases_loop = CPU["grade"], phases_of(OUTPUT["grade"])
    theirs = nbgrader_scores(course, learners)
    ours, statuses = eduproject_scores(db, "ps")
    disagree = {k: (theirs[k], ours.get(k)) for k in learners if theirs[k] != ours.get(k)}

    # The same class with the endless loop replaced by a correct answer, graded by both tools
    # (nbgrader in a copy of the course whose submitted/ holds this class).
    calm_learners = {k: "correct" if v == "infinite-loop" else v for k, v in learners.items()}
    calm_course = tmp / "course-no-loop"
    shutil.copytree(course, calm_course, ignore=shutil.ignore_patterns("submitted", "autograded"))
    calm = calm_course / "submitted"
    for name, kind in calm_learners.items():
        write_submission(course, calm, name, kind)
    t_nbgrader_calm = run([str(BIN / "nbgrader"), "autograde", "ps", "--force"], calm_course)
    cpu_nbgrader_calm = CPU["autograde"]
    theirs_calm = nbgrader_scores(calm_course, calm_learners)
    # A second of wall time is noisy on a shared machine: three runs, each into a gradebook
    # of its own, and the median run's figures.
    calm_runs = []
    for i in range(3):
        db_calm = tmp / f"gradebook-no-loop-{i}.sqlite"
        wall = run(grade_command(lesson, calm, db_calm, workers, cell_timeout), tmp)
        calm_runs.append((wall, CPU["grade"], phases_of(OUTPUT["grade"]), db_calm))
    t_calm, cpu_calm, phases_calm, db_calm = sorted(calm_runs, key=lambda r: r[0])[1]
    ours_calm, _ = eduproject_scores(db_calm, "ps")
    changed = sorted(
        k for k in learners if learners[k] != "infinite-loop" and ours_calm.get(k) != ours.get(k)
    )
    disagree |= {
        f"{k} (no loop)": (theirs_calm[k], ours_calm.get(k))
        for k in calm_learners
        if theirs_calm[k] != ours_calm.get(k)
    }

    print(
        f"{n} nbgrader-format submissions, 3 questions, cell timeout {cell_timeout} s, one infinite loop"
    )
    print(f"  kinds: { {k: list(learners.values()).count(k) for k in ANSWERS} }")
    print(f"  eduproject statuses: {statuses}")
    print(f"  total score: nbgrader {sum(theirs.values()):g}, eduproject {sum(ours.values()):g}")
    print(
        f"  scores agree for every learner: {not disagree}"
        + (f"  DISAGREE: {disagree}" if disagree else "")
    )
    print(
        "  without the loop, every other learner's score is unchanged: "
        + ("yes" if not changed else f"NO: {changed}")
    )
    print(f"  {'method':56} {'wall s':>8} {'s/submission':>13} {'CPU s/submission':>17}")
    rows = [
        ("nbgrader autograde (serial)", t_nbgrader, cpu_nbgrader),
        (f"eduproject grade --workers {workers}", t_ours, cpu_ours),
        ("nbgrader autograde (serial), no loop", t_nbgrader_calm, cpu_nbgrader_calm),
        (f"eduproject grade --workers {workers}, no loop, median of 3", t_calm, cpu_calm),
    ]
    for label, wall, cpu in rows:
        print(f"  {label:56} {wall:8.2f} {wall / n:13.3f} {cpu / n:17.3f}")
    print(
        f"  speed-up (wall): {t_nbgrader / t_ours:.1f}x with the loop, "
        f"{t_nbgrader_calm / t_calm:.1f}x without (each against nbgrader on the same class); "
        f"the loop costs {t_ours - t_calm:.2f} s more (goal <= {cell_timeout + 1.5:g} s)"
    )
    print_phases("with the loop", phases_loop)
    print_phases("without the loop", phases_calm)
    if disagree or changed:
        sys.exit(1)
    return {
        "submissions": n,
        "workers": workers,
        "cell_timeout": cell_timeout,
        "nbgrader_s_per_sub": t_nbgrader / n,
        "nbgrader_cpu_per_sub": cpu_nbgrader / n,
        "nbgrader_no_loop_s_per_sub": t_nbgrader_calm / n,
        "nbgrader_no_loop_cpu_per_sub": cpu_nbgrader_calm / n,
        "loop_s_per_sub": t_ours / n,
        "loop_cpu_per_sub": cpu_ours / n,
        "no_loop_s_per_sub": t_calm / n,
        "no_loop_cpu_per_sub": cpu_calm / n,
        "loop_extra_s": t_ours - t_calm,
        "phases_loop": phases_loop,
        "phases_no_loop": phases_calm,
    }


def one_submission(tmp: Path, cell_timeout: int, repeat: int = 3) -> dict[str, Any]:
    """`eduproject grade` on a folder holding one (correct) submission, as a whole process,
    with the default number of workers."""
    course, lesson = tmp / "course", tmp / "exercises" / "ps"
    folder = tmp / "one"
    write_submission(course, folder, "solo", "correct")
    times = [
        run(grade_command(lesson, folder, tmp / f"one-{i}.sqlite", None, cell_timeout), tmp)
        for i in range(repeat)
    ]
    phases = phases_of(OUTPUT["grade"])
    print(
        f"\none submission end to end (`eduproject grade` on a folder of 1, default workers), "
        f"{repeat} runs: " + ", ".join(f"{t:.2f}" for t in times) + " s"
    )
    print_phases("one submission, last run", phases)
    return {
        "one_submission_s": statistics.median(times),
        "one_submission_runs": times,
        "phases_one": phases,
    }


def pandas_lesson(tmp: Path, n: int, workers: int, cell_timeout: int) -> dict[str, Any]:
    from eduproject.grading.simulate import read_manifest, simulate_class

    lesson = tmp / "exercises" / "04-pandas-intro"
    shutil.copytree(ROOT / "exercises" / "04-pandas-intro", lesson)
    simulate_class(lesson, tmp / "pandas-class", n_learners=n + 8, seed=7)
    honest = tmp / "pandas-honest"
    kept = 0
    for name, learner in sorted(read_manifest(tmp / "pandas-class").items()):
        if not learner.kind.startswith("hostile") and kept < n:
            (honest / name).mkdir(parents=True)
            shutil.copy(learner.path, honest / name / learner.path.name)
            kept += 1
    db = tmp / "pandas.sqlite"
    took = run(grade_command(lesson, honest, db, workers, cell_timeout), tmp)
    _, statuses = eduproject_scores(db, "04-pandas-intro")
    print(
        f"\n{kept} submissions of 04-pandas-intro (every learner imports pandas; no hostile ones)"
    )
    print(f"  eduproject statuses: {statuses}")
    print(
        f"  eduproject grade --workers {workers}: {took:.2f} s total, {took / kept:.3f} s per submission"
        f" (CPU {CPU['grade'] / kept:.3f} s per submission)"
    )
    phases = phases_of(OUTPUT["grade"])
    print_phases("pandas lesson", phases)
    return {
        "pandas_s_per_sub": took / kept,
        "pandas_cpu_per_sub": CPU["grade"] / kept,
        "phases_pandas": phases,
    }


def peak_rss(tmp: Path, n: int, workers: int) -> None:
    lesson, submitted = tmp / "exercises" / "ps", tmp / "rss-class"
    template = next((tmp / "course" / "submitted").glob("*/ps/ps.ipynb")).read_text()
    for i in range(n):
        path = submitted / f"r{i:04d}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(template.replace('"# s', f'"# r{i:04d} s', 1))
    code = (
        "import resource, sys\nfrom pathlib import Path\n"
        "from eduproject.grading.pipeline import grade_lesson\n"
        f"s = grade_lesson(Path({str(lesson)!r}), Path({str(submitted)!r}), Path({str(tmp / 'rss.sqlite')!r}),"
        f" workers={workers}, cell_timeout=5, progress=False)\n"
        "print(s.graded, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp, capture_output=True, text=True, check=True
    )
    graded, kb = out.stdout.split()[-2:]
    took = time.perf_counter() - start
    print(
        f"\n{graded} submissions in one grade_lesson call: {took:.1f} s, grader peak RSS {int(kb) / 1024:.0f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=44)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--cell-timeout", type=int, default=5)
    parser.add_argument(
        "--rss", type=int, default=0, help="also grade this many and report peak RSS"
    )
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"{os.cpu_count()} cores, load average {load[0]:.1f} at start\n")
    figures: dict[str, Any] = {"load_start": list(load)}
    with tempfile.TemporaryDirectory(prefix="eduproject-bench-") as name:
        tmp = Path(name)
        figures |= compare_with_nbgrader(tmp, args.submissions, args.workers, args.cell_timeout)
        figures |= one_submission(tmp, args.cell_timeout)
        figures |= pandas_lesson(tmp, args.submissions, args.workers, args.cell_timeout)
        if args.rss:
            peak_rss(tmp, args.rss, args.workers)
    figures["load_end"] = list(os.getloadavg())
    figures["cpu_measured_by"] = CPU_HOW
    print(f"\nCPU seconds measured by {CPU_HOW}")
    print(
        f"\nload average at the end: {figures['load_end'][0]:.1f} (other work on the machine slows both tools)"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
