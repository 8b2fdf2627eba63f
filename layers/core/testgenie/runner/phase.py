"""The runner's side of an invocation: one phase in a fresh workspace, its log PUT where it was told.

What a phase may touch comes in the invocation only (docs/architecture.md, "The runner"): this code
reads no settings and no credentials, and the commands get the built environment of
orchestrator/workspace.py.
"""

from __future__ import annotations

import os
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

from testgenie.artifacts import UploadTarget
from testgenie.errors import ValidationError
from testgenie.orchestrator.models import Classification, PhaseResult, PhaseStatus
from testgenie.orchestrator.phases.base import LogBuffer, RunState, TestCase
from testgenie.orchestrator.phases.containment import end_every_other_process, is_runner_process
from testgenie.orchestrator.planning.plan import discover_phase_scripts, scenario_phases
from testgenie.orchestrator.planning.testing_config import load_testing_config
from testgenie.orchestrator.run.phase_run import PhaseJob, PhaseRun, run_one_phase
from testgenie.orchestrator.run.workspace import command_environment, fresh_workspace
from testgenie.orchestrator.sources.bundles import default_cache_dir, remove_tree
from testgenie.runner.collect import collect_phase
from testgenie.runner.protocol import CollectionAnswer, PhaseAnswer, PhaseInvocation, PriorTest

# The folder emptied after every invocation (the runner's private scratch: /tmp on Lambda, the
# sandbox's own /tmp locally); unset outside a runner process, where nothing is removed.
SCRATCH_ENV = "TESTGENIE_RUNNER_SCRATCH"


