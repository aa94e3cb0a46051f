"""Phone players for the browser tests: real websockets clients that declare a phone's canvas.

A party of 16 phones would be 16 Chromium processes; these are 16 real protocol clients instead
(``tests/server/wsclient.py``), each saying ``hello`` with a 390x844 canvas as a phone app does and
drawing a real Quick, Draw! drawing in that canvas. They run on their own event loop in a thread, so
the blocking Selenium calls of a test can drive them.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Sequence
from typing import Any, TypeVar

import numpy as np

from tests.server.wsclient import TestClient

T = TypeVar("T")

PHONE_CANVAS = (390, 844)


def on_phone(strokes: Sequence[np.ndarray], canvas: tuple[int, int] = PHONE_CANVAS) -> list[np.ndarray]:
    """A drawing in Google's 0..255 square as a person draws it on a portrait phone screen.

    It spans 80% of the screen's width, a little above the middle, as thumbs draw: the rest of the
    tall canvas stays empty, which is what a viewer has to cope with.
    """
    width, height = canvas
    scale = 0.8 * width / 255.0
    left, top = 0.1 * width, 0.3 * height
    return [np.asarray(s, dtype=np.float64)[:, :2] * scale + (left, top) for s in strokes]


class PhoneParty:
    """Real protocol clients on phone-sized canvases; every method blocks until the server answered."""

    def __init__(self, ws_url: str) -> None:
        self.ws_url = ws_url
        self.clients: list[TestClient] = []
        self.names: list[str] = []
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="phone-party", daemon=True)
        self._thread.start()

    def _run(self, coroutine: Coroutine[Any, Any, T], timeout: float = 30.0) -> T:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    @property
    def host(self) -> TestClient:
        return self.clients[0]

    def player_ids(self) -> list[str]:
        return [str(client.player_id) for client in self.clients]

    def create(self, name: str, settings: dict[str, Any]) -> str:
        """The first phone creates a room and hosts it; returns the room code."""
        room = self._run(self._create(name, settings))
        return str(room["code"])

    async def _create(self, name: str, settings: dict[str, Any]) -> dict[str, Any]:
        client = await self._connect(name)
        room = await client.request({"type": "create_room", "settings": settings}, "room")
        assert room["type"] == "room", room
        return room

    def join(self, code: str, names: Sequence[str]) -> None:
        """More phones join the room, one after another (as people do)."""
        self._run(self._join(code, names), timeout=60.0)

    async def _join(self, code: str, names: Sequence[str]) -> None:
        for name in names:
            client = await self._connect(name)
            room = await client.request({"type": "join_room", "code": code}, "room")
            assert room["type"] == "room", room

    async def _connect(self, name: str) -> TestClient:
        client = await TestClient.connect(self.ws_url)
        await client.hello(name, canvas=list(PHONE_CANVAS))
        self.clients.append(client)
        self.names.append(name)
        return client

    def host_sends(self, message: dict[str, Any], answer: str) -> dict[str, Any]:
        return self._run(self.host.request(message, answer))

    def wait_round(self, number: int) -> str:
        """Every phone hears ``round_started``; returns the word."""
        return self._run(self._wait_round(number))

    async def _wait_round(self, number: int) -> str:
        words = set()
        for client in self.clients:
            started = await client.wait_for(lambda m: m["type"] == "round_started" and m["round"] == number)
            words.add(started["word"])
        assert len(words) == 1, words
        return words.pop()

    def draw(self, drawings: Sequence[Sequence[np.ndarray]], round_number: int) -> list[int]:
        """Each phone streams its drawing (in its canvas) at once; returns the points each sent."""
        return self._run(self._draw(drawings, round_number), timeout=60.0)

    async def _draw(self, drawings: Sequence[Sequence[np.ndarray]], round_number: int) -> list[int]:
        async def one(position: int, client: TestClient, strokes: Sequence[np.ndarray]) -> int:
            sent = 0
            # Point times as people draw: each starts after a moment's thought (later for later
            # phones), a point every 16 ms, a quarter second between strokes.
            clock = 1500 + 700 * position
            for index, stroke in enumerate(strokes):
                points = []
                for x, y in stroke.tolist():
                    points.append([round(x, 1), round(y, 1), clock])
                    clock += 16
                clock += 250
                for start in range(0, len(points), 32):
                    chunk = points[start : start + 32]
                    end = start + 32 >= len(points)
                    await client.send(
                        {
                            "type": "stroke",
                            "round": round_number,
                            "stroke": index,
                            "points": chunk,
                            "end": end,
                        }
                    )
                    sent += len(chunk)
                    await asyncio.sleep(0.02)  # a phone sends a batch every 50-100 ms; a little faster here
            return sent

        counts = await asyncio.gather(
            *(
                one(position, client, strokes)
                for position, (client, strokes) in enumerate(zip(self.clients, drawings, strict=False))
            )
        )
        return list(counts)

    def close(self) -> None:
        async def close_all() -> None:
            await asyncio.gather(*(client.close() for client in self.clients), return_exceptions=True)

        try:
            self._run(close_all())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=10)
            self._loop.close()
