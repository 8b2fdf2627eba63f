"""Unit tests; the [REQ:…] ids tie them to requirements/hello.json."""

from __future__ import annotations

import pytest
from hello import greet, greet_all


@pytest.mark.parametrize("name", ["Ada"], ids=["REQ:HELLO-001"])
def test_greet_says_hello(name: str) -> None:
    assert greet(name) == "Hello, Ada!"


def test_greet_uses_the_configured_word(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HELLO_GREETING", "Bonjour")
    assert greet("Ada") == "Bonjour, Ada!"


@pytest.mark.parametrize("name", ["", "   "], ids=["REQ:HELLO-003-empty", "REQ:HELLO-003-blank"])
def test_blank_names_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match="blank"):
        greet(name)


def test_greet_all_keeps_order() -> None:
    assert greet_all(["b", "a"]) == ["Hello, b!", "Hello, a!"]
