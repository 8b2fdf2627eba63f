"""Looking at what ran: `history`, `show`, `requests`, and `cancel`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from testgenie.paging import MAX_PAGE
from testgenie.queue.models import SuiteRequestStatus

from testgenie_local.client import ApiClient, ApiError
from testgenie_local.commands.common import EXIT_OK, CliError, Subparsers, client
from testgenie_local.console import (
    ProgressView,
    ms,
    out,
    print_json,
    print_page,
    print_result,
    printable,
    shown_status,
    when,
)


def _history_query(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "scenario": args.scenario,
        "outcome": ",".join(args.outcome) if args.outcome else None,
        "trigger": args.trigger,
        "preset": args.preset,
        "since": args.since,
        "until": args.until,
        "phase": args.phase,
        "phaseStatus": args.phase_status,
        "limit": min(args.limit, MAX_PAGE) if not args.all else MAX_PAGE,
    }


def history_pages(api: ApiClient, query: dict[str, Any], follow: bool, limit: int) -> dict[str, Any]:
    """One page, or (follow) every page by its nextCursor, merged into one answer."""
    page: dict[str, Any] = api.get("/executions", **query)
    items = list(page.get("items") or [])
    while follow and page.get("nextCursor"):
        page = api.get("/executions", **{**query, "cursor": page["nextCursor"]})
        items.extend(page.get("items") or [])
    items = items if follow else items[:limit]
    return {"items": items, "count": len(items), "nextCursor": None if follow else page.get("nextCursor")}


def cmd_history(args: argparse.Namespace) -> int:
    page = history_pages(client(args), _history_query(args), args.all, args.limit)

    def row(item: dict[str, Any]) -> list[str]:
        summary = item.get("phaseSummary") or {}
        return [
            str(item.get("executionId")),
            str(item.get("scenarioName")),
            str(item.get("outcome")),
            str(item.get("preset") or "-"),
            f"{summary.get('passed', 0)}/{summary.get('total', 0)}",
            ms(item.get("durationMs")),
            when(item.get("completedAt")),
            str(item.get("trigger", "")),
        ]

    header = ["execution", "scenario", "outcome", "preset", "passed", "time", "completed (UTC)", "trigger"]
    print_page(page, row, header, "no executions yet", as_json=args.json)
    return EXIT_OK


def cmd_show(args: argparse.Namespace) -> int:
    api = client(args)
    try:
        result: dict[str, Any] = api.get(f"/executions/{args.id}")
    except ApiError as exc:
        if exc.status != 404:
            raise
        # Perhaps a suite request id: show its state, and its execution once there is one.
        request = _suite_request_or_none(api, args.id)
        if request is None:
            raise CliError(f"404: neither a suite request nor an execution has the id {args.id}") from None
        if args.json:
            print_json(request)
            return EXIT_OK
        out(f"suite request {args.id}: {shown_status(request)} ({request.get('scenarioName')})")
        if request.get("progress"):
            out("\n".join(ProgressView().render(request)[1:]))
        if not request.get("executionId"):
            return EXIT_OK
        result = api.get(f"/executions/{request['executionId']}")
    if args.json:
        print_json(result)
        return EXIT_OK
    print_result(result)
    for phase in result.get("phases") or []:
        if phase.get("status") == "failed":
            _print_failure(api, str(result["executionId"]), phase, args.log_lines)
    return EXIT_OK


def _suite_request_or_none(api: ApiClient, ident: str) -> dict[str, Any] | None:
    try:
        request: dict[str, Any] = api.get(f"/suite-requests/{ident}")
    except ApiError as exc:
        if exc.status == 404:
            return None
        raise
    return request


def cmd_log(args: argparse.Namespace) -> int:
    """A phase's whole log, as stored (GET /executions/{id}/phases/{phase}/log[?shard=K])."""
    path = f"/executions/{args.execution}/phases/{args.phase}/log"
    if args.shard is not None:
        path += f"?shard={args.shard}"
    text = client(args).request("GET", path).text
    sys.stdout.write(printable(text if text.endswith("\n") or not text else text + "\n"))
    sys.stdout.flush()
    return EXIT_OK


