"""The runner path's fixed cost: one trivial run through the whole local stack, and one extra phase.

Against `testgenie serve`'s stack (gateway, execute handler, the runner behind the local Lambda
endpoint, PostgreSQL) each round POSTs, interleaved so machine noise hits both alike:

- a trivial run: `POST /api/v1/executions {"phases": ["structure"]}` (one file check);
- the same run plus one phase whose command is `true` (`"phases": ["structure", "unit"]`).

Prints the trivial run's warm p50 (target <= 30 ms) and the extra phase's cost, the median over
rounds of (two-phase run - trivial run) (target <= 15 ms). The first runs of a fresh stack are not
counted (warm-up).

Then where a phase's time goes, each part timed alone in this process (p50, interleaved): the
bundle (the cached archive's digest checked, extracted into a fresh workspace, removed), the
sandbox (`true` spawned in its own session with its output cap, awaited, swept), the log (PUT to the
local endpoint's signed upload route) and the answer (the runner's answer serialized and checked by
the coordinator); the rest of the extra phase is the invocation (boto3 -> the local Lambda endpoint
-> the runner process's pipe and back) and the coordinator's bookkeeping.

    .venv/bin/python -m benchmarks.runner_path [--rounds 40] [--warmup 15] [--path durable|direct]

`--path durable` (the template's default) runs each execution as a durable execution of
CoordinatorFunction under the SDK's local runner; `--path direct` runs it inside ExecuteFunction (the
path before durable executions), for the before/after figures of docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.common import REPO_ROOT, fresh_database, load_note, percentile, record_figure

TRIVIAL_TARGET_MS = 30.0
PHASE_TARGET_MS = 15.0
SCENARIO = "bench-path"


def write_scenario(root: Path) -> Path:
    folder = root / SCENARIO
    (folder / ".testgenie").mkdir(parents=True)
    (folder / "README.md").write_text(f"# {SCENARIO}\n\nThe runner path benchmark's scenario.\n")
    config = {"phases": {"structure": {"requiredPaths": ["README.md"]}, "unit": {"commands": ["true"]}}}
    (folder / ".testgenie" / "testing.json").write_text(json.dumps(config, indent=2))
    return root


def run(api: str, phases: list[str]) -> float:
    """Milliseconds from the POST until the finished run's answer arrived."""
    body = json.dumps({"scenarioName": SCENARIO, "phases": phases}).encode()
    request = urllib.request.Request(  # noqa: S310 - the local gateway, http only
        f"{api}/api/v1/executions", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=120) as answer:  # noqa: S310 - as above
        result = json.loads(answer.read())
    elapsed = (time.perf_counter() - started) * 1000
    statuses = [phase["status"] for phase in result["phases"]]
    if statuses != ["passed"] * len(phases):
        raise SystemExit(f"the benchmark run did not pass: {json.dumps(result)[:2000]}")
    return elapsed


def _p50_interleaved(parts: dict[str, Callable[[], Any]], samples: int) -> dict[str, float]:
    for fn in parts.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in parts}
    for _ in range(samples):
        for name, fn in parts.items():
            started = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: percentile(found, 0.5) for name, found in times.items()}


