"""Shards: time-to-result of a phase run as N shards through the local stack, against bare pytest.

Generated suites, each timed interleaved (a bare run, then the stack's run, round after round) so
machine noise hits both alike:

- waiting-bound: 400 tests of ~50 ms, mostly waiting (like integration tests); 8 shards,
  target <= 0.25 x bare sequential `python -m pytest` (moonshot 0.15);
- CPU-bound: 400 tests of ~25 ms of CPU; 2 shards, target <= 0.65 x bare;
- balance: a suite whose longest tests sit together (a tenth of the tests, 10x longer, in one file);
  4 shards; its first run splits by count, from its second run on by the learned durations: the
  longest shard <= 1.15 x the mean shard;
- fixed cost: a 1-test phase asking for 2 shards (collect or cache, decide, run) minus the same
  phase unsharded, target <= 1 s; and a 2-test phase in 2 shards minus unsharded (the fan-out and
  merge of two runner invocations).

Bare pytest runs with the runner's interpreter on the same tree. Time-to-result is from
POST /suite-requests until the request is terminal (polled every 20 ms).

    .venv/bin/python -m benchmarks.shards [--rounds 3] [--fixed-rounds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, fresh_database, load_note, record_figure

WAITING_TARGET, WAITING_MOONSHOT = 0.25, 0.15
CPU_TARGET = 0.65
BALANCE_TARGET = 1.15
FIXED_TARGET_MS = 1000.0
TESTS = 400
FILES = 20

_WAIT_TEST = "def test_{n}():\n    time.sleep(0.05)\n\n"
_CPU_TEST = (
    "def test_{n}():\n    until = time.process_time() + 0.025\n"
    "    while time.process_time() < until:\n        pass\n\n"
)


def _suite(folder: Path, test: str, count: int = TESTS, files: int = FILES) -> None:
    (folder / "tests").mkdir(parents=True)
    (folder / ".testgenie").mkdir()
    (folder / ".testgenie" / "testing.json").write_text(json.dumps({"phases": {"unit": {"timeout": "10m"}}}))
    per_file = count // files
    for f in range(files):
        body = "".join(test.format(n=f * per_file + i) for i in range(per_file))
        (folder / "tests" / f"test_part{f:02}.py").write_text("import time\n\n\n" + body)


def _skewed(folder: Path) -> None:
    """200 tests in 10 files; the 20 long ones (10x) all in the first file."""
    (folder / "tests").mkdir(parents=True)
    (folder / ".testgenie").mkdir()
    (folder / ".testgenie" / "testing.json").write_text("{}")
    for f in range(10):
        wait = 0.2 if f == 0 else 0.02
        body = "".join(f"def test_{f}_{i}():\n    time.sleep({wait})\n\n" for i in range(20))
        (folder / "tests" / f"test_part{f}.py").write_text("import time\n\n\n" + body)


def write_scenarios(root: Path) -> Path:
    _suite(root / "bench-waiting", _WAIT_TEST)
    _suite(root / "bench-cpu", _CPU_TEST)
    _skewed(root / "bench-skewed")
    _suite(root / "bench-one", _WAIT_TEST.replace("0.05", "0.001"), count=1, files=1)
    _suite(root / "bench-two", _WAIT_TEST.replace("0.05", "0.001"), count=2, files=2)
    return root


def _post(api: str, path: str, body: dict[str, Any]) -> Any:
    request = urllib.request.Request(  # noqa: S310 - the local gateway, http only
        f"{api}/api/v1{path}",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 - as above
        return json.loads(answer.read())


def _get(api: str, path: str) -> Any:
    with urllib.request.urlopen(f"{api}/api/v1{path}", timeout=60) as answer:  # noqa: S310
        return json.loads(answer.read())


def through_stack(api: str, scenario: str, shards: int | None) -> tuple[float, dict[str, Any]]:
    """Seconds from the POST until the run ended, and the run's unit phase."""
    body: dict[str, Any] = {"scenarioName": scenario, "phases": ["unit"]}
    if shards is not None:
        body["shards"] = shards
    started = time.perf_counter()
    request = _post(api, "/suite-requests", body)
    while True:
        state = _get(api, f"/suite-requests/{request['id']}")
        if state["status"] in ("completed", "failed", "cancelled"):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    execution = _get(api, f"/executions/{state['executionId']}")
    unit = next(p for p in execution["phases"] if p["name"] == "unit")
    if unit["status"] != "passed":
        raise SystemExit(f"the benchmark run did not pass: {json.dumps(unit)[:2000]}")
    return elapsed, unit


def bare(python: Path, folder: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=folder,
        capture_output=True,
        check=False,
        timeout=900,
    )
    if done.returncode != 0:
        raise SystemExit(f"bare pytest failed in {folder}: {done.stdout[-2000:]!r}")
    return time.perf_counter() - started


def ratio(api: str, python: Path, scenarios: Path, name: str, shards: int, rounds: int) -> dict[str, float]:
    """Median over interleaved rounds of bare and sharded time-to-result (a warm-up round first)."""
    through_stack(api, name, shards)  # warm: the collection is cached, environments started
    plain, sharded = [], []
    for _ in range(rounds):
        plain.append(bare(python, scenarios / name))
        sharded.append(through_stack(api, name, shards)[0])
    return {
        "bare": statistics.median(plain),
        "sharded": statistics.median(sharded),
        "ratio": statistics.median(s / b for s, b in zip(sharded, plain, strict=True)),
    }


