"""Running the stack on this machine: `serve`, and `quickstart` (what `make run` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

from testgenie_local.commands.common import DEFAULT_DATA_DIR, DEFAULT_PORT, Subparsers


def cmd_serve(args: argparse.Namespace) -> int:
    from testgenie_local.serve import serve

    return serve(args)


def cmd_quickstart(args: argparse.Namespace) -> int:
    from testgenie_local.commands.quickstart import quickstart

    return quickstart(args)


def add_stack_arguments(parser: argparse.ArgumentParser, default_port: int = DEFAULT_PORT) -> None:
    parser.add_argument(
        "--port",
        type=int,
        default=default_port,
        help=f"gateway port on 127.0.0.1 (default {default_port}; 0 picks a free one)",
    )
    parser.add_argument(
        "--scenarios",
        help="scenarios folder (default: examples/scenarios), uploaded as bundles at start; or "
        "s3://<bucket>/<prefix>: the bundles already pushed into a local bucket",
    )
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
        "--unsafe-shared-runner",
        action="store_true",
        help="run scenarios without the bubblewrap sandbox when it cannot run here (trusted scenarios only)",
    )
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="log every request and the handlers' own logs"
    )


def configure_serve(sub: Subparsers) -> None:
    serve = sub.add_parser("serve", help="run the whole stack on this machine (from template.yaml)")
    add_stack_arguments(serve)
    serve.set_defaults(func=cmd_serve)


def configure_quickstart(sub: Subparsers) -> None:
    quick = sub.add_parser(
        "quickstart", help="serve, run an example suite with live progress, keep serving (make run)"
    )
    add_stack_arguments(quick)
    quick.add_argument(
        "--scenario", default="hello-python", help="the scenario to run first (default hello-python)"
    )
    quick.add_argument("--preset", default="quick", help="its preset (default quick)")
    quick.add_argument(
        "--exit-after-first", action="store_true", help="stop after the first suite (exit 1 when it failed)"
    )
    quick.add_argument("--wait-timeout", type=float, default=600.0, help=argparse.SUPPRESS)
    quick.set_defaults(func=cmd_quickstart)
