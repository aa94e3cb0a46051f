"""docs/asyncapi.json is generated from the code, and docs/protocol.md agrees with it."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from server import contract
from server.messages import (
    CLIENT_MESSAGE_TYPES,
    ERRORS_BY_MESSAGE,
    BadMessage,
    CloseCode,
    parse_client_message,
)
from tests.wire_contract import DOCUMENT, Direction, contract_errors, document, message_types

PROTOCOL_MD = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def test_committed_document_is_current() -> None:
    """`doodle-party contract --check` passes: the committed file is what the code generates."""
    assert DOCUMENT.read_text(encoding="utf-8") == contract.render(), "run `doodle-party contract`"


def test_check_flag_fails_on_a_stale_file(tmp_path: Path) -> None:
    """--check exits 1 for a file that differs, 0 for a current one."""
    stale = tmp_path / "asyncapi.json"
    stale.write_text("{}\n")
    parser = contract.argparse.ArgumentParser()
    contract.configure_parser(parser)
    assert contract.run(parser.parse_args(["--check", "--output", str(stale)])) == 1
    assert contract.run(parser.parse_args(["--output", str(stale)])) == 0
    assert contract.run(parser.parse_args(["--check", "--output", str(stale)])) == 0


def test_every_message_type_is_in_the_document() -> None:
    """Each parsed client type has a schema and an error list; the server side covers every builder."""
    assert message_types("client") == set(CLIENT_MESSAGE_TYPES) == set(ERRORS_BY_MESSAGE)
    assert "room" in message_types("server") and "left_room" in message_types("server")


def test_error_lists_name_real_codes() -> None:
    """Every per-message error code is one the server defines."""
    codes = set(contract.error_codes())
    for kind, listed in ERRORS_BY_MESSAGE.items():
        assert set(listed) <= codes, kind
    assert "doodle_error" not in codes
    assert document()["components"]["schemas"]["CloseCode"]["enum"] == [int(code) for code in CloseCode]


# ---------------------------------------------------------------------------------------------------
# docs/protocol.md's examples


def _sections(text: str) -> list[tuple[str, str, str]]:
    """(## heading, ### heading, body) for every part of the document."""
    parts = []
    major = minor = ""
    body: list[str] = []
    for line in text.splitlines():
        if line.startswith("## ") or line.startswith("### "):
            parts.append((major, minor, "\n".join(body)))
            body = []
            if line.startswith("## "):
                major, minor = line[3:].strip(), ""
            else:
                minor = line[4:].strip()
            continue
        body.append(line)
    parts.append((major, minor, "\n".join(body)))
    return parts


def _examples(body: str) -> list[Any]:
    """The JSON examples in a body: whole ```json blocks (or one per line), and inline `{"type"...}`."""
    found: list[Any] = []
    for block in re.findall(r"```json\n(.*?)```", body, flags=re.S):
        try:
            found.append(json.loads(block))
        except json.JSONDecodeError:
            found.extend(json.loads(line) for line in block.splitlines() if line.strip())
    prose = re.sub(r"```.*?```", "", body, flags=re.S)
    found.extend(json.loads(span) for span in re.findall(r"`(\{\"type\".*?\})`", prose))
    return found


def documented_examples() -> list[tuple[Direction, Any]]:
    examples: list[tuple[Direction, Any]] = []
    for major, _minor, body in _sections(PROTOCOL_MD.read_text(encoding="utf-8")):
        if major.startswith("Client -> server"):
            examples.extend(("client", example) for example in _examples(body))
        elif major.startswith("Server -> client"):
            examples.extend(("server", example) for example in _examples(body))
    return examples


def test_protocol_md_has_examples_of_every_message() -> None:
    """The docs show each message type at least once (so the example test below is not vacuous)."""
    shown = {(direction, example["type"]) for direction, example in documented_examples()}
    assert shown == {("client", kind) for kind in message_types("client")} | {
        ("server", kind) for kind in message_types("server")
    }


@pytest.mark.parametrize(
    ("direction", "example"),
    documented_examples(),
    ids=lambda value: value if isinstance(value, str) else str(value.get("type")),
)
def test_documented_example_follows_the_contract(direction: Direction, example: Any) -> None:
    """Every JSON example in docs/protocol.md validates against its message's schema."""
    assert contract_errors(example, direction) == []
    if direction == "client":
        parse_client_message(example)  # and the real parser takes it


def test_per_message_error_lists_match() -> None:
    """Each client message's "Errors:" paragraph in protocol.md names exactly ERRORS_BY_MESSAGE's codes."""
    codes = set(contract.error_codes())
    for major, minor, body in _sections(PROTOCOL_MD.read_text(encoding="utf-8")):
        if not major.startswith("Client -> server") or not minor:
            continue
        kind = re.match(r"`(\w+)`", minor)
        assert kind is not None, minor
        paragraph = re.search(r"Errors:(.*?)(?:\n\n|$)", body, flags=re.S)
        assert paragraph is not None, f"{minor} names no errors"
        listed = set(re.findall(r"`(\w+)`", paragraph.group(1))) & codes
        assert listed == set(ERRORS_BY_MESSAGE[kind.group(1)]), kind.group(1)


def test_error_and_close_code_tables_match() -> None:
    """The error-code table lists every code the server defines; the close-code table every CloseCode."""
    text = PROTOCOL_MD.read_text(encoding="utf-8")
    error_table = text.split("| code | meaning |", 1)[1].split("\n\n", 1)[0]
    listed = set(re.findall(r"^\| `(\w+)`(?:, `(\w+)`)?", error_table, flags=re.M))
    codes = {code for pair in listed for code in pair if code}
    assert codes == set(contract.error_codes())
    close_table = text.split("### Close codes", 1)[1].split("\n\n", 1)[0]
    assert {int(code) for code in re.findall(r"^\| (\d{4}) \|", close_table, flags=re.M)} == set(CloseCode)


# ---------------------------------------------------------------------------------------------------
# The schemas and the parser agree on what a client may send


@pytest.mark.parametrize(
    "message",
    [
        {"type": "hello", "name": "Ana"},
        {"type": "hello", "name": "x" * 24, "canvas": [1, 10000], "consent": {"archive": False}, "id": 3},
        {"type": "join_room", "code": "cdf-4hj", "role": "spectator", "id": "j1"},
        {"type": "stroke", "round": 1, "stroke": 199, "points": [[0, 0], [1, 2, 3]], "end": True},
        {"type": "recognize", "strokes": [[[1, 2, 0]]], "canvas": [400, 400]},
        {"type": "create_room", "settings": {"rounds": 20, "max_spectators": 0}},
        {"type": "kick", "player_id": "p_1"},
    ],
)
def test_valid_client_messages_pass_both(message: dict[str, Any]) -> None:
    """A message the schema accepts, the parser accepts too."""
    assert contract_errors(message, "client") == []
    parse_client_message(message)


@pytest.mark.parametrize(
    "message",
    [
        {"type": "hello"},
        {"type": "hello", "name": 7},
        {"type": "hello", "name": "Ana", "canvas": [0, 5]},
        {"type": "hello", "name": "Ana", "canvas": [5]},
        {"type": "join_room", "code": "X", "role": "referee"},
        {"type": "stroke", "round": 0, "stroke": 0, "points": []},
        {"type": "stroke", "round": 1, "stroke": 200, "points": []},
        {"type": "stroke", "round": 1, "stroke": 0, "points": [[1, 2, 3, 4]]},
        {"type": "stroke", "round": 1, "stroke": 0, "points": [[1, 2]] * 513},
        {"type": "recognize", "strokes": []},
        {"type": "update_settings"},
        {"type": "kick"},
    ],
)
def test_invalid_client_messages_fail_both(message: dict[str, Any]) -> None:
    """A message the parser refuses as malformed, the schema refuses too."""
    assert contract_errors(message, "client") != []
    with pytest.raises(BadMessage):
        parse_client_message(message)


def test_blank_names_fail_both() -> None:
    """An empty or blank hello name is refused by the schema and (as invalid_name) by the parser."""
    from game.errors import InvalidName

    for name in ("", "   "):
        message = {"type": "hello", "name": name}
        assert contract_errors(message, "client") != []
        with pytest.raises(InvalidName):
            parse_client_message(message)
