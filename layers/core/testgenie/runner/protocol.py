"""What the coordinator (ExecuteFunction) and the runner (RunnerFunction) say to each other.

One invocation runs one phase (docs/architecture.md, "The runner"). The invocation carries all the
runner may touch: a pre-signed GET of the scenario bundle with its digest, the validated plan, the
run's deadline and a pre-signed PUT for the phase log. The coordinator validates every answer with
these models before recording anything; an answer that does not fit ends the execution `errored`.
"""

from __future__ import annotations

from typing import Literal, Self
from uuid import UUID

from pydantic import Field, model_validator

from testgenie.artifacts import UploadTarget
from testgenie.models_base import CamelModel, UtcDateTime
from testgenie.orchestrator.models import PhasePlan, PhaseResult, PhaseStatus, ShardAssignment
from testgenie.orchestrator.sources.bundles import BundleRef

__all__ = ["BundleRef", "CollectionAnswer", "PhaseAnswer", "PhaseInvocation", "PriorTest"]

PROTOCOL_VERSION: Literal[1] = 1
# Lambda answers at most 6 MB; observations and error texts stay far below that.
MAX_ANSWER_BYTES = 6 * 1024 * 1024


class PriorTest(CamelModel):
    """A test case an earlier phase ran (the business phase reads them)."""

    name: str
    classname: str = ""
    status: Literal["passed", "failed", "errored", "skipped"]
    message: str = ""
    phase: str = ""
    duration_ms: int | None = Field(default=None, ge=0)


class PhaseInvocation(CamelModel):
    protocol: Literal[1] = PROTOCOL_VERSION
    execution_id: UUID
    scenario_name: str = Field(min_length=1)
    bundle: BundleRef
    plan: PhasePlan
    phase: str = Field(min_length=1)
    timeout_seconds: int = Field(ge=1)
    deadline_at: UtcDateTime | None = None  # the run's deadline; the phase stops there at the latest
    log_upload: UploadTarget
    prior_tests: list[PriorTest] = Field(default_factory=list)
    shard: ShardAssignment | None = None  # run as this shard of the phase (docs/scenarios.md, "Shards")
    collect_only: bool = False  # only say what the phase would split: its test ids, or "commands"

    @model_validator(mode="after")
    def _phase_is_planned(self) -> Self:
        if self.phase not in self.plan.phases:
            raise ValueError(f"phase '{self.phase}' is not in the plan")
        return self


class CollectionAnswer(CamelModel):
    """What a sharded phase splits: test ids ("tests", a detected pytest phase) or its commands
    ("commands"); `error` is pytest's own message when it could not collect."""

    mode: Literal["tests", "commands"]
    test_ids: list[str] = Field(default_factory=list)
    error: str | None = None


class PhaseAnswer(CamelModel):
    protocol: Literal[1] = PROTOCOL_VERSION
    execution_id: UUID
    phase: str
    result: PhaseResult
    log_stored: bool = False
    tests: list[PriorTest] = Field(default_factory=list)
    bundle_sha256: str | None = None  # the digest the runner verified (None: it never got the bundle)
    stopped_at_run_deadline: bool = False
    warnings: list[str] = Field(default_factory=list)
    collection: CollectionAnswer | None = None  # the answer to a collect_only invocation

    def check_answers(self, invocation: PhaseInvocation) -> None:
        """An answer to another question is malformed, however well-formed its JSON."""
        if self.execution_id != invocation.execution_id:
            raise ValueError(f"answer is for execution {self.execution_id}, not {invocation.execution_id}")
        if self.phase != invocation.phase or self.result.name != invocation.phase:
            raise ValueError(f"answer is for phase '{self.result.name}', not '{invocation.phase}'")
        if self.bundle_sha256 is not None and self.bundle_sha256 != invocation.bundle.sha256:
            raise ValueError("answer ran another bundle than the one planned")
        # Only a phase that never got its bundle answers without the digest, and such a phase failed.
        if self.bundle_sha256 is None and self.result.status is not PhaseStatus.FAILED:
            raise ValueError(f"a {self.result.status.value} answer without the verified bundle digest")
