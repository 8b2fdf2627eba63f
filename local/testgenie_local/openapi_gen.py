"""Generate openapi.json from the routes of both handlers (`make openapi`).

Each function's Powertools resolver describes its own routes; this merges the two documents into
one for the whole HTTP API, deterministic so a test can fail when the committed file drifts.
"""

from __future__ import annotations

import importlib
import json
import re
import sys
from pathlib import Path
from typing import Any

from testgenie import __version__

REPO_ROOT = Path(__file__).resolve().parents[2]
HANDLERS = (("functions/execute", "execute_app"), ("functions/history", "history_app"))
TITLE = "Test Genie Serverless API"
DESCRIPTION = (
    "Suite executions, suite requests and their history. Every route needs a SigV4-signed request "
    '(API Gateway AWS_IAM authorization). Errors are {"error": "<message>"}.'
)
SECURITY_SCHEMES: dict[str, Any] = {
    "sigv4": {
        "type": "apiKey",
        "name": "Authorization",
        "in": "header",
        "description": "AWS Signature Version 4 (execute-api)",
        "x-amazon-apigateway-authtype": "awsSigv4",
    }
}


def _schema_of(module_name: str) -> dict[str, Any]:
    module = importlib.import_module(module_name)
    schema = module.app.get_openapi_schema(title=TITLE, version=__version__)
    dumped: dict[str, Any] = schema.model_dump(mode="json", by_alias=True, exclude_none=True)
    return dumped


def build_document() -> dict[str, Any]:
    for folder, _ in HANDLERS:
        path = str(REPO_ROOT / folder)
        if path not in sys.path:
            sys.path.insert(0, path)
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for _, module_name in HANDLERS:
        part = _schema_of(module_name)
        for path, item in part.get("paths", {}).items():
            merged = paths.setdefault(path, {})
            clash = set(merged) & set(item)
            if clash:
                raise ValueError(f"{path}: {sorted(clash)} served by two functions")
            merged.update(item)
        for name, schema in part.get("components", {}).get("schemas", {}).items():
            if name in schemas and schemas[name] != schema:
                raise ValueError(f"schema {name} differs between the two functions")
            schemas[name] = schema
    _drop_unused_422(paths, schemas)
    return {
        "openapi": "3.1.0",
        "info": {"title": TITLE, "version": __version__, "description": DESCRIPTION},
        "servers": [
            {"url": "/", "description": "the HttpApi's $default stage (output ApiUrl without /api/v1)"}
        ],
        "security": [{"sigv4": []}],
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": dict(sorted(schemas.items())), "securitySchemes": SECURITY_SCHEMES},
    }


def _drop_unused_422(paths: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Validation failures are answered 400 `{"error": ...}` (never Powertools' 422): say so."""
    for item in paths.values():
        for operation in item.values():
            if isinstance(operation, dict):
                operation.get("responses", {}).pop("422", None)
    for name in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        schemas.pop(name, None)
    text = json.dumps(paths) + json.dumps(schemas)
    dangling = sorted(set(re.findall(r"#/components/schemas/(\w+)", text)) - set(schemas))
    if dangling:
        raise ValueError(f"the document refers to schemas it no longer has: {dangling}")


def render() -> str:
    return json.dumps(build_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main() -> None:
    sys.stdout.write(render())


if __name__ == "__main__":
    main()
