"""The bots' command line: ``doodle-party bots`` flags, read once into one ``BotOptions``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from server.bots.replay import BATCH_INTERVAL_MS, DEFAULT_CANVAS

__all__ = ["BotOptions", "configure_parser", "options_from_args"]

# Protocol limits the options must respect (docs/protocol.md).
MAX_PLAYERS = 16
MAX_SPECTATORS = 64
MAX_ROUNDS = 20


@dataclass(frozen=True, slots=True)
class BotOptions:
    """One bots run.

    Attributes:
        urls: gateways to connect to; the bots of each room are spread over them in turn.
        rooms: rooms to fill.
        players: players per room, the host included (all of them draw).
        spectators: spectators per room.
        duration_s: hosts rematch until this much time has passed since the start; 0 plays one game.
        rounds, round_seconds, results_seconds, words, show_drawings: the room settings the hosts use
            (None: the server's default).
        archive: rooms archive their drawings and every bot consents in ``hello``: fills the
            server's drawing archive with the replayed drawings (to exercise or seed it).
        stagger_s: each host starts its first game after a random delay of up to this long, so rooms
            do not all start their rounds at the same moment (real parties do not).
        wrong_share: share of players that draw something other than the round's word.
        churn: share of bots (hosts excepted) that drop their connection now and then and resume.
        churn_interval_s: mean time between two drops of a churning bot.
        churn_pause_s: how long a dropped bot stays away before it resumes.
        ramp: new connections per second.
        msgpack: speak msgpack instead of JSON.
        batch_ms: the phone's flush timer.
        guess_interval_ms: the server's least time between two guesses of a player (its
            ``guess_interval_ms`` setting), to tell held-back guesses from prompt ones.
        canvas: the canvas bots declare in hello.
        data_dir: Quick, Draw! data to replay; None looks in the usual places (server.bots.library).
        json_path: where to write the JSON report.
        seed: randomness, for a reproducible run.
        progress: print a progress line every second to stderr.
    """

    urls: tuple[str, ...] = ("ws://127.0.0.1:8765/",)
    rooms: int = 4
    players: int = 4
    spectators: int = 1
    duration_s: float = 30.0
    rounds: int = 3
    round_seconds: int = 20
    results_seconds: int | None = None
    words: tuple[str, ...] | None = None
    show_drawings: bool = True
    archive: bool = False
    stagger_s: float = 10.0
    wrong_share: float = 0.1
    churn: float = 0.0
    churn_interval_s: float = 10.0
    churn_pause_s: float = 0.5
    ramp: float = 100.0
    msgpack: bool = False
    batch_ms: int = BATCH_INTERVAL_MS
    guess_interval_ms: float = 150.0
    canvas: tuple[int, int] = DEFAULT_CANVAS
    data_dir: Path | None = None
    json_path: Path | None = None
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        checks = [
            (bool(self.urls), "give at least one --url"),
            (all(url.startswith(("ws://", "wss://")) for url in self.urls), "--url must be ws:// or wss://"),
            (self.rooms >= 1, "--rooms must be at least 1"),
            (1 <= self.players <= MAX_PLAYERS, f"--players must be 1..{MAX_PLAYERS}"),
            (0 <= self.spectators <= MAX_SPECTATORS, f"--spectators must be 0..{MAX_SPECTATORS}"),
            (self.duration_s >= 0, "--duration must be >= 0"),
            (self.stagger_s >= 0, "--stagger must be >= 0"),
            (1 <= self.rounds <= MAX_ROUNDS, f"--rounds must be 1..{MAX_ROUNDS}"),
            (5 <= self.round_seconds <= 120, "--round-seconds must be 5..120"),
            (self.results_seconds is None or 1 <= self.results_seconds <= 60, "--results-seconds: 1..60"),
            (self.words is None or self.rounds <= len(self.words), "--rounds cannot exceed the words"),
            (0.0 <= self.wrong_share <= 1.0, "--wrong-share must be 0..1"),
            (0.0 <= self.churn <= 1.0, "--churn must be 0..1"),
            (self.churn_interval_s > 0 and self.churn_pause_s >= 0, "churn interval/pause out of range"),
            (self.ramp > 0, "--ramp must be > 0"),
            (10 <= self.batch_ms <= 1000, "--batch-ms must be 10..1000"),
            (self.guess_interval_ms >= 0, "--guess-interval-ms must be >= 0"),
            (all(1 <= side <= 10_000 for side in self.canvas), "--canvas sides must be 1..10000"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def results_pause_s(self) -> int:
        return self.results_seconds if self.results_seconds is not None else 5

    def room_settings(self, words: tuple[str, ...]) -> dict[str, object]:
        """The ``settings`` of the hosts' ``create_room``."""
        settings: dict[str, object] = {
            "rounds": self.rounds,
            "round_seconds": self.round_seconds,
            "words": list(words),
            "max_players": max(8, self.players),
            "max_spectators": max(32, self.spectators),
            "show_drawings": self.show_drawings,
        }
        if self.archive:
            settings["archive"] = True
        if self.results_seconds is not None:
            settings["results_seconds"] = self.results_seconds
        return settings


