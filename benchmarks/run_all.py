"""Run every benchmark in one go (`make bench`); each prints its own side-by-side ratios.

    python benchmarks/run_all.py            # the quick versions
    python benchmarks/run_all.py --full     # the long ones (1,000-submission RSS, 5-minute load)

Benchmarks are not tests: the machine is shared and noisy, so read the figures, compare the
ratios measured side by side in the same run, and do not assert on them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="the long versions")
    args = parser.parse_args()
    runs = [
        ["grading.py", *(["--rss", "1000"] if args.full else [])],
        ["router_overhead.py", "--requests", "300"],
        ["completion_latency.py", "--requests", "200"],
        ["gateway_load.py", "--duration", "300" if args.full else "60"],
    ]
    failed = []
    for script, *options in runs:
        print(f"\n===== {script} {' '.join(options)}", flush=True)
        done = subprocess.run([sys.executable, str(HERE / script), *options], check=False)
        if done.returncode:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
