"""Parity on real courses: eduproject vs nbgrader / otter-grader, per question, same submissions.

For each notebook of a materialised corpus (``benchmarks/parity/corpus.py --out DIR``):

1. eduproject, through its public CLI only: ``eduproject import nbgrader|otter SRC -o LESSON``
   (the source's sibling files are copied beside the lesson notebook, as the course has them),
   ``eduproject release``, ``eduproject validate``, then ``eduproject grade`` of three
   submissions, read back from the gradebook:

   - ``solution``: the released learner notebook with every solution region put back (markers
     removed), i.e. what a perfect learner hands in;
   - ``stub``: the released learner notebook untouched;
   - ``partial``: the solution, except that the first exercise keeps its stub.

2. The original tool, installed by this script in its own virtual environment under
   ``--tool-cache`` (never a project dependency): nbgrader 0.9.6 (``generate_assignment`` and
   ``autograde``) or otter-grader 7.0.0 (``otter assign``, then ``otter run``, which grades
   without Docker), on the same three kinds of submission built the same way from the tool's
   own release.

It prints, per notebook and submission, each question's points under both tools and whether
they agree; for a disagreement, the first failing test message on each side. The summary says
how many lessons import / release / validate and how often the instructor's solution earns full
marks under each tool. ``--json OUT`` writes everything.

    .venv/bin/python benchmarks/parity.py --corpus /work/corpus [--only NAME] [--jobs N]
        [--json OUT] [--cell-timeout S] [--no-tools] [--tool-python nbgrader=PY,otter=PY]
        [--tools-from EARLIER.json]

``--tool-python`` uses an existing interpreter that has the tool installed (the CI subset
passes the test environment's nbgrader); ``--no-tools`` runs the eduproject side only; ``--tools-from EARLIER.json`` takes the original
tool's results from an earlier run for each notebook whose lesson layout (so its three
submissions) is unchanged, and runs the tool for the others.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
TOOLS = {"nbgrader": "nbgrader==0.9.6", "otter": "otter-grader==7.0.0"}
# What the corpus' notebooks import; installed into each tool's environment.
COURSE_PACKAGES = [
    "numpy", "pandas", "matplotlib", "scipy", "datascience", "seaborn", "scikit-learn",
    "pillow", "nltk", "ipywidgets", "pytest", "ipykernel",
]  # fmt: skip
SUBMISSIONS = ("solution", "stub", "partial")
DEFAULT_CACHE = Path.home() / ".cache" / "eduproject-parity" / "venvs"
_EDU_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$")
_NBG_MARKER = re.compile(r"(BEGIN|END) SOLUTION")


# ---------------------------------------------------------------- helpers


def run(cmd: list[str], cwd: Path, timeout: float = 1800) -> tuple[int, str]:
    """Return code and the merged output (tail) of ``cmd``; a timeout is code 124.

    The wall seconds of the call go to ``LAST["seconds"]`` (read by :func:`stage`).
    """
    LAST["seconds"] = 0.0
    start = time.perf_counter()
    try:
        return _run(cmd, cwd, timeout)
    finally:
        LAST["seconds"] = round(time.perf_counter() - start, 1)


LAST: dict[str, float] = {}


def stage(code: int, out: str, keep: int = 2500) -> dict[str, Any]:
    """A stage's outcome: ok, the output's tail, seconds of the last :func:`run`."""
    return {"ok": code == 0, "output": out[-keep:], "seconds": LAST.get("seconds", 0.0)}


def _run(cmd: list[str], cwd: Path, timeout: float) -> tuple[int, str]:
    env = {**os.environ, "PATH": f"{Path(cmd[0]).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        done = subprocess.run(
            cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
        )
    except subprocess.TimeoutExpired:
        return 124, f"timed out after {timeout:.0f} s"
    return done.returncode, (done.stdout + done.stderr)[-6000:]


def text_of(cell: dict[str, Any]) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def set_text(cell: dict[str, Any], text: str) -> None:
    cell["source"] = text
    if cell.get("cell_type") == "code":
        cell["outputs"], cell["execution_count"] = [], None


def read_nb(path: Path) -> dict[str, Any]:
    nb: dict[str, Any] = json.loads(path.read_text())
    return nb


def write_nb(path: Path, nb: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(nb, indent=1))


def copy_siblings(entry: dict[str, Any], src_dir: Path, dest: Path) -> None:
    for rel in entry["siblings"]:
        if (src_dir / rel).is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src_dir / rel, dest / rel)


def first_error(outputs: list[dict[str, Any]]) -> str:
    for out in outputs:
        if out.get("output_type") == "error":
            return f"{out.get('ename')}: {out.get('evalue')}"[:300]
    return ""


def tool_bin(tool: str, cache: Path, given: dict[str, str]) -> Path:
    """The bin folder of a Python with ``tool`` installed (created under ``cache`` if needed)."""
    if tool in given:
        return Path(given[tool]).parent
    venv = cache / tool
    if not (venv / ".ready").exists():
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", TOOLS[tool], *COURSE_PACKAGES],
            check=True,
        )
        (venv / ".ready").touch()
    return venv / "bin"


# ---------------------------------------------------------------- the lesson and its submissions


def lesson_layout(lesson_nb: dict[str, Any]) -> dict[str, Any]:
    """Auto-graded exercises in order, each with its solution-cell ids, test origins and solution
    origins; ``manual`` lists the manually graded ones (left out of the comparison, as the
    tools' manual questions are)."""
    exercises: list[str] = []
    manual: list[str] = []
    solutions: dict[str, list[str]] = {}
    origins: dict[str, list[str]] = {}  # tool ids of the solution cells of each exercise
    test_exercise: dict[str, str] = {}  # tool id of a test cell -> exercise
    test_sources: dict[str, list[str]] = {}  # exercise -> its test cells, in order
    current = None
    for cell in lesson_nb["cells"]:
        tags = cell.get("metadata", {}).get("tags", [])
        origin = cell.get("metadata", {}).get("eduproject", {}).get("origin")
        started = next((t.split("=", 1)[1] for t in tags if t.startswith("exercise=")), None)
        if started is not None and "manual" in tags:
            manual.append(started)
            current = None  # its answer cells are graded by hand: nothing to compare
        elif started is not None:
            current = started
            exercises.append(current)
            solutions[current], origins[current] = [], []
        if current is None:
            continue
        if "solution" in tags or "solution-cell" in tags:
            solutions[current].append(cell["id"])
            if origin:
                origins[current].append(origin)
        if "tests" in tags or "hidden-tests" in tags:
            test_sources.setdefault(current, []).append(text_of(cell))
            if origin:
                test_exercise[origin] = current
    return {
        "exercises": exercises,
        "manual": manual,
        "solutions": solutions,
        "origins": origins,
        "test_exercise": test_exercise,
        "test_sources": test_sources,
        "questions": {
            (c.get("metadata", {}).get("eduproject", {}).get("origin")): t.split("=", 1)[1]
            for c in lesson_nb["cells"]
            for t in c.get("metadata", {}).get("tags", [])
            if t.startswith("exercise=") and "manual" not in c["metadata"]["tags"]
        },
    }


def edu_submissions(lesson_nb: dict[str, Any], released: dict[str, Any]) -> dict[str, Any]:
    """The three submissions, built from the lesson source and the released learner copy."""
    layout = lesson_layout(lesson_nb)
    by_id = {c["id"]: c for c in lesson_nb["cells"]}
    first = layout["exercises"][0] if layout["exercises"] else None
    keep_stub = set(layout["solutions"].get(first, [])) if first else set()
    subs = {}
    for kind in SUBMISSIONS:
        nb = json.loads(json.dumps(released))
        if kind != "stub":
            for cell in nb["cells"]:
                src = by_id.get(cell.get("id", ""))
                if src is None or (kind == "partial" and cell["id"] in keep_stub):
                    continue
                tags = src.get("metadata", {}).get("tags", [])
                if "solution-cell" in tags:
                    set_text(cell, text_of(src))
                elif "solution" in tags:
                    kept = [ln for ln in text_of(src).splitlines() if not _EDU_MARKER.match(ln)]
                    set_text(cell, "\n".join(kept))
        subs[kind] = nb
    return subs


def eduproject_side(
    entry: dict[str, Any], src_dir: Path, work: Path, cell_timeout: float
) -> dict[str, Any]:
    eduproject = str(BIN / "eduproject")
    name = entry["name"]
    lesson = work / "lesson" / name
    res: dict[str, Any] = {"import": None, "release": None, "validate": None, "scores": {}}
    code, out = run(
        [eduproject, "import", entry["kind"], str(src_dir / entry["notebook"]), "-o", str(lesson)],
        work,
    )
    res["import"] = stage(code, out, 2500)
    if code != 0:
        return res
    copy_siblings(entry, src_dir, lesson)
    released_dir, grader = work / "released", work / "grader"
    code, out = run(
        [eduproject, "release", str(lesson), "-o", str(released_dir), "--grader-dir", str(grader)],
        work,
    )
    res["release"] = stage(code, out, 2500)
    if code != 0:
        return res
    code, out = run(
        [eduproject, "validate", str(lesson), "--cell-timeout", str(cell_timeout * 4)], work, 1800
    )
    res["validate"] = stage(code, out, 4000)
    lesson_nb = read_nb(lesson / f"{name}.ipynb")
    released = read_nb(released_dir / name / f"{name}.ipynb")
    res["layout"] = lesson_layout(lesson_nb)
    subs_dir = work / "edu-submissions"
    for kind, nb in edu_submissions(lesson_nb, released).items():
        write_nb(subs_dir / kind / f"{name}.ipynb", nb)
        for extra in (released_dir / name).rglob("*"):  # what release gave learners
            target = subs_dir / kind / extra.relative_to(released_dir / name)
            if extra.is_file() and not target.exists() and extra.name != "lesson.json":
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(extra, target)
    db = work / "gradebook.sqlite"
    code, out = run(
        [
            eduproject, "grade", str(lesson), str(subs_dir), "--db", str(db), "--workers", "1",
            "--cell-timeout", str(cell_timeout), "--no-progress",
        ],
        work,
    )  # fmt: skip
    res["grade"] = stage(code, out, 2500)
    if not db.exists():
        return res
    from eduproject.grading.gradebook import Gradebook

    with Gradebook(db, create=False) as gb:
        for result in gb.results(name):
            per: dict[str, Any] = {}
            for ex in result.exercises:
                if ex.manual:
                    continue  # graded by hand (pending here), as the tools' manual questions
                failing = [
                    {"test": t.name, "hidden": t.hidden, "message": t.message[:400]}
                    for t in ex.tests
                    if not t.passed
                ]
                per[ex.exercise] = {
                    "score": ex.score,
                    "max": ex.max_score,
                    "status": str(ex.status),
                    "detail": ex.detail[:400],
                    "failing": failing,
                }
            res["scores"][result.learner] = {
                "status": str(result.status),
                "detail": result.detail[:400],
                "exercises": per,
            }
    return res


# ---------------------------------------------------------------- nbgrader

_NBG_READ = """
import json, sys
from nbgrader.api import Gradebook
course, nb, students = sys.argv[1], sys.argv[2], sys.argv[3:]
out = {}
with Gradebook(f"sqlite:///{course}/gradebook.db") as gb:
    for s in students:
        try:
            sub = gb.find_submission_notebook(nb, "ps", s)
        except Exception as exc:
            out[s] = {"error": str(exc)}
            continue
        out[s] = {g.name: {"score": float(g.score), "max": float(g.max_score),
                           "auto": g.auto_score is not None} for g in sub.grades}
print(json.dumps(out))
"""


def nbgrader_side(
    entry: dict[str, Any], src_dir: Path, work: Path, bindir: Path, layout: dict[str, Any],
    cell_timeout: float,
) -> dict[str, Any]:  # fmt: skip
    course = work / "nbgrader-course"
    stem = Path(entry["notebook"]).stem
    (course / "source" / "ps").mkdir(parents=True)
    shutil.copy(src_dir / entry["notebook"], course / "source" / "ps" / f"{stem}.ipynb")
    copy_siblings(entry, src_dir, course / "source" / "ps")
    (course / "nbgrader_config.py").write_text(
        "c = get_config()\n"
        "c.CourseDirectory.course_id = 'parity'\n"
        f"c.Execute.timeout = {int(cell_timeout)}\n"
        "c.Execute.interrupt_on_timeout = True\n"
        "c.Execute.kernel_name = 'python3'\n"
    )
    res: dict[str, Any] = {"scores": {}}
    code, out = run([str(bindir / "nbgrader"), "generate_assignment", "ps", "--force"], course)
    res["generate"] = stage(code, out, 2500)
    if code != 0:
        return res
    source = read_nb(course / "source" / "ps" / f"{stem}.ipynb")
    release = read_nb(course / "release" / "ps" / f"{stem}.ipynb")
    by_grade_id = {
        c["metadata"]["nbgrader"].get("grade_id"): c
        for c in source["cells"]
        if "nbgrader" in c.get("metadata", {})
    }
    first = layout["exercises"][0] if layout.get("exercises") else None
    keep_stub = set(layout["origins"].get(first, [])) if first else set()
    for kind in SUBMISSIONS:
        nb = json.loads(json.dumps(release))
        if kind != "stub":
            for cell in nb["cells"]:
                meta = cell.get("metadata", {}).get("nbgrader", {})
                gid = meta.get("grade_id")
                if not meta.get("solution") or gid not in by_grade_id:
                    continue
                if kind == "partial" and gid in keep_stub:
                    continue
                text = text_of(by_grade_id[gid])
                if _NBG_MARKER.search(text):
                    text = "\n".join(ln for ln in text.splitlines() if not _NBG_MARKER.search(ln))
                set_text(cell, text)
        folder = course / "submitted" / kind / "ps"
        write_nb(folder / f"{stem}.ipynb", nb)
        copy_siblings(entry, src_dir, folder)
    code, out = run([str(bindir / "nbgrader"), "autograde", "ps", "--force"], course)
    res["autograde"] = stage(code, out, 2500)
    code, out = run(
        [str(bindir / "python"), "-c", _NBG_READ, str(course), stem, *SUBMISSIONS], course
    )
    grades = json.loads(out.strip().splitlines()[-1]) if code == 0 else {}
    for kind in SUBMISSIONS:
        graded = course / "autograded" / kind / "ps" / f"{stem}.ipynb"
        errors = {}
        if graded.exists():
            for cell in read_nb(graded)["cells"]:
                gid = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
                if gid and cell.get("cell_type") == "code":
                    errors[gid] = first_error(cell.get("outputs", []))
        per: dict[str, Any] = {}
        manual = 0.0
        for gid, g in grades.get(kind, {}).items():
            if "score" not in g:  # the submission itself was not found
                continue
            exercise = layout["test_exercise"].get(gid)
            if exercise is None:
                manual += g["max"]
                continue
            slot = per.setdefault(exercise, {"score": 0.0, "max": 0.0, "failing": []})
            slot["score"] += g["score"]
            slot["max"] += g["max"]
            if g["score"] < g["max"]:
                slot["failing"].append({"test": gid, "message": errors.get(gid, "")})
        res["scores"][kind] = {"exercises": per, "unmapped_max": manual}
    return res


# ---------------------------------------------------------------- otter


def otter_side(
    entry: dict[str, Any], src_dir: Path, work: Path, bindir: Path, layout: dict[str, Any],
    cell_timeout: float,
) -> dict[str, Any]:  # fmt: skip
    # a copy of the whole tree: a master may name files above its folder (config_file: ../..)
    tree = work / "otter-tree"
    shutil.copytree(entry["root"], tree)
    # a file the corpus could not fetch (over the mirror's size limit) but that the master lists
    # under `files:` would stop otter assign; an empty stand-in lets it run (no cell reads them)
    for missing in entry.get("missing", []):
        (tree / missing).parent.mkdir(parents=True, exist_ok=True)
        (tree / missing).touch()
    folder = tree / entry.get("dir", ".")
    res: dict[str, Any] = {"scores": {}}
    code, out = run(
        [str(bindir / "otter"), "assign", "--no-run-tests", "--no-pdfs", entry["notebook"], "dist"],
        folder,
    )
    res["assign"] = stage(code, out, 2500)
    if code != 0:
        return res
    solution = read_nb(folder / "dist" / "autograder" / entry["notebook"])
    stub = read_nb(folder / "dist" / "student" / entry["notebook"])
    zips = sorted((folder / "dist" / "autograder").glob("*.zip"))
    if not zips:
        res["assign"] = {"ok": False, "output": "otter assign wrote no autograder zip"}
        return res
    questions = {q: ex for q, ex in layout["questions"].items() if q}
    first = layout["exercises"][0] if layout.get("exercises") else None
    first_q = next((q for q, ex in questions.items() if ex == first), None)
    # the learner's version of a cell: same position when both notebooks have the same cells,
    # else the student cell with the same id (the autograder copy keeps written answers)
    same = len(solution["cells"]) == len(stub["cells"])
    stub_by_id = {c.get("id"): c for c in stub["cells"]}
    partial = json.loads(json.dumps(solution))
    start = 0
    for i, cell in enumerate(solution["cells"]):
        m = re.search(r"grader\.check\(\s*['\"]([^'\"]+)['\"]", text_of(cell))
        if m:
            if m.group(1) == first_q:
                for j in range(start, i):
                    learner = (
                        stub["cells"][j] if same else stub_by_id.get(solution["cells"][j].get("id"))
                    )
                    if learner is not None and text_of(learner) != text_of(solution["cells"][j]):
                        partial["cells"][j] = learner
            start = i + 1
    subs = {"solution": solution, "stub": stub, "partial": partial}
    for kind, nb in subs.items():
        sub_dir = work / "otter-submissions" / kind
        write_nb(sub_dir / entry["notebook"], nb)
        copy_siblings(entry, src_dir, sub_dir)
        (sub_dir / "out").mkdir()
        code, out = run(
            [
                str(bindir / "otter"), "run", "-a", str(zips[-1]), "-o", str(sub_dir / "out"),
                "--no-logo", entry["notebook"],
            ],
            sub_dir,
        )  # fmt: skip
        results = sub_dir / "out" / "results.json"
        per: dict[str, Any] = {}
        if results.exists():
            data = json.loads(results.read_text())
            for t in data.get("tests", []):
                exercise = questions.get(t["name"], t["name"])
                slot = per.setdefault(exercise, {"score": 0.0, "max": 0.0, "failing": []})
                slot["score"] += float(t.get("score") or 0)
                slot["max"] += float(t.get("max_score") or 0)
                if float(t.get("score") or 0) < float(t.get("max_score") or 0):
                    slot["failing"].append(
                        {"test": t["name"], "message": (t.get("output") or "")[:400]}
                    )
        res["scores"][kind] = {"exercises": per, "ok": results.exists(), "output": out[-1500:]}
    return res


# ---------------------------------------------------------------- one notebook, the whole corpus


def one(
    args: tuple[dict[str, Any], Path, float, bool, Path, dict[str, str], dict[str, Any] | None],
) -> dict[str, Any]:
    entry, corpus, cell_timeout, tools, cache, given, earlier = args
    start = time.perf_counter()
    entry = {**entry, "root": str(corpus / entry["name"])}
    src_dir = corpus / entry["name"] / entry.get("dir", ".")
    with tempfile.TemporaryDirectory(prefix=f"parity-{entry['name']}-") as name:
        work = Path(name)
        out: dict[str, Any] = {"name": entry["name"], "kind": entry["kind"], "entry": entry}
        try:
            out["eduproject"] = eduproject_side(entry, src_dir, work, cell_timeout)
        except Exception as exc:  # a crash of the harness is a row, not the end of the run
            out["eduproject"] = {"crash": f"{type(exc).__name__}: {exc}"}
        layout = out["eduproject"].get("layout")
        reusable = earlier is not None and earlier.get("eduproject", {}).get("layout") == layout
        if tools and layout is not None and reusable and "crash" not in earlier[entry["kind"]]:
            # The original tool's side of an earlier run on the same lesson layout (so the same
            # three submissions): it does not change with eduproject's code.
            out[entry["kind"]] = {**earlier[entry["kind"]], "reused": True}
        elif tools and layout is not None:
            tool = entry["kind"]
            try:
                bindir = tool_bin(tool, cache, given)
                side = nbgrader_side if tool == "nbgrader" else otter_side
                out[tool] = side(entry, src_dir, work, bindir, layout, cell_timeout)
            except Exception as exc:
                out[tool] = {"crash": f"{type(exc).__name__}: {exc}"}
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def compare(row: dict[str, Any]) -> list[dict[str, Any]]:
    """One line per submission and exercise: points under both tools, and whether they agree."""
    edu = row["eduproject"].get("scores", {})
    theirs = row.get(row["kind"], {}).get("scores", {})
    lines = []
    for kind in SUBMISSIONS:
        ours_ex = edu.get(kind, {}).get("exercises", {})
        their_ex = theirs.get(kind, {}).get("exercises", {})
        for ex in row["eduproject"].get("layout", {}).get("exercises", []):
            a, b = ours_ex.get(ex), their_ex.get(ex)
            agree = a is not None and b is not None and abs(a["score"] - b["score"]) < 1e-6
            line = {
                "submission": kind,
                "exercise": ex,
                "eduproject": None if a is None else a["score"],
                "tool": None if b is None else b["score"],
                "max": (a or b or {}).get("max"),
                "agree": agree,
            }
            if not agree:
                line["eduproject_reason"] = _reason(a, edu.get(kind, {}))
                line["tool_reason"] = _reason(b, {})
            lines.append(line)
    return lines


def _reason(slot: dict[str, Any] | None, sub: dict[str, Any]) -> str:
    if slot is None:
        return sub.get("detail") or "not graded"
    if slot.get("failing"):
        f = slot["failing"][0]
        first = f"{f['test']}: {f.get('message') or '(no message)'}"
        # the cell error that broke the exercise (e.g. a data file missing) says more
        return f"[cell] {slot['detail']}; [test] {first}" if slot.get("detail") else first
    if slot["score"] >= slot["max"] - 1e-9:
        return "every test passes"
    return slot.get("detail", "") or f"status {slot.get('status', '?')}"


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def ok(row: dict[str, Any], stage: str) -> bool:
        return bool((row["eduproject"].get(stage) or {}).get("ok"))

    def full(scores: dict[str, Any], exercises: list[str]) -> bool:
        per = scores.get("solution", {}).get("exercises", {})
        return bool(exercises) and all(
            ex in per and per[ex]["score"] >= per[ex]["max"] - 1e-9 for ex in exercises
        )

    out = {
        "notebooks": len(rows),
        "imported": sum(ok(r, "import") for r in rows),
        "released": sum(ok(r, "release") for r in rows),
        "validated": sum(ok(r, "validate") for r in rows),
        "with_exercises": sum(
            bool(r["eduproject"].get("layout", {}).get("exercises")) for r in rows
        ),
    }

    def points_at_stake(row: dict[str, Any]) -> bool:
        sides = [row["eduproject"], row.get(row["kind"], {})]
        return any(
            slot["max"] > 0
            for side in sides
            for slot in side.get("scores", {}).get("solution", {}).get("exercises", {}).values()
        )

    # lessons whose tests carry points (introPy's self-check cells are all worth 0)
    graded = [r for r in rows if r["eduproject"].get("layout", {}).get("exercises")]
    graded = [r for r in graded if points_at_stake(r)]
    out["with_points"] = len(graded)
    out["solution_full_eduproject"] = sum(
        full(r["eduproject"].get("scores", {}), r["eduproject"]["layout"]["exercises"])
        for r in graded
    )
    out["solution_full_tool"] = sum(
        full(r.get(r["kind"], {}).get("scores", {}), r["eduproject"]["layout"]["exercises"])
        for r in graded
    )
    out["solution_full_eduproject_of_validated"] = sum(
        full(r["eduproject"].get("scores", {}), r["eduproject"]["layout"]["exercises"])
        for r in graded
        if ok(r, "validate")
    )
    out["validated_with_points"] = sum(ok(r, "validate") for r in graded)
    cells = [line for r in rows for line in r.get("comparison", [])]
    out["question_rows"] = len(cells)
    out["question_rows_agree"] = sum(c["agree"] for c in cells)
    return out


def fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:g}"