def balance(api: str, runs: int) -> list[float]:
    """Longest shard / mean shard of each run of the skewed suite (4 shards)."""
    found = []
    for _ in range(runs):
        _, unit = through_stack(api, "bench-skewed", 4)
        times = [s["durationMs"] for s in unit["shards"]]
        found.append(max(times) / statistics.mean(times))
    return found


def fixed_cost(api: str, rounds: int) -> dict[str, float]:
    """Median extra ms of asking for shards: a 1-test phase (2 asked, 1 run) and a 2-test phase."""
    for scenario in ("bench-one", "bench-two"):  # warm-up, and the collections cached
        through_stack(api, scenario, None)
        through_stack(api, scenario, 2)
    one, two, shard_ms = [], [], []
    for _ in range(rounds):
        one.append(through_stack(api, "bench-one", 2)[0] - through_stack(api, "bench-one", None)[0])
        sharded, unit = through_stack(api, "bench-two", 2)
        two.append(sharded - through_stack(api, "bench-two", None)[0])
        shard_ms.extend(s["durationMs"] for s in unit["shards"])
    return {
        "one test, 2 asked": statistics.median(one) * 1000,
        "two tests, 2 shards": statistics.median(two) * 1000,
        # A shard of one 1 ms test: the per-invocation fixed part, as the coordinator times it.
        "one shard's invocation (1 test)": statistics.median(shard_ms),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fixed-rounds", type=int, default=8)
    parser.add_argument("--only", choices=["waiting", "cpu", "balance", "fixed"], help="one part only")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
    from testgenie_local.runner_venv import ensure_runner_venv
    from testgenie_local.stack import LocalStack, StackOptions

    python = ensure_runner_venv()
    with tempfile.TemporaryDirectory(prefix="testgenie-shards-bench-") as tmp, fresh_database() as url:
        root = Path(tmp)
        scenarios = write_scenarios(root / "scenarios")
        stack = LocalStack(
            StackOptions(
                template=REPO_ROOT / "template.yaml",
                data_dir=root / "data",
                scenarios=scenarios,
                port=0,
                database_url=url,
                say=lambda _line: None,
            )
        )
        load = load_note()
        api = stack.start().api_url
        try:
            if args.only == "waiting":
                figures = ratio(api, python, scenarios, "bench-waiting", 8, args.rounds)
                print(f"waiting-bound: {figures}")
                return 0
            waiting = ratio(api, python, scenarios, "bench-waiting", 8, args.rounds)
            cpu = ratio(api, python, scenarios, "bench-cpu", 2, args.rounds)
            balanced = balance(api, 3)
            fixed = fixed_cost(api, args.fixed_rounds)
        finally:
            stack.stop()
    report(waiting, cpu, balanced, fixed, args.rounds, load)
    return 0


def report(
    waiting: dict[str, float],
    cpu: dict[str, float],
    balanced: list[float],
    fixed: dict[str, float],
    rounds: int,
    load: str,
) -> None:
    print(f"rounds: {rounds} (interleaved, after one warm-up run each); cores: {os.cpu_count()}")
    for name, figures, shards, target in (
        ("waiting-bound", waiting, 8, WAITING_TARGET),
        ("CPU-bound", cpu, 2, CPU_TARGET),
    ):
        print(
            f"{name:14s} bare {figures['bare']:6.2f} s, {shards} shards {figures['sharded']:6.2f} s: "
            f"{figures['ratio']:.3f} x bare (target <= {target:g})"
        )
    print(
        f"balance (longest / mean shard), runs 1..3: {', '.join(f'{b:.3f}' for b in balanced)} "
        f"(target <= {BALANCE_TARGET:g} from run 2)"
    )
    for name, ms in fixed.items():
        print(f"fixed cost, {name}: {ms:.0f} ms (target <= {FIXED_TARGET_MS:g} for one test)")
    print(f"load average during the run: {load} .. {load_note()}")
    record_figure(
        "shards",
        "waiting-bound 8 shards / bare",
        waiting["ratio"],
        f"<= {WAITING_TARGET:g}",
        waiting["ratio"] <= WAITING_TARGET,
    )
    record_figure(
        "shards", "CPU-bound 2 shards / bare", cpu["ratio"], f"<= {CPU_TARGET:g}", cpu["ratio"] <= CPU_TARGET
    )
    later = max(balanced[1:]) if len(balanced) > 1 else balanced[0]
    record_figure(
        "shards", "longest / mean shard (run 2 on)", later, f"<= {BALANCE_TARGET:g}", later <= BALANCE_TARGET
    )
    one = fixed["one test, 2 asked"]
    record_figure(
        "shards", "fixed cost, 1-test phase ms", one, f"<= {FIXED_TARGET_MS:g}", one <= FIXED_TARGET_MS
    )


if __name__ == "__main__":
    sys.exit(main())
