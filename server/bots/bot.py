"""One bot: a phone (or a TV) that speaks the public protocol, plays its part and keeps the books.

A bot is a host, a player or a spectator of one room. It reads every frame it gets, answers what a
real client would, draws when it is a drawer, and records what it sent and saw in the shared
``Ledger`` and ``Tally``. It never imports the server: it builds protocol messages itself.

Lifecycle (``Bot.live``): connect and ``hello`` -> host: ``create_room``, wait for the others, then
``start_game`` / ``rematch`` until the run's duration is over; others: ``join_room`` and play along
-> goodbye: wait for the last ``game_over``, then a ``ping``; the server answers a connection's
messages in order, so its ``pong`` means every answer to our strokes has arrived -> close.

A churning bot drops its TCP connection now and then (like a phone losing the network) and resumes
with its token; any other drop is counted as a disconnect and resumed too.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import random
import time
from dataclasses import dataclass, field
from typing import Any, Literal

import msgpack
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake

from server.bots.ledger import BatchKey, DrawerRound, Ledger, Outage, RoundKey
from server.bots.library import DrawingLibrary
from server.bots.options import BotOptions
from server.bots.replay import Batch, fit_to_canvas, plan_batches
from server.bots.report import PEN_UP_MIN_GAP_S, Tally

__all__ = ["Bot", "BotFailure", "Fleet", "Ramp", "Role", "RoomDriver"]

Role = Literal["host", "player", "spectator"]

OPEN_TIMEOUT_S = 10.0
REPLY_TIMEOUT_S = 30.0
RESUME_ATTEMPTS = 5
# A person needs a moment to read the word before drawing; after a drawing that was not recognized
# they think a little and try again, until the deadline (as in Quick, Draw!).
REACTION_MS = (400.0, 1200.0)
RETRY_PAUSE_MS = (600.0, 1500.0)
STOP_BEFORE_DEADLINE_S = 0.05
MAX_STROKES = 200  # protocol limit per round's drawing
# Stroke messages are remembered this long for matching errors: a busy server may refuse a batch of
# the last round after the next round has started.
PENDING_KEEP_S = 60.0
# Close codes after which resuming makes no sense.
CLOSE_SESSION_REPLACED = 4000


class BotFailure(Exception):
    """A bot cannot go on (its session was taken over, a resume was refused)."""


class Ramp:
    """Paces new connections to ``per_second``, in the order they ask."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self.next_at = 0.0

    async def wait_turn(self) -> None:
        now = time.monotonic()
        at = max(now, self.next_at)
        self.next_at = at + self.interval
        if at > now:
            await asyncio.sleep(at - now)


@dataclass
class Fleet:
    """What every bot of a run shares (one process, one event loop)."""

    options: BotOptions
    library: DrawingLibrary
    words: tuple[str, ...]
    ledger: Ledger
    tally: Tally
    ramp: Ramp
    started_at: float

    @property
    def game_timeout_s(self) -> float:
        per_round = self.options.round_seconds + self.options.results_pause_s + 5
        return self.options.rounds * per_round + 30

    @property
    def join_timeout_s(self) -> float:
        return self.tally.bots / self.options.ramp + 30


@dataclass(eq=False)
class RoomDriver:
    """One room's bots and what they share in-process: the code, who is in, when it is over."""

    index: int
    expected_members: int
    code: str | None = None
    host: Bot | None = None
    members: set[str] = field(default_factory=set)
    spectators: set[str] = field(default_factory=set)
    code_ready: asyncio.Event = field(default_factory=asyncio.Event)
    everyone_in: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    def joined(self, bot: Bot) -> None:
        self.members.add(bot.name)
        if bot.role == "spectator":
            self.spectators.add(bot.name)
        if len(self.members) >= self.expected_members:
            self.everyone_in.set()


@dataclass(frozen=True, slots=True)
class PendingStroke:
    msg_id: int
    key: BatchKey
    batch: Batch
    sent_at: float
    deadline: float


