"""The WebSocket gateway: socket <-> game rules <-> Redis, and back out to everyone's screens.

It stays thin: parse a message, apply the pure rules in ``game/``, commit to Redis (which publishes),
and deliver what Redis publishes to the sockets this process holds. A room's members may sit on any
number of gateways; each gateway subscribes to the channels of rooms it has members in.

One connection's life::

    hello -> welcome (new identity, or resumed seat + room snapshot)
    create_room | join_room -> room snapshot, subscription to the room channel
    stroke -> APPEND_STROKE (Lua) -> relay via pub/sub; drawing -> recognition -> guess / recognized
    close -> Disconnect (the seat is held for the resume window)
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import secrets
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from game import rules
from game.codes import new_room_code, normalize_code
from game.commands import (
    ChangeSettings,
    Disconnect,
    JoinRoom,
    KickPlayer,
    LeaveRoom,
    Reconnect,
    RecordRecognition,
    Rematch,
    StartGame,
    Tick,
)
from game.errors import DoodleError, NotInRoom, RoomNotFound
from game.events import RoundEnded, RoundStarted
from game.settings import RoomSettings
from game.state import Phase, Role, RoomState
from server import messages as wire
from server.archive import enqueue_round, forget_player, record_consent
from server.config import Settings
from server.errors import (
    AlreadyInRoom,
    HelloFirst,
    RateLimited,
    TooManyLookups,
    TooManyRooms,
    error_for_exception,
)
from server.metrics import REGISTRY
from server.ratelimit import AddressLimit, SlidingWindow, TokenBucket
from server.recognition import RecognitionJob, RecognitionResult, RecognitionService
from server.sessions import Session, SessionStore, session_key
from server.store import (
    RoomCodeTaken,
    RoomEnvelope,
    RoomStore,
    StaleRoomVersion,
    StrokeEntry,
    decode_envelope,
    decode_stroke_entry,
    room_channel,
    round_id,
)

log = structlog.get_logger("doodle_party.gateway")

MAX_COMMIT_ATTEMPTS = 16
# Liveness: each gateway refreshes doodle:gateway:{id}:alive every HEARTBEAT_S (it expires after
# ALIVE_TTL_MS), and every SWEEP_S looks at its rooms' members held by other gateways: a member whose
# gateway stopped refreshing (killed, not shut down) is marked disconnected, so their seat's 30 s run.
HEARTBEAT_S = 2.0
ALIVE_TTL_MS = 6000
SWEEP_S = 5.0
# Every REAP_S each gateway ticks the rooms whose deadline passed (store.DEADLINES_KEY), whoever holds
# their members: a room whose members all dropped still loses their seats and closes.
REAP_S = 1.0
# Gateways that ever ran, and the rooms each holds members of: a gateway that stopped (killed, or shut
# down without giving up its members' seats) is found here by the next live gateway, which only then
# starts its members' seat windows. Seats never run out while no gateway could take the resume.
GATEWAYS_KEY = "doodle:gateways"
OUTBOX_LIMIT = 512  # frames queued for one slow client before we drop it

_connections_gauge = REGISTRY.gauge("doodle_connections", "Open WebSocket connections")
_rooms_gauge = REGISTRY.gauge("doodle_local_rooms", "Rooms with members on this gateway")
_messages_in = REGISTRY.counter("doodle_messages_in_total", "Client messages received", ["type"])
_errors_out = REGISTRY.counter("doodle_errors_total", "Error messages sent", ["code"])
_strokes_in = REGISTRY.counter("doodle_stroke_batches_total", "Accepted stroke batches")
_recognitions = REGISTRY.counter("doodle_recognitions_total", "Players recognized")
_commit_conflicts = REGISTRY.counter("doodle_commit_conflicts_total", "Optimistic commits retried")


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass(eq=False)
class Client:
    """One WebSocket connection and what the gateway knows about it."""

    ws: ServerConnection
    connection_id: str
    limiter: TokenBucket
    # Fixed by the first frame the client sends (docs/protocol.md, "Frames and encodings").
    encoding: wire.Encoding | None = None
    session: Session | None = None
    canvas: tuple[float, float] | None = None
    room: str | None = None
    role: str | None = None
    bad_messages: int = 0
    # Room look-ups and creations of this connection, and how many were refused (guessers are closed).
    lookups: SlidingWindow = field(default_factory=lambda: SlidingWindow(10, 60.0))
    creations: SlidingWindow = field(default_factory=lambda: SlidingWindow(5, 60.0))
    refused_attempts: int = 0
    # Delivery watermarks: skip published events already covered by the snapshot this client got.
    seen_version: int = 0
    seen_stroke: tuple[str, int] = ("", 0)  # (round id, last stroke batch in the snapshot)
    # The game (rematch count) this client was last told about: a stroke's round is within it.
    game_number: int = 0
    # The current round's drawing, stroke index -> its batches as float32 (n, 3) x, y, t arrays, fed
    # to the recognizer. Each batch is converted once, when it arrives, not at every recognition.
    drawing_round: int = 0
    drawing: dict[int, list[np.ndarray]] = field(default_factory=dict)
    # Room events that arrived while this client's snapshot was being built.
    held: list[RoomEnvelope] | None = None
    outbox: asyncio.Queue[wire.WireFrame] = field(default_factory=lambda: asyncio.Queue(OUTBOX_LIMIT))
    too_slow: bool = False
    log: Any = None

    @property
    def player_id(self) -> str | None:
        return self.session.player_id if self.session else None

    def send(self, frame: wire.WireFrame | dict[str, Any]) -> None:
        """Queue a frame without waiting; a client too slow to drain its queue is disconnected."""
        if not isinstance(frame, wire.WireFrame):
            frame = wire.WireFrame(frame)
        if self.too_slow:
            return
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            # Memory stays bounded: drop this client rather than buffer without limit for it.
            self.too_slow = True
            self.log.warning("outbox_full_closing")
            asyncio.get_running_loop().create_task(
                self.ws.close(wire.CloseCode.POLICY_VIOLATION, "too slow to receive")
            )


@dataclass(eq=False)
class LocalRoom:
    """The members of one room on this gateway, plus a wake-up for its next deadline."""

    code: str
    members: dict[str, Client] = field(default_factory=dict)
    state: RoomState | None = None
    version: int = 0
    timer: asyncio.TimerHandle | None = None


def audience_includes(audience: Sequence[str], client: Client, state: RoomState | None) -> bool:
    """Whether a published message is meant for this client."""
    kind = audience[0]
    if kind == "all":
        return True
    if kind == "viewers":  # spectators, plus the player named (their own guesses)
        return client.role == "spectator" or client.player_id == audience[1]
    if kind == "all_except":
        return client.player_id != audience[1]
    if kind == "stroke_viewers":  # spectators always, players when the room shows drawings
        if client.player_id == audience[1]:
            return False
        return client.role == "spectator" or bool(state is not None and state.settings.show_drawings)
    return False


class Gateway:
    """Holds the sockets of this process and the rooms they are in."""

    def __init__(
        self,
        settings: Settings,
        client: aioredis.Redis,
        recognition: RecognitionService,
    ) -> None:
        self.settings = settings
        self.redis = client
        self.store = RoomStore(
            client, idle_ttl=settings.idle_room_ttl_seconds, finished_ttl=settings.finished_room_ttl_seconds
        )
        self.sessions = SessionStore(client)
        lookups, creations = settings.join_attempts_per_minute, settings.rooms_per_minute
        self.lookup_limit = AddressLimit(client, "lookup", limit=lookups, window_s=60)
        self.creation_limit = AddressLimit(client, "create", limit=creations, window_s=60)
        self.recognition = recognition
        self.known_words = tuple(recognition.labels)
        self.rooms: dict[str, LocalRoom] = {}
        self.players: dict[str, Client] = {}
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._rng = random.SystemRandom()
        self._background: set[asyncio.Task[Any]] = set()
        self._subscriber: asyncio.Task[None] | None = None
        self._liveness: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        # Set when the process shuts down: its sockets close, but their seats stay taken (not
        # disconnected) until a live gateway sweeps this one, so the seat window starts only then.
        self.draining = False

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        # This gateway's own channel: other gateways tell it here to close a connection they replaced.
        await self.pubsub.subscribe(gateway_channel(self.settings.gateway_id))
        self._subscriber = asyncio.create_task(self._read_published(), name="pubsub-reader")
        # A previous run with the same id (a fixed DOODLE_GATEWAY_ID) left members nobody holds now.
        await self._sweep_gateway(self.settings.gateway_id)
        await self.redis.set(alive_key(self.settings.gateway_id), 1, px=ALIVE_TTL_MS)
        await self.redis.sadd(GATEWAYS_KEY, self.settings.gateway_id)
        with contextlib.suppress(RedisError, OSError):  # a first sweep now: a restart after an outage
            await self.sweep_dead_gateways()
        self._liveness = asyncio.create_task(self._keep_alive(), name="liveness")
        self._reaper = asyncio.create_task(self._reap_loop(), name="deadline-reaper")

    def drain(self) -> None:
        """The process is stopping: sockets closed from now on keep their seats (see ``draining``)."""
        self.draining = True

    async def aclose(self) -> None:
        for task in (self._subscriber, self._liveness, self._reaper):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(alive_key(self.settings.gateway_id))
        for task in list(self._background):
            task.cancel()
        for room in self.rooms.values():
            if room.timer is not None:
                room.timer.cancel()
        await self.pubsub.aclose()  # type: ignore[no-untyped-call]

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    # ------------------------------------------------------------------ connection

    async def handle(self, ws: ServerConnection) -> None:
        """Serve one WebSocket connection until it closes."""
        client = Client(
            ws=ws,
            connection_id=secrets.token_hex(4),
            limiter=TokenBucket(self.settings.messages_per_second, self.settings.message_burst),
            lookups=SlidingWindow(self.settings.join_attempts_per_minute, 60.0),
            creations=SlidingWindow(self.settings.rooms_per_minute, 60.0),
        )
        client.log = log.bind(connection_id=client.connection_id)
        client.log.info("connection_open", remote=str(ws.remote_address[0]) if ws.remote_address else None)
        _connections_gauge.inc()
        try:
            async with asyncio.TaskGroup() as tasks:
                helpers = [
                    tasks.create_task(self._write_loop(client)),
                    tasks.create_task(self._hello_watchdog(client)),
                ]
                try:
                    await self._read_loop(client)
                finally:
                    for helper in helpers:
                        helper.cancel()
        except* ConnectionClosed:
            pass
        except* Exception as group:
            for exc in group.exceptions:
                client.log.error("connection_crashed", exc_info=exc)
            await ws.close(wire.CloseCode.INTERNAL_ERROR, "internal error")
        finally:
            _connections_gauge.dec()
            await self._on_disconnect(client)
            client.log.info("connection_closed", code=ws.close_code)

    async def _hello_watchdog(self, client: Client) -> None:
        await asyncio.sleep(self.settings.hello_timeout_seconds)
        if client.session is None:
            await client.ws.close(wire.CloseCode.HELLO_TIMEOUT, "send hello first")

    async def _write_loop(self, client: Client) -> None:
        while True:
            frame = await client.outbox.get()
            await client.ws.send(frame.encoded(client.encoding or "json"))

    async def _read_loop(self, client: Client) -> None:
        async for frame in client.ws:
            if not client.limiter.take():
                # A refused message counts towards closing the connection, like a malformed one.
                client.bad_messages += 1
                self._send_error(client, RateLimited("slow down: too many messages"), None)
                if client.bad_messages > self.settings.max_bad_messages:
                    await self._close_and_drain(client, wire.CloseCode.POLICY_VIOLATION, "message flood")
                    return
                continue
            ref = None
            try:
                if client.encoding is None:  # the first frame fixes it, even one that fails to decode
                    client.encoding = "json" if isinstance(frame, str) else "msgpack"
                data, _encoding = wire.decode_frame(frame)
                ref = wire.message_ref(data)
                kind = data["type"] if data["type"] in wire.CLIENT_MESSAGE_TYPES else "unknown"
                _messages_in.inc(type=kind)
                message = wire.parse_client_message(data, client.canvas)
                if client.session is None and not isinstance(message, wire.Hello | wire.Ping):
                    raise HelloFirst("send hello first")
                await self._dispatch(client, message)
            except DoodleError as exc:
                if isinstance(exc, wire.BadMessage | RateLimited):
                    client.bad_messages += 1
                if isinstance(exc, TooManyLookups | TooManyRooms):
                    client.refused_attempts += 1
                self._send_error(client, exc, ref)
                if client.refused_attempts > self.settings.max_refused_attempts:
                    # Someone who keeps guessing codes (or making rooms) after being told to stop.
                    await self._close_and_drain(client, wire.CloseCode.POLICY_VIOLATION, "too many attempts")
                    return
                if client.bad_messages > self.settings.max_bad_messages:
                    await self._close_and_drain(
                        client, wire.CloseCode.POLICY_VIOLATION, "too many bad messages"
                    )
                    return

    @staticmethod
    async def _close_and_drain(client: Client, code: int, reason: str) -> None:
        """Close from our side while still reading: the peer's close reply may sit behind frames it
        already sent, and unread frames would otherwise stall the closing handshake until its timeout."""
        closing = asyncio.create_task(client.ws.close(code, reason))
        with contextlib.suppress(ConnectionClosed):
            async for _frame in client.ws:
                pass
        await closing

    def _send_error(self, client: Client, exc: DoodleError, ref: str | None) -> None:
        code, text = error_for_exception(exc)
        _errors_out.inc(code=code)
        client.log.debug("error_sent", code=code, message=text)
        client.send(wire.error_message(code, text, ref))

    async def _dispatch(self, client: Client, message: wire.ClientMessage) -> None:
        match message:
            case wire.Ping():
                client.send(wire.pong_message(now_ms(), message.id))
            case wire.Hello():
                await self._hello(client, message)
            case wire.CreateRoom():
                await self._create_room(client, message)
            case wire.JoinRoom():
                await self._join_room(client, message)
            case wire.StrokeBatch():
                await self._stroke(client, message)
            case wire.Recognize():
                await self._practice(client, message)
            case wire.LeaveRoom():
                await self._leave(client)
            case wire.StartGame():
                await self._room_command(client, StartGame(by=self._me(client), seed=secrets.randbits(32)))
            case wire.UpdateSettings():
                me, raw = self._me(client), message.settings
                await self.transact(
                    self._room_of(client),
                    lambda state: [
                        ChangeSettings(
                            by=me, settings=RoomSettings.validated(raw, self.known_words, state.settings)
                        )
                    ],
                )
            case wire.Kick():
                await self._room_command(client, KickPlayer(by=self._me(client), target=message.player_id))
            case wire.Rematch():
                await self._room_command(client, Rematch(by=self._me(client)))
            case wire.ForgetMe():
                await self._forget_me(client, message)

    @staticmethod
    def _address(client: Client) -> str:
        """The peer's IP address: what per-address limits count by."""
        remote = client.ws.remote_address
        return str(remote[0]) if remote else "unknown"

    @staticmethod
    def _me(client: Client) -> str:
        assert client.session is not None
        return client.session.player_id

    def _room_of(self, client: Client) -> str:
        if client.room is None:
            raise NotInRoom("join a room first")
        return client.room

    # ------------------------------------------------------------------ hello / resume

    async def _hello(self, client: Client, hello: wire.Hello) -> None:
        if client.session is not None:
            raise wire.BadMessage("hello was already sent on this connection")
        client.canvas = hello.canvas
        resumed = False
        if hello.resume:
            session = await self.sessions.resume(hello.resume)
            token = hello.resume
            resumed = True
            if hello.consent_archive != session.consent_archive:
                await self.sessions.set_consent(session.player_id, hello.consent_archive)
            session = Session(
                session.player_id, session.name, session.room, session.role, hello.consent_archive
            )
        else:
            session, token = await self.sessions.create(hello.name, hello.consent_archive)
        client.session = session
        client.log = client.log.bind(player_id=session.player_id)
        # The same player on a new socket (a phone that switched networks): the newest one wins, on
        # this gateway or on the one that holds the older socket.
        await self._close_replaced(session.player_id, keep=client)
        previous_holder = await self.sessions.claim_connection(
            session.player_id, f"{self.settings.gateway_id} {client.connection_id}"
        )
        if previous_holder is not None:
            gateway_id, _, connection_id = previous_holder.partition(" ")
            if gateway_id != self.settings.gateway_id:
                await self.redis.publish(
                    gateway_channel(gateway_id), f"replaced {session.player_id} {connection_id}"
                )
        self.players[session.player_id] = client
        # `resumed` promises a seat: the Reconnect is committed before the welcome says so, and the
        # room snapshot follows it. A token whose seat is gone gets `resumed: false` at once.
        seat = None
        if resumed and session.room:
            seat = await self._reclaim_seat(client, session.room)
        client.send(wire.welcome_message(session.player_id, token, now_ms(), resumed=seat is not None))
        client.log.info("hello", resumed=seat is not None, token_resumed=resumed)
        if seat is not None:
            local, state, version = seat
            await self._take_seat(client, local, session.role or "player")
            await self._send_snapshot(client, state, version)
            client.log.info("seat_resumed", room_id=local.code)

    async def _close_replaced(
        self, player_id: str, keep: Client | None = None, connection_id: str = ""
    ) -> None:
        """Close this gateway's socket of `player_id` (4000), unless it is `keep`; with
        `connection_id`, only the socket of that connection."""
        previous = self.players.get(player_id)
        if (
            previous is None
            or previous is keep
            or (connection_id and previous.connection_id != connection_id)
        ):
            return
        previous.room = None  # its seat now belongs to the new socket: leaving must not give it up
        await previous.ws.close(wire.CloseCode.SESSION_REPLACED, "connected from elsewhere")

    async def _reclaim_seat(self, client: Client, code: str) -> tuple[LocalRoom, RoomState, int] | None:
        """Reconnect the client's held seat in ``code``; None when the seat (or the room) is gone."""
        player_id = self._me(client)
        local = await self._subscribe(code)
        try:
            state, version, _ = await self.transact(code, lambda state: [Reconnect(player_id)])
        except (RoomNotFound, NotInRoom):
            await self.sessions.set_seat(player_id, None, None)
            await self._unsubscribe_if_empty(local)
            client.log.info("resume_without_seat", room_id=code)
            return None
        return local, state, version

    # ------------------------------------------------------------------ rooms

    async def _create_room(self, client: Client, message: wire.CreateRoom) -> None:
        if client.room is not None:
            raise AlreadyInRoom("leave your room before creating another")
        settings = RoomSettings.validated(message.settings, self.known_words)
        if not client.creations.take():
            raise TooManyRooms("too many rooms created on this connection; wait a minute")
        if await self.creation_limit.take(self._address(client)) is None:
            raise TooManyRooms("too many rooms created from this address; wait a minute")
        now = time.time()
        for _attempt in range(10):
            code = new_room_code(self._rng)
            state, _events = rules.create_room(code, self._me(client), client.session.name, settings, now)  # type: ignore[union-attr]
            try:
                await self.store.create(state)
            except RoomCodeTaken:
                continue
            break
        else:  # pragma: no cover - 10 collisions in a row means the code space is exhausted
            raise RoomCodeTaken("could not allocate a room code")
        local = await self._subscribe(code)
        local.state, local.version = state, 1
        await self._take_seat(client, local, "player")
        await self._send_snapshot(client, state, 1)
        client.log.info("room_created", room_id=code)

    async def _join_room(self, client: Client, message: wire.JoinRoom) -> None:
        if client.room is not None:
            raise AlreadyInRoom("leave your room before joining another")
        session = client.session
        assert session is not None
        code = normalize_code(message.code)
        # Every look-up is counted before it happens (guessing codes is the attack), per connection
        # and per address over every gateway; one that finds its room is given back below.
        if not client.lookups.take():
            raise TooManyLookups("too many join attempts on this connection; wait a minute")
        address = self._address(client)
        receipt = await self.lookup_limit.take(address)
        if receipt is None:
            raise TooManyLookups("too many join attempts from this address; wait a minute")
        local = await self._subscribe(code)
        try:
            state, version, _ = await self.transact(
                code, lambda state: [JoinRoom(session.player_id, session.name, Role(message.role))]
            )
        except DoodleError:
            await self._unsubscribe_if_empty(local)
            raise
        await self.lookup_limit.refund(address, receipt)
        client.lookups.refund()
        await self._take_seat(client, local, message.role)
        await self._send_snapshot(client, state, version)
        client.log.info("room_joined", room_id=code, role=message.role)

    async def _leave(self, client: Client) -> None:
        code = self._room_of(client)
        player_id = self._me(client)
        await self.transact(code, lambda state: [LeaveRoom(player_id)])
        await self._detach(client)
        await self.sessions.set_seat(player_id, None, None)
        client.send({"type": "left_room", "code": code, "reason": "left"})

    async def _room_command(self, client: Client, command: Any) -> None:
        await self.transact(self._room_of(client), lambda state: [command])

    async def _take_seat(self, client: Client, local: LocalRoom, role: str) -> None:
        """Seat the client on this gateway, in its session (for resume) and in the archive's consent
        list; room events are held for it until its snapshot is sent."""
        assert client.session is not None
        client.room, client.role = local.code, role
        client.held = []
        client.log = client.log.bind(room_id=local.code)
        local.members[client.session.player_id] = client
        _rooms_gauge.set(len(self.rooms))
        await self.sessions.set_seat(client.session.player_id, local.code, role)
        if role == "player":  # spectators never leave drawings behind
            await record_consent(
                self.redis, local.code, client.session.player_id, client.session.consent_archive
            )

    async def _detach(self, client: Client) -> None:
        code, player_id = client.room, client.player_id
        client.room = client.role = None
        client.drawing.clear()
        if code is None or player_id is None:
            return
        self.recognition.forget(code, player_id)
        local = self.rooms.get(code)
        if local is not None and local.members.get(player_id) is client:
            del local.members[player_id]
            await self._unsubscribe_if_empty(local)

    async def _on_disconnect(self, client: Client) -> None:
        player_id = client.player_id
        if player_id is not None and self.players.get(player_id) is client:
            del self.players[player_id]
        code = client.room
        if code is None or player_id is None:
            return
        await self._detach(client)
        if self.draining:
            return  # the seat stays taken; a live gateway's sweep_dead_gateways starts its window
        with contextlib.suppress(DoodleError):
            await self.transact(code, lambda state: [Disconnect(player_id)])

    # ------------------------------------------------------------------ liveness of other gateways

    async def _keep_alive(self) -> None:
        """Refresh this gateway's liveness key; now and then, sweep members of dead gateways."""
        next_sweep = time.monotonic() + SWEEP_S
        while True:
            await asyncio.sleep(HEARTBEAT_S)
            try:
                await self.redis.set(alive_key(self.settings.gateway_id), 1, px=ALIVE_TTL_MS)
            except (RedisError, OSError) as exc:  # Redis restarting: try again on the next beat
                log.warning("liveness_failed", error=str(exc))
                continue
            if time.monotonic() < next_sweep:
                continue
            next_sweep = time.monotonic() + SWEEP_S
            try:
                await self._register()
                await self.sweep_dead_gateways()
                await self.sweep_dead_connections()
                await self.restore_own_connections()
            except Exception:  # a failed sweep must never stop the heartbeat (others would sweep us)
                log.exception("sweep_failed")

    async def _register(self) -> None:
        """(Re)write this gateway's entry and rooms: a sweep by another gateway that found this one
        too busy to refresh its key removed them."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.sadd(GATEWAYS_KEY, self.settings.gateway_id)
            if self.rooms:
                pipe.sadd(gateway_rooms_key(self.settings.gateway_id), *self.rooms)
            await pipe.execute()

    async def sweep_dead_gateways(self) -> int:
        """Mark disconnected every member still held by a gateway that is gone (its liveness key
        expired, or it shut down), in every room it held, and forget that gateway. Until a live
        gateway does this the members' seats stay taken, so their 30 s start when someone could
        take the resume. Returns how many members were marked."""
        gateway_ids = {g.decode() for g in await self.redis.smembers(GATEWAYS_KEY)}
        gateway_ids.discard(self.settings.gateway_id)
        swept = 0
        for gateway_id in sorted(gateway_ids):
            if not await self.redis.exists(alive_key(gateway_id)):
                swept += await self._sweep_gateway(gateway_id)
        return swept

    async def _sweep_gateway(self, gateway_id: str) -> int:
        """Disconnect the members ``gateway_id`` held in each of its rooms; forget the gateway."""
        swept = 0
        for raw_code in await self.redis.smembers(gateway_rooms_key(gateway_id)):
            swept += await self._disconnect_held_by(raw_code.decode(), gateway_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(gateway_rooms_key(gateway_id))
            pipe.srem(GATEWAYS_KEY, gateway_id)
            await pipe.execute()
        log.info("dead_gateway_swept", gateway=gateway_id, members=swept)
        return swept

    async def _disconnect_held_by(self, code: str, gateway_id: str) -> int:
        """Disconnect the members of room ``code`` whose socket was on ``gateway_id``."""
        try:
            state, _version = await self.store.load(code)
        except RoomNotFound:
            return 0
        connected = [m.player_id for m in state.members if m.connected]
        if not connected:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for player_id in connected:
                pipe.hget(session_key(player_id), "connection")
            holders = await pipe.execute()
        swept = 0
        for player_id, holder in zip(connected, holders, strict=True):
            if holder is None or holder.decode().partition(" ")[0] != gateway_id:
                continue  # resumed on a live gateway already
            with contextlib.suppress(DoodleError):
                await self.transact(code, lambda state, player_id=player_id: [Disconnect(player_id)])
                swept += 1
        return swept

    async def _reap_loop(self) -> None:
        """Every REAP_S, tick the rooms whose deadline passed (see REAP_S)."""
        while True:
            await asyncio.sleep(REAP_S)
            try:
                await self.tick_due_rooms()
            except (RedisError, OSError) as exc:  # Redis restarting: try again next time
                log.warning("reap_failed", error=str(exc))
            except Exception:  # one bad room must not stop every room's timers
                log.exception("reap_failed")

    async def tick_due_rooms(self) -> int:
        """Apply the due deadlines of every room in the deadline index. Returns how many rooms."""
        due = await self.store.due_rooms(time.time())
        for code in due:
            try:
                state, _version, _events = await self.transact(code, lambda state: [])
            except RoomNotFound:
                await self.store.index_deadline(code, None)
                continue
            except DoodleError as exc:
                log.warning("tick_failed", room_id=code, code=exc.code)
                continue
            await self.store.index_deadline(code, rules.next_deadline(state))
        return len(due)

    async def restore_own_connections(self) -> int:
        """Mark connected again this gateway's members whom a room shows disconnected: another
        gateway swept them while this one was too busy to refresh its key for ALIVE_TTL_MS. Returns
        how many."""
        stale = [
            (local.code, member.player_id)
            for local in list(self.rooms.values())
            if local.state is not None
            for member in local.state.members
            if not member.connected and member.player_id in local.members
        ]
        for code, player_id in stale:
            with contextlib.suppress(DoodleError):
                await self.transact(code, lambda state, player_id=player_id: [Reconnect(player_id)])
                log.warning("own_member_restored", room_id=code, player_id=player_id)
        return len(stale)

    async def sweep_dead_connections(self) -> int:
        """Mark disconnected the members of this gateway's rooms whose gateway is gone (its liveness
        key expired): their sockets died with it, so nobody else would. Returns how many."""
        suspects = [
            (local.code, member.player_id)
            for local in list(self.rooms.values())
            if local.state is not None
            for member in local.state.members
            if member.connected and member.player_id not in local.members
        ]
        if not suspects:
            return 0
        async with self.redis.pipeline(transaction=False) as pipe:
            for _code, player_id in suspects:
                pipe.hget(session_key(player_id), "connection")
            holders = await pipe.execute()
        gateways = {h.decode().partition(" ")[0] for h in holders if h}
        gateways.discard(self.settings.gateway_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            for gateway_id in sorted(gateways):
                pipe.exists(alive_key(gateway_id))
            alive = dict(zip(sorted(gateways), await pipe.execute(), strict=True))
        swept = 0
        for (code, player_id), holder in zip(suspects, holders, strict=True):
            gateway_id = holder.decode().partition(" ")[0] if holder else None
            if gateway_id is None or gateway_id == self.settings.gateway_id or alive.get(gateway_id):
                continue
            with contextlib.suppress(DoodleError):
                await self.transact(code, lambda state, player_id=player_id: [Disconnect(player_id)])
                swept += 1
                log.info(
                    "dead_gateway_member_disconnected", room_id=code, player_id=player_id, gateway=gateway_id
                )
        return swept

    # ------------------------------------------------------------------ the commit loop

    async def transact(
        self, code: str, commands_for: Any, *, before_deadlines: bool = False
    ) -> tuple[RoomState, int, list[Any]]:
        """Apply commands to the newest room state and commit it, retrying lost races.

        Deadlines that passed are applied too (``Tick``), whichever gateway runs the command, so a
        room is always current. They come first, except with ``before_deadlines``: a recognition of
        a drawing sent before the deadline counts even if its commit lands just after it.

        Args:
            commands_for: called with the loaded state (again on every retry), returns the commands.

        Returns:
            The committed state, its version, and the events it produced.

        Raises:
            DoodleError: a command was illegal (nothing is committed for it; due ticks still are).
        """
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            state, version = await self.store.load(code)
            new_state, events, failure = _apply_commands(state, commands_for, time.time(), before_deadlines)
            if not events and new_state == state:
                self._remember(code, state, version)
                if failure is not None:
                    raise failure
                return state, version, []
            out = self._render(new_state, events)
            try:
                new_version = await self.store.commit(new_state, version, rules.next_deadline(new_state), out)
            except StaleRoomVersion:
                _commit_conflicts.inc()
                continue
            self._remember(code, new_state, new_version)
            await self.store.index_deadline(code, rules.next_deadline(new_state))
            await self._after_commit(code, new_state, events)
            if failure is not None:
                raise failure
            return new_state, new_version, events
        raise StaleRoomVersion("room is too busy; try again")

    def _remember(self, code: str, state: RoomState, version: int) -> None:
        """Cache the newest state of a room we have members in, and wake it at its next deadline."""
        local = self.rooms.get(code)
        if local is not None and version > local.version:
            local.state, local.version = state, version
            self._schedule(local, rules.next_deadline(state))

    def _render(self, state: RoomState, events: Iterable[Any]) -> list[tuple[list[str], dict[str, Any]]]:
        return [item for event in events for item in wire.render_event(event, state)]

    async def _after_commit(self, code: str, state: RoomState, events: Sequence[Any]) -> None:
        for event in events:
            if isinstance(event, RoundEnded) and state.settings.archive:
                # Off the event loop's critical path: the archiver writes files from this queue later.
                await enqueue_round(self.redis, state, event)
            if isinstance(event, RoundEnded | RoundStarted):
                local = self.rooms.get(code)
                for member in local.members.values() if local else ():
                    member.drawing.clear()
                    if member.player_id is not None:
                        self.recognition.forget(code, member.player_id)

    # ------------------------------------------------------------------ strokes and recognition

    async def _stroke(self, client: Client, batch: wire.StrokeBatch) -> None:
        code = self._room_of(client)
        player_id = self._me(client)
        points = [list(point) for point in batch.points]
        canvas = list(client.canvas) if client.canvas is not None else None
        relay = wire.stroke_relay_message(
            player_id, client.game_number, batch.round, batch.stroke, points, batch.end, canvas
        )
        now = time.time()
        entry = StrokeEntry(player_id, batch.stroke, points, batch.end, canvas)
        await self.store.append_stroke(
            code, client.game_number, batch.round, entry, now, [(["stroke_viewers", player_id], relay)]
        )
        _strokes_in.inc()
        if client.drawing_round != batch.round:
            client.drawing_round = batch.round
            client.drawing.clear()
        client.drawing.setdefault(batch.stroke, []).append(_point_array(batch.points))
        local = self.rooms.get(code)
        state = local.state if local is not None else None
        word = state.round.word if state is not None and state.round is not None else None
        self.recognition.update(
            RecognitionJob(
                job_id=secrets.token_hex(6),
                gateway_id=self.settings.gateway_id,
                room_code=code,
                player_id=player_id,
                round=batch.round,
                target_word=word,
                strokes=[_joined(client.drawing[index]) for index in sorted(client.drawing)],
                canvas=client.canvas,
                # A finished stroke is what a recognition is decided on: never shed under load.
                deciding=batch.end,
                submitted_at=now,
            )
        )

    async def _practice(self, client: Client, message: wire.Recognize) -> None:
        self.recognition.update(
            RecognitionJob(
                job_id=message.id or secrets.token_hex(6),
                gateway_id=self.settings.gateway_id,
                room_code="",
                player_id=self._me(client),
                round=0,
                target_word=None,
                strokes=[[list(point) for point in stroke] for stroke in message.strokes],
                canvas=message.canvas,
                # Practice is paced like a drawer: newest drawing only, one guess per interval.
                deciding=False,
                submitted_at=time.time(),
            )
        )

    async def on_recognition(self, result: RecognitionResult) -> None:
        """Deliver a recognition result: a guess, and maybe a recognition (committed atomically)."""
        client = self.players.get(result.player_id)
        if not result.room_code:  # practice mode
            if client is not None:
                client.send(wire.guess_message(result.player_id, list(result.guesses), None, result.job_id))
            return
        if client is None or client.room != result.room_code or client.drawing_round != result.round:
            return  # the player left or the round moved on: drop quietly
        guess = wire.guess_message(result.player_id, list(result.guesses), result.round)
        await self.store.publish(result.room_code, [(["viewers", result.player_id], guess)])
        if result.recognized:
            player_id, round_number, at = result.player_id, result.round, result.submitted_at

            def commands(state: RoomState) -> list[Any]:
                current = state.round
                # The job's target was this round's word; a result from another round decides nothing.
                if current is None or current.number != round_number:
                    return []
                if not rules.is_recognition_open(state, player_id, at):
                    return []
                return [RecordRecognition(player_id, current.word, at)]

            try:
                _state, _version, events = await self.transact(
                    result.room_code, commands, before_deadlines=True
                )
            except DoodleError as exc:
                log.debug("recognition_refused", room_id=result.room_code, player_id=player_id, code=exc.code)
                return
            if events:
                _recognitions.inc()

    async def _forget_me(self, client: Client, message: wire.ForgetMe) -> None:
        removed = await forget_player(self.settings, self.redis, self._me(client))
        client.send(
            {"type": "forgotten", "drawings_removed": removed, **({"ref": message.id} if message.id else {})}
        )

    # ------------------------------------------------------------------ snapshots

    async def _send_snapshot(self, client: Client, state: RoomState, version: int) -> None:
        blobs: list[bytes] = []
        if state.round is not None and state.phase == Phase.ROUND:
            blobs = await self.store.round_stroke_blobs(state.code, state.game_number, state.round.number)
        seq = len(blobs)
        # Decoding and encoding a round's strokes (up to max_players x the per-drawing caps) runs in
        # a thread, item by item, so that one large room never stalls every other connection.
        frame, own = await asyncio.to_thread(
            _build_snapshot, state, blobs, client.player_id, client.role or "player", client.encoding
        )
        if state.round is not None and state.phase == Phase.ROUND and client.role == "player":
            client.drawing_round = state.round.number
            client.drawing = own
        client.seen_version = version
        client.game_number = state.game_number
        client.seen_stroke = (round_id(state.game_number, state.round.number) if state.round else "", seq)
        client.send(frame)
        # Events published while the snapshot was read go out now, minus what the snapshot covered.
        held, client.held = client.held or [], None
        local = self.rooms.get(state.code)
        for envelope in held:
            frames = [(audience, wire.WireFrame(message)) for audience, message in envelope.out]
            self._deliver_to(client, envelope, frames, local.state if local is not None else state)

    # ------------------------------------------------------------------ pub/sub fan-out

    async def _subscribe(self, code: str) -> LocalRoom:
        local = self.rooms.get(code)
        if local is None:
            local = self.rooms[code] = LocalRoom(code)
            await self.pubsub.subscribe(room_channel(code))
            await self.redis.sadd(gateway_rooms_key(self.settings.gateway_id), code)
            _rooms_gauge.set(len(self.rooms))
        return local

    async def _unsubscribe_if_empty(self, local: LocalRoom) -> None:
        if local.members or self.rooms.get(local.code) is not local:
            return
        del self.rooms[local.code]
        if local.timer is not None:
            local.timer.cancel()
        await self.pubsub.unsubscribe(room_channel(local.code))
        if not self.draining:  # a stopping gateway's rooms are swept by the next live one
            await self.redis.srem(gateway_rooms_key(self.settings.gateway_id), local.code)
        _rooms_gauge.set(len(self.rooms))

    async def _read_published(self) -> None:
        while True:
            try:
                message = await self.pubsub.get_message(timeout=1.0)
            except (ConnectionError, aioredis.ConnectionError) as exc:  # Redis restarted: keep trying
                log.warning("pubsub_reconnect", error=str(exc))
                await asyncio.sleep(0.5)
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode()
            if channel == gateway_channel(self.settings.gateway_id):
                kind, _, rest = message["data"].decode().partition(" ")
                player_id, _, connection_id = rest.partition(" ")
                if kind == "replaced" and player_id and connection_id:
                    self._spawn(self._close_replaced(player_id, connection_id=connection_id))
                continue
            code = channel[len("{room:") : -1]
            local = self.rooms.get(code)
            if local is None:
                continue
            try:
                envelope = decode_envelope(message["data"])
            except Exception:  # a malformed publish must not stop fan-out for every room
                log.exception("bad_envelope", room_id=code)
                continue
            await self._deliver(local, envelope)

    async def _deliver(self, local: LocalRoom, envelope: Any) -> None:
        if envelope.stroke_seq == 0 and envelope.version > local.version:
            # Another gateway committed: refresh our cached state (audiences depend on it).
            with contextlib.suppress(RoomNotFound):
                self._remember(local.code, *await self.store.load(local.code))
        frames = [(audience, wire.WireFrame(message)) for audience, message in envelope.out]
        for client in list(local.members.values()):
            if client.held is not None:
                client.held.append(envelope)  # the client's snapshot is being built: deliver after it
            else:
                self._deliver_to(client, envelope, frames, local.state)

    def _deliver_to(
        self, client: Client, envelope: RoomEnvelope, frames: list[tuple[Any, wire.WireFrame]], state: Any
    ) -> None:
        """Send one envelope's messages to one client, skipping what its snapshot already covered."""
        if envelope.stroke_seq:
            relay = envelope.out[0][1] if envelope.out else {}
            seen_round, seen_seq = client.seen_stroke
            if (
                round_id(relay.get("game", 0), relay.get("round", 0)) == seen_round
                and envelope.stroke_seq <= seen_seq
            ):
                return
        elif envelope.version:
            if envelope.version <= client.seen_version:
                return
            client.seen_version = envelope.version
        for audience, frame in frames:
            if frame.message.get("type") in ("game_started", "round_started"):
                client.game_number = frame.message["game"]
            if audience_includes(audience, client, state):
                client.send(frame)
        self._apply_membership_effects(client, envelope.out)

    def _apply_membership_effects(self, client: Client, out: Sequence[Any]) -> None:
        """A kicked or timed-out client loses its seat on this gateway too."""
        for _audience, message in out:
            if message.get("type") == "room_closed":  # the last player left; spectators go too
                self._spawn(self._detach_and_clear(client))
            if message.get("type") == "player_left" and message.get("player_id") == client.player_id:
                if message.get("reason") in ("kicked", "timeout"):
                    client.send({"type": "left_room", "code": client.room, "reason": message["reason"]})
                    self._spawn(self._detach_and_clear(client))

    async def _detach_and_clear(self, client: Client) -> None:
        player_id = client.player_id
        await self._detach(client)
        if player_id is not None:
            await self.sessions.set_seat(player_id, None, None)

    def _schedule(self, local: LocalRoom, deadline: float | None) -> None:
        if local.timer is not None:
            local.timer.cancel()
            local.timer = None
        if deadline is None:
            return
        loop = asyncio.get_running_loop()
        delay = max(0.0, deadline - time.time()) + 0.005
        local.timer = loop.call_later(delay, lambda: self._spawn(self._tick(local.code)))

    async def _tick(self, code: str) -> None:
        try:
            await self.transact(code, lambda state: [])
        except RoomNotFound:
            return
        except DoodleError as exc:  # pragma: no cover - a tick applies no command that can fail
            log.warning("tick_failed", room_id=code, code=exc.code)


