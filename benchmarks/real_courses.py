"""Real courses as they are: does each corpus notebook import, release, validate, and does the
instructor's solution earn full marks on its auto-graded questions?

For each notebook of a materialised corpus (``benchmarks/parity/corpus.py --out DIR``), through
eduproject's public CLI only, as a new instructor would:

1. ``eduproject import nbgrader|otter SRC -o exercises/NAME``: the importer brings the files
   beside SRC along itself (nothing is copied by this script);
2. ``eduproject release``, then ``eduproject validate``;
3. ``eduproject grade`` of one submission, the instructor's solution (the released learner
   notebook with every solution region put back), read back from the gradebook: full marks
   means every auto-graded exercise earns its maximum;
4. the manually graded questions of the source (nbgrader manually graded answers and tasks,
   otter ``manual: true`` questions), counted in the source notebook.

    .venv/bin/python benchmarks/real_courses.py --corpus /work/corpus [--only NAME] [--jobs N]
        [--json OUT] [--markdown OUT] [--cell-timeout S]

``--from-json OUT --markdown MD`` re-renders an earlier run. The original tools are not run
here (``benchmarks/parity.py`` compares with them).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from parity import BIN, edu_submissions, read_nb, run, stage, text_of, write_nb

_V0_QUESTION = re.compile(r"^\s*BEGIN QUESTION\s*$", re.MULTILINE | re.IGNORECASE)


def manual_questions(kind: str, notebook: dict[str, Any]) -> int:
    """Manually graded questions in a source notebook, counted as its tool counts them."""
    count = 0
    for cell in notebook.get("cells", []):
        meta = cell.get("metadata", {}).get("nbgrader")
        if kind == "nbgrader" and isinstance(meta, dict):
            count += bool(meta.get("task") or (meta.get("grade") and meta.get("solution")))
        elif kind == "otter":
            text = text_of(cell)
            first = text.split("\n", 1)[0].strip().lower()
            v1 = cell.get("cell_type") == "raw" and re.match(r"#\s+begin\s+question\b", first)
            v0 = cell.get("cell_type") == "markdown" and _V0_QUESTION.search(text)
            if (v1 or v0) and re.search(r"^\s*manual:\s*true\s*$", text, re.I | re.M):
                count += 1
    return count


def one(args: tuple[dict[str, Any], Path, float]) -> dict[str, Any]:
    entry, corpus, cell_timeout = args
    start = time.perf_counter()
    src = corpus / entry["name"] / entry.get("dir", ".") / entry["notebook"]
    row: dict[str, Any] = {
        "name": entry["name"],
        "kind": entry["kind"],
        "university": entry.get("university", ""),
        "manual": manual_questions(entry["kind"], read_nb(src)),
    }
    eduproject = str(BIN / "eduproject")
    with tempfile.TemporaryDirectory(prefix=f"courses-{entry['name']}-") as name:
        work = Path(name)
        lesson = work / "exercises" / entry["name"]
        code, out = run([eduproject, "import", entry["kind"], str(src), "-o", str(lesson)], work)
        row["import"] = stage(code, out, 6000)
        if code != 0:
            return _done(row, start)
        row["files"] = sum(1 for p in lesson.rglob("*") if p.is_file() and p.suffix != ".ipynb")
        released = work / "notebooks"  # the bundle goes to the course's build/grader/
        code, out = run([eduproject, "release", str(lesson), "-o", str(released)], work)
        row["release"] = stage(code, out)
        if code != 0:
            return _done(row, start)
        code, out = run(
            [eduproject, "validate", str(lesson), "--cell-timeout", str(cell_timeout)], work, 2400
        )
        row["validate"] = stage(code, out, 6000)
        name_ = entry["name"]
        lesson_nb = read_nb(lesson / f"{name_}.ipynb")
        learner = read_nb(released / name_ / f"{name_}.ipynb")
        solution = edu_submissions(lesson_nb, learner)["solution"]
        subs = work / "submissions"
        write_nb(subs / "instructor" / f"{name_}.ipynb", solution)
        db = work / "gradebook.sqlite"
        code, out = run(
            [
                eduproject, "grade", str(lesson), str(subs), "--db", str(db), "--workers", "1",
                "--cell-timeout", str(cell_timeout), "--no-progress",
            ],
            work,
        )  # fmt: skip
        row["grade"] = stage(code, out)
        row["scores"] = _scores(db, name_) if db.exists() else {}
    return _done(row, start)


def _scores(db: Path, lesson: str) -> dict[str, Any]:
    from eduproject.grading.gradebook import Gradebook

    scores: dict[str, Any] = {}
    with Gradebook(db, create=False) as gb:
        for result in gb.results(lesson):
            for ex in result.exercises:
                failing = [f"{t.name}: {t.message[:200]}" for t in ex.tests if not t.passed]
                scores[ex.exercise] = {
                    "manual": ex.manual,  # graded by hand: pending here, not auto-graded
                    "score": ex.score,
                    "max": ex.max_score,
                    "detail": (ex.detail or "")[:300],
                    "failing": failing[:3],
                }
    return scores


def _done(row: dict[str, Any], start: float) -> dict[str, Any]:
    row["seconds"] = round(time.perf_counter() - start, 1)
    return row


def ok(row: dict[str, Any], stage_name: str) -> bool:
    return bool((row.get(stage_name) or {}).get("ok"))


def solution_points(row: dict[str, Any]) -> tuple[float, float]:
    """Points earned / possible on the auto-graded exercises (manual ones wait for a person)."""
    scores = {k: s for k, s in (row.get("scores") or {}).items() if not s.get("manual")}
    return (
        sum(s["score"] for s in scores.values()),
        sum(s["max"] for s in scores.values()),
    )


def full_marks(row: dict[str, Any]) -> bool:
    got, most = solution_points(row)
    return bool(row.get("scores")) and most > 0 and abs(got - most) < 1e-9


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    graded = [r for r in rows if solution_points(r)[1] > 0]
    return {
        "notebooks": len(rows),
        "import": sum(ok(r, "import") for r in rows),
        "release": sum(ok(r, "release") for r in rows),
        "validate": sum(ok(r, "validate") for r in rows),
        "with_points": len(graded),
        "full_marks": sum(full_marks(r) for r in graded),
        "manual": sum(r.get("manual", 0) for r in rows),
        "with_manual": sum(1 for r in rows if r.get("manual")),
    }


def _mark(row: dict[str, Any], stage_name: str) -> str:
    if stage_name not in row:
        return "-"
    return "ok" if ok(row, stage_name) else "**fail**"


def _why(row: dict[str, Any]) -> str:
    """The first reason a stage failed or the solution lost points, in a few words."""
    for stage_name in ("import", "release"):
        if stage_name in row and not ok(row, stage_name):
            return _first_error(row[stage_name]["output"])
    lost = [
        f"{ex}: {(s['failing'] or [s['detail']])[0]}"
        for ex, s in (row.get("scores") or {}).items()
        if s["score"] < s["max"] and not s.get("manual")
    ]
    if lost:
        return f"{len(lost)} lose points; " + lost[0]
    if "validate" in row and not ok(row, "validate"):
        return "validate: " + _first_error(row["validate"]["output"])
    return ""


def _first_error(output: str) -> str:
    """The first error line of a command's output (for validate: its first broken item)."""
    lines = [line.strip() for line in output.splitlines()]
    for index, line in enumerate(lines):
        if line.startswith("error:"):
            broken = line.endswith("is broken:") and index + 1 < len(lines)
            return lines[index + 1] if broken else line
    return lines[-1] if lines else ""


