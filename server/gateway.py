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
import itertools
import random
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError
from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

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
from game.events import Event, RoundEnded
from game.settings import RoomSettings
from game.state import Phase, Role, RoomState
from server import messages as wire
from server.archive import enqueue_round, forget_player, record_consent
from server.clock import Clock, SystemClock, Wakeup
from server.config import Settings
from server.drawings import Drawings
from server.envelopes import GuessEnvelope, decode_envelope
from server.errors import (
    AlreadyInRoom,
    HelloFirst,
    RateLimited,
    TooManyLookups,
    TooManyRooms,
    error_for_exception,
)
from server.metrics import REGISTRY
from server.packs import load_packs, packs_message
from server.ratelimit import AddressLimit, SlidingWindow, TokenBucket
from server.recognition import RecognitionJob, RecognitionResult, RecognitionService
from server.room_view import (
    ClearDrawings,
    Effect,
    ForgetRecognitions,
    RoomView,
    Send,
    SetTimer,
    Unseat,
)
from server.sessions import Session, SessionStore, session_key
from server.store import (
    RoomCodeTaken,
    RoomStore,
    StaleRoomVersion,
    StrokeEntry,
    decode_stroke_entry,
    room_channel,
)

log = structlog.get_logger("doodle_party.gateway")

MAX_COMMIT_ATTEMPTS = 16
# Liveness (Settings.heartbeat_seconds, alive_ttl_seconds, sweep_seconds): each gateway refreshes
# doodle:gateway:{id}:alive every heartbeat (it expires after the TTL), and every sweep looks at its
# rooms' members held by other gateways: a member whose
# gateway stopped refreshing (killed, not shut down) is marked disconnected, so their seat's 30 s run.
# Every Settings.reap_seconds each gateway ticks the rooms whose deadline passed (store.DEADLINES_KEY),
# whoever holds their members: a room whose members all dropped still loses their seats and closes.
# Gateways that ever ran, and the rooms each holds members of: a gateway that stopped (killed, or shut
# down without giving up its members' seats) is found here by the next live gateway, which only then
# starts its members' seat windows. Seats never run out while no gateway could take the resume.
GATEWAYS_KEY = "doodle:gateways"
# A client that has not read this much of what was written to it when more comes is dropped: memory
# stays bounded. Above the largest frame, a round's snapshot (16 drawings of 8,000 points).
MAX_UNSENT_BYTES = 4 * 1024 * 1024
# A `strokes` frame is sent early once its items reach this size (docs/protocol.md).
MAX_GROUPED_RELAY_BYTES = 16 * 1024

_connections_gauge = REGISTRY.gauge("doodle_connections", "Open WebSocket connections")
_rooms_gauge = REGISTRY.gauge("doodle_local_rooms", "Rooms with members on this gateway")
_messages_in = REGISTRY.counter("doodle_messages_in_total", "Client messages received", ["type"])
_errors_out = REGISTRY.counter("doodle_errors_total", "Error messages sent", ["code"])
_strokes_in = REGISTRY.counter("doodle_stroke_batches_total", "Accepted stroke batches")
_recognitions = REGISTRY.counter(
    "doodle_players_recognized_total",
    "Drawers this gateway recorded as recognized: at most once per drawer and round, when the room accepts "
    "the model's first match of the word before the deadline.",
)
_commit_conflicts = REGISTRY.counter("doodle_commit_conflicts_total", "Optimistic commits retried")