def _apply_commands(
    state: RoomState, commands_for: Any, now: float, before_deadlines: bool
) -> tuple[RoomState, list[Any], DoodleError | None]:
    """Run the commands and the due ticks through the pure rules; an illegal command is returned, not
    raised, so the ticks that are due still get committed."""

    def run(current: RoomState) -> tuple[RoomState, list[Any]]:
        produced: list[Any] = []
        for command in commands_for(current):
            current, more = rules.apply(current, command, now)
            produced.extend(more)
        return current, produced

    if before_deadlines:
        failure: DoodleError | None = None
        try:
            current, events = run(state)
        except DoodleError as exc:
            current, events, failure = state, [], exc
        current, ticked = rules.apply(current, Tick(), now)
        return current, events + ticked, failure
    current, events = rules.apply(state, Tick(), now)
    try:
        after, more = run(current)
    except DoodleError as exc:
        return current, events, exc
    return after, events + more, None


def alive_key(gateway_id: str) -> str:
    """The key a live gateway keeps refreshing (see HEARTBEAT_S)."""
    return f"doodle:gateway:{gateway_id}:alive"


def gateway_rooms_key(gateway_id: str) -> str:
    """The set of rooms a gateway holds members of (see GATEWAYS_KEY)."""
    return f"doodle:gateway:{gateway_id}:rooms"


