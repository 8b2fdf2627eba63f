"""What every subcommand shares: exit codes, the one-line error, the API client, plan arguments."""

from __future__ import annotations

import argparse
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeAlias

from testgenie_local.client import ApiClient, ApiError, RetryPolicy
from testgenie_local.console import err
from testgenie_local.stack_state import STATE_FILE, running_stack

# What `add_subparsers()` returns; each configure_<command> adds its parser to it.
Subparsers: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"

EXIT_OK = 0
EXIT_SUITE_FAILED = 1
EXIT_ERROR = 2
DEFAULT_PORT = 3000
DEFAULT_API_URL = f"http://127.0.0.1:{DEFAULT_PORT}"
DEFAULT_DATA_DIR = Path(".testgenie-data")


class CliError(Exception):
    """A problem to report in one line, with exit code 2."""


@dataclass(frozen=True)
class ApiTarget:
    url: str
    source: str  # how it was chosen, for the message when it cannot be reached


def api_target(args: argparse.Namespace) -> ApiTarget:
    """--api-url, else $TESTGENIE_API_URL, else the local stack running from this folder (its
    `.testgenie-data/stack.json`, as `push` finds it), else the default local port."""
    if getattr(args, "api_url", None):
        return ApiTarget(args.api_url, "--api-url")
    if os.environ.get("TESTGENIE_API_URL"):
        return ApiTarget(os.environ["TESTGENIE_API_URL"], "TESTGENIE_API_URL")
    state_file = DEFAULT_DATA_DIR / STATE_FILE
    info = running_stack(DEFAULT_DATA_DIR)
    if info is not None and info.get("api_url"):
        return ApiTarget(str(info["api_url"]), f"the local stack's {state_file}")
    return ApiTarget(DEFAULT_API_URL, f"the default (no running stack in {state_file})")


def unreachable_hint(target: ApiTarget) -> str:
    """Where the URL came from, and what to do when it did not answer: start a stack, or name the API."""
    return (
        f"{target.url} came from {target.source}; start a local stack with `testgenie serve` "
        "(or `make run`), or name the API with --api-url URL or TESTGENIE_API_URL"
    )


def client(args: argparse.Namespace) -> ApiClient:
    """The API client every command uses: busy answers (429, 503) are retried with a bounded backoff."""
    target = api_target(args)
    try:
        return ApiClient(target.url, timeout=args.timeout_http, retry=RetryPolicy(), on_retry=err)
    except ApiError as exc:
        raise CliError(f"{exc.message} ({target.source})") from None


# The API's request fields the CLI sets with a flag: its messages name the flag instead.
_FLAG_OF_FIELD = {
    "failedOnly": "--failed-only",
    "failFast": "--fail-fast",
    "phaseStatus": "--phase-status",
    "includeTotal": "--all",
}
_FIELD_RE = re.compile(r"\b(" + "|".join(_FLAG_OF_FIELD) + r")\b")


def in_cli_words(message: str) -> str:
    """An API message as the CLI prints it: `rerun it without failedOnly` → `… without --failed-only`."""
    return _FIELD_RE.sub(lambda match: _FLAG_OF_FIELD[match.group(1)], message)


def csv(value: str | None) -> list[str] | None:
    if value is None:
        return None
    items = [part.strip() for part in value.split(",") if part.strip()]
    return items or None


def plan_body(args: argparse.Namespace) -> dict[str, Any]:
    body: dict[str, Any] = {"scenarioName": args.scenario}
    if args.preset:
        body["preset"] = args.preset
    if (phases := csv(args.phases)) is not None:
        body["phases"] = phases
    if (skip := csv(args.skip)) is not None:
        body["skip"] = skip
    if args.fail_fast:
        body["failFast"] = True
    if getattr(args, "shards", None):
        body["shards"] = args.shards if args.shards == "auto" else _shard_count(args.shards)
    return body


def _shard_count(raw: str) -> int | str:
    """A count goes as a number; anything else as typed, for the API to refuse naming the field."""
    return int(raw) if raw.strip().isdigit() else raw


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", help="the scenario to run")
    parser.add_argument("--preset", help="quick | smoke | comprehensive | a preset of the scenario")
    parser.add_argument("--phases", help="explicit phases, comma separated (win over --preset)")
    parser.add_argument("--skip", help="phases to skip, comma separated")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failed phase")
    parser.add_argument(
        "--shards",
        help='run the sharded phases (else unit) as N shards at once, or "auto" (docs/scenarios.md)',
    )
