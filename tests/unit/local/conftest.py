from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest
from testgenie_local.aws import LocalAws, start_moto
from testgenie_local.template import Template, read_template

from tests.support.paths import LOCAL_FIXTURE_STACK as FIXTURE


@pytest.fixture
def template() -> Template:
    return read_template(FIXTURE / "template.yaml")


@pytest.fixture
def fake_app(template: Template) -> Iterator[object]:
    """The fixture's handler module (loaded as the stack would), its CALLS emptied."""
    from testgenie_local.runtime import load_handler

    load_handler(template.functions["WorkFunction"])
    module = sys.modules["fake_app"]
    module.CALLS.clear()
    yield module
    module.CALLS.clear()


@pytest.fixture(scope="module")
def moto_server() -> Iterator[LocalAws]:
    aws = start_moto()
    yield aws
    aws.stop()
