"""Greetings, configurable through HELLO_GREETING."""

from __future__ import annotations

import os

__all__ = ["greet", "greet_all"]


def greet(name: str) -> str:
    """'Hello, Ada!' (the word comes from HELLO_GREETING)."""
    cleaned = name.strip()
    if not cleaned:
        raise ValueError("name must not be blank")
    return f"{os.environ.get('HELLO_GREETING', 'Hello')}, {cleaned}!"


def greet_all(names: list[str]) -> list[str]:
    """One greeting per name, in order."""
    return [greet(name) for name in names]
