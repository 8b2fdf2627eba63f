""" "Did you mean …": the closest known name to a misspelt one, for the messages of a 400 or 404."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's default cut-off (0.6) takes `unti` for `unit` and `helo-python` for `hello-python`, and
# leaves unrelated names alone.
_CUTOFF = 0.6


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name most like `name` (case aside), or None when none is close."""
    choices = {candidate.lower(): candidate for candidate in known}
    wanted = name.strip().lower()
    matches = difflib.get_close_matches(wanted, list(choices), n=5, cutoff=_CUTOFF)
    if not matches:
        return None

    def score(candidate: str) -> tuple[float, bool]:
        # Equal ratios (`lnit`: `lint` and `unit`): the same letters swapped is the likelier typo.
        ratio = difflib.SequenceMatcher(None, wanted, candidate).ratio()
        return round(ratio, 6), sorted(candidate) == sorted(wanted)

    return choices[max(matches, key=score)]


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """`; did you mean 'x'?` to end a message with, or "" when no known name is close."""
    match = closest(name, known)
    return f"; did you mean '{match}'?" if match is not None and match != name else ""
