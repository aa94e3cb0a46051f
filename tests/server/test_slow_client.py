"""A client that stops reading: the gateway's writes to it stay bounded and it is disconnected (real
sockets: a websockets server, and a peer that does the opening handshake and then never reads)."""

from __future__ import annotations

import asyncio
import base64
import os
import socket

import structlog
from websockets.asyncio.server import ServerConnection, serve
from websockets.protocol import State

from server import messages as wire
from server.gateway import MAX_UNSENT_BYTES, Client
from server.ratelimit import TokenBucket


async def _peer_that_never_reads(port: int) -> asyncio.StreamWriter:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # little room in the peer's kernel
    sock.connect(("127.0.0.1", port))
    sock.setblocking(False)
    reader, writer = await asyncio.open_connection(sock=sock)
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    assert b" 101 " in await reader.readuntil(b"\r\n\r\n")
    return writer  # and never read again


async def test_a_client_that_never_reads_is_disconnected_with_its_unsent_bytes_bounded() -> None:
    loop = asyncio.get_running_loop()
    points = [[float(i % 200), float(i // 3), float(i)] for i in range(4000)]
    frame = wire.WireFrame(wire.stroke_relay_message("p1", 1, 1, 0, points, True, None))
    frame_bytes = len(frame.encoded("msgpack"))
    outcome: asyncio.Future[tuple[Client, int, int]] = loop.create_future()

    def write_at_the_end_of_the_tick(client: Client) -> None:  # as the gateway's hook does
        loop.call_soon(client.write)

    async def handler(ws: ServerConnection) -> None:
        client = Client(
            ws=ws,
            connection_id="slow",
            limiter=TokenBucket(60, 120),
            encoding="msgpack",
            on_unsent=write_at_the_end_of_the_tick,
            log=structlog.get_logger(),
        )
        most_unsent, sent = 0, 0
        while not client.too_slow and sent < 10_000:
            client.send(frame)
            sent += 1
            await asyncio.sleep(0)  # the write of this tick
            most_unsent = max(most_unsent, ws.transport.get_write_buffer_size())
        outcome.set_result((client, most_unsent, sent))
        await ws.wait_closed()

    async with serve(handler, "127.0.0.1", 0, close_timeout=0.5) as server:
        port = server.sockets[0].getsockname()[1]
        peer = await _peer_that_never_reads(port)
        client, most_unsent, sent = await asyncio.wait_for(outcome, 30)
        # Dropped once its unread bytes passed the bound, which is never overshot by more than one
        # tick's frames; and it took more than the bound to get there (the kernel's buffers too).
        assert client.too_slow
        assert MAX_UNSENT_BYTES < most_unsent <= MAX_UNSENT_BYTES + frame_bytes
        assert sent * frame_bytes > MAX_UNSENT_BYTES
        # It is being closed (1008), and nothing more is written to it.
        await asyncio.sleep(0.05)
        assert client.ws.state in (State.CLOSING, State.CLOSED)
        client.send(frame)
        assert client.unsent == []
        close_sent = client.ws.protocol.close_sent
        assert close_sent is not None and close_sent.code == wire.CloseCode.POLICY_VIOLATION
        await asyncio.wait_for(client.ws.wait_closed(), 5)  # the close times out: the peer never reads
        peer.close()
