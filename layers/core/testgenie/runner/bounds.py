"""Keep what a durable execution checkpoints under the service's limits.

A step's result is at most 256 KiB, and a chained invoke's payload and result at most 1 MiB each
(docs/deploying.md, "Durable executions"). A phase answer is checkpointed as the result of the
runner's invoke, and its next phases' invocations carry the tests earlier phases ran, so both are
cut to a budget well under those limits: the longest lists go first (observations, the test list),
each cut leaves a note saying what was dropped.
"""

from __future__ import annotations

from testgenie.runner.protocol import PhaseAnswer, PhaseInvocation

# Under the 256 KiB step limit too, so an answer can also be the result of a step.
ANSWER_BUDGET_BYTES = 192 * 1024
# Under the 1 MiB chained-invoke input limit, with room for the plan and the URLs.
INVOCATION_BUDGET_BYTES = 768 * 1024


def _size(model: PhaseAnswer | PhaseInvocation) -> int:
    return len(model.model_dump_json(by_alias=True).encode())


def bound_answer(answer: PhaseAnswer, budget: int = ANSWER_BUDGET_BYTES) -> PhaseAnswer:
    """`answer`, with its observations, failing tests and test list halved until it fits `budget`."""
    if _size(answer) <= budget:
        return answer
    result = answer.result
    observations = list(result.observations or [])
    failing = list(result.failing_tests or [])
    tests = list(answer.tests)
    kept = (len(observations), len(failing), len(tests))
    while _size(answer) > budget and any((observations, failing, tests)):
        # The longest list gives up half; keep at least the first items of each.
        sizes = (len(observations), len(failing), len(tests))
        if sizes[0] == max(sizes):
            del observations[len(observations) // 2 :]
        elif sizes[1] == max(sizes):
            del failing[len(failing) // 2 :]
        else:
            del tests[len(tests) // 2 :]
        result = result.model_copy(
            update={"observations": observations or None, "failing_tests": failing or None}
        )
        answer = answer.model_copy(update={"result": result, "tests": list(tests)})
    notes = [
        f"{what}: kept {now} of {before}"
        for what, before, now in zip(
            ("observations", "failing tests", "tests"),
            kept,
            (len(observations), len(failing), len(tests)),
            strict=True,
        )
        if now < before
    ]
    if result.error and _size(answer) > budget:
        answer = answer.model_copy(
            update={"result": result.model_copy(update={"error": result.error[:2000]})}
        )
        notes.append("error text shortened")
    note = f"phase '{answer.phase}' answer truncated to fit a checkpoint ({'; '.join(notes)})"
    return answer.model_copy(update={"warnings": [*answer.warnings, note]})


def bound_invocation(
    invocation: PhaseInvocation, budget: int = INVOCATION_BUDGET_BYTES
) -> tuple[PhaseInvocation, str | None]:
    """`invocation` with the earlier phases' test list cut to fit `budget` (failed ones kept first),
    and a note when it was cut."""
    if _size(invocation) <= budget:
        return invocation, None
    before = len(invocation.prior_tests)
    ranked = sorted(invocation.prior_tests, key=lambda t: t.status == "passed")  # failures first
    while _size(invocation) > budget and ranked:
        del ranked[len(ranked) // 2 :]
        invocation = invocation.model_copy(update={"prior_tests": list(ranked)})
    return invocation, (
        f"phase '{invocation.phase}' was handed {len(ranked)} of the {before} tests earlier phases ran "
        "(the rest would not fit the invoke's payload limit)"
    )