def markdown(rows: list[dict[str, Any]], total: dict[str, Any]) -> str:
    def cell(text: str) -> str:
        text = " ".join(text.split()).replace("|", "\\|")
        return text if len(text) <= 160 else text[:157] + "..."

    out = [
        "| notebook | course | kind | import | files | release | validate | solution (auto-graded) "
        "| full marks | manual questions | first problem |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        got, most = solution_points(row)
        points = f"{got:g}/{most:g}" if row.get("scores") else "-"
        full = "-" if most == 0 else ("yes" if full_marks(row) else "**no**")
        out.append(
            f"| `{row['name']}` | {row['university']} | {row['kind']} | {_mark(row, 'import')} "
            f"| {row.get('files', '-')} | {_mark(row, 'release')} | {_mark(row, 'validate')} "
            f"| {points} | {full} | {row.get('manual', 0)} | {cell(_why(row))} |"
        )
    out.append("")
    out.append(
        f"{total['notebooks']} notebooks: {total['import']} import, {total['release']} release, "
        f"{total['validate']} validate; {total['with_points']} have auto-graded questions worth "
        f"points, and the instructor's solution earns full marks on them in "
        f"{total['full_marks']}/{total['with_points']}; {total['manual']} manually graded "
        f"questions in {total['with_manual']} notebooks."
    )
    return "\n".join(out) + "\n"


def print_row(row: dict[str, Any]) -> None:
    got, most = solution_points(row)
    print(
        f"{row['name']:28} import {_mark(row, 'import'):8} release {_mark(row, 'release'):8} "
        f"validate {_mark(row, 'validate'):8} solution {got:g}/{most:g} manual "
        f"{row.get('manual', 0)} ({row.get('seconds', 0)} s) {_why(row)[:120]}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, help="from benchmarks/parity/corpus.py")
    parser.add_argument("--only", help="only notebooks whose name contains this")
    parser.add_argument("--jobs", type=int, default=1, help="notebooks in parallel")
    parser.add_argument("--json", type=Path, help="write all results here")
    parser.add_argument("--markdown", type=Path, help="write the table as Markdown here")
    parser.add_argument("--from-json", type=Path, help="render an earlier run, running nothing")
    parser.add_argument("--cell-timeout", type=float, default=60)
    args = parser.parse_args()
    if args.from_json:
        rows = json.loads(args.from_json.read_text())["rows"]
    else:
        if args.corpus is None:
            parser.error("--corpus is required (or --from-json)")
        manifest = json.loads((args.corpus / "manifest.json").read_text())
        entries = [e for e in manifest["corpus"] if not args.only or args.only in e["name"]]
        if not entries:
            sys.exit(f"no notebook in {args.corpus} matches {args.only!r}")
        order = {e["name"]: i for i, e in enumerate(entries)}
        rows = []
        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            futures = [pool.submit(one, (e, args.corpus, args.cell_timeout)) for e in entries]
            for future in as_completed(futures):
                row = future.result()
                print_row(row)
                rows.append(row)
                rows.sort(key=lambda r: order[r["name"]])
                if args.json:
                    args.json.write_text(
                        json.dumps({"summary": summary(rows), "rows": rows}, indent=1)
                    )
    total = summary(rows)
    print(json.dumps(total))
    if args.json and not args.from_json:
        args.json.write_text(json.dumps({"summary": total, "rows": rows}, indent=1))
    if args.markdown:
        args.markdown.write_text(markdown(rows, total))


if __name__ == "__main__":
    main()