def put_log(target: UploadTarget, data: bytes) -> str | None:
    """PUT the log; None when stored, else why not (the result matters more than its log).

    An `fd:<n>` target is a pipe to the runner's host, which carries the log out (the local sandbox
    has no network, docs/architecture.md)."""
    if target.url.startswith("fd:"):
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(int(target.url[3:]), view) :]
        except (OSError, ValueError) as exc:
            return f"the phase log could not be handed to the runner's host: {exc}"
        return None
    request = urllib.request.Request(target.url, data=data, method="PUT", headers=target.headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310
            answer.read()
    except (urllib.error.URLError, OSError) as exc:
        return f"the phase log could not be uploaded: {exc}"
    return None


def _monotonic_deadline(invocation: PhaseInvocation, time_left_ms: int | None) -> float | None:
    """The run's deadline on this machine's clock (also bounded by this invocation's own time)."""
    now = time.monotonic()
    bounds = []
    if invocation.deadline_at is not None:
        bounds.append(now + (invocation.deadline_at - datetime.now(UTC)).total_seconds())
    if time_left_ms is not None:
        bounds.append(now + max(0, time_left_ms - 3_000) / 1000)  # keep time for the upload and answer
    return min(bounds) if bounds else None


def _setup_failure(invocation: PhaseInvocation, error: ValidationError) -> PhaseRun:
    """The bundle could not be fetched, verified or read: the phase fails saying why."""
    log = LogBuffer()
    log.line(f"=== test-genie phase '{invocation.phase}' of {invocation.scenario_name}")
    log.line(f"[test-genie] {error.message}")
    result = PhaseResult(
        name=invocation.phase,
        status=PhaseStatus.FAILED,
        error=error.message,
        classification=Classification.MISCONFIGURATION,
        remediation="Fix the scenario bundle (testgenie push) and re-run; the message says what is wrong.",
    )
    return PhaseRun(result, log.getvalue(), stopped_at_run_deadline=False)


def _run(
    invocation: PhaseInvocation, state: RunState, deadline: float | None, parent: Path | None
) -> PhaseRun:
    with fresh_workspace(
        invocation.bundle, invocation.execution_id, scenario=invocation.scenario_name, parent=parent
    ) as workspace:
        config = load_testing_config(workspace.scenario_dir)
        scripts = scenario_phases(
            config, discover_phase_scripts(workspace.scenario_dir), invocation.timeout_seconds
        ).scripts
        script = scripts.get(invocation.phase)
        return run_one_phase(
            PhaseJob(
                name=invocation.phase,
                scenario_name=invocation.scenario_name,
                execution_id=invocation.execution_id,
                timeout=invocation.timeout_seconds,
                config=config,
                workspace=workspace,
                base_env=command_environment(workspace, invocation.execution_id, config.env),
                run=state,
                script=workspace.scenario_dir / script if script else None,
                run_deadline=deadline,
                shard=invocation.shard,
            )
        )


def _collect(invocation: PhaseInvocation, time_left_ms: int | None, parent: Path | None) -> PhaseAnswer:
    """What a sharded phase splits (runner/collect.py); its log goes where the phase's would."""
    deadline = _monotonic_deadline(invocation, time_left_ms)
    verified: str | None = invocation.bundle.sha256
    collection: CollectionAnswer | None = None
    try:
        collection, result, log = collect_phase(invocation, deadline, parent)
    except ValidationError as exc:
        failed = _setup_failure(invocation, exc)
        result, log, verified = failed.result, failed.log, None
    finally:
        end_invocation()
    problem = put_log(invocation.log_upload, log)
    return PhaseAnswer(
        execution_id=invocation.execution_id,
        phase=invocation.phase,
        result=result,
        log_stored=problem is None,
        bundle_sha256=verified,
        warnings=[problem] if problem else [],
        collection=collection,
    )


def scratch_dir() -> Path | None:
    """Where scenario files may be left behind: emptied after each invocation (a runner process only)."""
    configured = os.environ.get(SCRATCH_ENV, "").strip()
    if configured:
        return Path(configured)
    return Path("/tmp") if os.environ.get("AWS_LAMBDA_RUNTIME_API") else None


def clear_scratch(folder: Path, keep: Path) -> int:
    """Remove everything in `folder` but `keep` (the digest-checked bundle cache) and its parents."""
    removed = 0
    keep = keep.resolve()
    for entry in list(folder.iterdir()) if folder.is_dir() else []:
        path = entry.resolve() if not entry.is_symlink() else entry
        if path == keep or keep.is_relative_to(path):
            if path != keep and path.is_dir():
                removed += clear_scratch(path, keep)
            continue
        if entry.is_dir() and not entry.is_symlink():
            remove_tree(entry)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def end_invocation() -> None:
    """Nothing of this invocation outlives it: no process (where the runner owns its sandbox) and
    no file in the scratch folder."""
    if not is_runner_process():
        return
    end_every_other_process()
    folder = scratch_dir()
    if folder is not None:
        clear_scratch(folder, default_cache_dir())


def run_invocation(
    invocation: PhaseInvocation, *, time_left_ms: int | None = None, workspace_parent: Path | None = None
) -> PhaseAnswer:
    """Run the invocation's phase and answer. Configuration errors of the scenario are phase results."""
    if invocation.collect_only:
        return _collect(invocation, time_left_ms, workspace_parent)
    prior = [TestCase(**test.model_dump()) for test in invocation.prior_tests]
    state = RunState(test_cases=list(prior))
    deadline = _monotonic_deadline(invocation, time_left_ms)
    verified: str | None = invocation.bundle.sha256
    try:
        phase = _run(invocation, state, deadline, workspace_parent)
    except ValidationError as exc:
        phase, verified = _setup_failure(invocation, exc), None
    finally:
        end_invocation()
    problem = put_log(invocation.log_upload, phase.log)
    ran = state.test_cases[len(prior) :]
    return PhaseAnswer(
        execution_id=invocation.execution_id,
        phase=invocation.phase,
        result=phase.result,
        log_stored=problem is None,
        tests=[
            PriorTest(
                name=t.name,
                classname=t.classname,
                status=t.status,
                message=t.message,
                phase=t.phase,
                duration_ms=t.duration_ms,
            )
            for t in ran
        ],
        bundle_sha256=verified,
        stopped_at_run_deadline=phase.stopped_at_run_deadline,
        warnings=[problem] if problem else [],
    )
