"""What the benchmarks share: a PostgreSQL database, percentiles, a printed table."""

from __future__ import annotations

import contextlib
import copy
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
for extra in ("layers/core", "functions/execute", "functions/history", "local"):
    if str(REPO_ROOT / extra) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / extra))

from testgenie.migrate import migrate  # noqa: E402
from testgenie_local.postgres import create_database, drop_database, provision  # noqa: E402


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A migrated database on DATABASE_URL's server, else on an embedded one; dropped afterwards."""
    with tempfile.TemporaryDirectory(prefix="testgenie-bench-") as folder:
        server = provision(Path(folder), ephemeral=True)
        try:
            url = create_database(server.admin_url, prefix="testgenie_bench")
            try:
                migrate(url, REPO_ROOT / "migrations")
                yield url
            finally:
                drop_database(server.admin_url, url)
        finally:
            server.stop()


def load_note() -> str:
    """The machine's load average: figures taken under load measure the load as much as the code."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def http_event(
    method: str,
    path: str,
    route_key: str,
    query: dict[str, str] | None = None,
    path_params: dict[str, str] | None = None,
) -> dict[str, Any]:
    """An API Gateway v2 event shaped like tests/events/apigw_http_iam.json."""
    sample = json.loads((REPO_ROOT / "tests" / "events" / "apigw_http_iam.json").read_text())
    event: dict[str, Any] = copy.deepcopy(sample)
    event["routeKey"] = event["requestContext"]["routeKey"] = route_key
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    if query:
        event["queryStringParameters"] = dict(query)
    if path_params:
        event["pathParameters"] = dict(path_params)
    else:
        event.pop("pathParameters", None)
    return event


def print_table(title: str, header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(cell)) for cell in column) for column in zip(header, *rows, strict=True)]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print(line)
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


FIGURES_ENV = "BENCH_FIGURES"


def record_figure(benchmark: str, metric: str, value: float, target: str, met: bool) -> None:
    """Append one measured figure to $BENCH_FIGURES (JSON lines) so `make bench` can print one table."""
    path = os.environ.get(FIGURES_ENV)
    if not path:
        return
    line = {"benchmark": benchmark, "metric": metric, "value": round(value, 3), "target": target, "met": met}
    with open(path, "a", encoding="utf-8") as sink:
        sink.write(json.dumps(line) + "\n")