def _canvas(text: str) -> tuple[int, int]:
    width, _, height = text.lower().partition("x")
    try:
        return int(width), int(height)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, got {text!r}") from None


def configure_parser(p: argparse.ArgumentParser) -> None:
    """Add the ``doodle-party bots`` flags."""
    defaults = BotOptions()
    p.description = "Play whole games against a running server with bots that replay real drawings."
    p.add_argument(
        "--url",
        action="append",
        help="gateway URL; repeat (or comma-separate) to spread bots (default ws://127.0.0.1:8765/)",
    )
    p.add_argument("--rooms", type=int, default=defaults.rooms, help="rooms (default %(default)s)")
    p.add_argument(
        "--players",
        type=int,
        default=defaults.players,
        help="players per room, host included (default %(default)s)",
    )
    p.add_argument(
        "--spectators",
        type=int,
        default=defaults.spectators,
        help="spectators per room (default %(default)s)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=defaults.duration_s,
        help="keep playing games (the hosts rematch) until this many seconds have passed since the start; "
        "the game in progress then finishes, so a run lasts at least one whole game; 0: one game "
        "(default %(default)s)",
    )
    p.add_argument(
        "--rounds", type=int, default=defaults.rounds, help="rounds per game (default %(default)s)"
    )
    p.add_argument(
        "--round-seconds",
        type=int,
        default=defaults.round_seconds,
        help="drawing time per round, seconds (default %(default)s)",
    )
    p.add_argument("--results-seconds", type=int, help="pause after each round (server default 5)")
    p.add_argument("--words", help="comma-separated words (default: the 20 default words)")
    p.add_argument(
        "--stagger",
        type=float,
        default=defaults.stagger_s,
        help="spread first game starts over this many seconds (default %(default)s)",
    )
    p.add_argument("--hide-drawings", action="store_true", help="rooms with show_drawings false")
    p.add_argument("--archive", action="store_true", help="rooms that archive drawings, every bot consenting")
    p.add_argument(
        "--wrong-share",
        type=float,
        default=defaults.wrong_share,
        help="share of players drawing the wrong thing (default %(default)s)",
    )
    p.add_argument(
        "--churn",
        type=float,
        default=defaults.churn,
        help="share of bots that drop and resume (default %(default)s)",
    )
    p.add_argument(
        "--churn-interval",
        type=float,
        default=defaults.churn_interval_s,
        help="mean seconds between drops (default %(default)s)",
    )
    p.add_argument(
        "--churn-pause",
        type=float,
        default=defaults.churn_pause_s,
        help="seconds away per drop (default %(default)s)",
    )
    p.add_argument(
        "--ramp", type=float, default=defaults.ramp, help="new connections per second (default %(default)s)"
    )
    p.add_argument("--msgpack", action="store_true", help="speak msgpack (default JSON)")
    p.add_argument(
        "--batch-ms",
        type=int,
        default=defaults.batch_ms,
        help="stroke flush interval, ms (default %(default)s)",
    )
    p.add_argument(
        "--guess-interval-ms",
        type=float,
        default=defaults.guess_interval_ms,
        help="the server's guess interval (default 150, as DOODLE_GUESS_INTERVAL_MS)",
    )
    p.add_argument("--canvas", type=_canvas, default=defaults.canvas, help="WIDTHxHEIGHT (default 390x844)")
    p.add_argument("--data", type=Path, help="Quick, Draw! data directory (default: see docs/bots.md)")
    p.add_argument(
        "--json",
        type=Path,
        dest="json_path",
        help="also write the report as JSON to this file (default: printed only)",
    )
    p.add_argument("--seed", type=int, default=defaults.seed, help="random seed (default %(default)s)")
    p.add_argument("--quiet", action="store_true", help="no progress line")


def options_from_args(args: argparse.Namespace) -> BotOptions:
    """Read the parsed flags.

    Raises:
        ValueError: a flag is out of range (the message says which).
    """
    urls = tuple(url.strip() for given in (args.url or []) for url in given.split(",") if url.strip())
    words = tuple(word.strip() for word in args.words.split(",") if word.strip()) if args.words else None
    return BotOptions(
        urls=urls or BotOptions().urls,
        rooms=args.rooms,
        players=args.players,
        spectators=args.spectators,
        duration_s=args.duration,
        rounds=args.rounds,
        round_seconds=args.round_seconds,
        results_seconds=args.results_seconds,
        words=words,
        stagger_s=args.stagger,
        show_drawings=not args.hide_drawings,
        archive=args.archive,
        wrong_share=args.wrong_share,
        churn=args.churn,
        churn_interval_s=args.churn_interval,
        churn_pause_s=args.churn_pause,
        ramp=args.ramp,
        msgpack=args.msgpack,
        batch_ms=args.batch_ms,
        guess_interval_ms=args.guess_interval_ms,
        canvas=args.canvas,
        data_dir=args.data,
        json_path=args.json_path,
        seed=args.seed,
        progress=not args.quiet,
    )
