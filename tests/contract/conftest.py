"""Contract fixtures: the template as data and translated by SAM (helpers: tests/support/cloudformation.py)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.cloudformation import read_template, translate
from tests.support.paths import TEMPLATE


@pytest.fixture(scope="session")
def template() -> dict[str, Any]:
    return read_template()


@pytest.fixture(scope="session")
def translated() -> dict[str, Any]:
    """template.yaml translated to CloudFormation."""
    return translate(TEMPLATE)
