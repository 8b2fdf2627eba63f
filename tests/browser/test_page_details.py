"""Details a newcomer trips over: the execution's trigger, an unknown scenario, a one-run chart, a
phase that failed without a failing test, the primary button after a click, the scenario list."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import Watched, seed
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
DAY = 86_400


@pytest.fixture(scope="module")
def runs(browser_stack: RunningStack) -> dict[str, Any]:
    """One passing run of e2e-pass, one failing run of e2e-fail (its lint command exits 3)."""
    done = seed(browser_stack, [{"scenarioName": "e2e-pass"}, {"scenarioName": "e2e-fail"}])
    assert [r["status"] for r in done] == ["completed", "failed"], done
    return {"pass": done[0]["executionId"], "fail": done[1]["executionId"]}


def test_the_execution_page_shows_its_trigger(
    browser_stack: RunningStack, runs: dict[str, Any], open_page: Callable[..., Watched]
) -> None:
    watched = open_page()
    watched.page.goto(f"{browser_stack.url}/#/executions/{runs['pass']}")
    trigger = (
        watched.page.locator("dl.facts").get_by_text("Trigger").locator("xpath=following-sibling::dd[1]")
    )
    expect(trigger).to_have_text("api")
    watched.clean()


def test_an_unknown_scenario_is_one_not_found_state(
    browser_stack: RunningStack, runs: dict[str, Any], open_page: Callable[..., Watched]
) -> None:
    watched = open_page()
    page = watched.page
    page.goto(f"{browser_stack.url}/#/scenarios/nope")
    expect(page.locator("main .empty")).to_contain_text("No run of a scenario named “nope” is recorded.")
    expect(page.get_by_role("alert")).to_have_count(0)  # no red error beside it
    expect(page.get_by_text("No runs of this scenario yet.")).to_have_count(0)
    expect(page.get_by_role("link", name="queue a run of it")).to_have_attribute(
        "href", "#/queue?scenario=nope"
    )
    # The stats' 404 (and Chromium's console line about it) is what the page answers with that state.
    watched.clean(allow=("/api/v1/scenarios/nope/stats", "status of 404"))


def test_a_one_run_chart_spans_minutes_not_years(
    browser_stack: RunningStack, runs: dict[str, Any], open_page: Callable[..., Watched]
) -> None:
    watched = open_page()
    page = watched.page
    page.goto(f"{browser_stack.url}/#/scenarios/e2e-pass")
    chart = page.locator('.chart[data-ready="true"]')
    expect(chart).to_have_attribute("data-points", "1")
    expect(page.get_by_text("1 run shown, newest first")).to_be_visible()
    span = chart.evaluate("el => [el.uplot.scales.x.min, el.uplot.scales.x.max, el.uplot.data[0][0]]")
    low, high, point = span
    assert low < point < high, span
    assert high - low < DAY, f"the time axis spans {(high - low) / DAY:.0f} days for one run"
    labels = chart.evaluate("el => [...el.querySelectorAll('.u-axis')][0].innerText")
    assert not [year for year in ("2027", "2028", "2029") if year in labels], labels
    watched.clean()


def test_a_phase_that_failed_without_failing_tests_shows_its_error(
    browser_stack: RunningStack, runs: dict[str, Any], open_page: Callable[..., Watched]
) -> None:
    error = next(p for p in browser_stack.get(f"/executions/{runs['fail']}")["phases"] if p["name"] == "lint")
    assert error["status"] == "failed"
    assert not error.get("failingTests")
    watched = open_page()
    page = watched.page
    page.goto(f"{browser_stack.url}/#/scenarios/e2e-fail")
    lint = page.locator("#phases-table tbody tr").filter(has_text="lint")
    expect(lint.locator("td[data-label='Last failure'] code")).to_have_text(error["error"])
    expect(lint.locator("td[data-label='Last failure']")).not_to_contain_text("none")
    watched.clean()


def _contrast(rgb_a: str, rgb_b: str) -> float:
    def luminance(rgb: str) -> float:
        parts = [int(v) / 255 for v in rgb[rgb.index("(") + 1 : rgb.index(")")].split(",")[:3]]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in parts]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    light, dark = sorted((luminance(rgb_a), luminance(rgb_b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_queue_run_stays_readable_after_a_click_and_offers_known_scenarios(
    browser_stack: RunningStack, runs: dict[str, Any], open_page: Callable[..., Watched]
) -> None:
    watched = open_page()
    page = watched.page
    page.goto(f"{browser_stack.url}/#/queue")
    options = page.locator("#qf-scenarios option")
    expect(options.first).to_be_attached()
    known = set(options.evaluate_all("els => els.map(o => o.value)"))
    assert {"e2e-pass", "e2e-fail"} <= known, known
    assert page.locator("#qf-scenario").get_attribute("list") == "qf-scenarios"

    page.locator("#qf-scenario").fill("e2e-pass")
    page.locator("#qf-mode-phases").check()
    page.locator("#qf-phase-structure").check()
    submit = page.get_by_role("button", name="Queue run")
    submit.click()  # the pointer stays on it: hovered and focused
    expect(page.locator(".notice")).to_contain_text("Queued request")
    colours = submit.evaluate(
        "el => { const s = getComputedStyle(el); return [s.color, s.backgroundColor]; }"
    )
    assert _contrast(*colours) >= 4.5, f"the label is hard to read after a click: {colours}"
    watched.clean()
