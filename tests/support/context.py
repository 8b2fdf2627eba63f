"""The one fake Lambda context of the tests: the attributes of a real LambdaContext that Powertools and
the handlers read."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class FakeLambdaContext:
    """`remaining_ms` scripts get_remaining_time_in_millis: successive calls return successive values
    (the last one repeats). `timeout_seconds` instead counts down from the first call's moment, as an
    invocation of a function with that Timeout does."""

    remaining_ms: list[int] = field(default_factory=lambda: [900_000])
    timeout_seconds: float | None = None
    function_name: str = "testgenie-ExecuteFunction-AbC123"
    function_version: str = "$LATEST"
    invoked_function_arn: str = (
        "arn:aws:lambda:us-east-1:123456789012:function:testgenie-ExecuteFunction-AbC123"
    )
    memory_limit_in_mb: int = 1024
    aws_request_id: str = "6f0b5a38-4c2e-4f7e-9b1d-0a1b2c3d4e5f"
    log_group_name: str = "/aws/lambda/testgenie-ExecuteFunction-AbC123"
    log_stream_name: str = "2025/03/10/[$LATEST]0123456789abcdef"
    _deadline: float | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.timeout_seconds is not None:
            self._deadline = time.monotonic() + self.timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        if self._deadline is not None:
            return max(0, int((self._deadline - time.monotonic()) * 1000))
        return self.remaining_ms.pop(0) if len(self.remaining_ms) > 1 else self.remaining_ms[0]
