"""Orchestrator overhead: an 11-phase scenario whose commands are `true`, against bare subprocess.run.

Prints the ratio of the orchestrator's wall time (plan, private workspace copy, scrubbed env, process
groups, logs written to the artifact store, results) to running the same 11 commands with plain
`subprocess.run(..., shell=True)` in the same process. Target: <= 2.0. Medians of several rounds,
so one slow fork does not decide the number.

    .venv/bin/python benchmarks/orchestrator_overhead.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "layers" / "core"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from testgenie.artifacts import LocalArtifactStore
from testgenie.orchestrator.models import SuitePlan
from testgenie.orchestrator.planning.catalog import PHASE_NAMES
from testgenie.orchestrator.run.engine import InProcessPhases, SuiteOrchestrator
from testgenie.orchestrator.sources.local import LocalScenarioSource

from benchmarks.common import record_figure

TARGET = 2.0
COMMAND = "true"


def make_scenario(root: Path) -> None:
    folder = root / "bench"
    (folder / ".testgenie").mkdir(parents=True)
    config = {"phases": {name: {"commands": [COMMAND]} for name in PHASE_NAMES}}
    (folder / ".testgenie" / "testing.json").write_text(json.dumps(config))


def bare(commands: int) -> float:
    started = time.perf_counter()
    for _ in range(commands):
        subprocess.run(COMMAND, shell=True, check=True)  # noqa: S602 - the baseline runs the same shell line
    return time.perf_counter() - started


def orchestrated(engine: SuiteOrchestrator) -> float:
    started = time.perf_counter()
    result = engine.execute(SuitePlan(scenario_name="bench"), uuid.uuid4())
    elapsed = time.perf_counter() - started
    if not result.success or len(result.phases) != len(PHASE_NAMES):
        raise SystemExit(f"benchmark scenario did not pass: {result.to_json_dict()}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="testgenie-bench-") as tmp:
        root = Path(tmp)
        make_scenario(root / "scenarios")
        scenarios, artifacts = LocalScenarioSource(root / "scenarios"), LocalArtifactStore(root / "artifacts")
        executor = InProcessPhases(scenarios, artifacts, workspace_parent=root)
        engine = SuiteOrchestrator(scenarios, artifacts, executor=executor)
        orchestrated(engine)  # warm-up: imports, page cache
        bare(len(PHASE_NAMES))
        engine_times, bare_times = [], []
        for _ in range(args.rounds):  # interleaved, so machine noise hits both alike
            engine_times.append(orchestrated(engine))
            bare_times.append(bare(len(PHASE_NAMES)))
    engine_median = statistics.median(engine_times)
    bare_median = statistics.median(bare_times)
    ratio = engine_median / bare_median
    print(f"phases per run:        {len(PHASE_NAMES)} (command: {COMMAND})")
    print(f"rounds:                {args.rounds}")
    print(f"orchestrator (median): {engine_median * 1000:.1f} ms")
    print(f"bare subprocess.run:   {bare_median * 1000:.1f} ms")
    print(f"ratio:                 {ratio:.2f} (target <= {TARGET})")
    record_figure(
        "orchestrator overhead",
        "11 phases of `true`: orchestrator/bare",
        ratio,
        f"<= {TARGET}",
        ratio <= TARGET,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