def print_row(row: dict[str, Any]) -> None:
    edu = row["eduproject"]
    stages = " ".join(
        f"{s}={'ok' if (edu.get(s) or {}).get('ok') else 'FAIL'}"
        for s in ("import", "release", "validate")
    )
    print(
        f"\n== {row['name']} ({row['kind']}, {row['entry']['university']}) {stages}  {row['seconds']} s"
    )
    if "crash" in edu:
        print(f"   harness crash: {edu['crash']}")
    tool = row.get(row["kind"], {})
    if "crash" in tool:
        print(f"   {row['kind']} side crashed: {tool['crash']}")
    if tool.get("reused"):
        print(f"   {row['kind']} side: from the earlier run (same lesson layout, same submissions)")
    for stage in ("generate", "assign", "autograde"):
        if stage in tool and not tool[stage]["ok"]:
            print(f"   {row['kind']} {stage} failed: {tool[stage]['output'][-300:]}")
    print(
        f"   {'submission':10} {'question':34} {'eduproject':>10} {row['kind']:>10} {'max':>6}  agree"
    )
    for line in row.get("comparison", []):
        print(
            f"   {line['submission']:10} {line['exercise'][:34]:34} {fmt(line['eduproject']):>10}"
            f" {fmt(line['tool']):>10} {fmt(line['max']):>6}  {'yes' if line['agree'] else 'NO'}"
        )
        if not line["agree"]:
            print(f"      eduproject: {line['eduproject_reason'][:220]}")
            print(f"      {row['kind']}: {line['tool_reason'][:220]}")


