"""First contact with `doodle-party`: a short start that ends with the URL, a clear word when the port is
taken, and --help that explains every option (for bots, with its default)."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from server.cli import build_parser

REPO_ROOT = Path(__file__).resolve().parents[2]


def start_serve(redis_url: str, *flags: str) -> subprocess.Popen[str]:
    """`doodle-party serve` as a person runs it: logs and the URL line on one stream."""
    env = {**os.environ, "REDIS_URL": redis_url, "DOODLE_LOG_FORMAT": "console"}
    return subprocess.Popen(
        [sys.executable, "-m", "server.cli", "serve", *flags],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def test_serve_start_is_short_and_ends_with_the_url(redis_url: str) -> None:
    """Before anyone connects, serve prints a few log lines, no warning, and the URL line last."""
    server = start_serve(redis_url, "--port", "0")
    assert server.stdout is not None
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = server.stdout.readline()
            assert line, "".join(lines)
            lines.append(line.rstrip("\n"))
            if line.startswith("Doodle Party is up"):
                break
        time.sleep(1.0)  # anything logged after the URL line would land here
        server.send_signal(signal.SIGTERM)
        rest = server.communicate(timeout=30)[0].splitlines()
    finally:
        if server.poll() is None:
            server.kill()
    assert lines[-1].startswith("Doodle Party is up: open http://127.0.0.1:"), lines
    assert len(lines) <= 4, lines
    assert not [line for line in lines if "warn" in line.lower() or "Traceback" in line], lines
    # Nothing came between the URL line and the shutdown.
    assert rest and "shutting_down" in rest[0], rest
    assert "Traceback" not in "\n".join(rest), rest
    assert server.returncode == 0


def test_serve_on_a_port_in_use_says_how_to_choose_another(redis_url: str) -> None:
    """A taken port ends serve with status 1 and one line naming --port, DOODLE_PORT and make serve PORT."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        server = start_serve(redis_url, "--port", str(port))
        output = server.communicate(timeout=60)[0]
    assert server.returncode == 1, output
    assert f"port {port} is in use" in output and "make serve PORT=N" in output, output
    assert "Traceback" not in output and "warning" not in output, output


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