class Bot:
    """One simulated client (see the module docstring)."""

    def __init__(
        self,
        fleet: Fleet,
        room: RoomDriver,
        name: str,
        role: Role,
        url: str,
        *,
        draws_wrong: bool,
        churns: bool,
        rng: random.Random,
    ) -> None:
        self.fleet = fleet
        self.room = room
        self.name = name
        self.role = role
        self.url = url
        self.draws_wrong = draws_wrong
        self.churns = churns
        self.rng = rng
        self.ledger: Ledger = fleet.ledger
        self.tally: Tally = fleet.tally
        self.ws: ClientConnection | None = None
        self.token: str | None = None
        self.player_id = ""
        self.clock_offset_ms = 0.0  # server clock minus ours, from welcome.server_time
        self.welcomed = asyncio.Event()
        self.in_room = asyncio.Event()
        self.connected = asyncio.Event()  # welcomed and in the room, not in an outage
        self.finished = False
        self.dropping = False
        self.outage: Outage | None = None
        self.tasks: asyncio.TaskGroup | None = None
        self.side_tasks: set[asyncio.Task[None]] = set()
        # The game as this bot sees it.
        self.game = 0
        self.round = 0
        self.phase = "lobby"
        self.round_started_at = 0.0  # monotonic; None-like 0 when the bot resumed into the round
        self.round_ends_at = 0.0
        self.saw_round_start = False
        self.recognized_now = False
        self.drawer_record: DrawerRound | None = None
        self.sent: dict[int, PendingStroke] = {}  # recent stroke messages, by id
        self.ids = itertools.count(1)
        self.last_batch_at: float | None = None
        self.last_batch_unthrottled = False
        self.last_guess_at: float | None = None
        self.pen_up_at: float | None = None
        self.pen_up_answer: float | None = None
        self.game_over = asyncio.Event()
        self.games_over = 0
        self.pong = asyncio.Event()
        # Host only.
        self.lobby = asyncio.Event()
        self.abort_reason: str | None = None

    @property
    def room_code(self) -> str:
        return self.room.code or ""

    def round_key(self) -> RoundKey:
        return (self.room_code, self.game, self.round)

    # ------------------------------------------------------------------ life

    async def live(self) -> None:
        """Play this bot's whole part; failures are recorded in the tally, never raised."""
        try:
            async with asyncio.TaskGroup() as tasks:
                self.tasks = tasks
                await self._open(resume=False)
                tasks.create_task(self._read_loop())
                await asyncio.wait_for(self.welcomed.wait(), REPLY_TIMEOUT_S)
                if self.churns:
                    self._side_task(self._churn_loop())
                if self.role == "host":
                    await self._host_flow()
                else:
                    await self._member_flow()
                await self._goodbye()
                await self._close()
        except* Exception as group:
            # One bot's failure is recorded (it fails the run) and does not stop the other bots.
            for exc in group.exceptions:
                self.tally.fail(f"{self.name}: {type(exc).__name__}: {exc}")
        finally:
            self.finished = True
            if self.role == "host":
                self.room.finished.set()
                self.room.code_ready.set()
            if self.ws is not None:
                self.ws.transport.abort()

    async def _host_flow(self) -> None:
        options = self.fleet.options
        try:
            await self.send(
                {"type": "create_room", "id": "create", "settings": options.room_settings(self.fleet.words)}
            )
            await self._wait(self.in_room, REPLY_TIMEOUT_S, "create its room")
            self.room.host = self
            self.room.joined(self)
            self.ledger.joined(self.room_code, self.name)
            self.room.code_ready.set()
            try:
                await asyncio.wait_for(self.room.everyone_in.wait(), self.fleet.join_timeout_s)
            except TimeoutError:
                missing = self.room.expected_members - len(self.room.members)
                self.tally.fail(f"room {self.room_code}: {missing} bots did not join; playing without them")
            await asyncio.sleep(self.rng.uniform(0, options.stagger_s))
            while True:
                self.game_over.clear()
                await self.send({"type": "start_game", "id": "start"})
                await self._wait(self.game_over, self.fleet.game_timeout_s, f"finish game {self.game + 1}")
                if time.monotonic() - self.fleet.started_at >= options.duration_s:
                    return
                self.lobby.clear()
                await self.send({"type": "rematch", "id": "rematch"})
                await self._wait(self.lobby, REPLY_TIMEOUT_S, "get back to the lobby")
        finally:
            self.room.code_ready.set()
            self.room.finished.set()

    async def _member_flow(self) -> None:
        await asyncio.wait_for(self.room.code_ready.wait(), self.fleet.join_timeout_s + REPLY_TIMEOUT_S)
        if self.room.code is None:
            return  # the host could not create the room; it said so
        role = "spectator" if self.role == "spectator" else "player"
        await self.send({"type": "join_room", "id": "join", "code": self.room.code, "role": role})
        await self._wait(self.in_room, REPLY_TIMEOUT_S, f"join room {self.room.code}")
        self.room.joined(self)
        self.ledger.joined(self.room_code, self.name)
        await self.room.finished.wait()

    async def _goodbye(self) -> None:
        """Wait until nothing is owed to us any more (see the module docstring), then return."""
        host = self.room.host
        if host is not None and host.abort_reason is None:
            # Every game_over the host saw must reach us too (it is published after all of the game).
            deadline = time.monotonic() + REPLY_TIMEOUT_S
            while self.games_over < host.games_over and time.monotonic() < deadline:
                self.game_over.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.game_over.wait(), deadline - time.monotonic())
            if self.games_over < host.games_over:
                self.tally.fail(f"{self.name}: never got the last game_over of room {self.room_code}")
        try:
            await asyncio.wait_for(self.connected.wait(), REPLY_TIMEOUT_S)
        except TimeoutError:
            state = "welcomed, no room snapshot" if self.welcomed.is_set() else "no welcome"
            self.tally.fail(f"{self.name}: still not back in the room after a drop ({state})")
            return
        try:
            self.pong.clear()
            await self.send({"type": "ping", "id": "bye"})
            await asyncio.wait_for(self.pong.wait(), REPLY_TIMEOUT_S)
        except (TimeoutError, ConnectionClosed) as exc:
            self.tally.fail(f"{self.name}: no pong before hanging up ({type(exc).__name__})")

    async def _wait(self, event: asyncio.Event, timeout: float, what: str) -> None:
        """Wait for ``event``; a server error for our last command ends the wait early.

        Raises:
            TimeoutError: with a message naming what did not happen, or the error that came back.
        """
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except TimeoutError:
            raise TimeoutError(f"did not {what} within {timeout:.0f}s") from None
        if self.abort_reason is not None:
            raise TimeoutError(f"could not {what}: {self.abort_reason}")

    def _side_task(self, coro: Any) -> None:
        assert self.tasks is not None
        task = self.tasks.create_task(coro)
        self.side_tasks.add(task)
        task.add_done_callback(self.side_tasks.discard)

    async def _close(self) -> None:
        self.finished = True
        for task in list(self.side_tasks):
            task.cancel()
        if self.ws is not None:
            await self.ws.close()

    # ------------------------------------------------------------------ connection

    async def _open(self, *, resume: bool) -> None:
        if not resume:  # --ramp paces the ramp-up; resumes go at once, as phones would
            await self.fleet.ramp.wait_turn()
        self.welcomed.clear()
        self.ws = await connect(
            self.url,
            open_timeout=OPEN_TIMEOUT_S,
            close_timeout=2,
            compression=None,
            ping_interval=None,  # the server pings; a phone does not need to
            max_size=2**20,
        )
        self.tally.connected += 1
        hello: dict[str, Any] = {
            "type": "hello",
            "name": self.name,
            "canvas": list(self.fleet.options.canvas),
            # Other players' strokes grouped, one frame per interval, as the web client asks.
            "group_strokes": True,
        }
        if self.fleet.options.archive:
            hello["consent"] = {"archive": True}
        if resume and self.token:
            hello["resume"] = self.token
        await self.send(hello)

    async def send(self, message: dict[str, Any]) -> None:
        """Send one message in this run's encoding.

        Raises:
            ConnectionClosed: the connection is gone (the read loop resumes it).
        """
        assert self.ws is not None
        frame = (
            msgpack.packb(message)
            if self.fleet.options.msgpack
            else json.dumps(message, separators=(",", ":"))
        )
        await self.ws.send(frame)
        self.tally.messages_sent += 1

    async def _read_loop(self) -> None:
        """Read until the bot is done; resume after every drop."""
        while True:
            ws = self.ws
            assert ws is not None
            try:
                async for frame in ws:
                    now = time.monotonic()
                    self.tally.messages_received += 1
                    message = msgpack.unpackb(frame) if isinstance(frame, bytes) else json.loads(frame)
                    self._on_message(message, now)
            except ConnectionClosed:
                pass
            self.tally.connected -= 1
            if self.finished:
                return
            if await self._dropped(ws) and self.finished:
                # The bot was told to stop while it was away: hang up the new connection too.
                await self.ws.close()
                self.tally.connected -= 1
                return

    async def _dropped(self, ws: ClientConnection) -> bool:
        """The connection went away while the bot was still playing: note it, then resume.

        Returns:
            Whether a new connection was opened (False: the bot finished meanwhile).

        Raises:
            BotFailure: the server replaced this session (another connection took it over).
            OSError, InvalidHandshake, TimeoutError: every reconnect attempt failed.
        """
        now = time.monotonic()
        if self.dropping:
            self.dropping = False
        else:
            self.tally.disconnects += 1
            self.tally.disconnect_reasons[f"{ws.close_code} {ws.close_reason or ''}".strip()] += 1
            if ws.close_code == CLOSE_SESSION_REPLACED:
                raise BotFailure("session replaced (close 4000)")
        self.connected.clear()
        self.outage = self.ledger.outage_started(self.name, self.room_code, now)
        # Every batch not yet answered is in doubt, older rounds' too: on a busy server the answer to a
        # batch of the last round can still be on its way.
        self.ledger.put_in_doubt([pending.key for pending in self.sent.values()])
        self.last_batch_at = self.last_guess_at = self.pen_up_at = None
        await asyncio.sleep(self.fleet.options.churn_pause_s)
        for attempt in range(RESUME_ATTEMPTS):
            if self.finished:
                return False
            try:
                await self._open(resume=True)
                return True
            except (OSError, InvalidHandshake, TimeoutError) as exc:
                if attempt == RESUME_ATTEMPTS - 1:
                    raise
                self.tally.error(f"reconnect_failed:{type(exc).__name__}")
                await asyncio.sleep(0.5 * (attempt + 1))
        return False

    async def _churn_loop(self) -> None:
        options = self.fleet.options
        while not self.finished:
            await asyncio.sleep(options.churn_interval_s * self.rng.uniform(0.5, 1.5))
            if self.finished or self.room.finished.is_set():
                return
            if not self.connected.is_set() or self.ws is None:
                continue
            self.dropping = True
            self.tally.churn_drops += 1
            self.ws.transport.abort()  # like a phone losing the network: no close frame

    # ------------------------------------------------------------------ messages in

    def _on_message(self, message: dict[str, Any], now: float) -> None:
        kind = message.get("type")
        if kind == "stroke":
            self._on_stroke_relay(message, now)
        elif kind == "strokes":
            for relay in message["items"]:
                self._on_stroke_relay(relay, now)
        elif kind == "guess":
            self._on_guess(message, now)
        elif kind == "recognized":
            self._on_recognized(message, now)
        elif kind == "round_started":
            self._on_round_started(message, now)
        elif kind == "round_ended":
            self._on_round_ended(message, now)
        elif kind == "game_started":
            self.game = int(message["game"])  # the server's count: strokes name it
            self.phase = "game"
            self.game_over.clear()
            if self.role == "host":
                self.tally.games_started += 1
        elif kind == "game_over":
            self.phase = "game_over"
            self.games_over += 1
            self.game_over.set()
            if self.role == "host":
                self.tally.games_completed += 1
        elif kind == "back_to_lobby":
            self.phase = "lobby"
            self.lobby.set()
        elif kind == "room":
            self._on_room(message, now)
        elif kind == "pong":
            if message.get("ref") == "bye":
                self.pong.set()
        elif kind == "welcome":
            self._on_welcome(message)
        elif kind == "error":
            self._on_error(message, now)
        elif kind in ("room_closed", "left_room"):
            self.tally.fail(f"{self.name}: unexpected {kind}: {message}")

    def _on_welcome(self, message: dict[str, Any]) -> None:
        self.clock_offset_ms = float(message["server_time"]) - time.time() * 1000
        if self.token is not None and not message.get("resumed"):
            self.tally.fail(f"{self.name}: resume was refused (welcome resumed=false)")
        self.player_id = message["player_id"]
        self.token = message["token"]
        self.welcomed.set()

    def _on_error(self, message: dict[str, Any], now: float) -> None:
        code = str(message.get("code"))
        ref = str(message.get("ref"))
        # The protocol says ref echoes our id; accept it as the number we sent or as its digits.
        pending = self.sent.pop(int(ref), None) if ref.isdigit() else None
        if pending is not None:
            self.ledger.batch_rejected(
                pending.key, self.room_code, code, pending.sent_at, now, pending.deadline
            )
            return
        self.tally.error(code, f"{self.name} (ref {ref}): {message.get('message')}")
        if ref in ("create", "start", "rematch", "join"):
            self.abort_reason = f"{code}: {message.get('message')}"
            for event in (self.in_room, self.game_over, self.lobby):
                event.set()
        elif code == "invalid_token":
            self.tally.fail(f"{self.name}: resume token refused")

    def _on_room(self, message: dict[str, Any], now: float) -> None:
        """A ``room`` snapshot: the answer to create/join, or the state after a resume."""
        if self.room.code is None:
            self.room.code = message["code"]
        if self.outage is None:
            self.phase = message["phase"]
            self.in_room.set()
            self.connected.set()
            return
        self._resumed(message, now)

    def _resumed(self, message: dict[str, Any], now: float) -> None:
        """Settle what the outage left open, from the snapshot (rules: server.bots.ledger)."""
        outage = self.outage
        assert outage is not None
        current: dict[str, Any] | None = message.get("round") if message["phase"] == "round" else None
        same_round = current is not None and (message["game"], current["round"]) == (self.game, self.round)
        if current is not None and self.phase == "round" and same_round:
            outage.resumed_into = (self.game, self.round)
            key = self.round_key()
            entries = message.get("strokes") or []
            for recognition in current.get("recognized") or []:
                self.ledger.recognized_seen(key, recognition["player_id"], self.name)
                if recognition["player_id"] == self.player_id:
                    self._mark_recognized()
            if self.role == "spectator":
                seen = [self._entry_key(entry) for entry in entries]
                self.ledger.snapshot_seen(seen, self.name)
            # Sent from a task of its own: the read loop must never wait on a send.
            self._side_task(self._settle_own_strokes(entries, outage))
            return
        host = self.room.host
        self.game = int(message["game"])
        self.phase = message["phase"]
        if host is not None:  # games that ended while we were away are not owed to us
            self.games_over = max(self.games_over, host.games_over)
        if current is not None:
            self.round = current["round"]
            self.saw_round_start = False
        self._back(outage, now)

    def _back(self, outage: Outage, now: float) -> None:
        """The outage is over: the bot plays (and draws) again."""
        outage.end = now
        self.outage = None
        self.tally.resumes += 1
        self.connected.set()

    async def _settle_own_strokes(self, entries: list[dict[str, Any]], outage: Outage) -> None:
        """Confirm our batches that the snapshot has; send again the ones the drop ate; then carry on."""
        mine = {
            (entry["stroke"], round(entry["points"][-1][2]))
            for entry in entries
            if entry["player_id"] == self.player_id and entry["points"]
        }
        for pending in self._sent_this_round():
            if (pending.batch.stroke, pending.batch.last_t) in mine:
                self.ledger.confirm(pending.key)
                continue
            self.ledger.withdraw(pending.key)
            del self.sent[pending.msg_id]
            self.tally.resent_strokes += 1
            await self._send_stroke(pending.batch, self.game, self.round, resend=True)
        self._back(outage, time.monotonic())

    def _sent_this_round(self) -> list[PendingStroke]:
        """Our stroke messages of the round we are in, oldest first."""
        return [p for p in self.sent.values() if p.key[1:3] == (self.game, self.round)]

    def _entry_key(self, entry: dict[str, Any]) -> BatchKey:
        last_t = round(entry["points"][-1][2]) if entry["points"] else -1
        return (entry["player_id"], self.game, self.round, entry["stroke"], last_t)

    def _on_round_started(self, message: dict[str, Any], now: float) -> None:
        self.game = int(message["game"])
        self.round = int(message["round"])
        self.phase = "round"
        self.saw_round_start = True
        self.recognized_now = False
        self.drawer_record = None
        self.sent = {msg_id: p for msg_id, p in self.sent.items() if now - p.sent_at < PENDING_KEEP_S}
        self.last_batch_at = self.last_guess_at = self.pen_up_at = None
        self.round_started_at = now
        server_now_ms = time.time() * 1000 + self.clock_offset_ms
        self.round_ends_at = now + (float(message["ends_at"]) - server_now_ms) / 1000
        if self.role == "host":
            self.ledger.round_started(self.round_key(), now)
        if self.role != "spectator" and self.player_id in message.get("drawers", ()):
            self._side_task(self._draw(self.game, self.round, str(message["word"])))

    def _on_round_ended(self, message: dict[str, Any], now: float) -> None:
        key = self.round_key()
        if self.role == "host":
            self.ledger.round_ended(key, now)
            self.tally.rounds_played += 1
        self._finish_pen_up(now)
        for result in message.get("results") or []:
            if result.get("recognized"):
                self.ledger.recognized_announced(key, result["player_id"])
            if result.get("player_id") == self.player_id and self.drawer_record is not None:
                self.drawer_record.recognized = self.drawer_record.recognized or bool(
                    result.get("recognized")
                )
                self.drawer_record.outcome_known = True
        self.phase = "round_results"

    def _on_recognized(self, message: dict[str, Any], now: float) -> None:
        self.ledger.recognized_seen(self.round_key(), message["player_id"], self.name)
        if message["player_id"] != self.player_id:
            return
        self._mark_recognized()
        self.tally.latency["recognition_elapsed"].append(float(message.get("elapsed_ms", 0)))
        if self.saw_round_start:
            self.tally.latency["recognition_client"].append((now - self.round_started_at) * 1000)

    def _mark_recognized(self) -> None:
        self.recognized_now = True
        if self.drawer_record is not None:
            self.drawer_record.recognized = True
            self.drawer_record.outcome_known = True

    def _on_guess(self, message: dict[str, Any], now: float) -> None:
        self.tally.guesses_received += 1
        if message.get("player_id") != self.player_id or message.get("round") != self.round:
            return
        if self.phase != "round":
            return
        if self.last_batch_at is not None:
            latency_ms = (now - self.last_batch_at) * 1000
            self.tally.latency["stroke_to_guess"].append(latency_ms)
            if self.last_batch_unthrottled:
                self.tally.latency["stroke_to_guess_unthrottled"].append(latency_ms)
        self.last_guess_at = now
        if self.pen_up_at is not None:
            self.pen_up_answer = now

    def _on_stroke_relay(self, message: dict[str, Any], now: float) -> None:
        self.tally.relays_received += 1
        if self.role != "spectator" or not message.get("points"):
            return
        key = (
            message["player_id"],
            self.game,
            message["round"],
            message["stroke"],
            round(message["points"][-1][2]),
        )
        sent_at = self.ledger.relay_seen(key, self.name)
        if sent_at is not None:
            self.tally.latency["stroke_to_relay"].append((now - sent_at) * 1000)

    # ------------------------------------------------------------------ drawing

    async def _draw(self, game: int, round_number: int, word: str) -> None:
        """Replay real drawings of the word (or of another word) until recognized or out of time."""
        library = self.fleet.library
        record = DrawerRound(self.name, self.room_code, game, round_number, right_word=not self.draws_wrong)
        self.drawer_record = record
        self.ledger.drawer_rounds.append(record)
        self.tally.drawing_now += 1
        try:
            start_ms = self.rng.uniform(*REACTION_MS)
            first_stroke = 0
            while first_stroke < MAX_STROKES:
                if self.draws_wrong:
                    drawing = library.pick_other(word, self.rng, self.fleet.words)
                else:
                    drawing = library.pick(word, self.rng)
                strokes = fit_to_canvas(drawing.strokes, self.fleet.options.canvas, self.rng)
                plan = plan_batches(
                    strokes,
                    start_ms=start_ms,
                    first_stroke=first_stroke,
                    interval_ms=self.fleet.options.batch_ms,
                )
                for batch in plan:
                    if batch.stroke >= MAX_STROKES or not await self._wait_to_send(batch, game, round_number):
                        return
                    await self._send_stroke(batch, game, round_number)
                first_stroke += len(strokes)
                start_ms = plan[-1].send_at_ms + self.rng.uniform(*RETRY_PAUSE_MS)
        finally:
            self.tally.drawing_now -= 1

    async def _wait_to_send(self, batch: Batch, game: int, round_number: int) -> bool:
        """Sleep until the batch is due; False when the bot should stop drawing instead."""
        due = self.round_started_at + batch.send_at_ms / 1000
        if due > self.round_ends_at - STOP_BEFORE_DEADLINE_S:
            return False
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        if not self.connected.is_set():
            remaining = self.round_ends_at - STOP_BEFORE_DEADLINE_S - time.monotonic()
            try:
                await asyncio.wait_for(self.connected.wait(), max(0.0, remaining))
            except TimeoutError:
                return False
        return (
            not self.finished
            and self.game == game
            and self.round == round_number
            and self.phase == "round"
            and not self.recognized_now
        )

    async def _send_stroke(self, batch: Batch, game: int, round_number: int, *, resend: bool = False) -> None:
        msg_id = next(self.ids)
        key: BatchKey = (self.player_id, game, round_number, batch.stroke, batch.last_t)
        now = time.monotonic()
        if not resend:
            self._finish_pen_up(now)
            # Could the server judge this batch at once? Yes for a pen-up (never held back), and for
            # a batch after a quiet spell of one guess interval (see report.py, stroke_to_guess_unthrottled).
            interval = self.fleet.options.guess_interval_ms / 1000
            self.last_batch_unthrottled = batch.end or all(
                last is None or now - last >= interval for last in (self.last_batch_at, self.last_guess_at)
            )
        self.sent[msg_id] = PendingStroke(msg_id, key, batch, now, self.round_ends_at)
        self.ledger.batch_sent(key, self.room_code, self.name, self.room.spectators, now)
        self.tally.strokes_sent += 1
        if self.drawer_record is not None:
            self.drawer_record.batches += 1
        self.last_batch_at = now
        if batch.end:
            self.pen_up_at, self.pen_up_answer = now, None
        message = {
            "type": "stroke",
            "id": msg_id,
            "game": game,
            "round": round_number,
            "stroke": batch.stroke,
            "points": batch.wire_points(),
            "end": batch.end,
        }
        try:
            await self.send(message)
        except ConnectionClosed:
            # The read loop handles the drop; this batch waits for the resume to settle it.
            self.ledger.put_in_doubt([key])

    def _finish_pen_up(self, now: float) -> None:
        """Close the pause after a pen-up: it yields a ``pen_up_to_guess`` sample (see report.py)."""
        if self.pen_up_at is None:
            return
        if now - self.pen_up_at >= PEN_UP_MIN_GAP_S:
            if self.pen_up_answer is not None:
                self.tally.latency["pen_up_to_guess"].append((self.pen_up_answer - self.pen_up_at) * 1000)
            else:
                self.tally.pen_up_unanswered += 1
        self.pen_up_at = self.pen_up_answer = None