def print_summary(total: dict[str, Any]) -> None:
    print(
        f"\n{total['notebooks']} notebooks: {total['imported']} import, {total['released']} release, "
        f"{total['validated']} validate; {total['with_points']} have auto-graded questions worth "
        "points.\n"
        f"Instructor's solution earns full marks: eduproject {total['solution_full_eduproject']}"
        f"/{total['with_points']} (of those that validate: "
        f"{total['solution_full_eduproject_of_validated']}/{total['validated_with_points']}), "
        f"original tool {total['solution_full_tool']}/{total['with_points']}.\n"
        f"Per-question agreement: {total['question_rows_agree']}/{total['question_rows']} rows "
        "(3 submissions x questions)."
    )


def markdown(rows: list[dict[str, Any]], total: dict[str, Any]) -> str:
    """The results as Markdown: one line per notebook, then every disagreement with its reason."""

    def points(side: dict[str, Any], kind: str, exercises: list[str]) -> str:
        per = side.get("scores", {}).get(kind, {}).get("exercises", {})
        if not per:
            return "-"
        got = sum(per[e]["score"] for e in exercises if e in per)
        return f"{got:g}/{sum(per[e]['max'] for e in exercises if e in per):g}"

    out = [
        "| notebook | course | kind | import | release | validate | questions | "
        "solution (edu / tool) | stub (edu / tool) | partial (edu / tool) | rows agree |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        edu = row["eduproject"]
        tool = row.get(row["kind"], {})
        exercises = edu.get("layout", {}).get("exercises", [])
        flags = [
            "ok" if (edu.get(s) or {}).get("ok") else "**fail**"
            for s in ("import", "release", "validate")
        ]
        cells = [f"{points(edu, k, exercises)} / {points(tool, k, exercises)}" for k in SUBMISSIONS]
        agree = sum(line["agree"] for line in row["comparison"])
        out.append(
            f"| `{row['name']}` | {row['entry']['university']} | {row['kind']} | "
            f"{' | '.join(flags)} | {len(exercises)} | {' | '.join(cells)} | "
            f"{agree}/{len(row['comparison'])} |"
        )
    out += [
        "",
        f"{total['notebooks']} notebooks: {total['imported']} import, {total['released']} release, "
        f"{total['validated']} validate; {total['with_points']} have auto-graded questions worth "
        f"points. The instructor's solution earns full marks with eduproject in "
        f"{total['solution_full_eduproject']}/{total['with_points']} of those "
        f"({total['solution_full_eduproject_of_validated']}/{total['validated_with_points']} of "
        f"those that validate), with the original tool in {total['solution_full_tool']}/"
        f"{total['with_points']}. Per question and submission, the scores agree in "
        f"{total['question_rows_agree']}/{total['question_rows']} rows.",
        "",
        "### Disagreements",
        "",
        "| notebook | submission | question | eduproject | tool | max | eduproject's first failing"
        " test | the tool's |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def cell(text: str) -> str:
        return text.replace("|", "\\|").replace("\n", " ")[:160]

    for row in rows:
        for line in row["comparison"]:
            if not line["agree"]:
                out.append(
                    f"| `{row['name']}` | {line['submission']} | `{line['exercise']}` | "
                    f"{fmt(line['eduproject'])} | {fmt(line['tool'])} | {fmt(line['max'])} | "
                    f"{cell(line['eduproject_reason'])} | {cell(line['tool_reason'])} |"
                )
    return "\n".join(out) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--corpus", type=Path, required=True, help="from benchmarks/parity/corpus.py"
    )
    parser.add_argument("--only", help="only notebooks whose name contains this")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks in parallel")
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--markdown", type=Path, help="write the tables as Markdown here")
    parser.add_argument(
        "--from-json", type=Path, help="print/convert results of an earlier run, running nothing"
    )
    parser.add_argument("--cell-timeout", type=float, default=30)
    parser.add_argument("--no-tools", action="store_true", help="eduproject side only")
    parser.add_argument("--tool-cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--tool-python", default="", help="e.g. nbgrader=/path/bin/python")
    parser.add_argument(
        "--tools-from",
        type=Path,
        help="reuse the original tools' results of an earlier --json run where a notebook's "
        "lesson layout (hence its submissions) is unchanged",
    )
    args = parser.parse_args()
    if args.from_json:
        earlier = json.loads(args.from_json.read_text())
        rows = earlier["rows"]
        for row in rows:
            row["comparison"] = compare(row)
            print_row(row)
        total = summary(rows)
        print_summary(total)
        if args.markdown:
            args.markdown.write_text(markdown(rows, total))
        return
    given = dict(p.split("=", 1) for p in args.tool_python.split(",") if p)
    manifest = json.loads((args.corpus / "manifest.json").read_text())
    entries = [e for e in manifest["corpus"] if not args.only or args.only in e["name"]]
    if not entries:
        sys.exit(f"no notebook in {args.corpus} matches {args.only!r}")
    if not args.no_tools:  # build the tool environments once, before the workers need them
        for tool in sorted({e["kind"] for e in entries}):
            print(f"tool environment for {tool}: {tool_bin(tool, args.tool_cache, given)}")
    before: dict[str, Any] = {}
    if args.tools_from:
        before = {
            row["name"]: row
            for row in json.loads(args.tools_from.read_text())["rows"]
            if isinstance(row.get(row["kind"]), dict)
        }
    jobs = [
        (
            e,
            args.corpus,
            args.cell_timeout,
            not args.no_tools,
            args.tool_cache,
            given,
            before.get(e["name"]),
        )
        for e in entries
    ]
    rows: list[dict[str, Any]] = []
    order = {e["name"]: i for i, e in enumerate(entries)}
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for future in as_completed([pool.submit(one, job) for job in jobs]):
            row = future.result()
            row["comparison"] = compare(row)
            print_row(row)
            rows.append(row)
            rows.sort(key=lambda r: order[r["name"]])
            if args.json:  # after every notebook, so a long run can be read while it goes
                args.json.write_text(json.dumps({"summary": summary(rows), "rows": rows}, indent=1))
    total = summary(rows)
    print_summary(total)
    if args.json:
        args.json.write_text(json.dumps({"summary": total, "rows": rows}, indent=1))
        print(f"results written to {args.json}")
    if args.markdown:
        args.markdown.write_text(markdown(rows, total))


if __name__ == "__main__":
    main()
