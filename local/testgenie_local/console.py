"""What the CLI prints: tables, durations, the live progress view and a run's headline.

Every command writes through these helpers, so output stays uniform (and testable with a stream).
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from testgenie.queue.models import TERMINAL

STATUS_MARK = {"passed": "✔", "failed": "✘", "skipped": "-", "running": "…", "pending": " "}
# C0 and C1 control characters but tab and newline: what a log could use to move the cursor, retitle
# the terminal or rewrite earlier lines (ESC, CSI, OSC, BEL, carriage return, backspace, ...).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_raw = {"on": False}


def set_raw(raw: bool) -> None:
    """`--raw`: print what the API gave, control characters included."""
    _raw["on"] = raw


def printable(text: str) -> str:
    """`text` with every control character but tab and newline shown as a visible escape (`\\x1b`)."""
    if _raw["on"]:
        return text
    return _CONTROL.sub(lambda found: f"\\x{ord(found.group()):02x}", text)


def out(text: str = "", stream: TextIO | None = None) -> None:
    print(printable(text), file=stream or sys.stdout, flush=True)


def err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def print_json(value: Any) -> None:
    out(json.dumps(value, indent=2))


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    lines.extend("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)
    return "\n".join(lines)


def ms(value: Any) -> str:
    """A duration in milliseconds as `850ms` or `12.3s`; `-` when there is none."""
    if not isinstance(value, int | float):
        return "-"
    return f"{value / 1000:.1f}s" if value >= 1000 else f"{int(value)}ms"


def when(timestamp: Any) -> str:
    """An API timestamp as `YYYY-MM-DD HH:MM:SS` (UTC) for tables."""
    return str(timestamp or "")[:19].replace("T", " ")


def print_page(
    page: dict[str, Any],
    row: Callable[[dict[str, Any]], list[str]],
    header: list[str],
    empty: str,
    *,
    as_json: bool,
) -> None:
    """A list answer as JSON, as a table, or as a line saying there is nothing."""
    if as_json:
        print_json(page)
        return
    rows = [row(item) for item in page.get("items") or []]
    out(table(rows, header) if rows else empty)


class ProgressView:
    """Live per-phase progress of a suite request: a redrawn block on a terminal, new lines elsewhere."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self._drawn = 0
        self._last: str | None = None
        self._started = time.monotonic()

    def render(self, request: dict[str, Any]) -> list[str]:
        progress = request.get("progress") or {}
        total = int(progress.get("totalPhases") or 0)
        done = int(progress.get("completedPhases") or 0)
        current = progress.get("currentPhase")
        width = 24
        filled = int(width * done / total) if total else 0
        bar = "█" * filled + "░" * (width - filled)
        status = shown_status(request)
        header = f"{request.get('scenarioName', '')} [{bar}] {done}/{total or '?'} phases · {status}"
        lines = [header]
        for phase in progress.get("phases") or []:
            mark = STATUS_MARK.get(str(phase.get("status")), "?")
            lines.append(
                f"  {mark} {phase.get('name', '?'):<14} {phase.get('status', '?'):<8} {ms(phase.get('durationMs'))}"
            )
        if current and request.get("status") not in TERMINAL:
            elapsed = time.monotonic() - self._started
            lines.append(f"  {STATUS_MARK['running']} {current:<14} running  ({elapsed:.0f}s)")
        return lines

    def update(self, request: dict[str, Any]) -> None:
        lines = self.render(request)
        if self.tty:
            if self._drawn:
                self.stream.write(f"\x1b[{self._drawn}F\x1b[J")
            self.stream.write("\n".join(lines) + "\n")
            self.stream.flush()
            self._drawn = len(lines)
            return
        # Not a terminal (CI logs): print a line only when something changed, never the timer.
        key = json.dumps(
            [request.get("status"), (request.get("progress") or {}).get("phases")], sort_keys=True
        )
        if key != self._last:
            self._last = key
            stable = [line for line in lines if "running  (" not in line]
            current = (request.get("progress") or {}).get("currentPhase")
            if current and request.get("status") not in TERMINAL:
                stable.append(f"  {STATUS_MARK['running']} {current:<14} running")
            self.stream.write("\n".join(stable) + "\n")
            self.stream.flush()


