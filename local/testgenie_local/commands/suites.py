"""Running suites: `execute` (queue, optionally follow) and `run` (synchronous)."""

from __future__ import annotations

import argparse
import uuid
from typing import Any

from testgenie_local.client import ApiClient
from testgenie_local.commands.common import (
    EXIT_OK,
    EXIT_SUITE_FAILED,
    Subparsers,
    add_plan_arguments,
    client,
    plan_body,
)
from testgenie_local.console import ProgressView, err, out, print_json, print_result
from testgenie_local.follow import follow_request


def cmd_execute(args: argparse.Namespace) -> int:
    api = client(args)
    # Always keyed: a retried POST (a busy answer, docs/deploying.md) can never queue twice.
    headers = {"Idempotency-Key": args.idempotency_key or f"cli-{uuid.uuid4()}"}
    request = api.post("/suite-requests", plan_body(args), headers=headers)
    request_id = str(request["id"])
    if not args.wait:
        if args.json:
            print_json(request)
        else:
            out(
                f"queued suite request {request_id} ({request.get('scenarioName')}, status {request.get('status')})"
            )
            out(f"follow it: testgenie show {request_id}   or   {api.url(f'/suite-requests/{request_id}')}")
        return EXIT_OK
    err(f"queued suite request {request_id}; waiting for it to finish…")
    final = follow_request(
        api, request_id, timeout=args.wait_timeout, view=None if args.json else ProgressView()
    )
    return finish(api, final, args.json)


def finish(api: ApiClient, request: dict[str, Any], as_json: bool) -> int:
    """Print the ended request's execution (or why there is none); exit 1 unless it passed."""
    execution_id = request.get("executionId")
    result: dict[str, Any] | None = None
    if execution_id:
        result = api.get(f"/executions/{execution_id}")
    if as_json:
        print_json(result or request)
    elif result is not None:
        print_result(result)
    else:
        out(f"suite request {request.get('id')} ended {request.get('status')} without an execution")
    ok = request.get("status") == "completed" and (result is None or bool(result.get("success")))
    return EXIT_OK if ok else EXIT_SUITE_FAILED


def cmd_run(args: argparse.Namespace) -> int:
    api = client(args)
    err(f"running {args.scenario} now (synchronously)…")
    response = api.request("POST", "/executions", body=plan_body(args), timeout=args.wait_timeout)
    result: dict[str, Any] = response.json()
    if response.status == 202:  # still running (a durable execution): follow it as `execute --wait` does
        request_id = str(result["suiteRequestId"])
        err(f"still running after the API's wait; following suite request {request_id}…")
        final = follow_request(
            api, request_id, timeout=args.wait_timeout, view=None if args.json else ProgressView()
        )
        return finish(api, final, args.json)
    if args.json:
        print_json(result)
    else:
        print_result(result)
    return EXIT_OK if result.get("success") else EXIT_SUITE_FAILED


def configure_execute(sub: Subparsers) -> None:
    execute = sub.add_parser("execute", help="queue a suite request (POST /suite-requests)")
    add_plan_arguments(execute)
    execute.add_argument(
        "--wait", action="store_true", help="show progress until it ends; exit 1 when the suite fails"
    )
    execute.add_argument(
        "--wait-timeout", type=float, default=3600.0, help="give up waiting after this many seconds"
    )
    execute.add_argument("--idempotency-key", help="queue at most once per key")
    execute.set_defaults(func=cmd_execute)


def configure_run(sub: Subparsers) -> None:
    run = sub.add_parser("run", help="run a suite now and wait for it (POST /executions)")
    add_plan_arguments(run)
    run.add_argument("--wait-timeout", type=float, default=3600.0, help="HTTP timeout in seconds")
    run.set_defaults(func=cmd_run)
