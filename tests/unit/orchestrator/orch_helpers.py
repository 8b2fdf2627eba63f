"""Helpers shared by the orchestrator tests (imported by name: the tests folder is on sys.path)."""

from __future__ import annotations

import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
EXAMPLES = REPO / "examples" / "scenarios"


def process_alive(pid: int) -> bool:
    """True while `pid` runs; a zombie (dead, not yet reaped by init) counts as gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_until_gone(pid: int, attempts: int = 500) -> bool:
    """Poll (killed processes vanish asynchronously); False if it is still running after the polls."""
    for _ in range(attempts):
        if not process_alive(pid):
            return True
        time.sleep(0.01)
    return not process_alive(pid)
