"""The shared HTTP resolver: domain errors -> `{"error": msg}`, validation failures -> 400 naming the field."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError as RouteNotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from testgenie.errors import (
    ConfigurationError,
    ConflictError,
    DatabaseBusyError,
    NotFoundError,
    TransientError,
    ValidationError,
)
from testgenie.models_base import UNKNOWN_FIELD_ERROR
from testgenie.observability import logger

API_PREFIX = "/api/v1"
INVALID_JSON = "invalid JSON payload"
# Every valid body is a small flat object with bounded lists (docs/api.md): far below both.
MAX_BODY_BYTES = 1024 * 1024
MAX_BODY_DEPTH = 32

JsonResponse = Response[dict[str, Any]]

# The OpenAPI description of an error answer, reused by every route.
ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"error": {"type": "string"}},
    "required": ["error"],
}


def error_doc(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}}}


def json_response(status: int, body: dict[str, Any]) -> JsonResponse:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=body)


def json_document_response(status: int, document: str) -> Response[str]:
    """A JSON document that is already text (the history views): handed over without re-encoding."""
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=document)


def error_response(status: int, message: str) -> JsonResponse:
    return json_response(status, {"error": message})


def describe_validation_errors(errors: Sequence[Any]) -> str:
    """Powertools' (pydantic's) errors as one message naming each field, without inputs or internals."""
    messages: list[str] = []
    for err in errors:
        loc = [str(part) for part in err.get("loc", ())]
        kind = str(err.get("type", ""))
        source, path = (loc[0], loc[1:]) if loc else ("body", [])
        if kind == "json_invalid":
            return INVALID_JSON
        if kind == UNKNOWN_FIELD_ERROR:  # the message already names the field and its closest match
            text = str(err.get("msg", ""))
            if text not in messages:
                messages.append(text)
            continue
        if source == "body" and not path:
            return INVALID_JSON if kind == "missing" else "request body must be a JSON object"
        field = ".".join(path) or source
        message = str(err.get("msg", "is invalid"))
        if message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        text = f"{field}: {message}"
        if text not in messages:
            messages.append(text)
    return "; ".join(messages) or "invalid request"


def _invalid_request(exc: RequestValidationError) -> JsonResponse:
    return error_response(HTTPStatus.BAD_REQUEST, describe_validation_errors(exc.errors()))


def _unsupported(exc: RequestUnsupportedContentType) -> JsonResponse:
    return error_response(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "request body must be application/json")


def _validation(exc: ValidationError) -> JsonResponse:
    return error_response(HTTPStatus.BAD_REQUEST, exc.message)


def _not_found(exc: NotFoundError) -> JsonResponse:
    return error_response(HTTPStatus.NOT_FOUND, exc.message)


def _conflict(exc: ConflictError) -> JsonResponse:
    return error_response(HTTPStatus.CONFLICT, exc.message)


# PostgreSQL refused the connection (its slots are taken): nothing was done, a retry is safe
# (docs/deploying.md, connection budget). The CLI keys its retries on this exact text.
DATABASE_BUSY = "database busy, retry"
BUSY_RETRY_AFTER_SECONDS = 1


def _busy(exc: DatabaseBusyError) -> JsonResponse:
    logger.warning("database busy", extra={"error": exc.message})
    return Response(
        status_code=HTTPStatus.SERVICE_UNAVAILABLE,
        content_type=content_types.APPLICATION_JSON,
        body={"error": DATABASE_BUSY},
        headers={"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
    )


def _unavailable(exc: TransientError) -> JsonResponse:
    logger.warning("dependency unavailable", extra={"error": exc.message})
    return error_response(HTTPStatus.SERVICE_UNAVAILABLE, "service temporarily unavailable; retry later")


def _misconfigured(exc: ConfigurationError) -> JsonResponse:
    logger.error("service misconfigured", extra={"error": exc.message})
    return error_response(HTTPStatus.INTERNAL_SERVER_ERROR, "service is misconfigured")


def _no_route(exc: RouteNotFoundError) -> JsonResponse:
    return error_response(HTTPStatus.NOT_FOUND, "route not found")


_HANDLERS: tuple[tuple[type[Exception], Callable[[Any], JsonResponse]], ...] = (
    (RequestValidationError, _invalid_request),
    (RequestUnsupportedContentType, _unsupported),
    (ValidationError, _validation),
    (NotFoundError, _not_found),
    (ConflictError, _conflict),
    (DatabaseBusyError, _busy),  # before its base class TransientError
    (TransientError, _unavailable),
    (ConfigurationError, _misconfigured),
    (RouteNotFoundError, _no_route),
)


def build_resolver() -> APIGatewayHttpResolver:
    """A resolver with validation on and every error answered as `{"error": "<message>"}`."""
    app = APIGatewayHttpResolver(enable_validation=True)
    for exc_class, handler in _HANDLERS:
        app.exception_handler(exc_class)(handler)
    return app


def serve(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Resolve one API Gateway event; an unexpected fault is a logged 500, never a stack trace."""
    refusal = unreadable_body(event)
    if refusal is not None:
        return _plain_answer(*refusal)
    try:
        return app.resolve(event, context)
    except Exception:
        logger.exception("unhandled error while serving a request")
        return _plain_answer(HTTPStatus.INTERNAL_SERVER_ERROR, "internal server error")