def headline(result: dict[str, Any]) -> str:
    """`PASSED name execution id (counts)`; the verdict is the run's outcome, never a guess."""
    summary = result.get("phaseSummary") or {}
    fallback = "passed" if result.get("success") else "failed"
    verdict = str(result.get("outcome") or fallback).upper()
    return (
        f"{verdict}  {result.get('scenarioName')}  execution {result.get('executionId')}"
        f"  ({summary.get('passed', 0)} passed, {summary.get('failed', 0)} failed, "
        f"{summary.get('skipped', 0)} skipped)"
    )


ERROR_WIDTH = 70  # the table's error column; longer errors are printed in full under the table


def _clip(text: str, width: int = ERROR_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def print_result(result: dict[str, Any], stream: TextIO | None = None) -> None:
    """A run's headline, one row per phase, each failure in full (with its failing tests), warnings."""
    out(headline(result), stream)
    phases = list(result.get("phases") or [])
    rows = []
    for phase in phases:
        tests = phase.get("tests") or {}
        counts = f"{tests.get('passed', 0)}/{tests.get('total', 0)}" if tests else ""
        rows.append(
            [
                STATUS_MARK.get(str(phase.get("status")), "?") + " " + str(phase.get("name")),
                str(phase.get("status")),
                ms(phase.get("durationMs")),
                counts,
                _clip(str(phase.get("error") or "")),
            ]
        )
    if rows:
        out(table(rows, ["phase", "status", "time", "tests", "error"]), stream)
    for line in shard_lines(phases):
        out(line, stream)
    for line in failure_lines(phases):
        out(line, stream)
    for warning in result.get("warnings") or []:
        out(f"warning: {warning}", stream)


SHARD_BAR = 24


def shard_lines(phases: list[dict[str, Any]]) -> list[str]:
    """Each sharded phase's shards, a bar each (its wall time against the longest shard's)."""
    lines: list[str] = []
    for phase in phases:
        shards = phase.get("shards") or []
        if not shards:
            continue
        longest = max(int(s.get("durationMs") or 0) for s in shards) or 1
        lines.append(f"{phase.get('name')}: {len(shards)} shards")
        for shard in shards:
            took = int(shard.get("durationMs") or 0)
            filled = max(1, round(SHARD_BAR * took / longest)) if took else 0
            bar = "█" * filled + "·" * (SHARD_BAR - filled)
            retried = f" ({shard.get('attempts')} attempts)" if int(shard.get("attempts") or 1) > 1 else ""
            mark = STATUS_MARK.get(str(shard.get("status")), "!")
            lines.append(
                f"  shard {shard.get('index')} {mark} {shard.get('status')!s:<9} {bar} "
                f"{ms(took):>7} {shard.get('tests', 0)} tests{retried}"
            )
    return lines


def failure_lines(phases: list[dict[str, Any]]) -> list[str]:
    """Under the table: each failed phase whose error the table cut, and its failing tests, unabridged."""
    lines: list[str] = []
    for phase in phases:
        if phase.get("status") != "failed":
            continue
        error = str(phase.get("error") or "")
        tests = [
            str(seen.get("text"))
            for seen in phase.get("observations") or []
            if seen.get("section") == "tests" and seen.get("text")
        ]
        if len(error) <= ERROR_WIDTH and not tests:
            continue
        lines.append(f"{phase.get('name')}: {error}")
        lines.extend(f"  {text}" for text in tests)
    return lines


def shown_status(request: dict[str, Any]) -> str:
    """A request's status as people read it: a running one whose cancel is under way is "cancelling"."""
    status = str(request.get("status", "?"))
    return "cancelling" if status == "running" and request.get("cancelRequested") else status
