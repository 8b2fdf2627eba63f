"""Runner overhead: a real suite's unit phase through the whole local stack and the runner, vs bare pytest.

A pure-Python project with a few hundred tests is generated in a temporary folder. Each round
times (a) `POST /api/v1/executions {"phases": ["unit"]}` against `testgenie serve` — gateway,
planning, the bundle fetched by URL and checked, a fresh extraction, the runner, JUnit parsing,
the log upload and the record — until the answer arrives, and (b) `python -m pytest` run directly
on the same tree with the runner's own interpreter. Rounds are interleaved so machine noise hits
both alike; the ratio of medians is printed. Target: <= 1.15.

    .venv/bin/python -m benchmarks.runner_overhead [--files 20 --tests 20 --rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from benchmarks.common import REPO_ROOT, fresh_database, record_figure

TARGET = 1.15
TEST_FILE = """
import math

import pytest


def fib(n: int) -> int:
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a

{tests}
"""
ONE_TEST = """
@pytest.mark.parametrize("n", [{n}])
def test_case_{i}(n: int) -> None:
    assert fib(n + 2) == fib(n + 1) + fib(n)
    assert math.isclose(sum(1 / 2**k for k in range(40)), 2.0)
"""


def make_project(folder: Path, files: int, tests: int) -> int:
    (folder / ".testgenie").mkdir(parents=True)
    (folder / ".testgenie" / "testing.json").write_text(json.dumps({"phases": {"unit": {"timeout": "10m"}}}))
    (folder / "README.md").write_text("# runner overhead benchmark project\n")
    (folder / "tests").mkdir()
    for f in range(files):
        body = "".join(ONE_TEST.format(i=i, n=(f * tests + i) % 50) for i in range(tests))
        (folder / "tests" / f"test_module_{f:03d}.py").write_text(TEST_FILE.format(tests=body))
    return files * tests


def runner_python() -> str:
    """The interpreter the local runner uses (its own venv once it exists; else this one)."""
    try:
        from testgenie_local.runner_venv import ensure_runner_venv  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        return sys.executable
    return str(ensure_runner_venv())  # the venv's python


def bare(python: str, project: Path, reports: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [python, "-m", "pytest", "-q", "-p", "no:cacheprovider", f"--junitxml={reports / 'bare.xml'}"],
        cwd=project,
        check=True,
        stdout=subprocess.DEVNULL,
        env={"PATH": "/usr/bin:/bin", "HOME": str(reports), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    return time.perf_counter() - started


def through_stack(api: str, tests: int) -> float:
    body = json.dumps({"scenarioName": "bench-unit", "phases": ["unit"]}).encode()
    request = urllib.request.Request(  # noqa: S310 - the local gateway, http only
        f"{api}/api/v1/executions", data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as answer:  # noqa: S310 - as above
        result = json.loads(answer.read())
    elapsed = time.perf_counter() - started
    unit = result["phases"][0]
    if unit["status"] != "passed" or (unit.get("tests") or {}).get("passed") != tests:
        raise SystemExit(f"the benchmark suite did not pass through the stack: {json.dumps(unit)[:2000]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--tests", type=int, default=20, help="tests per file")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")  # the figures, not the handlers' logs
    from testgenie_local.stack import LocalStack, StackOptions

    with tempfile.TemporaryDirectory(prefix="testgenie-runner-bench-") as tmp, fresh_database() as url:
        root = Path(tmp)
        total = make_project(root / "scenarios" / "bench-unit", args.files, args.tests)
        tree = root / "bare-tree"  # the same files, outside the stack's folder
        shutil.copytree(root / "scenarios" / "bench-unit", tree)
        reports = root / "reports"
        reports.mkdir()
        stack = LocalStack(
            StackOptions(
                template=REPO_ROOT / "template.yaml",
                data_dir=root / "data",
                scenarios=root / "scenarios",
                port=0,
                database_url=url,
                say=lambda _line: None,
            )
        )
        info = stack.start()
        try:
            python = runner_python()
            through_stack(info.api_url, total)  # warm-up: imports, bundle cache, page cache
            bare(python, tree, reports)
            stack_times, bare_times = [], []
            for _ in range(args.rounds):
                stack_times.append(through_stack(info.api_url, total))
                bare_times.append(bare(python, tree, reports))
        finally:
            stack.stop()
    stack_median = statistics.median(stack_times)
    bare_median = statistics.median(bare_times)
    ratio = stack_median / bare_median
    print(f"tests in the unit phase:   {total} ({args.files} files)")
    print(f"rounds:                    {args.rounds}")
    print(f"runner interpreter:        {python}")
    print(
        f"stack + runner (median):   {stack_median * 1000:.0f} ms  {[round(t * 1000) for t in stack_times]}"
    )
    print(f"bare pytest (median):      {bare_median * 1000:.0f} ms  {[round(t * 1000) for t in bare_times]}")
    print(f"ratio:                     {ratio:.3f} (target <= {TARGET})")
    record_figure(
        "runner overhead",
        f"unit phase, {total} tests: stack+runner/bare pytest",
        ratio,
        f"<= {TARGET}",
        ratio <= TARGET,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
