"""`testgenie serve`: the local stack in the foreground until Ctrl-C (SIGINT) or SIGTERM."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from aws_lambda_powertools.logging.filters import SuppressFilter
from testgenie.observability import SERVICE_NAME

from testgenie_local.client import ApiError
from testgenie_local.stack import LocalStack, StackError, StackInfo, StackOptions
from testgenie_local.template import TemplateError, find_template
from testgenie_local.ui.pages import PagesApp


class _Shutdown(KeyboardInterrupt):
    """Raised in the main thread by the first SIGINT (Ctrl-C) or SIGTERM."""


def _raise_shutdown(signum: int, frame: FrameType | None) -> None:
    # Once: a second Ctrl-C (or a SIGTERM right after it) must not interrupt the orderly stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise _Shutdown()


def _plain_stderr() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    return handler


def configure_logging(verbose: bool) -> None:
    """Each line once: the functions' Powertools JSON lines (stdout) as on Lambda, the stack's own lines
    (`testgenie.local…`) as plain text on stderr, never dressed as JSON in some function's context."""
    level = logging.INFO if verbose else logging.WARNING
    logging.basicConfig(level=level, handlers=[_plain_stderr()])
    # Powertools keeps its records off the root handler only if that handler exists when its Logger is
    # made (as on Lambda); here the Logger came first, so the same filter is added now.
    for handler in logging.root.handlers:
        handler.addFilter(SuppressFilter(SERVICE_NAME))
    local = logging.getLogger("testgenie.local")
    local.setLevel(level)
    local.handlers = [_plain_stderr()]
    local.propagate = False  # not through the functions' JSON handler of the parent "testgenie"
    for noisy in ("werkzeug", "botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def stack_options(args: argparse.Namespace, say: Callable[[str], None]) -> StackOptions:
    try:
        template = args.template or find_template()
    except TemplateError as exc:
        raise StackError(str(exc)) from None
    if not Path(template).is_file():
        raise StackError(f"template not found: {template}")
    return StackOptions(
        template=Path(template),
        data_dir=args.data_dir,
        scenarios=Path(args.scenarios)
        if args.scenarios and not str(args.scenarios).startswith("s3://")
        else None,
        scenarios_url=str(args.scenarios)
        if args.scenarios and str(args.scenarios).startswith("s3://")
        else None,
        port=args.port,
        artifacts=args.artifacts,
        unsafe_shared_runner=bool(getattr(args, "unsafe_shared_runner", False)),
        say=say,
        end_child_processes=True,
        mount=PagesApp(),  # the dashboard at `/`; the API stays under /api/v1
    )


def describe(info: StackInfo, stack: LocalStack) -> list[str]:
    database = {
        "external": "PostgreSQL from DATABASE_URL",
        "embedded": "embedded PostgreSQL (pgserver)",
        "binaries": "this machine's PostgreSQL binaries",
    }.get(info.database, info.database)
    lines = [
        "Test Genie local stack",
        f"  API        {info.api_url}/api/v1   (try: curl {info.api_url}/api/v1/health)",
        f"  dashboard  {info.api_url}/",
        f"  database   {database}; data in {info.data_dir}",
        f"  SQS, S3    moto at {info.aws_endpoint} (queues: {', '.join(q.rsplit('/', 1)[-1] for q in info.queues.values()) or '-'})",
        f"  scenarios  {info.scenarios}",
    ]
    if stack.scheduler is not None and stack.scheduler.planned:
        every = ", ".join(f"{p.schedule.event_name} every {p.period:g}s" for p in stack.scheduler.planned)
        lines.append(f"  schedules  {every}")
    return lines


def run_with_stack(
    args: argparse.Namespace, say: Callable[[str], None], body: Callable[[LocalStack, StackInfo], int]
) -> int:
    """Start the stack (SIGTERM handled like Ctrl-C), run `body`, stop everything it started, exit.

    Once a stack was created this ends the process itself (see LocalStack.abandon), so that the
    commands of abandoned runs die with it and leave no process behind.
    """
    configure_logging(bool(getattr(args, "verbose", False)))
    if _main_thread():
        signal.signal(signal.SIGINT, _raise_shutdown)
        signal.signal(signal.SIGTERM, _raise_shutdown)
    try:
        stack = LocalStack(stack_options(args, say))
    except StackError as exc:
        say(f"error: {exc}")
        return 2
    code = 0
    try:
        say("starting the local stack…")
        info = stack.start()
        if args.ready_file:
            args.ready_file.write_text(json.dumps(info.to_json(), indent=2) + "\n")
        code = body(stack, info)
    except KeyboardInterrupt:
        code = 0
    except (StackError, TemplateError) as exc:
        say(f"error: {exc}")
        code = 2
    except ApiError as exc:
        say(f"error: {exc.message}")
        code = 2
    except Exception as exc:
        if os.environ.get("TESTGENIE_DEBUG"):
            traceback.print_exc()
        say(f"error: {type(exc).__name__}: {exc}")
        code = 2
    finally:
        if _main_thread():
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        say("stopping the local stack…")
        stack.stop()
        say("stopped.")
    return stack.abandon(code)


def _main_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def serve(args: argparse.Namespace) -> int:
    def body(stack: LocalStack, info: StackInfo) -> int:
        _say("\n".join(describe(info, stack)))
        _say("Serving. Ctrl-C to stop.")
        stack.wait()
        return 0

    return run_with_stack(args, _say, body)
