"""The queue form offers every scenario the stack can run, never run ones included, and those with
runs whose bundle has since gone (headless Chromium against `testgenie serve`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect
from testgenie.orchestrator.sources.bundles import pack_folder

from tests.support.browser import Watched, seed
from tests.support.drills import local_s3
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_the_scenario_field_offers_never_run_and_pushed_scenarios_and_those_with_runs(
    browser_stack: RunningStack, e2e_scenarios: Path, open_page: Callable[..., Watched]
) -> None:
    served = sorted(p.name for p in e2e_scenarios.iterdir() if (p / ".testgenie" / "testing.json").is_file())
    assert {"e2e-pass", "e2e-slow"} <= set(served)
    [done] = seed(browser_stack, [{"scenarioName": "e2e-pass", "phases": ["structure"]}])
    assert done["status"] == "completed", done
    # After the stack started: one bundle uploaded (never run), and the run one's bundle removed.
    s3 = local_s3(browser_stack)  # the developer keys: the local AWS refuses made-up ones
    bucket = browser_stack.info["buckets"]["ArtifactsBucket"]
    s3.put_object(
        Bucket=bucket, Key="scenarios/pushed-later.tar.gz", Body=pack_folder(e2e_scenarios / "e2e-pass")
    )
    s3.delete_object(Bucket=bucket, Key="scenarios/e2e-pass.tar.gz")

    watched = open_page()
    page = watched.page
    page.goto(f"{browser_stack.url}/#/queue")
    options = page.locator("#qf-scenarios option")
    expected = sorted({*served, "pushed-later"})  # e2e-pass from its history alone
    expect(options).to_have_count(len(expected), timeout=30_000)
    assert options.evaluate_all("(all) => all.map((o) => o.value)") == expected
    expect(page.locator(".queue-form .notice")).to_be_empty()
    watched.clean()