def gateway_channel(gateway_id: str) -> str:
    """The pub/sub channel of one gateway (not of a room): connections it must close."""
    return f"gateway:{gateway_id}"


def _build_snapshot(
    state: RoomState, blobs: list[bytes], viewer_id: str | None, role: str, encoding: wire.Encoding | None
) -> tuple[wire.WireFrame, dict[int, list[np.ndarray]]]:
    """The encoded ``room`` snapshot for one viewer, and the viewer's own drawing of the round (to
    go on recognizing it). Pure; the gateway runs it in a thread."""
    visible = role == "spectator" or state.settings.show_drawings
    strokes: list[dict[str, Any]] = []
    own: dict[int, list[np.ndarray]] = {}
    for blob in blobs:
        entry = decode_stroke_entry(blob)
        if entry.player_id == viewer_id:
            own.setdefault(entry.stroke, []).append(_point_array(entry.points))
        elif not visible:
            continue
        strokes.append(
            {
                "player_id": entry.player_id,
                "stroke": entry.stroke,
                "points": entry.points,
                "end": entry.end,
                "canvas": entry.canvas,
            }
        )
    message = wire.room_message(state, viewer_id, role, now_ms(), strokes)
    return wire.encode_in_pieces(message, "strokes", encoding or "json"), own


def _point_array(points: Sequence[Sequence[float]]) -> np.ndarray:
    """A batch of [x, y, t] points as the recognizer takes them: float32 (n, 3)."""
    return np.array(points, dtype=np.float32).reshape(-1, 3)


def _joined(batches: list[np.ndarray]) -> np.ndarray:
    """One stroke's points from its batches (a new array whenever there are several)."""
    return batches[0] if len(batches) == 1 else np.concatenate(batches)
