"""Fixtures shared by every test package: where the real Quick, Draw! data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
# CI clones the repository with ../shared beside it; DOODLE_SHARED overrides that for other layouts.
SHARED_DIR = Path(os.environ.get("DOODLE_SHARED", REPO_ROOT.parent / "shared"))
QUICKDRAW_DIR = SHARED_DIR / "quickdraw"
SEED_MODEL_PATH = SHARED_DIR / "seed_model" / "quickdraw20_cnn_state_dict.pt"


@pytest.fixture(scope="session")
def quickdraw_dir() -> Path:
    """The real Quick, Draw! drawings gathered for this project (../shared/quickdraw)."""
    if not QUICKDRAW_DIR.is_dir():
        pytest.fail(f"real Quick, Draw! data not found at {QUICKDRAW_DIR} (set DOODLE_SHARED)")
    return QUICKDRAW_DIR


@pytest.fixture(scope="session")
def seed_model_path() -> Path:
    """The seed model's state_dict (../shared/seed_model)."""
    if not SEED_MODEL_PATH.is_file():
        pytest.fail(f"seed model not found at {SEED_MODEL_PATH} (set DOODLE_SHARED)")
    return SEED_MODEL_PATH
