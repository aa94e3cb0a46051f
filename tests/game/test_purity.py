"""game/ is sans-I/O: it imports no clock, network, storage, model or logging, and no global RNG."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GAME_DIR = Path(__file__).resolve().parents[2] / "game"
MODULES = sorted(GAME_DIR.glob("*.py"))
# Everything game/ may import: the standard library's pure parts and game itself.
ALLOWED = {"__future__", "collections", "dataclasses", "enum", "random", "typing", "game"}


def imported_roots(tree: ast.Module) -> set[str]:
    roots: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


@pytest.mark.parametrize("path", MODULES, ids=[path.name for path in MODULES])
def test_imports_are_pure(path: Path) -> None:
    """No asyncio, websockets, redis, torch, logging, time, os... only the allowed modules."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    assert imported_roots(tree) <= ALLOWED


@pytest.mark.parametrize("path", MODULES, ids=[path.name for path in MODULES])
def test_random_is_only_a_seeded_instance(path: Path) -> None:
    """The only use of the random module is random.Random(seed): no module-level global RNG."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses = [
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "random"
    ]
    assert set(uses) <= {"Random"}
    assert not any(isinstance(node, ast.ImportFrom) and node.module == "random" for node in ast.walk(tree))


def test_the_package_is_all_here() -> None:
    """The modules the server is told about exist."""
    names = {path.stem for path in MODULES}
    assert {"errors", "settings", "state", "commands", "events", "rules", "scoring", "codes"} <= names
