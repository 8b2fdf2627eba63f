"""Cold-start import cost of each handler, relative to its bare third-party dependencies.

For each handler, in fresh interpreter processes (interleaved, median of 7): the time to import the
handler module, divided by the time to import only the libraries it stands on (Powertools' event
handler, logger and metrics, pydantic, psycopg; plus the batch utilities for execute). A ratio near
1 means our own code adds little to a cold start. Targets: history <= 1.25, execute <= 1.5.
The history function must also never load boto3, the orchestrator engine or the batch utilities.

    python -m benchmarks.cold_start      (or: make bench)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from benchmarks.common import record_figure  # noqa: E402

RUNS = 7
COMMON_DEPS = [
    "aws_lambda_powertools.event_handler",
    "aws_lambda_powertools.event_handler.openapi.params",
    "aws_lambda_powertools.logging",
    "aws_lambda_powertools.metrics",
    "pydantic",
    "psycopg",
]
HANDLERS = {
    "history": ("functions/history", "history_app", COMMON_DEPS, 1.25),
    "execute": (
        "functions/execute",
        "execute_app",
        [*COMMON_DEPS, "aws_lambda_powertools.utilities.batch"],
        1.5,
    ),
}
FORBIDDEN_IN_HISTORY = (
    "boto3",
    "botocore.client",
    "aws_xray_sdk",
    "testgenie.orchestrator.run.engine",
    "testgenie.orchestrator.phases",
    "aws_lambda_powertools.utilities.batch",
)

_PROBE = """
import json, sys, time
names = sys.argv[1].split(",")
start = time.perf_counter()
for name in names:
    __import__(name)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "modules": sorted(sys.modules)}))
"""


def _env(code_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LAMBDA_", "AWS_LAMBDA_", "PYTHON"))}
    env["PYTHONPATH"] = os.pathsep.join(str(REPO_ROOT / p) for p in ("layers/core", code_dir))
    env["POWERTOOLS_TRACE_DISABLED"] = "true"
    return env


def _import_once(names: list[str], code_dir: str) -> tuple[float, list[str]]:
    out = subprocess.run(
        [sys.executable, "-c", _PROBE, ",".join(names)],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO_ROOT,
        env=_env(code_dir),
    )
    data = json.loads(out.stdout.strip().splitlines()[-1])
    return float(data["seconds"]), list(data["modules"])


def measure(name: str) -> dict[str, object]:
    code_dir, module, deps, target = HANDLERS[name]
    # One warm-up of each, so both sides read .pyc files rather than compiling sources.
    _import_once([module], code_dir)
    _import_once(deps, code_dir)
    handler_times: list[float] = []
    deps_times: list[float] = []
    modules: list[str] = []
    for _ in range(RUNS):  # interleaved, so machine noise hits both sides alike
        seconds, modules = _import_once([module], code_dir)
        handler_times.append(seconds)
        deps_times.append(_import_once(deps, code_dir)[0])
    handler_median = statistics.median(handler_times)
    deps_median = statistics.median(deps_times)
    forbidden = sorted(m for m in modules if name == "history" and m.startswith(FORBIDDEN_IN_HISTORY))
    return {
        "handler": name,
        "handler_ms": round(handler_median * 1000, 1),
        "deps_ms": round(deps_median * 1000, 1),
        "ratio": round(handler_median / deps_median, 3),
        "target": target,
        "forbidden_modules": forbidden,
    }


def main() -> int:
    print(f"{'handler':<10}{'import ms':>12}{'bare deps ms':>15}{'ratio':>9}{'target':>9}  verdict")
    failed = False
    for name in HANDLERS:
        row = measure(name)
        ok = float(row["ratio"]) <= float(row["target"]) and not row["forbidden_modules"]  # type: ignore[arg-type]
        failed |= not ok
        verdict = "ok" if ok else "OVER TARGET"
        if row["forbidden_modules"]:
            verdict += f" (imports {', '.join(row['forbidden_modules'])})"  # type: ignore[arg-type]
        print(
            f"{name:<10}{row['handler_ms']:>12}{row['deps_ms']:>15}{row['ratio']:>9}{row['target']:>9}  {verdict}"
        )
        record_figure(
            "cold start",
            f"{name}: handler import / bare deps",
            float(row["ratio"]),
            f"<= {row['target']}",
            ok,  # type: ignore[arg-type]
        )
    print(f"(median of {RUNS} fresh processes each, interleaved; Python {sys.version.split()[0]})")
    if failed:
        print("over target (see above)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
