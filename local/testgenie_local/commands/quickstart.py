"""`testgenie quickstart` (what `make run` runs): serve, queue an example suite over HTTP, show its
progress live, print the result and where to browse it, then keep serving until Ctrl-C."""

from __future__ import annotations

import argparse
import sys

from testgenie_local.client import ApiClient
from testgenie_local.commands.common import DEFAULT_DATA_DIR, EXIT_OK, EXIT_SUITE_FAILED
from testgenie_local.console import ProgressView, print_result
from testgenie_local.follow import follow_request
from testgenie_local.serve import describe, run_with_stack
from testgenie_local.stack import LocalStack, StackInfo


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def quickstart(args: argparse.Namespace) -> int:
    def body(stack: LocalStack, info: StackInfo) -> int:
        _say("\n".join(describe(info, stack)))
        code = _first_suite(ApiClient(info.api_url, timeout=30), args)
        if args.exit_after_first:
            return code
        _say("\nThe API keeps serving. Ctrl-C to stop.")
        stack.wait()
        return code

    return run_with_stack(args, _say, body)


def _first_suite(client: ApiClient, args: argparse.Namespace) -> int:
    body = {"scenarioName": args.scenario, "preset": args.preset}
    print(f"\n→ POST {client.url('/suite-requests')} {body}", flush=True)
    request = client.post("/suite-requests", body)
    request_id = str(request["id"])
    print(f"  queued suite request {request_id}; the SQS poller hands it to ExecuteFunction\n", flush=True)
    final = follow_request(client, request_id, timeout=args.wait_timeout, interval=0.3, view=ProgressView())
    print(flush=True)
    execution_id = final.get("executionId")
    result = client.get(f"/executions/{execution_id}") if execution_id else None
    if result is not None:
        print_result(result)
    else:
        print(f"suite request {request_id} ended {final.get('status')} without an execution", flush=True)
    page = f"#/executions/{execution_id}" if execution_id else "#/queue"
    lines = [
        "",
        f"See it in the dashboard: {client.base_url}/{page}",
        "",
        "The API's JSON:",
        f"  {client.url(f'/suite-requests/{request_id}')}",
    ]
    if execution_id and result is not None:
        lines.append(f"  {client.url(f'/executions/{execution_id}')}")
        for phase in result.get("phases") or []:
            name = phase.get("name")
            lines.append(f"  {client.url(f'/executions/{execution_id}/phases/{name}/log')}")
    # From this folder the CLI finds the stack by its data dir; from elsewhere it needs the URL.
    cli = "testgenie" if args.data_dir == DEFAULT_DATA_DIR else f"testgenie --api-url {client.base_url}"
    lines += [
        "",
        "Or with the CLI, in another terminal (after `source .venv/bin/activate`):",
        f"  {cli} history",
        f"  {cli} show {execution_id or request_id}",
        f"  {cli} execute {args.scenario} --preset smoke --wait",
    ]
    print("\n".join(lines), flush=True)
    ok = final.get("status") == "completed" and result is not None and bool(result.get("success"))
    return EXIT_OK if ok else EXIT_SUITE_FAILED
