"""The `testgenie` command: run the local stack, and talk to any Test Genie API (local or deployed).

Exit codes: 0 ok, 1 the suite failed (or was cancelled / timed out), 2 usage error or API error.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TextIO

from testgenie_local.client import ApiClient, ApiError

EXIT_OK = 0
EXIT_SUITE_FAILED = 1
EXIT_ERROR = 2
DEFAULT_PORT = 3000
DEFAULT_API_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
DEFAULT_DATA_DIR = Path(".testgenie-data")
TERMINAL = {"completed", "failed", "cancelled"}
_STATUS_MARK = {"passed": "✔", "failed": "✘", "skipped": "-", "running": "…", "pending": " "}


class CliError(Exception):
    """A problem to report in one line, with exit code 2."""


# -- output helpers ---------------------------------------------------------------------------------


def _out(text: str = "", stream: TextIO | None = None) -> None:
    print(text, file=stream or sys.stdout, flush=True)


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
    return "\n".join(lines)


def _ms(value: Any) -> str:
    if not isinstance(value, int | float):
        return "-"
    return f"{value / 1000:.1f}s" if value >= 1000 else f"{int(value)}ms"


def _csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [part.strip() for part in value.split(",") if part.strip()]
    return items or None


def _client(args: argparse.Namespace) -> ApiClient:
    try:
        return ApiClient(args.api_url, timeout=args.timeout_http)
    except ApiError as exc:
        raise CliError(exc.message) from None


# -- plan arguments -------------------------------------------------------------------------------


def _plan_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"scenarioName": args.scenario}
    if args.preset:
        body["preset"] = args.preset
    if (phases := _csv(args.phases)) is not None:
        body["phases"] = phases
    if (skip := _csv(args.skip)) is not None:
        body["skip"] = skip
    if args.fail_fast:
        body["failFast"] = True
    return body


def _add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", help="the scenario to run")
    parser.add_argument("--preset", help="quick | smoke | comprehensive | a preset of the scenario")
    parser.add_argument("--phases", help="explicit phases, comma separated (win over --preset)")
    parser.add_argument("--skip", help="phases to skip, comma separated")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failed phase")


# -- progress ---------------------------------------------------------------------------------------


class ProgressView:
    """Live per-phase progress of a suite request: a redrawn block on a terminal, new lines elsewhere."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self._drawn = 0
        self._last: str | None = None
        self._started = time.monotonic()

    def render(self, request: dict[str, Any]) -> list[str]:
        progress = request.get("progress") or {}
        total = int(progress.get("totalPhases") or 0)
        done = int(progress.get("completedPhases") or 0)
        phases = list(progress.get("phases") or [])
        current = progress.get("currentPhase")
        width = 24
        filled = int(width * done / total) if total else 0
        bar = "█" * filled + "░" * (width - filled)
        status = request.get("status", "?")
        header = f"{request.get('scenarioName', '')} [{bar}] {done}/{total or '?'} phases · {status}"
        lines = [header]
        for phase in phases:
            mark = _STATUS_MARK.get(str(phase.get("status")), "?")
            lines.append(
                f"  {mark} {phase.get('name', '?'):<14} {phase.get('status', '?'):<8} {_ms(phase.get('durationMs'))}"
            )
        if current and status not in TERMINAL:
            elapsed = time.monotonic() - self._started
            lines.append(f"  {_STATUS_MARK['running']} {current:<14} running  ({elapsed:.0f}s)")
        return lines

    def update(self, request: dict[str, Any]) -> None:
        lines = self.render(request)
        if self.tty:
            if self._drawn:
                self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
            self._drawn = len(lines)
            return
        # Not a terminal (CI logs): print a line only when something changed, never the timer.
        key = json.dumps(
            [request.get("status"), (request.get("progress") or {}).get("phases")], sort_keys=True
        )
        if key != self._last:
            self._last = key
            stable = [line for line in lines if "running  (" not in line]
            current = (request.get("progress") or {}).get("currentPhase")
            if current and request.get("status") not in TERMINAL:
                stable.append(f"  {_STATUS_MARK['running']} {current:<14} running")
            self.stream.write("\n".join(stable) + "\n")
            self.stream.flush()


