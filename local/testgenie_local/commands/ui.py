"""`testgenie ui`: the dashboard for any Test Genie API (see testgenie_local.ui.server)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from testgenie_local.client import ApiClient, ApiError
from testgenie_local.commands.common import EXIT_OK, CliError, Subparsers, api_target
from testgenie_local.console import err

DEFAULT_UI_PORT = 3100


def cmd_ui(args: argparse.Namespace) -> int:
    from testgenie_local.ui.server import UiServer

    try:
        client = ApiClient(api_target(args).url, timeout=args.timeout_http, sign=True if args.sign else None)
    except ApiError as exc:
        raise CliError(exc.message) from None
    try:
        server = UiServer(client, args.port)
    except OSError as exc:
        raise CliError(f"cannot listen on 127.0.0.1:{args.port}: {exc.strerror or exc}") from None
    signing = "signed with SigV4 from your AWS credentials" if client.sign else "unsigned (a local API)"
    err(f"Test Genie dashboard: {server.url}/\n  API  {client.base_url}{'/api/v1'}  ({signing})")
    err("Serving. Ctrl-C to stop.")
    if args.ready_file:
        args.ready_file.write_text(json.dumps({"url": server.url, "api_url": client.base_url}) + "\n")
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return EXIT_OK


def configure_ui(sub: Subparsers) -> None:
    ui = sub.add_parser(
        "ui", help="the web dashboard on 127.0.0.1 for any API (a deployed one is signed with SigV4)"
    )
    # Also accepted after the command (`testgenie ui --api-url https://…`); the top-level one otherwise.
    ui.add_argument(
        "--api-url", default=argparse.SUPPRESS, help="the API to show (default: the top-level --api-url)"
    )
    ui.add_argument(
        "--port",
        type=int,
        default=DEFAULT_UI_PORT,
        help=f"port on 127.0.0.1 (default {DEFAULT_UI_PORT}; 0 picks one)",
    )
    ui.add_argument(
        "--sign", action="store_true", help="sign with SigV4 even for a local URL (a proxy, a stub)"
    )
    ui.add_argument("--ready-file", type=Path, help="write the dashboard's URL as JSON here once it serves")
    ui.set_defaults(func=cmd_ui)
