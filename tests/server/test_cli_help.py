"""`doodle-party COMMAND --help` explains every option and, for bots, its default."""

from __future__ import annotations

import argparse

import pytest

from server.cli import build_parser


def subcommand(name: str) -> argparse.ArgumentParser:
    """The parser of one subcommand, configured as when it is chosen on the command line."""
    parser = build_parser([name])
    choices = next(
        action.choices for action in parser._actions if isinstance(action, argparse._SubParsersAction)
    )
    return choices[name]


def options(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions if action.option_strings and action.dest != "help"]


@pytest.mark.parametrize("name", ["serve", "worker", "train", "bots"])
def test_every_option_has_help_text(name: str) -> None:
    """No option of serve, worker, train or bots shows up in --help without a sentence."""
    parser = subcommand(name)
    shown = [action for action in options(parser) if action.help != argparse.SUPPRESS]
    assert shown
    assert [action.option_strings for action in shown if not action.help] == []


def test_bots_help_shows_defaults_and_what_duration_means() -> None:
    """Every bots option with a value says its default, and --duration says the last game finishes."""
    parser = subcommand("bots")
    text = parser.format_help()
    for action in options(parser):
        if action.nargs != 0:  # takes a value (flags are off unless given)
            assert action.help is not None and "default" in action.help, action.option_strings
    duration = next(action for action in options(parser) if "--duration" in action.option_strings)
    assert "0: one game" in (duration.help or "") and "whole game" in (duration.help or "")
    assert "(default 30.0)" in " ".join(text.split())
