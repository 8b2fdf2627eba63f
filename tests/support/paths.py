"""The repository's folders and files the tests read."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTS = REPO_ROOT / "tests"
TEMPLATE = REPO_ROOT / "template.yaml"
MIGRATIONS = REPO_ROOT / "migrations"
EXAMPLES = REPO_ROOT / "examples" / "scenarios"
EVENTS_DIR = TESTS / "events"
E2E_SCENARIOS = TESTS / "e2e" / "scenarios"
RELIABILITY_SCENARIOS = TESTS / "reliability" / "scenarios"
LOCAL_FIXTURE_STACK = TESTS / "unit" / "local" / "fixture_stack"