def phase_parts(root: Path, scenarios: Path, samples: int) -> dict[str, float]:
    """p50 ms of the runner-side parts of one `true` phase, each timed alone in this process."""
    from testgenie.orchestrator.models import PhaseResult, PhaseStatus, SuitePlan
    from testgenie.orchestrator.phases.base import LogBuffer
    from testgenie.orchestrator.phases.process import run_command
    from testgenie.orchestrator.run.engine import plan_scenario
    from testgenie.orchestrator.run.workspace import fresh_workspace
    from testgenie.orchestrator.sources.bundles import BundleCache
    from testgenie.orchestrator.sources.local import LocalScenarioSource
    from testgenie.runner.client import parse_answer
    from testgenie.runner.phase import put_log
    from testgenie.runner.protocol import PhaseAnswer, PhaseInvocation
    from testgenie_local.lambda_endpoint import LambdaEndpoint
    from testgenie_local.uploads import SignedUploadStore

    source = LocalScenarioSource(scenarios, packed_dir=root / "packed")
    ref, folder = source.snapshot(SCENARIO)
    plan, _ = plan_scenario(SuitePlan(scenario_name=SCENARIO, phases=["unit"]), folder, 60)
    cache = BundleCache(root / "bundle-cache")
    secret = secrets.token_hex(16)
    endpoint = LambdaEndpoint({}, artifacts_dir=root / "uploads", upload_secret=secret)
    endpoint.start()
    store = SignedUploadStore(root / "uploads", endpoint.upload_url, secret)
    execution_id = uuid.uuid4()
    target = store.upload_target(execution_id, "unit", 3600)
    invocation = PhaseInvocation(
        execution_id=execution_id,
        scenario_name=SCENARIO,
        bundle=ref,
        plan=plan,
        phase="unit",
        timeout_seconds=60,
        log_upload=target,
    )
    result = PhaseResult(name="unit", status=PhaseStatus.PASSED, duration_ms=1)
    answer = PhaseAnswer(execution_id=execution_id, phase="unit", result=result, bundle_sha256=ref.sha256)
    log = b"$ true\n[test-genie] exit code 0 after 1 ms\n" * 4

    workspaces = Path("/dev/shm") if Path("/dev/shm").is_dir() else root  # the sandbox's /tmp is a tmpfs

    def bundle() -> None:
        with fresh_workspace(ref, execution_id, scenario=SCENARIO, cache=cache, parent=workspaces):
            pass

    def sandbox() -> None:
        run_command(
            "true", cwd=root, env={"PATH": "/usr/bin:/bin"}, deadline=time.monotonic() + 60, log=LogBuffer()
        )

    def upload() -> None:
        if put_log(target, log) is not None:
            raise SystemExit("the benchmark's log upload failed")

    def answer_round_trip() -> None:
        parse_answer(answer.model_dump_json(by_alias=True).encode(), invocation)

    try:
        return _p50_interleaved(
            {"bundle": bundle, "sandbox": sandbox, "log": upload, "answer": answer_round_trip}, samples
        )
    finally:
        endpoint.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--warmup", type=int, default=15, help="uncounted runs of each kind first")
    parser.add_argument("--path", choices=["durable", "direct"], default="durable")
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the figures, not the handlers' logs
    if args.path == "direct":
        os.environ["COORDINATOR_FUNCTION_NAME"] = ""  # set and empty: the template's value is not applied
    from testgenie_local.stack import LocalStack, StackOptions

    with tempfile.TemporaryDirectory(prefix="testgenie-path-bench-") as tmp, fresh_database() as url:
        root = Path(tmp)
        stack = LocalStack(
            StackOptions(
                template=REPO_ROOT / "template.yaml",
                data_dir=root / "data",
                scenarios=write_scenario(root / "scenarios"),
                port=0,
                database_url=url,
                say=lambda _line: None,
            )
        )
        load = load_note()
        api = stack.start().api_url
        try:
            for _ in range(args.warmup):
                run(api, ["structure"])
                run(api, ["structure", "unit"])
            one, two = [], []
            for _ in range(args.rounds):
                one.append(run(api, ["structure"]))
                two.append(run(api, ["structure", "unit"]))
        finally:
            stack.stop()
        parts = phase_parts(root, root / "scenarios", max(30, args.rounds))
    trivial = percentile(one, 0.5)
    extra = statistics.median(b - a for a, b in zip(one, two, strict=True))
    print(f"path:                        {args.path}")
    print(f"rounds:                      {args.rounds} (after {args.warmup} warm-up rounds)")
    print(f"trivial run (structure) p50: {trivial:.1f} ms (target <= {TRIVIAL_TARGET_MS:g})")
    print(f"structure + unit(`true`) p50: {percentile(two, 0.5):.1f} ms")
    print(f"extra phase, median of rounds: {extra:.1f} ms (target <= {PHASE_TARGET_MS:g})")
    for name, ms in parts.items():
        print(f"  of which {name + ':':8s} {ms:6.2f} ms (p50, timed alone)")
    rest = extra - sum(parts.values())
    print(f"  invocation + coordinator (the rest): {rest:.2f} ms")
    print(f"load average during the run: {load} .. {load_note()}")
    where = "runner path" if args.path == "durable" else "runner path (direct)"
    record_figure(
        where,
        "trivial run (structure) warm p50 ms",
        trivial,
        f"<= {TRIVIAL_TARGET_MS:g}",
        trivial <= TRIVIAL_TARGET_MS,
    )
    record_figure(
        where, "one extra `true` phase ms", extra, f"<= {PHASE_TARGET_MS:g}", extra <= PHASE_TARGET_MS
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
