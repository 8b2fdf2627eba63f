"""Poison messages -> DLQ -> their requests failed with a reason; their batch mates unharmed.

Through `testgenie serve` (moto SQS with the template's redrive, the poller, the execute handler):
a database trigger refuses to claim the requests marked poison, so every delivery of their messages
fails; after maxReceiveCount the queue moves them to the DLQ, whose records fail the requests with an
execution row saying why. Malformed messages are acknowledged, never retried and never dead-lettered.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from testgenie_local.polling import wait_for

from tests.support.drills import TERMINAL, copy_scenarios, local_sqs, query, queue_depth, request_states
from tests.support.stack import RunningStack

POISON_NOTE = "poison-drill"
REFUSE_POISON_CLAIMS = f"""
CREATE FUNCTION refuse_poison_claim() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.status = 'running' AND OLD.status <> 'running' AND NEW.notes = '{POISON_NOTE}' THEN
    RAISE EXCEPTION 'poison drill: this request cannot be claimed';
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER refuse_poison_claim BEFORE UPDATE ON suite_requests
  FOR EACH ROW EXECUTE FUNCTION refuse_poison_claim();
"""
MALFORMED_BODIES = ["not json", "{}", '{"suiteRequestId": "not-a-uuid"}', "[1, 2]", '{"suiteRequestId": 7}']


@pytest.mark.timeout(180)
def test_poison_messages_end_in_the_dlq_and_fail_their_requests(
    new_database: Callable[[], str], serve: Callable[..., RunningStack], tmp_path: Path
) -> None:
    url = new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(REFUSE_POISON_CLAIMS)
    scenarios = copy_scenarios(tmp_path / "scenarios", "rel-pass")
    # Redeliveries every second instead of every 90 minutes (the template's visibility timeout).
    # The direct path (ExecuteFunction runs the request itself), whose failed claims are delivery
    # failures that walk the message to the DLQ. On the durable path a delivery only starts the
    # execution; a claim that fails for good fails the request from the coordinator
    # (tests/integration/coordinator/test_durable_flow.py).
    stack = serve(scenarios, url, visibility_timeout=1, COORDINATOR_FUNCTION_NAME="")
    sqs = local_sqs(stack)
    redrive = json.loads(
        sqs.get_queue_attributes(
            QueueUrl=stack.info["queues"]["SuiteRequestQueue"], AttributeNames=["RedrivePolicy"]
        )["Attributes"]["RedrivePolicy"]
    )
    max_receives = int(redrive["maxReceiveCount"])

    poison, healthy = [], []
    for index in range(10):
        if index % 3 == 0:
            poison.append(stack.queue(scenarioName="rel-pass", notes=POISON_NOTE)["id"])
        else:
            healthy.append(stack.queue(scenarioName="rel-pass")["id"])
    for body in MALFORMED_BODIES:
        sqs.send_message(QueueUrl=stack.info["queues"]["SuiteRequestQueue"], MessageBody=body)

    seen: dict[str, object] = {}

    def settled() -> bool:
        assert stack.process.poll() is None, stack.tail()
        states = request_states(url, poison + healthy)
        depths = [queue_depth(stack, name) for name in ("SuiteRequestQueue", "SuiteRequestDLQ")]
        seen.update(states=states, depths=depths)
        return all(s["status"] in TERMINAL for s in states.values()) and depths == [0, 0]

    try:
        wait_for(
            settled, 40, "the poison messages to be dead-lettered and the queues to drain", interval=0.25
        )
    except TimeoutError as exc:
        raise AssertionError(f"{exc}; last seen: {seen}; poison: {poison}") from None

    states = request_states(url, poison + healthy)
    # The healthy requests of the same batches ran once, on the first delivery.
    for request_id in healthy:
        assert states[request_id] == {"id": request_id, "status": "completed", "attempts": 1, "executions": 1}
    # The poison ones were never claimed, and ended failed with one execution saying why.
    for request_id in poison:
        assert states[request_id] == {"id": request_id, "status": "failed", "attempts": 0, "executions": 1}
        request = stack.get(f"/suite-requests/{request_id}")
        assert request["status"] == "failed"
        execution = stack.get(f"/executions/{request['executionId']}")
        assert execution["suiteRequestId"] == request_id
        assert (execution["outcome"], execution["success"]) == ("errored", False)
        (reason,) = execution["warnings"]
        assert "dead-letter queue" in reason
        found = re.search(r"received (\d+) times", reason)
        assert found is not None, reason
        assert int(found.group(1)) >= max_receives, reason
    # Malformed messages were acknowledged: no row, no execution, nothing left on either queue.
    assert query(url, "SELECT count(*) AS n FROM suite_requests") == [{"n": len(poison) + len(healthy)}]
    assert query(url, "SELECT count(*) AS n FROM suite_executions") == [{"n": len(poison) + len(healthy)}]
