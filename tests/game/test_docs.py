"""The example in game/rules.py's docstring runs as written."""

from __future__ import annotations

import doctest

import game.rules


def test_rules_docstring_example() -> None:
    """create_room + apply, as shown to readers of rules.py."""
    result = doctest.testmod(game.rules, optionflags=doctest.ELLIPSIS, raise_on_error=False)
    assert result.attempted >= 10
    assert result.failed == 0
