"""What every subcommand shares: exit codes, the one-line error, the API client, plan arguments."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, TypeAlias

from testgenie_local.client import ApiClient, ApiError, RetryPolicy
from testgenie_local.console import err

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


def client(args: argparse.Namespace) -> ApiClient:
    """The API client every command uses: busy answers (429, 503) are retried with a bounded backoff."""
    try:
        return ApiClient(args.api_url, timeout=args.timeout_http, retry=RetryPolicy(), on_retry=err)
    except ApiError as exc:
        raise CliError(exc.message) from None


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
    return body


def add_plan_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenario", help="the scenario to run")
    parser.add_argument("--preset", help="quick | smoke | comprehensive | a preset of the scenario")
    parser.add_argument("--phases", help="explicit phases, comma separated (win over --preset)")
    parser.add_argument("--skip", help="phases to skip, comma separated")
    parser.add_argument("--fail-fast", action="store_true", help="stop at the first failed phase")
