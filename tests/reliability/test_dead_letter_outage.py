"""A dead letter arrives while PostgreSQL is down: the handler keeps it, retrying with bounded
backoff, and handles it on its first try after the server is back (not 90 minutes later, when the
dead-letter queue would show it again). A PRIVATE server is stopped and started."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

from testgenie.db import Database
from testgenie.entrypoints.sqs import DeadLetterRecordHandler, process_batch
from testgenie.migrate import migrate
from testgenie.queue.models import QueueSuiteRequestInput
from testgenie.retrying import MAX_DELAY_SECONDS
from testgenie_local.polling import wait_for
from testgenie_local.postgres import RestartablePostgres, create_database

from tests.support.drills import query
from tests.support.events import sqs_batch, sqs_record
from tests.support.paths import MIGRATIONS
from tests.support.services import suite_requests
from tests.support.threads import WAIT_SECONDS, join_all

OUTAGE_TRIES = 4
DLQ_ARN = "arn:aws:sqs:us-east-1:123456789012:testgenie-suite-requests-dlq"


def test_a_dead_letter_is_handled_on_the_first_try_after_the_database_is_back(
    private_postgres: RestartablePostgres,
) -> None:
    url = create_database(private_postgres.admin_url, prefix="testgenie_dlq")
    migrate(url, MIGRATIONS)
    database = Database(url, connect_timeout=2)
    service = suite_requests(database)
    request, _ = service.queue(QueueSuiteRequestInput(scenario_name="demo"))
    event = sqs_batch(sqs_record(json.dumps({"suiteRequestId": str(request.id)}), DLQ_ARN, receive_count=5))

    back = threading.Event()
    pauses: list[tuple[bool, float]] = []  # (was the server back when the pause began?, seconds)
    tries: list[bool] = []  # one per try: was the server back?

    class Counting:
        def dead_letter(self, *args: Any) -> str:
            tries.append(back.is_set())
            return service.dead_letter(*args)

    def sleep(seconds: float) -> None:
        pauses.append((back.is_set(), seconds))
        time.sleep(seconds)

    outcome: dict[str, Any] = {}
    handled_at: list[float] = []

    def invocation() -> None:
        handler = DeadLetterRecordHandler(lambda: Counting(), sleep=sleep)  # type: ignore[arg-type,return-value]
        outcome.update(process_batch(event, None, handler))
        handled_at.append(time.monotonic())

    private_postgres.stop()
    worker = threading.Thread(target=invocation, name="dead-letter invocation")
    worker.start()
    try:
        # An outage of several tries (0.25 + 0.5 + 1 + 2 s of pauses), or the handler giving up.
        wait_for(lambda: len(pauses) >= OUTAGE_TRIES or not worker.is_alive(), WAIT_SECONDS, "retries")
        assert len(pauses) >= OUTAGE_TRIES, f"the handler gave up: {outcome}"
        assert tries == [False] * len(tries)  # every try so far met the stopped server
    finally:
        private_postgres.start()
        back.set()
    back_at = time.monotonic()
    join_all([worker])
    database.close()

    assert outcome == {"batchItemFailures": []}  # handled in this invocation
    # It was retried, and once the server was back (start() returned) at most one more try was
    # needed: the one that handled it (it may even have come while the server was starting).
    assert len(tries) >= 2, tries
    assert len([was_back for was_back in tries if was_back]) <= 1, tries
    assert all(seconds <= MAX_DELAY_SECONDS for _, seconds in pauses)
    rows = query(url, "SELECT status, dead_letters FROM suite_requests WHERE id = %s", (request.id,))
    assert [(r["status"], r["dead_letters"]) for r in rows] == [("queued", 1)]  # re-published once
    print(
        "dead letter handled", round(handled_at[0] - back_at, 2), "s after the restart;", len(tries), "tries"
    )
