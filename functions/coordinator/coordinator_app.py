"""CoordinatorFunction: one suite execution as a Lambda durable function (docs/architecture.md).

Started by name (the suite request id) by ExecuteFunction; claims, plans, runs each phase as a
chained invoke of RunnerFunction and records the result, every effect in a step
(testgenie/coordinator/flow.py). Between phases it is suspended: no compute, no database connection.
"""

from __future__ import annotations

from typing import Any

from aws_durable_execution_sdk_python import DurableContext, durable_execution
from testgenie import bootstrap
from testgenie.coordinator.flow import coordinate

# This execution environment's services, built on the first event (testgenie/bootstrap.py).
environment = bootstrap.Environment()


@durable_execution
def lambda_handler(event: dict[str, Any], context: DurableContext) -> dict[str, Any]:
    return coordinate(event, context, environment.services().coordinator)
