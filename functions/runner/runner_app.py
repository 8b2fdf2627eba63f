"""RunnerFunction: runs one phase of one execution and answers its result (docs/architecture.md).

It holds no keys: no database settings, no VPC, no AWS permission beyond its own logs. All it may
touch comes in the event (a pre-signed bundle URL + digest, the plan, the deadline, a pre-signed
log upload). A malformed event raises, which the coordinator records as an errored execution.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from testgenie.observability import logger
from testgenie.orchestrator.phases.containment import become_runner_process
from testgenie.runner.bounds import bound_answer
from testgenie.runner.phase import run_invocation
from testgenie.runner.protocol import PhaseInvocation

# Cold start: this process reaps (and ends) everything a phase's commands start, setsid'ed or not.
become_runner_process()


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    invocation = PhaseInvocation.model_validate(event)
    logger.append_keys(execution_id=str(invocation.execution_id), phase=invocation.phase)
    answer = run_invocation(invocation, time_left_ms=context.get_remaining_time_in_millis())
    # Under a durable checkpoint's limit, with a note when observations or tests were cut.
    answer = bound_answer(answer)
    logger.info("phase ran", extra={"status": answer.result.status.value, "log_stored": answer.log_stored})
    return answer.model_dump(mode="json", by_alias=True)
