"""Run every benchmark in one go (`make bench`), then the figures of issue 13 side by side.

    python benchmarks/run_all.py                  # the quick versions (about 6 minutes)
    python benchmarks/run_all.py --full           # the long ones (1,000-submission RSS, 5-minute load)
    python benchmarks/run_all.py --fresh-clone    # also time `make demo` and `make test` on fresh
                                                  # clones with empty pip and uv caches (15+ minutes)
    python benchmarks/run_all.py --fresh-clone demo   # only `make demo`

Each benchmark prints its own side-by-side figures; the closing table puts every figure next
to its anchor (nbgrader on the same submissions) or goal, with the load average. Figures that
take too long for every run (the fresh-clone ones) are measured only with ``--fresh-clone``,
which records them in ``benchmarks/recorded.json``; otherwise the table shows the last recorded
ones, marked as recorded with their date and load.

Benchmarks are not tests: the machine is shared and noisy, so read the figures, compare the
ratios measured side by side in the same run, and do not assert on them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RECORDED = HERE / "recorded.json"


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.1f} {five:.1f} {fifteen:.1f}"


def run_script(script: str, *options: str) -> bool:
    print(f"\n===== {script} {' '.join(options)}   (load average {load()})", flush=True)
    done = subprocess.run([sys.executable, str(HERE / script), *options], check=False)
    return done.returncode == 0


def timed_make(target: str, env: dict[str, str]) -> dict[str, Any]:
    """``make TARGET`` in a fresh clone of this checkout's HEAD, with its own empty pip and uv
    caches (nothing downloaded or built before counts)."""
    with tempfile.TemporaryDirectory(prefix=f"eduproject-fresh-{target}-") as name:
        clone = Path(name) / "eduproject"
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        before = load()
        started = time.perf_counter()
        log = Path(name) / "make.log"
        with log.open("w") as out:
            done = subprocess.run(
                ["make", target],
                cwd=clone,
                env={
                    **env,
                    "PIP_CACHE_DIR": str(Path(name) / "pip-cache"),
                    "UV_CACHE_DIR": str(Path(name) / "uv-cache"),
                },
                stdout=out,
                stderr=subprocess.STDOUT,
                check=False,
            )
        took = time.perf_counter() - started
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=clone, capture_output=True, text=True
        ).stdout.strip()
        if done.returncode:
            print(f"make {target} failed ({done.returncode}); its log ends:")
            print("\n".join(log.read_text(errors="replace").splitlines()[-30:]))
    return {
        "seconds": round(took, 1),
        "ok": done.returncode == 0,
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_start": before,
        "load_end": load(),
        "commit": commit,
        "command": f"git clone; PIP_CACHE_DIR=<empty> UV_CACHE_DIR=<empty> make {target}",
    }


def fresh_clone(targets: list[str]) -> dict[str, Any]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VIRTUAL_ENV", "PIP_CACHE", "UV_CACHE"))
    }
    figures = {}
    for target in targets:
        print(f"\n===== make {target} on a fresh clone   (load average {load()})", flush=True)
        figures[f"fresh_clone_make_{target}"] = timed_make(target, env)
        print(json.dumps(figures[f"fresh_clone_make_{target}"], indent=2))
    recorded = json.loads(RECORDED.read_text()) if RECORDED.exists() else {}
    recorded.update(figures)
    RECORDED.write_text(json.dumps(recorded, indent=2) + "\n", encoding="utf-8")
    return figures


def minutes(seconds: float) -> str:
    return f"{int(seconds // 60)} min {seconds % 60:02.0f} s"


def table(grading: dict[str, Any], gateway: dict[str, Any], fresh: dict[str, Any]) -> None:
    """The rows of issue 13's table: this run's figure next to its anchor or goal."""
    rows: list[tuple[str, str, str, str]] = []
    if grading:
        n, workers = grading["nbgrader_s_per_sub"], grading["workers"]
        n_calm = grading["nbgrader_no_loop_s_per_sub"]
        calm, loop = grading["no_loop_s_per_sub"], grading["loop_s_per_sub"]
        cpu = grading["no_loop_cpu_per_sub"]
        rows += [
            (
                "nbgrader autograde, s/submission (one endless loop)",
                f"{n:.3f}",
                "(the anchor)",
                "2.52",
            ),
            ("nbgrader autograde, s/submission (no loop)", f"{n_calm:.3f}", "(the anchor)", "-"),
            (
                f"eduproject grade --workers {workers}, no loop, s/submission (median of 3)",
                f"{calm:.3f} ({n_calm / calm:.1f}x nbgrader, no loop)",
                ">= 30x nbgrader",
                "-",
            ),
            (
                f"eduproject grade --workers {workers}, one endless loop, s/submission",
                f"{loop:.3f} ({n / loop:.1f}x nbgrader)",
                "-",
                "0.607 (4.2x)",
            ),
            (
                "  the loop's extra wall time",
                f"{grading['loop_extra_s']:.2f} s",
                f"<= cell timeout + 1.5 = {grading['cell_timeout'] + 1.5:g} s",
                "-",
            ),
            (
                "eduproject CPU per submission (no loop)",
                f"{cpu:.3f} s",
                f"(nbgrader {grading['nbgrader_no_loop_cpu_per_sub']:.3f} s)",
                "0.069 s",
            ),
            (
                "  wall / CPU per worker (no loop)",
                f"{calm * workers / cpu:.1f}x",
                "<= 2x",
                "~10x",
            ),
            (
                "  wall / CPU per worker (one loop)",
                f"{loop * workers / grading['loop_cpu_per_sub']:.1f}x",
                "-",
                "-",
            ),
            ("pandas lesson, s/submission", f"{grading['pandas_s_per_sub']:.3f}", "< 0.3", "0.705"),
            (
                "one submission end to end (grade on a folder of 1)",
                f"{grading['one_submission_s']:.2f} s (median of 3)",
                "< 1 s",
                "2.0 s",
            ),
        ]
    for target, goal, then in (("test", "< 15 min", "33 min"), ("demo", "< 60 s", "1 min 41 s")):
        fig = fresh.get(f"fresh_clone_make_{target}")
        if fig is None:
            shown = "not measured (run with --fresh-clone)"
        else:
            shown = minutes(fig["seconds"]) + ("" if fig["ok"] else " (FAILED)")
            if not fig.get("measured_now"):
                shown += f" [recorded {fig['date']}, load {fig['load_start']}]"
        rows.append((f"first `make {target}` on a fresh clone", shown, goal, then))
        if target == "test":
            rows += _llama_build_rows(fresh)
    if gateway:
        added = gateway["added_ms"]["p95"]
        rows.append(
            (
                "gateway, 500 learners, 1 process, p95 added",
                f"{added:.0f} ms ({gateway.get('errors', 0)} errors)",
                "<= 50 ms",
                "80-96 ms",
            )
        )
    width = max(len(r[0]) for r in rows)
    print(f"\n===== issue 13's figures, this run   (load average now {load()})")
    print(f"{'figure':{width}}  {'this run':44}  {'anchor / goal':32}  when filed")
    for figure, now, goal, then in rows:
        print(f"{figure:{width}}  {now:44}  {goal:32}  {then}")
    if grading:
        starts = grading["load_start"]
        print(
            f"grading load average: {starts[0]:.1f} at start, {grading['load_end'][0]:.1f} at the end"
        )
        print("grading phases, ms per submission (no loop | one loop | pandas | one submission):")
        labels = list(
            dict.fromkeys(
                [*grading["phases_no_loop"], *grading["phases_loop"], *grading["phases_pandas"]]
            )
        )
        for label in labels:
            values = [
                grading[k].get(label)
                for k in ("phases_no_loop", "phases_loop", "phases_pandas", "phases_one")
            ]
            print(
                f"  {label:32s} "
                + " | ".join("      -" if v is None else f"{v:7.1f}" for v in values)
            )
    if gateway:
        print(
            f"gateway: {gateway['gateway_cpu_ms_per_request']:.1f} ms CPU per hint, "
            f"p50 added {gateway['added_ms']['p50']:.0f} ms, load average "
            f"{gateway['load_average_1min']:.1f} at its end"
        )


def _llama_build_rows(fresh: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """The llama-cpp-python build (recorded): the Makefile's trimmed build vs the default."""
    build = fresh.get("llama_cpp_python_build")
    if not build:
        return []
    slim, default = build["slim"], build["default"]
    return [
        (
            "  of which llama-cpp-python from source",
            f"{slim['cpu_s'] / 60:.1f} min CPU, {slim['wall_s'] / 60:.1f} min wall "
            f"[recorded {build['date']}, load {slim['load_start']}]",
            f"default build {default['cpu_s'] / 60:.1f} min CPU, "
            f"{default['wall_s'] / 60:.1f} min wall",
            "20 min",
        )
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the long versions")
    parser.add_argument(
        "--fresh-clone",
        nargs="?",
        const="demo,test",
        metavar="TARGETS",
        help="also time `make demo` and `make test` (or only the comma-separated TARGETS) on "
        "fresh clones with empty pip and uv caches, and record the figures",
    )
    parser.add_argument(
        "--only",
        help="comma-separated subset: grading,router,completion,gateway (default: all)",
    )
    args = parser.parse_args()
    only = (
        set(args.only.split(",")) if args.only else {"grading", "router", "completion", "gateway"}
    )
    print(f"{os.cpu_count()} cores, load average {load()} at start", flush=True)
    failed = []
    with tempfile.TemporaryDirectory(prefix="eduproject-bench-figures-") as name:
        out = Path(name)
        if "grading" in only and not run_script(
            "grading.py",
            "--submissions",
            "20",
            "--json",
            str(out / "grading.json"),
            *(["--rss", "1000"] if args.full else []),
        ):
            failed.append("grading.py")
        if "router" in only and not run_script("router_overhead.py", "--requests", "300"):
            failed.append("router_overhead.py")
        if "completion" in only and not run_script("completion_latency.py", "--requests", "200"):
            failed.append("completion_latency.py")
        if "gateway" in only and not run_script(
            "gateway_load.py",
            "--duration",
            "300" if args.full else "60",
            "--json",
            str(out / "gateway.json"),
        ):
            failed.append("gateway_load.py")
        grading = _read(out / "grading.json")
        gateway = _read(out / "gateway.json")
    fresh = json.loads(RECORDED.read_text()) if RECORDED.exists() else {}
    if args.fresh_clone:
        measured = fresh_clone(args.fresh_clone.split(","))
        fresh |= {k: {**v, "measured_now": True} for k, v in measured.items()}
    table(grading, gateway, fresh)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


def _read(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.exists() else {}


if __name__ == "__main__":
    if shutil.which("make") is None and "--fresh-clone" in sys.argv:
        sys.exit("--fresh-clone needs make")
    sys.exit(main())
