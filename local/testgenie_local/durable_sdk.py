"""The durable SDK's checkpoint thread, woken when an invocation ends (the local stack's coordinator).

At the end of every invocation of a durable function (a suspension at a chained invoke, or the
execution's end) the SDK stops its checkpoint thread by setting an event, and joins it before the
invocation answers. The thread only looks at that event between reads of its queue, which wait up to
`_STOP_SIGNAL_POLL_SECONDS` (0.1 s) when nothing is queued: so nearly every invocation answered
~100 ms after its last checkpoint, and the next invocation (the replay that runs the next phase)
could only start then — once per phase and once per run (docs/performance.md, "The durable path").

`wake_checkpointer_on_stop()` makes the stop also put a wake-up into that queue, the same signal the
SDK itself queues when it schedules a refresh; the thread takes it, sees the event and ends at once.
Nothing else changes: operations queued before the stop are sent as before (the thread ends its loop
only when its queue read finds no operation). The installed SDK's files are not touched.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

log = logging.getLogger("testgenie.local")
_MARK = "_testgenie_wakes_on_stop"


def wake_checkpointer_on_stop() -> bool:
    """Wrap ExecutionState.stop_checkpointing (once per process); False when this SDK version has
    not the parts it relies on (then nothing is changed and the stop is only slower)."""
    from aws_durable_execution_sdk_python import state

    cls: Any = state.ExecutionState
    if getattr(cls.stop_checkpointing, _MARK, False):
        return True
    signal = getattr(getattr(state, "_Signal", None), "REFRESH_WAKE", None)
    probe = ("_checkpoint_queue", "_completion_lock", "_refresh_wake_enqueued")
    if signal is None or not all(name in cls.__init__.__code__.co_names for name in probe):
        log.warning("this durable SDK's checkpoint thread cannot be woken at a stop; left as it is")
        return False
    stop = cls.stop_checkpointing

    @functools.wraps(stop)
    def stop_checkpointing(self: Any) -> None:
        stop(self)
        with self._completion_lock:  # as the SDK's schedule_refresh queues its one pending wake-up
            if not self._refresh_wake_enqueued:
                self._refresh_wake_enqueued = True
                self._checkpoint_queue.put(signal)

    setattr(stop_checkpointing, _MARK, True)
    cls.stop_checkpointing = stop_checkpointing
    return True