def wait_for_request(
    client: ApiClient,
    request_id: str,
    *,
    timeout: float,
    interval: float = 0.5,
    view: ProgressView | None = None,
    stop: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Poll GET /suite-requests/{id} until it is terminal (or `timeout` seconds pass)."""
    deadline = time.monotonic() + timeout
    while True:
        request: dict[str, Any] = client.get(f"/suite-requests/{request_id}")
        if view is not None:
            view.update(request)
        if request.get("status") in TERMINAL:
            return request
        if time.monotonic() > deadline:
            raise CliError(
                f"suite request {request_id} is still {request.get('status')} after {timeout:.0f}s"
            )
        if stop is not None and stop():
            return request
        time.sleep(interval)


def print_result(
    result: dict[str, Any], client: ApiClient | None = None, stream: TextIO | None = None
) -> None:
    out = stream or sys.stdout
    summary = result.get("phaseSummary") or {}
    verdict = "PASSED" if result.get("success") else str(result.get("outcome", "failed")).upper()
    _out(
        f"{verdict}  {result.get('scenarioName')}  execution {result.get('executionId')}"
        f"  ({summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed, "
        f"{summary.get('skipped', 0)} skipped)",
        out,
    )
    rows = []
    for phase in result.get("phases") or []:
        tests = phase.get("tests") or {}
        counts = f"{tests.get('passed', 0)}/{tests.get('total', 0)}" if tests else ""
        rows.append(
            [
                _STATUS_MARK.get(str(phase.get("status")), "?") + " " + str(phase.get("name")),
                str(phase.get("status")),
                _ms(phase.get("durationMs")),
                counts,
                str(phase.get("error") or "")[:70],
            ]
        )
    if rows:
        _out(_table(rows, ["phase", "status", "time", "tests", "error"]), out)
    for warning in result.get("warnings") or []:
        _out(f"warning: {warning}", out)


# -- commands -------------------------------------------------------------------------------------


def cmd_execute(args: argparse.Namespace) -> int:
    client = _client(args)
    headers = {"Idempotency-Key": args.idempotency_key} if args.idempotency_key else None
    request = client.post("/suite-requests", _plan_body(args), headers=headers)
    request_id = str(request["id"])
    if not args.wait:
        if args.json:
            _out(json.dumps(request, indent=2))
        else:
            _out(
                f"queued suite request {request_id} ({request.get('scenarioName')}, status {request.get('status')})"
            )
            _out(
                f"follow it: testgenie show {request_id}   or   {client.url(f'/suite-requests/{request_id}')}"
            )
        return EXIT_OK
    _err(f"queued suite request {request_id}; waiting for it to finish…")
    final = wait_for_request(
        client, request_id, timeout=args.wait_timeout, view=None if args.json else ProgressView()
    )
    return _finish(client, final, args.json)


def _finish(client: ApiClient, request: dict[str, Any], as_json: bool) -> int:
    execution_id = request.get("executionId")
    result: dict[str, Any] | None = None
    if execution_id:
        result = client.get(f"/executions/{execution_id}")
    if as_json:
        _out(json.dumps(result or request, indent=2))
    elif result is not None:
        print_result(result, client)
    else:
        _out(f"suite request {request.get('id')} ended {request.get('status')} without an execution")
    ok = request.get("status") == "completed" and (result is None or bool(result.get("success")))
    return EXIT_OK if ok else EXIT_SUITE_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    client = _client(args)
    _err(f"running {args.scenario} now (synchronously)…")
    response = client.request("POST", "/executions", body=_plan_body(args), timeout=args.wait_timeout)
    result: dict[str, Any] = response.json()
    if args.json:
        _out(json.dumps(result, indent=2))
    else:
        print_result(result, client)
    return EXIT_OK if result.get("success") else EXIT_SUITE_FAILED


def cmd_history(args: argparse.Namespace) -> int:
    client = _client(args)
    page: dict[str, Any] = client.get("/executions", scenario=args.scenario, limit=args.limit)

    def row(item: dict[str, Any]) -> list[str]:
        summary = item.get("phaseSummary") or {}
        return [
            str(item.get("executionId")),
            str(item.get("scenarioName")),
            str(item.get("outcome")),
            str(item.get("preset") or "-"),
            f"{summary.get('passed', 0)}/{summary.get('total', 0)}",
            _ms(item.get("durationMs")),
            _when(item.get("completedAt")),
            str(item.get("trigger", "")),
        ]

    header = ["execution", "scenario", "outcome", "preset", "passed", "time", "completed (UTC)", "trigger"]
    return _show_page(args, page, row, header, "no executions yet")


def cmd_show(args: argparse.Namespace) -> int:
    client = _client(args)
    ident = args.id
    try:
        result: dict[str, Any] = client.get(f"/executions/{ident}")
    except ApiError as exc:
        if exc.status != 404:
            raise
        # Perhaps a suite request id: show its state, and its execution once there is one.
        request: dict[str, Any] = client.get(f"/suite-requests/{ident}")
        if args.json:
            _out(json.dumps(request, indent=2))
            return EXIT_OK
        _out(f"suite request {ident}: {request.get('status')} ({request.get('scenarioName')})")
        if request.get("progress"):
            _out("\n".join(ProgressView().render(request)[1:]))
        if not request.get("executionId"):
            return EXIT_OK
        result = client.get(f"/executions/{request['executionId']}")
    if args.json:
        _out(json.dumps(result, indent=2))
        return EXIT_OK
    print_result(result, client)
    for phase in result.get("phases") or []:
        if phase.get("status") != "failed":
            continue
        _out(f"\n── {phase.get('name')} failed: {phase.get('error') or ''}")
        if phase.get("classification"):
            _out(f"   classification: {phase['classification']}")
        if phase.get("remediation"):
            _out(f"   remediation: {phase['remediation']}")
        try:
            log = client.request(
                "GET", f"/executions/{result['executionId']}/phases/{phase['name']}/log"
            ).text
        except ApiError:
            continue
        tail = log.splitlines()[-args.log_lines :]
        if tail:
            _out(f"   last {len(tail)} log lines:")
            for line in tail:
                _out(f"   │ {line}")
    return EXIT_OK


def cmd_requests(args: argparse.Namespace) -> int:
    client = _client(args)
    page: dict[str, Any] = client.get("/suite-requests", status=args.status, limit=args.limit)

    def row(item: dict[str, Any]) -> list[str]:
        progress = item.get("progress") or {}
        done = f"{progress.get('completedPhases', 0)}/{progress.get('totalPhases', '?')}" if progress else "-"
        return [
            str(item.get("id")),
            str(item.get("scenarioName")),
            str(item.get("status")),
            str(item.get("preset") or "-"),
            done,
            str(item.get("attempts", 0)),
            str(item.get("trigger", "")),
            _when(item.get("createdAt")),
        ]

    header = ["request", "scenario", "status", "preset", "phases", "attempts", "trigger", "created (UTC)"]
    return _show_page(args, page, row, header, "no suite requests")


def _when(timestamp: Any) -> str:
    """An API timestamp as `YYYY-MM-DD HH:MM:SS` (UTC) for tables."""
    return str(timestamp or "")[:19].replace("T", " ")


def _show_page(
    args: argparse.Namespace,
    page: dict[str, Any],
    row: Callable[[dict[str, Any]], list[str]],
    header: list[str],
    empty: str,
) -> int:
    """A list answer as JSON (--json), as a table, or as a line saying there is nothing."""
    if args.json:
        _out(json.dumps(page, indent=2))
        return EXIT_OK
    rows = [row(item) for item in page.get("items") or []]
    _out(_table(rows, header) if rows else empty)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    client = _client(args)
    request: dict[str, Any] = client.post(f"/suite-requests/{args.id}/cancel")
    if args.json:
        _out(json.dumps(request, indent=2))
    elif request.get("status") == "cancelled":
        _out(f"suite request {args.id} cancelled")
    else:
        _out(
            f"suite request {args.id}: cancel requested; it stops after its current phase ({request.get('status')})"
        )
    return EXIT_OK


def cmd_push(args: argparse.Namespace) -> int:
    from testgenie_local.bundle import BundleError, push_scenario

    try:
        location = push_scenario(Path(args.dir), args.scenario, args.bucket, args.prefix, args.data_dir)
    except BundleError as exc:
        raise CliError(str(exc)) from None
    _out(f"pushed {args.dir} as {args.scenario} to {location}")
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        raise CliError("no database: pass --database-url or set DATABASE_URL")
    from testgenie.migrate import migrate

    applied = migrate(url, Path(args.migrations) if args.migrations else None)
    _out(
        f"applied {len(applied)} migration(s): {', '.join(applied)}"
        if applied
        else "the database is up to date"
    )
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from testgenie_local.serve import serve

    return serve(args)


def cmd_quickstart(args: argparse.Namespace) -> int:
    from testgenie_local.quickstart import quickstart

    return quickstart(args)


# -- parser ---------------------------------------------------------------------------------------


def _add_stack_arguments(parser: argparse.ArgumentParser, default_port: int = DEFAULT_PORT) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=default_port,
        help=f"gateway port on 127.0.0.1 (default {default_port}; 0 picks a free one)",
    )
    parser.add_argument("--scenarios", type=Path, help="scenarios folder (default: examples/scenarios)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="where PostgreSQL data and logs live (default .testgenie-data)",
    )
    parser.add_argument(
        "--template", type=Path, help="the SAM template (default: ./template.yaml or the project's)"
    )
    parser.add_argument(
        "--artifacts",
        choices=["dir", "s3"],
        default="dir",
        help="phase logs in the data dir (default) or the template's bucket in moto",
    )
    parser.add_argument("--ready-file", type=Path, help="write the stack's URLs as JSON here once it serves")
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="log every request and the handlers' own logs"
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="testgenie", description="Test Genie: run test suites locally or against a deployed API."
    )
    parser.add_argument(
        "--api-url",
        default=os.environ.get("TESTGENIE_API_URL", DEFAULT_API_URL),
        help="the API (default $TESTGENIE_API_URL or %(default)s); a deployed API is signed with SigV4",
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of tables")
    parser.add_argument("--timeout-http", type=float, default=60.0, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    serve_p = sub.add_parser("serve", help="run the whole stack on this machine (from template.yaml)")
    _add_stack_arguments(serve_p)
    serve_p.set_defaults(func=cmd_serve)

    quick = sub.add_parser(
        "quickstart", help="serve, run an example suite with live progress, keep serving (make run)"
    )
    _add_stack_arguments(quick)
    quick.add_argument(
        "--scenario", default="hello-python", help="the scenario to run first (default hello-python)"
    )
    quick.add_argument("--preset", default="quick", help="its preset (default quick)")
    quick.add_argument(
        "--exit-after-first", action="store_true", help="stop after the first suite (exit 1 when it failed)"
    )
    quick.add_argument("--wait-timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    quick.set_defaults(func=cmd_quickstart)

    execute = sub.add_parser("execute", help="queue a suite request (POST /suite-requests)")
    _add_plan_arguments(execute)
    execute.add_argument(
        "--wait", action="store_true", help="show progress until it ends; exit 1 when the suite fails"
    )
    execute.add_argument(
        "--wait-timeout", type=float, default=3600.0, help="give up waiting after this many seconds"
    )
    execute.add_argument("--idempotency-key", help="queue at most once per key")
    execute.set_defaults(func=cmd_execute)

    run = sub.add_parser("run", help="run a suite now and wait for it (POST /executions)")
    _add_plan_arguments(run)
    run.add_argument("--wait-timeout", type=float, default=3600.0, help="HTTP timeout in seconds")
    run.set_defaults(func=cmd_run)

    history = sub.add_parser("history", help="recent executions (a table)")
    history.add_argument("--scenario")
    history.add_argument("--limit", type=int, default=20)
    history.set_defaults(func=cmd_history)

    show = sub.add_parser("show", help="one execution (or suite request): phases, failures, log tails")
    show.add_argument("id")
    show.add_argument("--log-lines", type=int, default=20)
    show.set_defaults(func=cmd_show)

    requests = sub.add_parser("requests", help="recent suite requests")
    requests.add_argument(
        "--status", choices=["queued", "delegated", "running", "completed", "failed", "cancelled"]
    )
    requests.add_argument("--limit", type=int, default=20)
    requests.set_defaults(func=cmd_requests)

    cancel = sub.add_parser("cancel", help="cancel a suite request")
    cancel.add_argument("id")
    cancel.set_defaults(func=cmd_cancel)

    push = sub.add_parser(
        "push", help="bundle a scenario folder to the scenarios bucket (<prefix>/<name>.tar.gz)"
    )
    push.add_argument("dir")
    push.add_argument("--scenario", required=True, help="the scenario's name")
    push.add_argument(
        "--bucket",
        default=os.environ.get("TESTGENIE_SCENARIOS_BUCKET"),
        help="default $TESTGENIE_SCENARIOS_BUCKET, or the local stack's bucket",
    )
    push.add_argument("--prefix", default=os.environ.get("TESTGENIE_SCENARIOS_PREFIX", "scenarios"))
    push.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=argparse.SUPPRESS)
    push.set_defaults(func=cmd_push)

    mig = sub.add_parser("migrate", help="apply pending database migrations")
    mig.add_argument("--database-url", help="default $DATABASE_URL")
    mig.add_argument("--migrations", help=argparse.SUPPRESS)
    mig.set_defaults(func=cmd_migrate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ApiError as exc:
        _err(f"error: {exc.message}")
        return EXIT_ERROR
    except CliError as exc:
        _err(f"error: {exc}")
        return EXIT_ERROR
    except KeyboardInterrupt:
        _err("interrupted")
        return 130
    except Exception as exc:  # a clear line, not a traceback; details with TESTGENIE_DEBUG=1
        if os.environ.get("TESTGENIE_DEBUG"):
            raise
        _err(f"error: {type(exc).__name__}: {exc}")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
