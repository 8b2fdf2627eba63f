"""`make bench`: every benchmark at a small size, then one table of measured figures beside their targets.

Each benchmark runs in its own process (fresh imports, its own database) and appends its figures to
the file named by $BENCH_FIGURES. Sizes are small so the whole run stays within a few minutes; run a
script alone for the full-size figures (see docs/performance.md).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import FIGURES_ENV, REPO_ROOT, load_note, print_table

SMALL_RUNS: list[tuple[str, list[str]]] = [
    ("benchmarks.orchestrator_overhead", ["--rounds", "9"]),
    ("benchmarks.runner_path", ["--rounds", "30"]),
    ("benchmarks.cold_start", []),
    ("benchmarks.history", ["--rows", "20000", "--samples", "200"]),
    ("benchmarks.queue_throughput", ["--requests", "100"]),
    ("benchmarks.runner_overhead", ["--rounds", "3"]),
    ("benchmarks.shards", ["--rounds", "1", "--fixed-rounds", "3"]),
]


def main() -> int:
    started = time.monotonic()
    load_before = load_note()
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="testgenie-bench-") as folder:
        figures_path = Path(folder) / "figures.jsonl"
        figures_path.touch()
        env = {**os.environ, FIGURES_ENV: str(figures_path)}
        for module, args in SMALL_RUNS:
            if not (REPO_ROOT / (module.replace(".", "/") + ".py")).exists():
                failures.append(f"{module}: missing")
                continue
            print(f"\n=== {module} {' '.join(args)}", flush=True)
            done = subprocess.run([sys.executable, "-m", module, *args], cwd=REPO_ROOT, env=env, check=False)
            if done.returncode != 0:
                failures.append(f"{module}: exit {done.returncode}")
        figures = [json.loads(line) for line in figures_path.read_text().splitlines() if line.strip()]
    rows = [
        [f["benchmark"], f["metric"], f"{f['value']:g}", f["target"], "yes" if f["met"] else "NO"]
        for f in figures
    ]
    print_table(
        f"make bench — {platform.node()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {time.monotonic() - started:.0f} s; "
        f"at the start {load_before}, at the end {load_note()}",
        ["benchmark", "figure", "measured", "target", "met"],
        rows,
    )
    for failure in failures:
        print(f"benchmark did not run: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
