"""The execution page of a sharded phase: a bar per shard, each shard's log on demand."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.support.browser import Watched, screenshot, seed
from tests.support.stack import RunningStack

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_a_sharded_phase_shows_a_bar_and_a_log_per_shard(
    browser_stack: RunningStack, open_page: Callable[..., Watched], tmp_path: Path
) -> None:
    (done,) = seed(browser_stack, [{"scenarioName": "more-itertools", "phases": ["unit"], "shards": 3}])
    assert done["status"] == "completed", done
    watched = open_page()
    page = watched.page
    page.goto(f"{browser_stack.url}/#/executions/{done['executionId']}")
    unit = page.locator('li.phase[data-phase="unit"]')
    expect(unit.locator(".shards h4")).to_have_text("3 shards")
    shards = unit.locator("li.shard")
    expect(shards).to_have_count(3)
    for index in range(3):
        shard = unit.locator(f'li.shard[data-shard="{index}"]')
        expect(shard.locator(".badge")).to_have_text("✔ passed")
        expect(shard.locator(".bar .fill")).to_have_attribute("style", re.compile(r"width: \d"))
    second = unit.locator('li.shard[data-shard="1"]')
    second.get_by_role("button", name="Log").click()
    expect(second.locator("pre.log")).to_contain_text("[unit] shard 1 of 3:")
    screenshot(page, "execution-shards", tmp_path)
    watched.clean()