def unreadable_body(event: dict[str, Any]) -> tuple[HTTPStatus, str] | None:
    """A body this API can never read, refused before Powertools tries to decode it (its decoders
    raise plain ValueErrors on, e.g., a multipart type without a boundary or base64 that is not UTF-8).
    Every route that takes a body takes JSON."""
    body = event.get("body")
    if not body:
        return None
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    media_type = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type.startswith("multipart/"):
        return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "request body must be application/json"
    text = str(body)
    if event.get("isBase64Encoded"):
        try:
            text = base64.b64decode(text, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return HTTPStatus.BAD_REQUEST, "request body must be UTF-8 encoded JSON"
    if len(text.encode("utf-8", errors="replace")) > MAX_BODY_BYTES:
        return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"request body is larger than {MAX_BODY_BYTES} bytes"
    if nesting_depth(text) > MAX_BODY_DEPTH:
        # json.loads recurses once per level: 5000 levels would be a RecursionError (a 500).
        return HTTPStatus.BAD_REQUEST, f"request body is nested deeper than {MAX_BODY_DEPTH} levels"
    if text.lstrip().startswith("["):
        # Powertools unwraps a one-item list given for a non-list parameter, so `[{...}]` would pass as
        # `{...}`; no route takes an array.
        return HTTPStatus.BAD_REQUEST, "request body must be a JSON object"
    return None


_STRING_RE = re.compile(r'"(?:[^"\\]|\\.)*"')
_BRACKET_RE = re.compile(r"[\[\]{}]")


def nesting_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not count)."""
    if text.count("{") + text.count("[") <= MAX_BODY_DEPTH:
        return 0  # cannot be deeper than it has brackets: the common case costs two counts
    depth = deepest = 0
    for match in _BRACKET_RE.finditer(_STRING_RE.sub('""', text)):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def _plain_answer(status: HTTPStatus, message: str) -> dict[str, Any]:
    return {
        "statusCode": int(status),
        "headers": {"Content-Type": content_types.APPLICATION_JSON},
        "body": json.dumps({"error": message}),
        "isBase64Encoded": False,
    }


def model_doc(description: str, model: Any) -> OpenAPIResponse:
    return {"description": description, "content": {"application/json": {"model": model}}}


def text_doc(description: str) -> OpenAPIResponse:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


BAD_REQUEST_DOC = error_doc("invalid input; the message names the field")
NOT_FOUND_DOC = error_doc("not found")
UNAVAILABLE_DOC = error_doc(
    "the database is unavailable, or busy (`database busy, retry`, with Retry-After); retry later"
)
