"""ExecuteFunction: the write side. One `lambda_handler` for four kinds of event:

- API Gateway HTTP API v2 (POST routes of docs/api.md, and GET /scenarios/available),
- SQS batches from SuiteRequestQueue (partial batch failures),
- SQS batches from SuiteRequestDLQ (records whose eventSourceARN is SUITE_REQUEST_DLQ_ARN),
- EventBridge Scheduler input `{"action": "enqueue" | "reap", ...}`.

Each path parses, calls one service method and shapes the answer.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header
from aws_lambda_powertools.utilities.typing import LambdaContext
from testgenie import bootstrap
from testgenie.coordinator.runs import ExecutionAccepted
from testgenie.entrypoints.deadline import run_deadline, run_now_wait_seconds
from testgenie.entrypoints.http import (
    API_PREFIX,
    BAD_REQUEST_DOC,
    NOT_FOUND_DOC,
    UNAVAILABLE_DOC,
    JsonResponse,
    build_resolver,
    error_doc,
    json_document_response,
    json_response,
    model_doc,
    serve,
)
from testgenie.entrypoints.models import (
    AvailableScenarioPage,
    RerunBody,
    SuiteExecutionBody,
    SuiteRequestBody,
)
from testgenie.entrypoints.params import page, parse_uuid
from testgenie.entrypoints.schedule import is_schedule_event, parse_schedule, run_schedule
from testgenie.entrypoints.sqs import (
    DeadLetterRecordHandler,
    DurableStartRecordHandler,
    QueueRecordHandler,
    is_dead_letter_batch,
    process_batch,
)
from testgenie.errors import ValidationError
from testgenie.history.models import PinState
from testgenie.models_base import NoFields
from testgenie.observability import logger, publishes_metrics, record_execution_metrics, traced
from testgenie.orchestrator.models import SuiteExecutionResult
from testgenie.queue.models import MAX_IDEMPOTENCY_KEY_LENGTH, REQUEST_NOT_FOUND, SuiteRequest
from testgenie.records import Trigger

app = build_resolver()
# This execution environment's services, built on the first event (testgenie/bootstrap.py).
environment = bootstrap.Environment()
_ERRORS = {400: BAD_REQUEST_DOC, 503: UNAVAILABLE_DOC}

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description=(
            f"1 to {MAX_IDEMPOTENCY_KEY_LENGTH} printable characters; the same key returns the first request again (200) "
            "instead of queueing another"
        ),
    ),
]


@app.post(
    f"{API_PREFIX}/executions",
    summary=(
        "Run a suite now; a failed run is still 200 with success=false. A run still going after 25 s "
        "answers 202 with where to follow it (durable executions)"
    ),
    tags=["executions"],
    responses={
        200: model_doc("the execution result", SuiteExecutionResult),
        202: model_doc("still running: follow the suite request, then read the execution", ExecutionAccepted),
        404: error_doc(REQUEST_NOT_FOUND),
        409: error_doc("the linked suite request cannot be claimed"),
        **_ERRORS,
    },
)
def execute_suite(body: Annotated[SuiteExecutionBody, Body()]) -> Response[Any]:
    context = app.lambda_context
    left = int(context.get_remaining_time_in_millis()) if context is not None else None
    durable = environment.services().durable_runs
    if durable is not None:
        answer = durable.run_now(body.to_input(), wait_seconds=run_now_wait_seconds(left))
        if isinstance(answer, str):
            return json_document_response(HTTPStatus.OK, answer)
        accepted = json_response(HTTPStatus.ACCEPTED, answer.to_json_dict())
        accepted.headers["Location"] = answer.follow
        return accepted
    result = environment.services().execution.execute(body.to_input(), deadline=run_deadline(left))
    record_execution_metrics(result)
    return json_response(HTTPStatus.OK, result.to_json_dict())


@app.post(
    f"{API_PREFIX}/suite-requests",
    summary="Queue a suite request (published to SQS after commit)",
    tags=["suite-requests"],
    responses={
        201: model_doc("queued", SuiteRequest),
        200: model_doc("the request first queued with this Idempotency-Key", SuiteRequest),
        **_ERRORS,
    },
)
def queue_suite_request(
    body: Annotated[SuiteRequestBody, Body()], idempotency_key: IdempotencyKey = None
) -> JsonResponse:
    request, created = environment.services().suite_requests.queue(body, Trigger.API, idempotency_key)
    return json_response(HTTPStatus.CREATED if created else HTTPStatus.OK, request.to_json_dict())


@app.post(
    f"{API_PREFIX}/suite-requests/<requestId>/cancel",
    summary=(
        "Cancel a suite request: a durable run is stopped at once and recorded cancelled (on the direct "
        "path a running one stops after its current phase)"
    ),
    tags=["suite-requests"],
    responses={
        200: model_doc("the request's new state", SuiteRequest),
        404: NOT_FOUND_DOC,
        409: error_doc("the request is already terminal"),
        **_ERRORS,
    },
)
def cancel_suite_request(requestId: str, body: Annotated[NoFields | None, Body()] = None) -> JsonResponse:
    request_id = parse_uuid(requestId, "suite request id")
    durable = environment.services().durable_runs
    cancelled = (
        durable.cancel(request_id) if durable else environment.services().suite_requests.cancel(request_id)
    )
    return json_response(HTTPStatus.OK, cancelled.to_json_dict())


@app.post(
    f"{API_PREFIX}/executions/<executionId>/rerun",
    summary="Queue the plan of an execution again (or only its failed phases), linked by rerunOf",
    tags=["executions"],
    responses={
        201: model_doc("queued, with trigger rerun", SuiteRequest),
        404: NOT_FOUND_DOC,
        **_ERRORS,
    },
)
def rerun_execution(executionId: str, body: Annotated[RerunBody | None, Body()] = None) -> JsonResponse:
    execution = parse_uuid(executionId, "execution id")
    failed_only = body.failed_only if body is not None else False
    request = environment.services().reruns.rerun(execution, failed_only)
    return json_response(HTTPStatus.CREATED, request.to_json_dict())


@app.post(
    f"{API_PREFIX}/executions/<executionId>/pin",
    summary="Keep an execution forever (retention skips it)",
    tags=["executions"],
    responses={200: model_doc("pinned", PinState), 404: NOT_FOUND_DOC, **_ERRORS},
)
def pin_execution(executionId: str, body: Annotated[NoFields | None, Body()] = None) -> JsonResponse:
    state = environment.services().retention.pin(parse_uuid(executionId, "execution id"), True)
    return json_response(HTTPStatus.OK, state)


@app.delete(
    f"{API_PREFIX}/executions/<executionId>/pin",
    summary="Let retention delete an execution again",
    tags=["executions"],
    responses={200: model_doc("unpinned", PinState), 404: NOT_FOUND_DOC, **_ERRORS},
)
def unpin_execution(executionId: str) -> JsonResponse:
    state = environment.services().retention.pin(parse_uuid(executionId, "execution id"), False)
    return json_response(HTTPStatus.OK, state)


@app.get(
    f"{API_PREFIX}/scenarios/available",
    summary=(
        "The scenarios the service can run (its scenario source: the bundles under scenarios/), "
        "sorted by name; at most 1000. Those with runs are GET /scenarios"
    ),
    tags=["scenarios"],
    responses={
        200: model_doc("the scenario names", AvailableScenarioPage),
        503: error_doc("the scenario source cannot be listed now; retry later"),
    },
)
def list_available_scenarios() -> JsonResponse:
    # Served here, not by HistoryFunction: listing the bucket takes boto3, which the read side never loads.
    names = environment.services().scenarios.names()
    return json_response(HTTPStatus.OK, page([{"scenarioName": name} for name in names]))


def handle_queue_batch(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = environment.services().settings
    if is_dead_letter_batch(event, settings.suite_request_dlq_arn):
        return process_batch(
            event, context, DeadLetterRecordHandler(lambda: environment.services().suite_requests, context)
        )
    durable = environment.services().durable_runs
    if durable is not None:
        return process_batch(event, context, DurableStartRecordHandler(durable.start))
    budget_ms = settings.phase_timeout_seconds * 1000
    handler = QueueRecordHandler(
        lambda: environment.services().execution,
        context,
        budget_ms,
        republish=lambda request_id: environment.services().suite_requests.republish(request_id),
    )
    response = process_batch(event, context, handler)
    if handler.handed_back:
        logger.info("records handed back for lack of time", extra={"count": len(handler.handed_back)})
        environment.services().suite_requests.hand_back(handler.handed_back)
    for backoff, handles in handler.retry_later.items():
        environment.services().suite_requests.hand_back(handles, visibility_timeout=backoff)
    return response


def handle_schedule(event: dict[str, Any]) -> dict[str, Any]:
    try:
        schedule = parse_schedule(event)
        retention = environment.services().retention if schedule.action == "prune" else None
        return run_schedule(schedule, environment.services().suite_requests, retention)
    except ValidationError as exc:  # retrying a bad input cannot help: report it, do not raise
        logger.error("invalid schedule input", extra={"error": exc.message})
        return {"action": str(event.get("action")), "error": exc.message}


@logger.inject_lambda_context(clear_state=True)
@traced
@publishes_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if isinstance(event.get("Records"), list):
        return handle_queue_batch(event, context)
    if "requestContext" in event and "rawPath" in event:
        logger.set_correlation_id(event["requestContext"].get("requestId"))
        return serve(app, event, context)
    if is_schedule_event(event):
        return handle_schedule(event)
    logger.error("unsupported event", extra={"keys": sorted(event)[:20]})
    raise ValueError("unsupported event: expected API Gateway v2, SQS or scheduler input")
