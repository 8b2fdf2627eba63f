"""The one Logger / Metrics / Tracer of this service (Powertools reads POWERTOOLS_* variables).

Tracing is switched off with POWERTOOLS_TRACE_DISABLED=true (and is off outside Lambda); the X-Ray
SDK is loaded lazily by Powertools, so an untraced cold start does not pay for it.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

Handler = TypeVar("Handler", bound=Callable[..., Any])

SERVICE_NAME = os.environ.get("POWERTOOLS_SERVICE_NAME", "testgenie")
METRICS_NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "TestGenie")

logger = Logger(service=SERVICE_NAME)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE_NAME)


class TimedPhase(Protocol):
    @property
    def name(self) -> str: ...
    @property
    def duration_ms(self) -> int: ...


class FinishedRun(Protocol):
    """What the metrics read of a run's result (a leaf module: it names no orchestrator model)."""

    @property
    def outcome(self) -> str: ...
    @property
    def phases(self) -> Sequence[TimedPhase]: ...


_TRUTHY = {"1", "true", "on", "y", "yes"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "false").strip().lower() in _TRUTHY


def tracing_enabled() -> bool:
    """Powertools' own rule: on in Lambda unless POWERTOOLS_TRACE_DISABLED is truthy (or under SAM local)."""
    disabled = _env_flag("POWERTOOLS_TRACE_DISABLED")
    in_lambda = bool(os.environ.get("LAMBDA_TASK_ROOT")) and not os.environ.get("AWS_SAM_LOCAL")
    return in_lambda and not disabled


def _build_tracer() -> Tracer | None:
    # Building a Tracer loads the X-Ray SDK and botocore; an untraced environment never pays for them.
    if not tracing_enabled():
        return None
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE_NAME)


tracer = _build_tracer()


def traced(handler: Handler) -> Handler:
    """Wrap a Lambda handler in an X-Ray segment when tracing is on; otherwise return it unchanged."""
    if tracer is None:
        return handler
    return cast(Handler, tracer.capture_lambda_handler(handler, capture_response=False))


def record_execution_metrics(result: FinishedRun) -> None:
    """EMF: one `Executions` count by outcome, and `PhaseDuration` (ms) by phase.

    single_metric writes straight to stdout and, unlike Metrics, ignores POWERTOOLS_METRICS_DISABLED,
    so the switch is honoured here.
    """
    if _env_flag("POWERTOOLS_METRICS_DISABLED"):
        return
    with single_metric(
        name="Executions", unit=MetricUnit.Count, value=1, namespace=METRICS_NAMESPACE
    ) as metric:
        metric.add_dimension(name="service", value=SERVICE_NAME)
        metric.add_dimension(name="outcome", value=str(result.outcome))
    for phase in result.phases:
        with single_metric(
            name="PhaseDuration",
            unit=MetricUnit.Milliseconds,
            value=max(0, phase.duration_ms),
            namespace=METRICS_NAMESPACE,
        ) as metric:
            metric.add_dimension(name="service", value=SERVICE_NAME)
            metric.add_dimension(name="phase", value=phase.name)


def record_queue_latency(latency_ms: float) -> None:
    """EMF: time from SQS send to the start of processing (flushed with the handler's metrics)."""
    metrics.add_metric(name="QueueLatency", unit=MetricUnit.Milliseconds, value=max(0.0, latency_ms))


def record_count(name: str, value: int = 1) -> None:
    """EMF: a plain counter (malformed messages, handed-back records, reaped requests...)."""
    if value:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)


def publishes_metrics(handler: Handler) -> Handler:
    """Flush the EMF metrics the invocation recorded (none is normal: no warning, no empty blob)."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return handler(*args, **kwargs)
        finally:
            if metrics.metric_set:
                metrics.flush_metrics()

    return cast(Handler, wrapper)
