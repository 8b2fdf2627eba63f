"""HistoryFunction: the read side (GET routes of docs/api.md). Parse, call one service method, shape.

Never imports the orchestrator engine, boto3 or the batch utilities (checked by a test and by
benchmarks/cold_start.py): those would only slow its cold start.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from testgenie import bootstrap
from testgenie.entrypoints.http import (
    API_PREFIX,
    BAD_REQUEST_DOC,
    NOT_FOUND_DOC,
    UNAVAILABLE_DOC,
    JsonResponse,
    build_resolver,
    json_document_response,
    json_response,
    model_doc,
    serve,
    text_doc,
)
from testgenie.entrypoints.models import ExecutionPage, Health, PhasePage, SuiteRequestPage
from testgenie.entrypoints.params import (
    CursorQuery,
    IncludeTotalQuery,
    LimitQuery,
    OffsetQuery,
    OutcomeQuery,
    PhaseQuery,
    PhaseStatusQuery,
    PresetQuery,
    ScenarioQuery,
    ShardQuery,
    SinceQuery,
    TriggerQuery,
    UntilQuery,
    WindowQuery,
    WithQuery,
    page,
    parse_scenario,
    parse_uuid,
)
from testgenie.errors import NotFoundError, TestGenieError, ValidationError
from testgenie.history.filters import EXECUTIONS_CURSOR, SCENARIOS_CURSOR, execution_filter
from testgenie.history.models import ExecutionComparison, ScenarioPage, ScenarioStats
from testgenie.observability import logger, traced
from testgenie.paging import MAX_PAGE, parse_keyset
from testgenie.queue.models import (
    SUITE_REQUESTS_CURSOR,
    SuiteRequest,
    SuiteRequestStatus,
    suite_request_filter,
)
from testgenie.records import StoredExecution

app = build_resolver()
# This execution environment's services, built on the first event (testgenie/bootstrap.py).
environment = bootstrap.Environment()
_ERRORS = {400: BAD_REQUEST_DOC, 503: UNAVAILABLE_DOC}


@app.get(
    f"{API_PREFIX}/executions",
    summary="List executions, newest first",
    tags=["executions"],
    responses={200: model_doc("a page of executions (without phases)", ExecutionPage), **_ERRORS},
)
def list_executions(
    scenario: ScenarioQuery = None,
    outcome: OutcomeQuery = None,
    trigger: TriggerQuery = None,
    preset: PresetQuery = None,
    since: SinceQuery = None,
    until: UntilQuery = None,
    phase: PhaseQuery = None,
    phaseStatus: PhaseStatusQuery = None,
    limit: LimitQuery = MAX_PAGE,
    offset: OffsetQuery = 0,
    cursor: CursorQuery = None,
    includeTotal: IncludeTotalQuery = False,
) -> Response[str]:
    query = execution_filter(
        scenario=parse_scenario(scenario),
        outcome=outcome,
        trigger=trigger,
        preset=preset,
        since=since,
        until=until,
        phase=phase,
        phase_status=phaseStatus,
    )
    keyset = parse_keyset(EXECUTIONS_CURSOR, limit, offset, cursor)
    document = environment.services().history.list(query, keyset, includeTotal)
    return json_document_response(HTTPStatus.OK, document)


@app.get(
    f"{API_PREFIX}/executions/latest",
    summary="The latest execution",
    tags=["executions"],
    responses={
        200: model_doc("the latest execution", StoredExecution),
        404: NOT_FOUND_DOC,
        **_ERRORS,
    },
)
def latest_execution(scenario: ScenarioQuery = None) -> Response[str]:
    document = environment.services().history.latest(parse_scenario(scenario))
    return json_document_response(HTTPStatus.OK, document)


@app.get(
    f"{API_PREFIX}/executions/<executionId>",
    summary="One execution with its phases",
    tags=["executions"],
    responses={200: model_doc("the execution", StoredExecution), 404: NOT_FOUND_DOC, **_ERRORS},
)
def get_execution(executionId: str) -> Response[str]:
    document = environment.services().history.get(parse_uuid(executionId, "execution id"))
    return json_document_response(HTTPStatus.OK, document)


@app.get(
    f"{API_PREFIX}/executions/<executionId>/compare",
    summary="What changed from another execution (or the scenario's previous run) to this one",
    tags=["executions"],
    responses={200: model_doc("the comparison", ExecutionComparison), 404: NOT_FOUND_DOC, **_ERRORS},
)
def compare_execution(executionId: str, with_: WithQuery = "previous") -> JsonResponse:
    this = parse_uuid(executionId, "execution id")
    base = None if with_.strip().lower() == "previous" else parse_uuid(with_, "with")
    return json_response(HTTPStatus.OK, environment.services().history.compare(this, base))


@app.get(
    f"{API_PREFIX}/scenarios",
    summary="Every scenario with executions: health over its recent runs, newest activity first",
    tags=["scenarios"],
    responses={200: model_doc("a page of scenarios", ScenarioPage), **_ERRORS},
)
def list_scenarios(limit: LimitQuery = MAX_PAGE, cursor: CursorQuery = None) -> Response[str]:
    keyset = parse_keyset(SCENARIOS_CURSOR, limit, 0, cursor)
    return json_document_response(HTTPStatus.OK, environment.services().history.scenarios(keyset))


@app.get(
    f"{API_PREFIX}/scenarios/<name>/stats",
    summary="Per-phase pass rate, durations and flakiness, and runs per day, over a window of runs",
    tags=["scenarios"],
    responses={200: model_doc("the statistics", ScenarioStats), 404: NOT_FOUND_DOC, **_ERRORS},
)
def scenario_stats(name: str, window: WindowQuery = 30) -> JsonResponse:
    scenario = parse_scenario(name, "scenario name")
    if scenario is None:
        raise ValidationError("scenario name is required")
    return json_response(HTTPStatus.OK, environment.services().history.stats(scenario, window))


@app.get(
    f"{API_PREFIX}/executions/<executionId>/phases/<phase>/log",
    summary="The tail of one phase's log",
    tags=["executions"],
    responses={
        200: text_doc("the log's last LOG_TAIL_BYTES bytes"),
        404: NOT_FOUND_DOC,
        **_ERRORS,
    },
)
def get_phase_log(executionId: str, phase: str, shard: ShardQuery = None) -> Response[Any]:
    services = environment.services()
    execution = parse_uuid(executionId, "execution id")
    name = phase.strip().lower()
    log = name if shard is None else f"{name}.shard-{shard}"  # docs/scenarios.md, "Shards"
    text = services.artifacts.read_log(execution, log, services.settings.log_tail_bytes)
    if text is None and shard is not None:
        raise NotFoundError(f"phase '{name}' of execution {execution} has no log of shard {shard}")
    if text is None:
        raise services.history.missing_log(execution, name)
    return Response(status_code=HTTPStatus.OK, content_type="text/plain; charset=utf-8", body=text)


@app.get(
    f"{API_PREFIX}/suite-requests",
    summary="List suite requests, newest first",
    tags=["suite-requests"],
    responses={200: model_doc("a page of suite requests", SuiteRequestPage), **_ERRORS},
)
def list_suite_requests(
    status: SuiteRequestStatus | None = None,
    scenario: ScenarioQuery = None,
    since: SinceQuery = None,
    limit: LimitQuery = MAX_PAGE,
    cursor: CursorQuery = None,
) -> JsonResponse:
    query = suite_request_filter(
        status=status.value if status else None, scenario=parse_scenario(scenario), since=since
    )
    keyset = parse_keyset(SUITE_REQUESTS_CURSOR, limit, 0, cursor)
    items, next_cursor = environment.services().suite_requests.list(query, keyset)
    return json_response(
        HTTPStatus.OK, {**page([item.to_json_dict() for item in items]), "nextCursor": next_cursor}
    )


@app.get(
    f"{API_PREFIX}/suite-requests/<requestId>",
    summary="One suite request, with progress and executionId once finished",
    tags=["suite-requests"],
    responses={200: model_doc("the suite request", SuiteRequest), 404: NOT_FOUND_DOC, **_ERRORS},
)
def get_suite_request(requestId: str) -> JsonResponse:
    found = environment.services().suite_requests.get(parse_uuid(requestId, "suite request id"))
    return json_response(HTTPStatus.OK, found.to_json_dict())


@app.get(
    f"{API_PREFIX}/phases",
    summary="The phase catalog, in run order",
    tags=["phases"],
    responses={200: model_doc("the catalog", PhasePage)},
)
def list_phases() -> JsonResponse:
    from testgenie.orchestrator.planning.catalog import (
        phase_descriptors,  # the catalog only, never the engine
    )

    return json_response(
        HTTPStatus.OK, page(phase_descriptors(environment.services().settings.phase_timeout_seconds))
    )


@app.get(
    f"{API_PREFIX}/health",
    summary="Health of the service and its database",
    tags=["health"],
    responses={200: model_doc("healthy", Health), 503: model_doc("the database is unreachable", Health)},
)
def health() -> JsonResponse:
    try:
        queue = environment.services().suite_requests.snapshot()  # also proves the database answers
    except TestGenieError as exc:  # database down, or no DATABASE_URL: unhealthy, not a crash
        logger.warning("health check failed", extra={"error": exc.message})
        unhealthy = {"status": "unhealthy", "dependencies": {"database": "disconnected"}}
        return json_response(HTTPStatus.SERVICE_UNAVAILABLE, unhealthy)
    healthy = {"status": "healthy", "dependencies": {"database": "connected"}, "queue": queue.to_json_dict()}
    return json_response(HTTPStatus.OK, healthy)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@traced
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return serve(app, event, context)
