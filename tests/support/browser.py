"""Browser helpers: viewports, pages that record every error, screenshots, seeded runs."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tests.support.paths import REPO_ROOT
from tests.support.stack import TERMINAL, RunningStack

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path(os.environ.get("TESTGENIE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DESKTOP = {"width": 1024, "height": 800}
PHONE = {"width": 390, "height": 844}
# `TESTGENIE_SCREENSHOTS=docs/images` (make screenshots) writes the README's pictures.
SCREENSHOTS = os.environ.get("TESTGENIE_SCREENSHOTS")


@dataclass
class Watched:
    """A page plus everything that went wrong on it: JS errors, console errors, failed requests."""

    page: Page
    problems: list[str] = field(default_factory=list)

    def clean(self, allow: tuple[str, ...] = ()) -> None:
        problems = [p for p in self.problems if not any(a in p for a in allow)]
        assert not problems, "\n".join(problems)


def screenshot(page: Page, name: str, tmp_path: Path) -> Path:
    folder = Path(SCREENSHOTS) if SCREENSHOTS else tmp_path
    folder = folder if folder.is_absolute() else REPO_ROOT / folder
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    page.screenshot(path=str(target), full_page=False)
    return target


def seed(stack: RunningStack, plans: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Queue these runs and wait until each ended; the finished suite requests, in order."""
    queued = [stack.queue(**plan) for plan in plans]
    return [stack.wait_status(r["id"], TERMINAL) for r in queued]
