"""One "Lambda environment" in its own process: invokes the execute handler with one SQS record.

    python -m tests.reliability.worker <suite-request-id> [--receive-count N]

The environment (DATABASE_URL, SCENARIOS_SOURCE, ARTIFACTS_DIR, LEASE_SECONDS, ...) configures the
handler exactly as in Lambda; the batch response is printed as one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
for extra in ("layers/core", "functions/execute", "local"):
    if str(REPO_ROOT / extra) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / extra))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("request_id")
    parser.add_argument("--receive-count", type=int, default=1)
    args = parser.parse_args()

    runner = _start_runner()
    import execute_app
    from testgenie.settings import get_settings
    from testgenie_local.stack import stack_services

    # The stack's services: its artifact store signs the runner's log uploads (testgenie_local/uploads.py).
    execute_app.environment.configure(lambda: stack_services(get_settings()))

    from tests.support.context import FakeLambdaContext
    from tests.support.events import suite_request_message

    context: Any = FakeLambdaContext(function_name="ExecuteFunction", timeout_seconds=900)
    response = execute_app.lambda_handler(suite_request_message(args.request_id, args.receive_count), context)
    print(json.dumps(response), flush=True)
    runner.stop()


def _start_runner() -> Any:
    """This environment's RunnerFunction: its own process behind a local Invoke endpoint, as the
    stack runs it, but as this user (the folder's packed bundles are this user's files)."""
    import getpass
    import os
    import secrets

    from testgenie_local.runner_host import LocalRunner, RunnerIdentity
    from testgenie_local.template import read_template

    spec = read_template(REPO_ROOT / "template.yaml").functions["RunnerFunction"]
    artifacts = os.environ.get("ARTIFACTS_DIR")
    runner = LocalRunner(
        [spec],
        artifacts_dir=Path(artifacts) if artifacts else None,
        upload_secret=secrets.token_hex(32),
        identity=RunnerIdentity(getpass.getuser()),
    )
    env = {key: value for key, value in runner.start().items() if value is not None}
    os.environ.update({"RUNNER_FUNCTION_NAME": spec.logical_id, "AWS_DEFAULT_REGION": "us-east-1", **env})
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ.setdefault(key, "testing")  # the local endpoint signs nothing
    return runner


if __name__ == "__main__":
    main()
