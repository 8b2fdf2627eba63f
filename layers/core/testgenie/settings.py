"""Environment -> typed settings. Every bad value is reported with the variable's name."""

from __future__ import annotations

import os
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from testgenie.errors import ConfigurationError

# Environment variable name -> settings field.
_ENV_FIELDS: dict[str, str] = {
    "DATABASE_URL": "database_url",
    "DATABASE_SECRET_ARN": "database_secret_arn",
    "DATABASE_PROXY_ENDPOINT": "database_proxy_endpoint",
    "SUITE_REQUEST_QUEUE_URL": "suite_request_queue_url",
    "SUITE_REQUEST_DLQ_ARN": "suite_request_dlq_arn",
    "ARTIFACTS_BUCKET": "artifacts_bucket",
    "ARTIFACTS_DIR": "artifacts_dir",
    "SCENARIOS_SOURCE": "scenarios_source",
    "PHASE_TIMEOUT_SECONDS": "phase_timeout_seconds",
    "LEASE_SECONDS": "lease_seconds",
    "MAX_ATTEMPTS": "max_attempts",
    "REQUEUE_AFTER_SECONDS": "requeue_after_seconds",
    "LOG_TAIL_BYTES": "log_tail_bytes",
    "DB_CONNECT_TIMEOUT_SECONDS": "db_connect_timeout_seconds",
    "MIGRATIONS_DIR": "migrations_dir",
    "RETENTION_DAYS": "retention_days",
    "RUNNER_FUNCTION_NAME": "runner_function_name",
    "RUNNER_TIMEOUT_SECONDS": "runner_timeout_seconds",
    "COORDINATOR_FUNCTION_NAME": "coordinator_function_name",
    "EXECUTION_TIMEOUT_SECONDS": "execution_timeout_seconds",
    "ARTIFACTS_UPLOAD_URL": "artifacts_upload_url",
    "ARTIFACTS_UPLOAD_SECRET": "artifacts_upload_secret",
    "MAX_SHARDS": "max_shards",
    "SHARD_TARGET_SECONDS": "shard_target_seconds",
}


class Settings(BaseModel):
    """Typed view of the service's environment (the README's settings table)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    database_url: str | None = None
    database_secret_arn: str | None = None
    # An RDS Proxy endpoint host that replaces the database's host (docs/deploying.md).
    database_proxy_endpoint: str | None = None
    suite_request_queue_url: str | None = None
    # Records whose eventSourceARN is this queue are dead letters (docs/api.md).
    suite_request_dlq_arn: str | None = None
    artifacts_bucket: str | None = None
    artifacts_dir: Path | None = None
    scenarios_source: str = "examples/scenarios"
    phase_timeout_seconds: int = Field(default=900, ge=1, le=86_400)
    # A worker's lease must outlive one whole execution; the reaper takes the request back after it.
    lease_seconds: int = Field(default=960, ge=5, le=86_400)
    max_attempts: int = Field(default=3, ge=1, le=100)
    # Queued rows older than this are re-published by the reaper (a lost publish never strands a row).
    requeue_after_seconds: int = Field(default=300, ge=1)
    log_tail_bytes: int = Field(default=256 * 1024, ge=1024)
    db_connect_timeout_seconds: int = Field(default=5, ge=1, le=120)
    migrations_dir: Path | None = None
    # Executions older than this many days are deleted (unless pinned); 0 keeps everything.
    retention_days: int = Field(default=0, ge=0, le=36_500)
    # The runner (docs/architecture.md, "The runner"): the function every phase runs in, and its Timeout.
    runner_function_name: str | None = None
    runner_timeout_seconds: int = Field(default=900, ge=1, le=900)
    # The durable coordinator (docs/architecture.md, "Durable executions"): set, runs start as durable
    # executions of this function (a qualified ARN or alias); unset, ExecuteFunction runs them itself.
    coordinator_function_name: str | None = None
    # The coordinator's DurableConfig.ExecutionTimeout: how long one execution may last in all.
    execution_timeout_seconds: int = Field(default=7200, ge=60, le=31_622_400)
    # One machine only: the local stack's signed upload route into ARTIFACTS_DIR (for the runner's logs).
    artifacts_upload_url: str | None = None
    artifacts_upload_secret: str | None = None
    # Shards (docs/scenarios.md, "Shards"): at most MAX_SHARDS runner invocations per phase (the
    # template's MaxShards, within the runner's reserved concurrency); "auto" aims at this per shard.
    max_shards: int = Field(default=16, ge=1, le=1000)
    shard_target_seconds: int = Field(default=60, ge=1, le=86_400)

    @model_validator(mode="after")
    def _one_artifact_store(self) -> Settings:
        if self.artifacts_bucket and self.artifacts_dir:
            raise ValueError("set ARTIFACTS_BUCKET or ARTIFACTS_DIR, not both")
        return self

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        values = {field: env[name] for name, field in _ENV_FIELDS.items() if env.get(name, "").strip()}
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            raise ConfigurationError(_describe(exc)) from None


def _describe(exc: ValidationError) -> str:
    by_field = {field: name for name, field in _ENV_FIELDS.items()}
    problems = []
    for err in exc.errors():
        loc = err["loc"][0] if err["loc"] else ""
        name = by_field.get(str(loc), str(loc) or "settings")
        problems.append(f"{name}: {err['msg']}")
    return "invalid configuration: " + "; ".join(problems)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings of this execution environment, read once."""
    return Settings.from_env()
