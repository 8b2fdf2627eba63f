"""History for people: `scenarios`, `stats <scenario>`, `compare <id> [<id>]`, `rerun <id>`."""

from __future__ import annotations

import argparse
from typing import Any

from testgenie.paging import MAX_PAGE

from testgenie_local.commands.common import EXIT_OK, Subparsers, client
from testgenie_local.commands.suites import finish
from testgenie_local.console import ProgressView, err, ms, out, print_json, print_page, table, when
from testgenie_local.follow import follow_request

SPARK = {"passed": "▇", "failed": "▁", "errored": "x", "timeout": "⧗", "cancelled": "·"}


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def cmd_scenarios(args: argparse.Namespace) -> int:
    page: dict[str, Any] = client(args).get("/scenarios", limit=args.limit)

    def row(item: dict[str, Any]) -> list[str]:
        last = item.get("lastExecution") or {}
        return [
            str(item.get("scenarioName")),
            str(last.get("outcome")),
            when(last.get("completedAt")),
            _percent(item.get("passRate")),
            ms(item.get("medianDurationMs")),
            "".join(SPARK.get(o, "?") for o in item.get("recentOutcomes") or []),
            str(item.get("flakyPhases", 0)),
        ]

    header = ["scenario", "last", "completed (UTC)", "pass rate", "median", "recent (oldest first)", "flaky"]
    print_page(page, row, header, "no executions yet", as_json=args.json)
    return EXIT_OK


def cmd_stats(args: argparse.Namespace) -> int:
    stats: dict[str, Any] = client(args).get(f"/scenarios/{args.scenario}/stats", window=args.window)
    if args.json:
        print_json(stats)
        return EXIT_OK
    out(f"{stats['scenarioName']}: the newest {stats['runs']} runs (window {stats['window']})")
    rows = [
        [
            str(p["name"]),
            str(p["runs"]),
            _percent(p["passRate"]),
            ms(p["p50DurationMs"]),
            ms(p["p95DurationMs"]),
            ("FLAKY " if p["flaky"] else "") + _percent(p["flakiness"]),
            _percent(p["flipRate"]),
            (p.get("lastFailure") or {}).get("signature")
            or ("-" if not p.get("lastFailure") else "(no signature)"),
        ]
        for p in stats["phases"]
    ]
    out(table(rows, ["phase", "runs", "pass rate", "p50", "p95", "flakiness", "flip rate", "last failure"]))
    if stats["flakyTests"]:
        out("\nflaky tests (one source digest both passed and failed):")
        flaky = [[t["phase"], t["name"], str(t["passed"]), str(t["failed"])] for t in stats["flakyTests"]]
        out(table(flaky, ["phase", "test", "passed", "failed"]))
    return EXIT_OK


def cmd_compare(args: argparse.Namespace) -> int:
    diff: dict[str, Any] = client(args).get(
        f"/executions/{args.id}/compare", **{"with": args.base or "previous"}
    )
    if args.json:
        print_json(diff)
        return EXIT_OK
    digest = "changed" if diff["sourceDigestChanged"] else "the same"
    out(f"{diff['baseExecutionId']} -> {diff['executionId']} (source {digest})")
    rows = [
        [
            ("* " if p["changed"] else "  ") + str(p["name"]),
            str(p["before"] or "-"),
            str(p["after"] or "-"),
            "-" if p["durationMsDelta"] is None else f"{p['durationMsDelta']:+d} ms",
        ]
        for p in diff["phases"]
    ]
    out(table(rows, ["phase", "before", "after", "duration change"]))
    for test in diff["newlyFailingTests"]:
        out(f"newly failing: {test['phase']}: {test['name']}: {test.get('signature') or ''}")
    for test in diff["newlyFixedTests"]:
        out(f"newly fixed:   {test['phase']}: {test['name']}")
    return EXIT_OK


def cmd_rerun(args: argparse.Namespace) -> int:
    api = client(args)
    body = {"failedOnly": True} if args.failed_only else {}
    request = api.post(f"/executions/{args.id}/rerun", body)
    if not args.wait:
        if args.json:
            print_json(request)
        else:
            phases = ", ".join(request.get("phases") or []) or "the same plan"
            out(f"queued rerun {request['id']} of {args.id} ({phases})")
        return EXIT_OK
    err(f"queued rerun {request['id']}; waiting for it to finish…")
    final = follow_request(
        api, str(request["id"]), timeout=args.wait_timeout, view=None if args.json else ProgressView()
    )
    return finish(api, final, args.json)


def configure_scenarios(sub: Subparsers) -> None:
    parser = sub.add_parser(
        "scenarios", help="every scenario: last run, pass rate, median time, flaky phases"
    )
    parser.add_argument("--limit", type=int, default=MAX_PAGE)
    parser.set_defaults(func=cmd_scenarios)


def configure_stats(sub: Subparsers) -> None:
    parser = sub.add_parser("stats", help="per-phase pass rate, p50/p95, flakiness of one scenario")
    parser.add_argument("scenario")
    parser.add_argument("--window", type=int, default=30, help="the newest runs to cover (1-500)")
    parser.set_defaults(func=cmd_stats)


def configure_compare(sub: Subparsers) -> None:
    parser = sub.add_parser("compare", help="what changed between two executions (default: the previous run)")
    parser.add_argument("id")
    parser.add_argument("base", nargs="?", help="the execution to compare with (default: previous)")
    parser.set_defaults(func=cmd_compare)


def configure_rerun(sub: Subparsers) -> None:
    parser = sub.add_parser("rerun", help="queue an execution's plan again (or only its failed phases)")
    parser.add_argument("id")
    parser.add_argument("--failed-only", action="store_true")
    parser.add_argument("--wait", action="store_true", help="follow it to the end; exit 1 unless it passed")
    parser.add_argument("--wait-timeout", type=float, default=1800.0)
    parser.set_defaults(func=cmd_rerun)
