"""A small real WebSocket client for the integration tests, speaking JSON or msgpack."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import msgpack
import numpy as np
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.wire_contract import check_received


class TestClient:
    """Collects every message the server sends; tests wait for the ones they expect."""

    __test__ = False  # not a pytest test class

    def __init__(self, ws: ClientConnection, use_msgpack: bool = False) -> None:
        self.ws = ws
        self.use_msgpack = use_msgpack
        self.inbox: list[dict[str, Any]] = []
        self.frame_kinds: set[type] = set()  # str for text frames, bytes for binary ones
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())
        self.player_id: str | None = None
        self.token: str | None = None

    @classmethod
    async def connect(cls, url: str, use_msgpack: bool = False, **kwargs: Any) -> TestClient:
        ws = await connect(url, max_size=None, **kwargs)
        return cls(ws, use_msgpack)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                self.frame_kinds.add(type(frame))
                message = json.loads(frame) if isinstance(frame, str) else msgpack.unpackb(frame, raw=False)
                check_received(message)  # every frame the server sends is held to docs/asyncapi.json
                async with self._arrived:
                    self.inbox.append(message)
                    self._arrived.notify_all()
        except ConnectionClosed:
            pass
        finally:
            async with self._arrived:
                self._arrived.notify_all()

    async def send(self, message: dict[str, Any]) -> None:
        if self.use_msgpack:
            await self.ws.send(msgpack.packb(message, use_bin_type=True))
        else:
            await self.ws.send(json.dumps(message))

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool] | str, timeout: float = 10.0, start: int = 0
    ) -> dict[str, Any]:
        """Return the first message (from index ``start``) matching ``predicate`` (or of that type)."""
        if isinstance(predicate, str):
            kind = predicate
            predicate = lambda message: message.get("type") == kind  # noqa: E731
        async with asyncio.timeout(timeout):
            async with self._arrived:
                while True:
                    for message in self.inbox[start:]:
                        if predicate(message):
                            return message
                    if self._reader.done():
                        raise AssertionError(
                            f"connection closed ({self.ws.close_code}) before the message came"
                        )
                    await self._arrived.wait()

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [message for message in self.inbox if message.get("type") == kind]

    async def hello(self, name: str, **fields: Any) -> dict[str, Any]:
        start = len(self.inbox)
        await self.send({"type": "hello", "name": name, **fields})
        welcome = await self.wait_for(lambda m: m["type"] in ("welcome", "error"), start=start)
        assert welcome["type"] == "welcome", welcome
        self.player_id, self.token = welcome["player_id"], welcome["token"]
        return welcome

    async def request(self, message: dict[str, Any], answer: str, timeout: float = 10.0) -> dict[str, Any]:
        """Send a message and wait for ``answer`` or an error, whichever comes first."""
        start = len(self.inbox)
        await self.send(message)
        reply = await self.wait_for(lambda m: m["type"] in (answer, "error"), timeout=timeout, start=start)
        return reply

    async def close(self) -> None:
        await self.ws.close()
        await self._reader


def drawing_batches(
    strokes: Sequence[np.ndarray], round_number: int, batch_points: int = 8, scale: float = 1.0
) -> list[dict[str, Any]]:
    """Split a real drawing into ``stroke`` messages the way a phone streams it."""
    messages = []
    for index, stroke in enumerate(strokes):
        points = [
            [float(x) * scale, float(y) * scale, float(i * 16)] for i, (x, y) in enumerate(stroke[:, :2])
        ]
        for start in range(0, len(points), batch_points):
            chunk = points[start : start + batch_points]
            messages.append(
                {
                    "type": "stroke",
                    "round": round_number,
                    "stroke": index,
                    "points": chunk,
                    "end": start + batch_points >= len(points),
                }
            )
    return messages


async def draw(client: TestClient, strokes: Sequence[np.ndarray], round_number: int) -> None:
    """Stream a drawing batch by batch, with a short pause between batches as a phone would."""
    for message in drawing_batches(strokes, round_number):
        await client.send(message)
        await asyncio.sleep(0.005)
