"""The dashboard in headless Chromium against `testgenie serve` with seeded history."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect
from testgenie_local.polling import wait_for

from tests.browser.conftest import DESKTOP, PHONE, Watched, screenshot, seed
from tests.e2e.conftest import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
# Until GET /scenarios is served (issue 12) the queue form's name suggestions answer 404 (and the
# console says so); nothing else may fail.
WITHOUT_HISTORY_ROUTES = ("/api/v1/scenarios", "status of 404")


@pytest.fixture(scope="module")
def history(browser_stack: RunningStack) -> dict[str, Any]:
    """Two passing and one failing hello/broken run, a failing e2e run: what the pages show."""
    done = seed(
        browser_stack,
        [
            {"scenarioName": "hello-python", "preset": "quick"},
            {"scenarioName": "broken-python", "phases": ["structure", "unit"]},
            {"scenarioName": "hello-python", "preset": "quick"},
            {"scenarioName": "e2e-fail"},
        ],
    )
    assert [r["status"] for r in done] == ["completed", "failed", "completed", "failed"], done
    return {
        "requests": done,
        "broken": done[1]["executionId"],
        "hello": [done[0]["executionId"], done[2]["executionId"]],
    }


def _open(watched: Watched, stack: RunningStack, fragment: str) -> Page:
    watched.page.goto(f"{stack.url}/{fragment}")
    return watched.page


def test_execution_page_shows_phases_failures_and_log(
    browser_stack: RunningStack, history: dict[str, Any], open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    watched = open_page()
    page = _open(watched, browser_stack, f"#/executions/{history['broken']}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("broken-python")
    expect(page.locator("h1 .badge")).to_have_text("✘ failed")
    unit = page.locator('li.phase[data-phase="unit"]')
    expect(unit.locator(".badge")).to_have_text("✘ failed")
    expect(unit.locator(".tag")).to_have_text("test_failure")
    expect(unit.locator(".remediation")).to_be_visible()
    expect(unit.locator(".phase-error")).to_contain_text("test_mean_of_nothing_is_zero")
    unit.get_by_role("button", name="Show log").click()
    expect(unit.locator("pre.log")).to_contain_text("ZeroDivisionError")
    expect(unit.get_by_role("button", name="Hide log")).to_have_attribute("aria-expanded", "true")
    # Times: the viewer's local zone on the page, UTC on hover.
    started = page.locator("dl.facts time").first
    expect(started).to_have_attribute("title", re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$"))
    screenshot(page, "execution", tmp_path)
    watched.clean()


def test_queue_form_shows_progress_until_the_run_ends(
    browser_stack: RunningStack, history: dict[str, Any], open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    watched = open_page()
    page = _open(watched, browser_stack, "#/queue")
    expect(page.locator("#qf-phase-lint")).to_be_attached()
    # Keyboard only: type the scenario, pick phases mode, submit with Enter.
    page.locator("#qf-scenario").fill("e2e-slow")
    page.locator("#qf-mode-phases").check()
    for phase in ("structure", "lint"):
        page.locator(f"#qf-phase-{phase}").check()
    page.locator("#qf-scenario").press("Enter")
    expect(page.locator(".notice")).to_contain_text("Queued request")
    row = page.locator("tr.highlight")
    expect(row).to_have_count(1)
    # While it runs the row shows progress (1 of 2 phases, now lint), then its end, with a link.
    expect(row.locator(".progress-text")).to_contain_text("now lint", timeout=60_000)
    expect(row.locator("td[data-label=Status] .badge")).to_have_text("✔ completed", timeout=60_000)
    expect(row.locator(".progress-text")).to_have_text("2/2 phases")
    expect(row.get_by_role("link", name="open")).to_be_visible()
    watched.clean(allow=WITHOUT_HISTORY_ROUTES)


def test_cancel_stops_a_slow_run(
    browser_stack: RunningStack, history: dict[str, Any], open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    slow = browser_stack.queue(scenarioName="e2e-slow")
    browser_stack.wait_status(slow["id"], {"running"})
    watched = open_page()
    page = _open(watched, browser_stack, f"#/queue?highlight={slow['id']}")
    row = page.locator(f'tr[data-request="{slow["id"]}"]')
    expect(row.locator("td[data-label=Status] .badge")).to_have_text("▶ running")
    screenshot(page, "queue", tmp_path)
    row.get_by_role("button", name=re.compile("^Cancel")).click()
    expect(row.locator("td[data-label=Status] .badge")).to_have_text("⊘ cancelled", timeout=60_000)
    assert browser_stack.get(f"/suite-requests/{slow['id']}")["status"] == "cancelled"
    watched.clean(allow=WITHOUT_HISTORY_ROUTES)


def test_phone_width_and_error_loading_states(
    browser_stack: RunningStack, history: dict[str, Any], open_page: Callable[..., Watched]
) -> None:
    watched = open_page(PHONE)
    page = watched.page
    page.goto(f"{browser_stack.url}/#/executions/{history['broken']}")
    expect(page.locator('li.phase[data-phase="unit"]')).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at phone width ({width}px)"
    watched.clean()

    # An API error is shown, with a way to retry; a slow answer shows a loading state first.
    failing = open_page(DESKTOP)
    held: list[Route] = []
    failing.page.route(
        re.compile(r".*/api/v1/suite-requests\?.*"),
        lambda route: route.fulfill(
            status=503, content_type="application/json", body='{"error": "database down"}'
        ),
    )
    failing.page.route(re.compile(r".*/api/v1/executions/[0-9a-f-]+$"), lambda route: held.append(route))
    failing.page.goto(f"{browser_stack.url}/#/queue")
    requests = failing.page.locator('section[aria-labelledby="requests-h"]')
    expect(requests.get_by_role("alert")).to_contain_text("503: database down")
    expect(requests.get_by_role("button", name="Retry")).to_be_visible()
    failing.page.goto(f"{browser_stack.url}/#/executions/{history['broken']}")
    expect(failing.page.locator("main .loading")).to_contain_text("Loading the run")
    # evaluate() lets Playwright deliver the route event while we poll.
    wait_for(lambda: (failing.page.evaluate("1"), held)[1], 30, "the held execution request")
    held[0].continue_()
    expect(failing.page.get_by_role("heading", level=1)).to_contain_text("broken-python")