@dataclass(eq=False)
class Client:
    """One WebSocket connection: its socket, its send queue, who it is and which room it is in.

    What the room means for this connection (its role, what its snapshot covered) is in the room's
    ``RoomView``; its drawing is in ``Gateway.drawings``."""

    ws: ServerConnection
    connection_id: str
    limiter: TokenBucket
    # Fixed by the first frame the client sends (docs/protocol.md, "Frames and encodings").
    encoding: wire.Encoding | None = None
    session: Session | None = None
    canvas: tuple[float, float] | None = None
    room: str | None = None
    bad_messages: int = 0
    # Room look-ups and creations of this connection, and how many were refused (guessers are closed).
    lookups: SlidingWindow = field(default_factory=lambda: SlidingWindow(10, 60.0))
    creations: SlidingWindow = field(default_factory=lambda: SlidingWindow(5, 60.0))
    refused_attempts: int = 0
    # Frames queued in this event-loop tick, written together at its end (`write`); the gateway's
    # hook that books that write.
    unsent: list[wire.WireFrame] = field(default_factory=list)
    on_unsent: Callable[[Client], None] | None = None
    too_slow: bool = False
    # The close of a client too slow to receive, held here: the event loop keeps only a weak reference.
    closing: asyncio.Task[None] | None = None
    # Asked in hello for other players' stroke batches as `strokes` frames: the ones held for the next.
    group_strokes: bool = False
    relays: list[wire.WireFrame] = field(default_factory=list)
    relay_bytes: int = 0
    log: Any = None

    @property
    def player_id(self) -> str | None:
        return self.session.player_id if self.session else None

    def send(self, frame: wire.WireFrame | Mapping[str, Any]) -> None:
        """Queue a frame without waiting, after the stroke relays held for this client (their order
        is the room's); a client that does not read what it is sent is disconnected (`write`)."""
        if not isinstance(frame, wire.WireFrame):
            frame = wire.WireFrame(frame)
        self.send_relays()
        self._queue(frame)

    def hold_relay(self, frame: wire.WireFrame) -> bool:
        """Keep a stroke relay for the next `strokes` frame; True if it is the first one held."""
        self.relays.append(frame)
        self.relay_bytes += len(frame.encoded(self.encoding or "json"))
        if self.relay_bytes >= MAX_GROUPED_RELAY_BYTES:
            self.send_relays()
        return len(self.relays) == 1

    def send_relays(self) -> None:
        """Queue the held stroke relays as one `strokes` frame."""
        if self.relays:
            relays, self.relays, self.relay_bytes = self.relays, [], 0
            self._queue(wire.strokes_message(relays, self.encoding or "json"))

    async def _close_too_slow(self) -> None:
        """Close with POLICY_VIOLATION; a peer that does not read even that (the close frame waits
        behind what it left unread) has its connection reset after the close timeout, so a stalled
        reader cannot hold a socket and its buffers for ever."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self.ws.close_timeout):
                await self.ws.close(wire.CloseCode.POLICY_VIOLATION, "too slow to receive")
                return
        self.ws.transport.abort()

    def _queue(self, frame: wire.WireFrame) -> None:
        if self.too_slow:
            return
        if not self.unsent and self.on_unsent is not None:
            self.on_unsent(self)
        self.unsent.append(frame)

    def write(self) -> None:
        """Write the frames queued in this tick to the socket at once, unless it is closing.

        The frames go straight to websockets' sans-I/O protocol and the transport: no send task,
        queue or lock per frame, one write per client and tick (docs/benchmarks.md). A client that
        has left more than MAX_UNSENT_BYTES unread is disconnected instead.
        """
        frames, self.unsent = self.unsent, []
        protocol, transport = self.ws.protocol, self.ws.transport
        if self.too_slow or protocol.state is not State.OPEN or transport.is_closing():
            return  # closing: a resumed connection's snapshot has what it missed
        if transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
            self.too_slow = True
            self.log.warning("too_slow_closing", unsent_bytes=transport.get_write_buffer_size())
            self.closing = asyncio.get_running_loop().create_task(self._close_too_slow())
            return
        encoding = self.encoding or "json"
        for frame in frames:
            data = frame.encoded(encoding)
            if isinstance(data, str):
                protocol.send_text(data.encode())
            else:
                protocol.send_binary(data)
        transport.writelines(protocol.data_to_send())


@dataclass(eq=False)
class LocalRoom:
    """One room with members on this gateway: its view, their sockets, a wake-up for its deadline."""

    code: str
    view: RoomView
    clients: dict[str, Client] = field(default_factory=dict)
    timer: Wakeup | None = None


class Gateway:
    """Holds the sockets of this process and the rooms they are in."""

    def __init__(
        self,
        settings: Settings,
        client: aioredis.Redis,
        recognition: RecognitionService,
        clock: Clock | None = None,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
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
        self.packs = load_packs(self.known_words, settings.checkpoint)
        self.drawings = Drawings()
        self.rooms: dict[str, LocalRoom] = {}
        self.players: dict[str, Client] = {}
        self.pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._rng = random.SystemRandom()
        # Recognition job ids: unique on this gateway (they key its in-flight table) without a call to
        # the OS's random source per stroke; the random prefix keeps a restarted gateway's apart.
        self._job_prefix = secrets.token_hex(3)
        self._job_numbers = itertools.count()
        self._background: set[asyncio.Task[Any]] = set()
        self._subscriber: asyncio.Task[None] | None = None
        self._liveness: asyncio.Task[None] | None = None
        self._reaper: asyncio.Task[None] | None = None
        # Clients holding stroke relays, and the wake-up that sends them (Settings.relay_interval_ms).
        self._relays_due: list[Client] = []
        self._relay_wakeup: Wakeup | None = None
        # Clients with frames queued in this tick (Client.write).
        self._writes_due: list[Client] = []
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
        await self.redis.set(alive_key(self.settings.gateway_id), 1, px=self._alive_ttl_ms)
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
        if self._relay_wakeup is not None:
            self._relay_wakeup.cancel()
        await self.pubsub.aclose()  # type: ignore[no-untyped-call]
        await self.store.aclose()

    @property
    def _alive_ttl_ms(self) -> int:
        return int(self.settings.alive_ttl_seconds * 1000)

    def _now_ms(self) -> int:
        return round(self.clock.now() * 1000)  # as messages._ms rounds every other time

    def _next_job_id(self) -> str:
        return f"{self._job_prefix}{next(self._job_numbers):x}"

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
            on_unsent=self._book_write,
        )
        client.log = log.bind(connection_id=client.connection_id)
        client.log.info("connection_open", remote=str(ws.remote_address[0]) if ws.remote_address else None)
        _connections_gauge.inc()
        try:
            async with asyncio.TaskGroup() as tasks:
                watchdog = tasks.create_task(self._hello_watchdog(client))
                try:
                    await self._read_loop(client)
                finally:
                    watchdog.cancel()
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

    def _book_write(self, client: Client) -> None:
        """Client.on_unsent: write `client`'s frames once this tick's callbacks have queued theirs."""
        if not self._writes_due:
            asyncio.get_running_loop().call_soon(self._write_due)
        self._writes_due.append(client)

    def _write_due(self) -> None:
        due, self._writes_due = self._writes_due, []
        for client in due:
            try:
                client.write()
            except Exception:  # one socket's failure must not keep the frames of the others
                client.log.exception("write_failed")

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
                if client.session is None and not isinstance(
                    message, wire.Hello | wire.Ping | wire.ListPacks
                ):
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
                client.send(wire.pong_message(self._now_ms(), message.id))
            case wire.ListPacks():
                client.send(packs_message(self.packs, message.id))
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
                            by=me,
                            settings=RoomSettings.validated(
                                raw, self.known_words, state.settings, self.packs
                            ),
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
        client.group_strokes = hello.group_strokes
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
        client.send(wire.welcome_message(session.player_id, token, self._now_ms(), resumed=seat is not None))
        client.log.info("hello", resumed=seat is not None, token_resumed=resumed)
        if seat is not None:
            local, state, version = seat
            await self._take_seat(client, local, session.role or "player")
            await self._send_snapshot(client, local, state, version)
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
        self._apply(local, local.view.learn(state, version))
        return local, state, version

    # ------------------------------------------------------------------ rooms

    async def _create_room(self, client: Client, message: wire.CreateRoom) -> None:
        if client.room is not None:
            raise AlreadyInRoom("leave your room before creating another")
        settings = RoomSettings.validated(message.settings, self.known_words, packs=self.packs)
        if not client.creations.take():
            raise TooManyRooms("too many rooms created on this connection; wait a minute")
        if await self.creation_limit.take(self._address(client)) is None:
            raise TooManyRooms("too many rooms created from this address; wait a minute")
        now = self.clock.now()
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
        self._apply(local, local.view.learn(state, 1))
        await self._take_seat(client, local, "player")
        await self._send_snapshot(client, local, state, 1)
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
        self._apply(local, local.view.learn(state, version))
        await self._take_seat(client, local, message.role)
        await self._send_snapshot(client, local, state, version)
        client.log.info("room_joined", room_id=code, role=message.role)

    async def _leave(self, client: Client) -> None:
        code = self._room_of(client)
        player_id = self._me(client)
        await self.transact(code, lambda state: [LeaveRoom(player_id)])
        await self._detach(client)
        await self.sessions.set_seat(player_id, None, None)
        client.send(wire.left_room_message(code, "left"))

    async def _room_command(self, client: Client, command: Any) -> None:
        await self.transact(self._room_of(client), lambda state: [command])

    async def _take_seat(self, client: Client, local: LocalRoom, role: str) -> None:
        """Seat the client on this gateway, in its session (for resume) and in the archive's consent
        list; room events are held for it until its snapshot is sent."""
        assert client.session is not None
        client.room = local.code
        client.log = client.log.bind(room_id=local.code)
        local.view.seat(client.session.player_id, Role(role))
        local.clients[client.session.player_id] = client
        _rooms_gauge.set(len(self.rooms))
        await self.sessions.set_seat(client.session.player_id, local.code, role)
        if role == "player":  # spectators never leave drawings behind
            await record_consent(
                self.redis, local.code, client.session.player_id, client.session.consent_archive
            )

    async def _detach(self, client: Client) -> None:
        code, player_id = client.room, client.player_id
        client.room = None
        if code is None or player_id is None:
            return
        self.drawings.clear(player_id)
        self.recognition.forget(code, player_id)
        local = self.rooms.get(code)
        if local is not None and local.clients.get(player_id) is client:
            del local.clients[player_id]
            local.view.unseat(player_id)
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
        next_sweep = time.monotonic() + self.settings.sweep_seconds
        while True:
            await asyncio.sleep(self.settings.heartbeat_seconds)
            try:
                await self.redis.set(alive_key(self.settings.gateway_id), 1, px=self._alive_ttl_ms)
            except (RedisError, OSError) as exc:  # Redis restarting: try again on the next beat
                log.warning("liveness_failed", error=str(exc))
                continue
            if time.monotonic() < next_sweep:
                continue
            next_sweep = time.monotonic() + self.settings.sweep_seconds
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
        """Every reap_seconds, tick the rooms whose deadline passed (see GATEWAYS_KEY's comment)."""
        while True:
            await asyncio.sleep(self.settings.reap_seconds)
            try:
                await self.tick_due_rooms()
            except (RedisError, OSError) as exc:  # Redis restarting: try again next time
                log.warning("reap_failed", error=str(exc))
            except Exception:  # one bad room must not stop every room's timers
                log.exception("reap_failed")

    async def tick_due_rooms(self) -> int:
        """Apply the due deadlines of every room in the deadline index. Returns how many rooms."""
        due = await self.store.due_rooms(self.clock.now())
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
        gateway swept them while this one was too busy to refresh its key for alive_ttl_seconds. Returns
        how many."""
        stale = [
            (local.code, member.player_id)
            for local in list(self.rooms.values())
            if local.view.state is not None
            for member in local.view.state.members
            if not member.connected and member.player_id in local.clients
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
            if local.view.state is not None
            for member in local.view.state.members
            if member.connected and member.player_id not in local.clients
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
            new_state, events, failure = _apply_commands(
                state, commands_for, self.clock.now(), before_deadlines
            )
            if not events and new_state == state:
                self._rearm(code, state, version)
                if failure is not None:
                    raise failure
                return state, version, []
            try:
                new_version = await self.store.commit(new_state, version, events)
            except StaleRoomVersion:
                _commit_conflicts.inc()
                continue
            # Our own commit acts here when its echo comes, like every peer's: the room's channel is
            # the one order of its strokes, guesses and commits. Acting at once would put a round's
            # end before strokes accepted earlier but still on their way (a spectator 2x past the
            # knee saw "round_ended", then never its last strokes; docs/benchmarks.md).
            # Any live gateway ticks the room at this deadline, even when none holds its members.
            await self.store.index_deadline(code, rules.next_deadline(new_state))
            await self._after_commit(new_state, events)
            if failure is not None:
                raise failure
            return new_state, new_version, events
        raise StaleRoomVersion("room is too busy; try again")

    def _rearm(self, code: str, state: RoomState, version: int) -> None:
        """Nothing was due (a timer fired early, or a peer ticked first): wake the room at its next
        deadline as loaded, unless the view already knows a newer state."""
        local = self.rooms.get(code)
        if local is not None and version >= local.view.version:
            self._schedule(local, rules.next_deadline(state))

    async def _after_commit(self, state: RoomState, events: Sequence[Event]) -> None:
        """What only the committing gateway does, once per commit: hand finished rounds to the archive."""
        for event in events:
            if isinstance(event, RoundEnded) and state.settings.archive:
                # Off the event loop's critical path: the archiver writes files from this queue later.
                await enqueue_round(self.redis, state, event)

    # ------------------------------------------------------------------ strokes and recognition

    async def _stroke(self, client: Client, batch: wire.StrokeBatch) -> None:
        code = self._room_of(client)
        player_id = self._me(client)
        local = self.rooms.get(code)
        state = local.view.state if local is not None else None
        # The batch names its game when the client says it (round numbers restart every game): a
        # batch read late, after a rematch, is then refused instead of filed into the new game's
        # drawing. Otherwise the game this gateway knows the room to be in.
        game = batch.game if batch.game is not None else (state.game_number if state is not None else 0)
        points = [list(point) for point in batch.points]
        canvas = list(client.canvas) if client.canvas is not None else None
        now = self.clock.now()
        entry = StrokeEntry(player_id, batch.stroke, points, batch.end, canvas)
        if await self.store.append_stroke(code, game, batch.round, entry, now) == 0:
            return  # a resent batch the server already has: relayed and recognized once already
        _strokes_in.inc()
        strokes = self.drawings.add(player_id, (game, batch.round), batch.stroke, batch.points)
        current = state.round if state is not None and state.game_number == game else None
        word = current.word if current is not None and current.number == batch.round else None
        self.recognition.update(
            RecognitionJob(
                job_id=self._next_job_id(),
                gateway_id=self.settings.gateway_id,
                room_code=code,
                player_id=player_id,
                round=batch.round,
                target_word=word,
                strokes=strokes,
                canvas=client.canvas,
                # A finished stroke is what a recognition is decided on: never shed under load.
                deciding=batch.end,
                submitted_at=now,
                game=game,
            )
        )

    async def _practice(self, client: Client, message: wire.Recognize) -> None:
        self.recognition.update(
            RecognitionJob(
                # Job ids key the scheduler's in-flight table, so they must be unique on the server: a
                # client's own id (two phones both say "r1") travels after the dot, for the reply's ref.
                job_id=f"{self._next_job_id()}.{message.id or ''}",
                gateway_id=self.settings.gateway_id,
                room_code="",
                player_id=self._me(client),
                round=0,
                target_word=None,
                strokes=list(message.strokes),  # float32 arrays, as a game's drawing is held
                canvas=message.canvas,
                # Practice is paced like a drawer: newest drawing only, one guess per interval.
                deciding=False,
                submitted_at=self.clock.now(),
            )
        )

    async def on_recognition(self, result: RecognitionResult) -> None:
        """Deliver a recognition result: a guess, and maybe a recognition (committed atomically)."""
        client = self.players.get(result.player_id)
        if not result.room_code:  # practice mode
            if client is not None:
                ref = result.job_id.partition(".")[2] or None
                client.send(wire.guess_message(result.player_id, list(result.guesses), None, ref))
            return
        round_key = (result.game, result.round)
        if (
            client is None
            or client.room != result.room_code
            or self.drawings.round_of(result.player_id) != round_key
        ):
            return  # the player left or the round moved on: drop quietly
        guesses = tuple(result.guesses)
        guess = GuessEnvelope(result.player_id, result.game, result.round, guesses)
        await self.store.publish_guess(result.room_code, guess)
        if result.recognized:
            player_id, at = result.player_id, result.submitted_at

            def commands(state: RoomState) -> list[Any]:
                current = state.round
                # The job's target was this round's word; a result from another round decides nothing.
                if current is None or (state.game_number, current.number) != round_key:
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
        client.send(wire.forgotten_message(removed, message.id))

    # ------------------------------------------------------------------ snapshots

    async def _send_snapshot(self, client: Client, local: LocalRoom, state: RoomState, version: int) -> None:
        player_id = self._me(client)
        role = local.view.role(player_id) or Role.PLAYER
        blobs: list[bytes] = []
        round_number = state.round.number if state.round is not None else 0
        in_round = state.round is not None and state.phase == Phase.ROUND
        if in_round:
            blobs = await self.store.round_stroke_blobs(state.code, state.game_number, round_number)
        seq = len(blobs)
        # Decoding and encoding a round's strokes (up to max_players x the per-drawing caps) runs in
        # a thread, item by item, so that one large room never stalls every other connection.
        frame, own = await asyncio.to_thread(
            _build_snapshot, state, blobs, player_id, role, self._now_ms(), client.encoding
        )
        if in_round and role == Role.PLAYER:  # what the player drew before a resume is recognized too
            self.drawings.restore(player_id, (state.game_number, round_number), own)
        client.send(frame)
        # Events published while the snapshot was read go out now, minus what the snapshot covered.
        self._apply(
            local, local.view.snapshot_sent(player_id, version, (state.game_number, round_number, seq))
        )

    # ------------------------------------------------------------------ pub/sub fan-out

    async def _subscribe(self, code: str) -> LocalRoom:
        local = self.rooms.get(code)
        if local is None:
            local = self.rooms[code] = LocalRoom(code, RoomView(code))
            await self.pubsub.subscribe(room_channel(code))
            await self.redis.sadd(gateway_rooms_key(self.settings.gateway_id), code)
            _rooms_gauge.set(len(self.rooms))
        return local

    async def _unsubscribe_if_empty(self, local: LocalRoom) -> None:
        if local.clients or self.rooms.get(local.code) is not local:
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
            except ValueError:  # a malformed publish must not stop fan-out for every room
                log.exception("bad_envelope", room_id=code)
                continue
            self._apply(local, local.view.receive(envelope))

    def _apply(self, local: LocalRoom, effects: Sequence[Effect]) -> None:
        """Carry out what the room view decided."""
        for effect in effects:
            match effect:
                case Send(frame=frame, to=to):
                    relay = frame.message["type"] == "stroke"  # another player's stroke batch
                    for player_id in to:
                        client = local.clients.get(player_id)
                        if client is None:
                            continue
                        if relay and client.group_strokes:
                            self._hold_relay(client, frame)
                        else:
                            client.send(frame)
                case ClearDrawings(player_ids=player_ids):
                    for player_id in player_ids:
                        self.drawings.clear(player_id)
                case ForgetRecognitions(player_ids=player_ids):
                    for player_id in player_ids:
                        self.recognition.forget(local.code, player_id)
                case SetTimer(deadline=deadline):
                    self._schedule(local, deadline)
                case Unseat(player_id=player_id):
                    client = local.clients.get(player_id)
                    if client is not None:
                        self._spawn(self._detach_and_clear(client))

    def _hold_relay(self, client: Client, frame: wire.WireFrame) -> None:
        """Send `frame` with the client's next `strokes` frame: one per interval, not one per batch."""
        if client.hold_relay(frame):
            self._relays_due.append(client)
            if self._relay_wakeup is None:
                interval = self.settings.relay_interval_ms / 1000
                self._relay_wakeup = self.clock.call_at(self.clock.now() + interval, self._send_relays)

    def _send_relays(self) -> None:
        due, self._relays_due, self._relay_wakeup = self._relays_due, [], None
        for client in due:
            client.send_relays()

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
        # A little after the deadline, so that the rules, reading the same clock, find it passed.
        local.timer = self.clock.call_at(deadline + 0.005, lambda: self._spawn(self._tick(local.code)))

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
    """The key a live gateway keeps refreshing (see Settings.heartbeat_seconds)."""
    return f"doodle:gateway:{gateway_id}:alive"


def gateway_rooms_key(gateway_id: str) -> str:
    """The set of rooms a gateway holds members of (see GATEWAYS_KEY)."""
    return f"doodle:gateway:{gateway_id}:rooms"


def gateway_channel(gateway_id: str) -> str:
    """The pub/sub channel of one gateway (not of a room): connections it must close."""
    return f"gateway:{gateway_id}"


def _build_snapshot(
    state: RoomState,
    blobs: list[bytes],
    viewer_id: str,
    role: Role,
    server_time_ms: int,
    encoding: wire.Encoding | None,
) -> tuple[wire.WireFrame, dict[int, np.ndarray]]:
    """The encoded ``room`` snapshot for one viewer, and the viewer's own drawing of the round, stroke
    index -> float32 (n, 3) points (to go on recognizing it). Pure; the gateway runs it in a thread."""
    visible = role == Role.SPECTATOR or state.settings.show_drawings
    strokes: list[dict[str, Any]] = []
    own: dict[int, list[np.ndarray]] = {}
    for blob in blobs:
        entry = decode_stroke_entry(blob)
        if entry.player_id == viewer_id:
            own.setdefault(entry.stroke, []).append(np.asarray(entry.points, dtype=np.float32).reshape(-1, 3))
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
    message = wire.room_message(state, viewer_id, role.value, server_time_ms, strokes)
    joined = {stroke: np.concatenate(batches) for stroke, batches in own.items()}
    return wire.encode_in_pieces(message, "strokes", encoding or "json"), joined
