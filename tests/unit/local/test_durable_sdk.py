"""The durable SDK's checkpoint thread ends when its invocation stops it, not at its next queue poll."""

from __future__ import annotations

import queue
import threading
from typing import Any

import pytest
from aws_durable_execution_sdk_python import state
from aws_durable_execution_sdk_python.plugin import PluginExecutor
from testgenie_local.durable_sdk import wake_checkpointer_on_stop

# Longer than any wait below: a thread that only sees the stop at its next poll does not end in time.
_POLL_SECONDS = 240.0
_WAIT_SECONDS = 60.0


class _NoService:
    """No checkpoint may be sent: nothing is queued."""

    def checkpoint(self, **_kwargs: Any) -> Any:
        raise AssertionError("no checkpoint was queued")

    def get_execution_state(self, **_kwargs: Any) -> Any:
        raise AssertionError("no state was asked for")


class _WatchedQueue(queue.Queue[Any]):
    """Tells when the checkpoint thread is reading it (then it waits for an operation)."""

    def __init__(self) -> None:
        super().__init__()
        self.reading = threading.Event()

    def get(self, block: bool = True, timeout: float | None = None) -> Any:
        self.reading.set()
        return super().get(block, timeout)


def _idle_checkpointer(monkeypatch: pytest.MonkeyPatch) -> tuple[Any, threading.Thread, _WatchedQueue]:
    monkeypatch.setattr(state, "_STOP_SIGNAL_POLL_SECONDS", _POLL_SECONDS)
    execution = state.ExecutionState(
        durable_execution_arn="arn:aws:lambda:us-east-1:123456789012:function:F/durable-execution/n/1",
        initial_checkpoint_token="token-1",
        operations={},
        service_client=_NoService(),  # type: ignore[arg-type]
        plugin_executor=PluginExecutor(None),
    )
    watched = _WatchedQueue()
    execution._checkpoint_queue = watched
    thread = threading.Thread(target=execution.checkpoint_batches_forever, daemon=True)
    thread.start()
    assert watched.reading.wait(_WAIT_SECONDS), "the checkpoint thread never read its queue"
    return execution, thread, watched


def test_a_stopped_checkpoint_thread_ends_without_waiting_for_its_poll(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(state.ExecutionState, "stop_checkpointing", state.ExecutionState.stop_checkpointing)
    assert wake_checkpointer_on_stop()
    execution, thread, _ = _idle_checkpointer(monkeypatch)

    execution.close()  # what the SDK does at the end of every invocation

    thread.join(_WAIT_SECONDS)
    assert not thread.is_alive(), "the checkpoint thread was still waiting for its queue poll"


def test_the_wrapper_is_installed_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(state.ExecutionState, "stop_checkpointing", state.ExecutionState.stop_checkpointing)
    assert wake_checkpointer_on_stop()
    wrapped = state.ExecutionState.stop_checkpointing
    assert wake_checkpointer_on_stop()
    assert state.ExecutionState.stop_checkpointing is wrapped
    execution, thread, watched = _idle_checkpointer(monkeypatch)

    execution.stop_checkpointing()
    thread.join(_WAIT_SECONDS)
    assert not thread.is_alive()
    assert watched.qsize() == 0, "one stop queues one wake-up, taken by the thread"
