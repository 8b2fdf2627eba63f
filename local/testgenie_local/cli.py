"""The `testgenie` command: run the local stack, and talk to any Test Genie API (local or deployed).

Exit codes: 0 ok, 1 the suite failed (or was cancelled / timed out), 2 usage error or API error.
Each subcommand lives in `testgenie_local.commands` and registers itself through its
`configure_<command>`, listed in COMMANDS below.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from testgenie_local import console
from testgenie_local.client import ApiError
from testgenie_local.commands import browse, insights, serving, suites, tools, ui
from testgenie_local.commands.common import (
    DEFAULT_API_URL,
    EXIT_ERROR,
    CliError,
    Subparsers,
    api_target,
    in_cli_words,
    unreachable_hint,
)
from testgenie_local.console import err
from testgenie_local.follow import FollowTimeout

COMMANDS: tuple[Callable[[Subparsers], None], ...] = (
    serving.configure_serve,
    serving.configure_quickstart,
    suites.configure_execute,
    suites.configure_run,
    browse.configure_history,
    browse.configure_show,
    browse.configure_log,
    browse.configure_requests,
    browse.configure_cancel,
    insights.configure_scenarios,
    insights.configure_stats,
    insights.configure_compare,
    insights.configure_rerun,
    tools.configure_push,
    tools.configure_migrate,
    ui.configure_ui,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="testgenie", description="Test Genie: run test suites locally or against a deployed API."
    )
    parser.add_argument(
        "--api-url",
        help="the API (default $TESTGENIE_API_URL, else the local stack started in this folder, else "
        f"{DEFAULT_API_URL}); a deployed API is signed with SigV4",
    )
    parser.add_argument("--json", action="store_true", help="print the API's JSON instead of tables")
    parser.add_argument(
        "--raw",
        action="store_true",
        help="print logs and tables byte for byte (by default control characters, which a log could use "
        "to retitle or rewrite your terminal, are shown as visible escapes)",
    )
    parser.add_argument("--timeout-http", type=float, default=60.0, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for configure in COMMANDS:
        configure(sub)
    for command in sub.choices.values():
        # `--json` after the command too (`testgenie history --json`, as with `gh`); SUPPRESS keeps
        # the top-level value when it is not repeated here.
        command.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
        command.add_argument("--raw", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console.set_raw(bool(args.raw))
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except ApiError as exc:
        if exc.status == 0 and exc.message.startswith("cannot reach"):
            err(f"error: {exc.message}; {unreachable_hint(api_target(args))}")
        else:
            err(f"error: {in_cli_words(exc.message)}")
    except (CliError, FollowTimeout) as exc:
        err(f"error: {exc}")
    except KeyboardInterrupt:
        err("interrupted")
        return 130
    except Exception as exc:  # a clear line, not a traceback; details with TESTGENIE_DEBUG=1
        if os.environ.get("TESTGENIE_DEBUG"):
            raise
        err(f"error: {type(exc).__name__}: {exc}")
    return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