def _print_failure(api: ApiClient, execution_id: str, phase: dict[str, Any], log_lines: int) -> None:
    out(f"\n── {phase.get('name')} failed: {phase.get('error') or ''}")
    if phase.get("classification"):
        out(f"   classification: {phase['classification']}")
    if phase.get("remediation"):
        out(f"   remediation: {phase['remediation']}")
    try:
        log = api.request("GET", f"/executions/{execution_id}/phases/{phase['name']}/log").text
    except ApiError:
        return
    tail = log.splitlines()[-log_lines:]
    if tail:
        out(f"   last {len(tail)} log lines:")
        for line in tail:
            out(f"   │ {line}")


def cmd_requests(args: argparse.Namespace) -> int:
    page: dict[str, Any] = client(args).get("/suite-requests", status=args.status, limit=args.limit)

    def row(item: dict[str, Any]) -> list[str]:
        progress = item.get("progress") or {}
        done = f"{progress.get('completedPhases', 0)}/{progress.get('totalPhases', '?')}" if progress else "-"
        return [
            str(item.get("id")),
            str(item.get("scenarioName")),
            shown_status(item),
            str(item.get("preset") or "-"),
            done,
            str(item.get("attempts", 0)),
            str(item.get("trigger", "")),
            when(item.get("createdAt")),
        ]

    header = ["request", "scenario", "status", "preset", "phases", "attempts", "trigger", "created (UTC)"]
    print_page(page, row, header, "no suite requests", as_json=args.json)
    return EXIT_OK


def cmd_cancel(args: argparse.Namespace) -> int:
    request: dict[str, Any] = client(args).post(f"/suite-requests/{args.id}/cancel")
    if args.json:
        print_json(request)
    elif request.get("status") == "cancelled":
        reason = f" ({request['reason']})" if request.get("reason") else ""
        out(f"suite request {args.id} cancelled{reason}")
    else:
        out(
            f"suite request {args.id}: cancelling; it stops after its current phase ({request.get('status')})"
        )
    return EXIT_OK


def configure_history(sub: Subparsers) -> None:
    history = sub.add_parser(
        "history", help="recent executions (a table), filtered; --all follows every page"
    )
    history.add_argument("--scenario")
    history.add_argument(
        "--outcome", action="append", help="passed|failed|errored|timeout|cancelled (repeat for several)"
    )
    history.add_argument("--trigger", help="api|queue|schedule|rerun")
    history.add_argument("--preset")
    history.add_argument("--since", help="ISO 8601, on completedAt (e.g. 2026-01-31 or 2026-01-31T12:00Z)")
    history.add_argument("--until", help="ISO 8601, on completedAt")
    history.add_argument("--phase", help="only runs with this phase (with --phase-status: in that status)")
    history.add_argument("--phase-status", help="passed|failed|skipped (needs --phase)")
    history.add_argument("--limit", type=int, default=20, help=f"rows to show (at most {MAX_PAGE} a page)")
    history.add_argument("--all", action="store_true", help="follow nextCursor through every matching run")
    history.set_defaults(func=cmd_history)


def configure_show(sub: Subparsers) -> None:
    show = sub.add_parser("show", help="one execution (or suite request): phases, failures, log tails")
    show.add_argument("id")
    show.add_argument("--log-lines", type=int, default=20)
    show.set_defaults(func=cmd_show)


def configure_log(sub: Subparsers) -> None:
    log = sub.add_parser("log", help="print a phase's full log")
    log.add_argument("execution", help="the execution id (see `history`)")
    log.add_argument("phase", help="the phase name, e.g. unit")
    log.add_argument("--shard", type=int, help="a sharded phase: this shard's log (0 … N-1)")
    log.set_defaults(func=cmd_log)


def configure_requests(sub: Subparsers) -> None:
    requests = sub.add_parser("requests", help="recent suite requests")
    requests.add_argument("--status", choices=[status.value for status in SuiteRequestStatus])
    requests.add_argument("--limit", type=int, default=20)
    requests.set_defaults(func=cmd_requests)


def configure_cancel(sub: Subparsers) -> None:
    cancel = sub.add_parser("cancel", help="cancel a suite request")
    cancel.add_argument("id")
    cancel.set_defaults(func=cmd_cancel)
