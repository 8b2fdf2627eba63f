"""Operator tools: `push` a scenario bundle, `migrate` a database."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from testgenie_local.commands.common import DEFAULT_DATA_DIR, EXIT_OK, CliError, Subparsers
from testgenie_local.console import err, out


def cmd_push(args: argparse.Namespace) -> int:
    from testgenie_local.bundle import BundleError, config_warnings, push_scenario

    try:
        location = push_scenario(
            Path(args.dir), args.scenario, args.bucket, args.prefix, args.data_dir, args.platform
        )
    except BundleError as exc:
        raise CliError(str(exc)) from None
    out(f"pushed {args.dir} as {args.scenario} to {location}")
    # Said now, at the push, not only on each execution (docs/scenarios.md: unknown keys are ignored).
    for warning in config_warnings(Path(args.dir)):
        err(f"warning: {warning}")
    return EXIT_OK


def cmd_migrate(args: argparse.Namespace) -> int:
    url = args.database_url or os.environ.get("DATABASE_URL")
    if not url:
        raise CliError("no database: pass --database-url or set DATABASE_URL")
    from testgenie.migrate import migrate

    applied = migrate(url, Path(args.migrations) if args.migrations else None)
    out(
        f"applied {len(applied)} migration(s): {', '.join(applied)}"
        if applied
        else "the database is up to date"
    )
    return EXIT_OK


def configure_push(sub: Subparsers) -> None:
    push = sub.add_parser(
        "push",
        help="bundle a scenario folder (its python.requirements vendored) to the scenarios bucket "
        "(<prefix>/<name>.tar.gz); the running local stack's bucket by default",
    )
    push.add_argument("dir")
    push.add_argument("--scenario", required=True, help="the scenario's name")
    push.add_argument(
        "--bucket",
        default=os.environ.get("TESTGENIE_SCENARIOS_BUCKET"),
        help="default $TESTGENIE_SCENARIOS_BUCKET, else the local stack's bucket (a local bucket name "
        "always means the local stack)",
    )
    push.add_argument("--prefix", default=os.environ.get("TESTGENIE_SCENARIOS_PREFIX", "scenarios"))
    push.add_argument(
        "--platform",
        choices=["lambda", "local"],
        help="resolve the scenario's python.requirements for the deployed runner (python3.13 arm64; "
        "the default for a real bucket) or the local runner (the default for the local stack)",
    )
    push.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR, help=argparse.SUPPRESS)
    push.set_defaults(func=cmd_push)


def configure_migrate(sub: Subparsers) -> None:
    mig = sub.add_parser("migrate", help="apply pending database migrations")
    mig.add_argument("--database-url", help="default $DATABASE_URL")
    mig.add_argument("--migrations", help=argparse.SUPPRESS)
    mig.set_defaults(func=cmd_migrate)
