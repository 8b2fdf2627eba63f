"""Browser fixtures: Debian's Chromium driven by Playwright for Python (never `playwright install`).

A missing browser (or Playwright) skips these tests on a developer's machine and fails them when
CI=true, so CI can never pass without having looked at the pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.support.browser import CHROMIUM, CHROMIUM_ARGS, DESKTOP, Watched
from tests.support.stack import RunningStack, start_stack
from tests.support.tools import missing_tool

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Request, Response


def _unavailable(reason: str) -> None:
    missing_tool(reason)  # a failure when CI=true (tests/support/tools.py)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright for Python is not installed (make test installs the dev extra)")
    if not CHROMIUM.is_file():
        _unavailable(f"{CHROMIUM} is missing (as root, `make test` installs Debian's chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def open_page(browser: Browser) -> Iterator[Callable[..., Watched]]:
    """Opens pages that record every JS error, console error, failed request and 4xx/5xx answer."""
    contexts = []

    def opener(viewport: dict[str, int] | None = None) -> Watched:
        context = browser.new_context(viewport=viewport or DESKTOP)  # type: ignore[arg-type]
        context.set_default_timeout(30_000)
        contexts.append(context)
        page = context.new_page()
        watched = Watched(page)
        page.on("pageerror", lambda exc: watched.problems.append(f"JS error: {exc}"))
        page.on("console", lambda msg: _console(watched, msg))
        page.on("requestfailed", lambda req: _failed(watched, req))
        page.on("response", lambda res: _answered(watched, res))
        return watched

    yield opener
    for context in contexts:
        context.close()


def _console(watched: Watched, message: ConsoleMessage) -> None:
    if message.type == "error":
        watched.problems.append(f"console error: {message.text}")


def _failed(watched: Watched, request: Request) -> None:
    failure = request.failure or ""
    if "ERR_ABORTED" not in failure:  # a fetch aborted on navigation is the page cleaning up
        watched.problems.append(f"request failed: {request.method} {request.url}: {failure}")


def _answered(watched: Watched, response: Response) -> None:
    if response.status >= 400:
        watched.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")


@pytest.fixture(scope="module")
def browser_stack(
    tmp_path_factory: pytest.TempPathFactory, e2e_scenarios: Path, fresh_database: Callable[[], str]
) -> Iterator[RunningStack]:
    """One stack per module: the example and e2e scenarios, one poller thread (runs go one by one)."""
    running = start_stack(
        tmp_path_factory.mktemp("browser-stack"),
        e2e_scenarios,
        fresh_database(),
        TESTGENIE_POLLER_CONCURRENCY="1",
    )
    yield running
    code = running.stop()
    assert code == 0, running.tail()
