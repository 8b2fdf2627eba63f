"""One "Lambda environment" in its own process: invokes the execute handler with one SQS record.

    python -m tests.reliability.worker <suite-request-id> [--receive-count N]

The environment (DATABASE_URL, SCENARIOS_SOURCE, ARTIFACTS_DIR, LEASE_SECONDS, ...) configures the
handler exactly as in Lambda; the batch response is printed as one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
for extra in ("layers/core", "functions/execute", "local"):
    if str(REPO_ROOT / extra) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / extra))


def sqs_record_event(request_id: str, receive_count: int = 1) -> dict[str, object]:
    """A real-shaped SQS event of one message `{"suiteRequestId": ...}` from the suite request queue."""
    from testgenie_local.poller import sqs_event

    message = {
        "MessageId": str(uuid.uuid4()),
        "ReceiptHandle": uuid.uuid4().hex,
        "Body": json.dumps({"suiteRequestId": request_id}),
        "Attributes": {
            "ApproximateReceiveCount": str(receive_count),
            "SentTimestamp": str(int(time.time() * 1000)),
            "SenderId": "AIDAEXAMPLE",
            "ApproximateFirstReceiveTimestamp": str(int(time.time() * 1000)),
        },
    }
    arn = "arn:aws:sqs:us-east-1:123456789012:SuiteRequestQueue"
    return sqs_event([message], arn, "us-east-1")  # type: ignore[list-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("request_id")
    parser.add_argument("--receive-count", type=int, default=1)
    args = parser.parse_args()

    import execute_app
    from testgenie_local.runtime import FakeLambdaContext

    context: Any = FakeLambdaContext(function_name="ExecuteFunction", timeout_seconds=900)
    response = execute_app.lambda_handler(sqs_record_event(args.request_id, args.receive_count), context)
    print(json.dumps(response), flush=True)


if __name__ == "__main__":
    main()
