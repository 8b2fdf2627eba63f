"""The dashboard in headless Chromium against `testgenie serve` with seeded history."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, Route, expect
from testgenie_local.polling import wait_for

from tests.support.browser import DESKTOP, PHONE, Watched, screenshot, seed
from tests.support.stack import TERMINAL, RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


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


def test_scenarios_page_lists_health_per_scenario(
    browser_stack: RunningStack, history: dict[str, Any], open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    watched = open_page()
    page = _open(watched, browser_stack, "#/")
    hello = page.locator('tr[data-scenario="hello-python"]')
    expect(hello.locator("td[data-label='Last outcome'] .badge")).to_have_text("✔ passed")
    expect(hello.locator("td[data-label='Pass rate']")).to_contain_text("100%")
    expect(hello.locator(".spark .tick")).to_have_count(2)
    expect(page.locator('tr[data-scenario="broken-python"] .badge').first).to_have_text("✘ failed")
    screenshot(page, "scenarios", tmp_path)
    page.get_by_label("Filter").fill("broken")
    expect(page.locator("#scenarios-table tbody tr")).to_have_count(1)
    watched.clean()


def test_scenario_chart_has_a_point_per_run_and_a_click_opens_it(
    browser_stack: RunningStack, history: dict[str, Any], open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    watched = open_page()
    page = _open(watched, browser_stack, "#/scenarios/hello-python")
    chart = page.locator('.chart[data-ready="true"]')
    rows = page.locator("#runs-table tbody tr")
    expect(rows.first).to_be_visible()
    shown = rows.count()
    assert shown >= 2  # the two seeded hello-python runs at least
    expect(chart).to_have_attribute("data-points", str(shown))
    drawn = chart.evaluate("el => el.uplot.data.slice(1).flat().filter(v => v != null).length")
    assert drawn == shown, "one point per run in the list"
    expect(page.locator('#phases-table td[data-label="Phase"]').first).to_be_visible()
    screenshot(page, "scenario", tmp_path)
    # The oldest run is the first point: click where uPlot drew it.
    box = chart.evaluate(
        """el => { const u = el.uplot, r = u.over.getBoundingClientRect();
                   const s = u.data.slice(1).find(values => values[0] != null);
                   return {x: r.left + u.valToPos(u.data[0][0], "x"), y: r.top + u.valToPos(s[0], "y"),
                           id: el.runs[0].executionId}; }"""
    )
    page.mouse.click(box["x"], box["y"])
    expect(page).to_have_url(re.compile(f"#/executions/{box['id']}$"))
    expect(page.locator("dl.facts code").last).to_have_text(box["id"])
    assert box["id"] in {r["executionId"] for r in browser_stack.get("/executions")["items"]}
    watched.clean()


def test_compare_with_previous_and_rerun_failed_phases(
    browser_stack: RunningStack, history: dict[str, Any], open_page: Callable[..., Watched]
) -> None:
    first, second = history["hello"]
    watched = open_page()
    page = _open(watched, browser_stack, f"#/executions/{second}")
    page.get_by_role("button", name="Compare with previous").click()
    compare = page.locator("#compare")
    expect(compare.get_by_role("heading", level=2)).to_contain_text(f"run {first[:8]}")
    expect(compare.locator("#compare-table tbody tr").first).to_contain_text("same")

    page.goto(f"{browser_stack.url}/#/executions/{history['broken']}")
    page.get_by_role("button", name=re.compile(r"^Rerun failed \(1\)")).click()
    expect(page).to_have_url(re.compile(r"#/queue\?highlight="))
    request_id = page.url.rsplit("=", 1)[1]
    row = page.locator(f'tr[data-request="{request_id}"]')
    expect(row).to_have_class(re.compile("highlight"))
    expect(row).to_contain_text(f"rerun of {history['broken'][:8]}")
    linked = browser_stack.get(f"/suite-requests/{request_id}")
    assert linked["rerunOf"] == history["broken"]
    assert linked["trigger"] == "rerun"
    browser_stack.wait_status(request_id, TERMINAL)
    watched.clean()


def test_execution_page_shows_phases_failures_and_log(
    browser_stack: RunningStack,
    history: dict[str, Any],
    open_page: Callable[..., Watched],
    tmp_path: Path,
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
    browser_stack: RunningStack,
    history: dict[str, Any],
    open_page: Callable[..., Watched],
    tmp_path: Path,
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
    watched.clean()


def test_cancel_stops_a_slow_run(
    browser_stack: RunningStack,
    history: dict[str, Any],
    open_page: Callable[..., Watched],
    tmp_path: Path,
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
    watched.clean()


def test_phone_width_and_error_loading_states(
    browser_stack: RunningStack,
    history: dict[str, Any],
    open_page: Callable[..., Watched],
) -> None:
    watched = open_page(PHONE)
    page = watched.page
    page.goto(f"{browser_stack.url}/#/executions/{history['broken']}")
    expect(page.locator('li.phase[data-phase="unit"]')).to_be_visible()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"the page scrolls sideways at phone width ({width}px)"
    watched.clean()

    # Empty history: each page says so (and how to get a run) instead of an empty table.
    blank = open_page(DESKTOP)
    nothing = '{"items": [], "count": 0, "nextCursor": null}'
    blank.page.route(
        re.compile(r".*/api/v1/(scenarios|executions)(\?.*)?$"),
        lambda route: route.fulfill(status=200, content_type="application/json", body=nothing),
    )
    blank.page.goto(f"{browser_stack.url}/#/")
    expect(blank.page.locator(".empty")).to_contain_text("No runs recorded yet.")
    blank.page.goto(f"{browser_stack.url}/#/scenarios/hello-python")
    expect(blank.page.locator(".chart-slot .empty")).to_contain_text("No runs of this scenario yet.")

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
