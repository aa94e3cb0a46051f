"""The load-testing bots: replay timing, bookkeeping, the command line, a short run against a real server."""

from __future__ import annotations

import argparse
import asyncio
import random
from pathlib import Path

import numpy as np
import pytest

from inference.formats import DrawingRecord, load_drawings
from server.app import running_server
from server.bots import configure_parser
from server.bots.ledger import Ledger
from server.bots.library import DEFAULT_WORDS, SHIPPED_DATA_DIR, DrawingLibrary
from server.bots.options import BotOptions, options_from_args
from server.bots.replay import (
    DEFAULT_CANVAS,
    MAX_PAUSE_MS,
    MAX_POINTS_PER_BATCH,
    fit_to_canvas,
    plan_batches,
    timed_strokes,
)
from server.bots.report import Tally, build_report, percentiles
from server.bots.runner import run_bots
from server.config import Settings

# Bots' words the shipped model recognizes quickly from their replayed drawings (see the real run).
RELIABLE_WORDS = ("apple", "star", "eyeglasses", "envelope", "lightning", "scissors")


def raw_stroke(xs: list[float], ys: list[float], ts: list[float]) -> np.ndarray:
    return np.array([xs, ys, ts], dtype=np.float32).T


# ---------------------------------------------------------------------------------------------- replay


def test_timed_strokes_keep_real_times_and_shorten_long_pauses() -> None:
    """Raw times are kept; a 9 s pause becomes MAX_PAUSE_MS; equal times are nudged 1 ms apart."""
    strokes = [
        raw_stroke([0, 10, 20], [0, 5, 9], [0, 40, 40]),
        raw_stroke([30, 40], [0, 0], [9040, 9100]),
    ]
    timed = timed_strokes(strokes)
    assert timed[0][:, 2].tolist() == [0, 40, 41]
    assert timed[1][:, 2].tolist() == [41 + MAX_PAUSE_MS, 41 + MAX_PAUSE_MS + 60]
    assert timed[0][:, :2].tolist() == [[0, 0], [10, 5], [20, 9]]


def test_timed_strokes_give_untimed_drawings_a_pen_speed() -> None:
    """A simplified stroke 255 units long takes about 255 ms, sampled at 60 Hz; strokes do not overlap."""
    strokes = [
        np.array([[0, 0], [255, 0]], dtype=np.float32),
        np.array([[0, 50], [0, 100]], dtype=np.float32),
    ]
    first, second = timed_strokes(strokes)
    assert first[-1, 2] == pytest.approx(255, abs=1)
    assert np.all(np.diff(first[:, 2]) > 0) and np.diff(first[:, 2]).max() <= 18
    assert first[-1, :2].tolist() == [255, 0]
    assert second[0, 2] > first[-1, 2] + 200


def test_plan_batches_flush_every_interval_and_end_each_stroke() -> None:
    """Each point leaves at the first tick after it was drawn; the last batch of a stroke says end."""
    rng = np.random.default_rng(0)
    # 700 points within one tick: more than one message may hold.
    long_stroke = np.column_stack(
        [rng.uniform(0, 300, 700), rng.uniform(0, 300, 700), 310 + np.arange(700) * 0.01]
    )
    strokes = [raw_stroke([1, 2, 3, 4], [1, 2, 3, 4], [0, 30, 70, 130]), long_stroke]
    batches = plan_batches(strokes, start_ms=500, interval_ms=50)
    for batch in batches:
        assert batch.send_at_ms % 50 == 0
        assert all(batch.send_at_ms - 50 < t <= batch.send_at_ms for _x, _y, t in batch.points)
        assert len(batch.points) <= MAX_POINTS_PER_BATCH
    first = [b for b in batches if b.stroke == 0]
    assert [b.send_at_ms for b in first] == [500, 550, 600, 650]
    assert [b.end for b in first] == [False, False, False, True]
    second = [b for b in batches if b.stroke == 1]
    assert [len(b.points) for b in second] == [512, 188] and [b.end for b in second] == [False, True]
    assert [b.send_at_ms for b in batches] == sorted(b.send_at_ms for b in batches)


def test_fit_to_canvas_places_the_drawing_on_the_phone() -> None:
    """The drawing keeps its shape and times, fills 60-90% of the width and stays inside the canvas."""
    library = DrawingLibrary.load(SHIPPED_DATA_DIR, ["cloud"])
    drawing = library.pick("cloud", random.Random(1))
    width, height = DEFAULT_CANVAS
    for seed in range(20):
        placed = fit_to_canvas(drawing.strokes, DEFAULT_CANVAS, random.Random(seed))
        xy = np.concatenate([s[:, :2] for s in placed])
        assert xy.min() >= 0 and xy[:, 0].max() <= width and xy[:, 1].max() <= height
        assert 0.59 * width <= max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1])) <= 0.91 * width
        assert [s[:, 2].tolist() for s in placed] == [s[:, 2].tolist() for s in drawing.strokes]


def test_shipped_drawings_are_small_real_and_timed() -> None:
    """server/bots_data: at most 2 raw drawings for each default word, with real timing, under 300 KB."""
    files = sorted((SHIPPED_DATA_DIR / "raw").glob("*.ndjson"))
    assert sum(path.stat().st_size for path in files) < 300_000
    library = DrawingLibrary.load(SHIPPED_DATA_DIR, DEFAULT_WORDS)
    assert set(library.words) == set(DEFAULT_WORDS)
    for word in DEFAULT_WORDS:
        assert 1 <= len(library.drawings[word]) <= 2
        assert all(drawing.real_timing for drawing in library.drawings[word])


# ---------------------------------------------------------------------------------------------- bookkeeping


def test_percentiles() -> None:
    """p50/p95/p99 of 1..100 ms, and None for no samples."""
    stats = percentiles([float(v) for v in range(1, 101)])
    assert (stats["p50"], stats["p95"], stats["p99"], stats["count"]) == (50.5, 95.0, 99.0, 100)
    assert percentiles([])["p99"] is None


def test_ledger_counts_a_stroke_a_spectator_never_saw() -> None:
    """Relayed to one spectator of two: one lost; a rejected batch is never owed."""
    ledger = Ledger()
    ledger.round_started(("ROOM1", 1, 1), 0.0)
    ledger.batch_sent(("p1", 1, 1, 0, 120), "ROOM1", "bot", {"s1", "s2"}, 1.0)
    ledger.batch_sent(("p1", 1, 1, 0, 170), "ROOM1", "bot", {"s1", "s2"}, 1.05)
    assert ledger.relay_seen(("p1", 1, 1, 0, 120), "s1") == 1.0
    ledger.batch_rejected(("p1", 1, 1, 0, 170), "ROOM1", "round_over", 1.05, 1.1)
    ledger.round_ended(("ROOM1", 1, 1), 1.5)
    losses = ledger.losses()
    assert (losses.strokes, losses.recognitions) == (1, 0)
    assert "s2 never got p1 (bot) stroke 0 batch ending t=120" in losses.examples[0]
    assert ledger.late_rejection(ledger.rejections[0])  # answered 0.4 s before the host saw the end
    ledger.batch_rejected(("p1", 1, 1, 0, 10), "ROOM1", "wrong_phase", 0.1, 0.2)
    assert not ledger.late_rejection(ledger.rejections[1])  # refused while the round was open: a fault
    ledger.batch_rejected(("p1", 1, 1, 0, 20), "ROOM1", "round_over", 0.1, 0.3, deadline=0.25)
    assert ledger.late_rejection(ledger.rejections[2])  # answered after the deadline: the server was right
    ledger.batch_rejected(("p1", 1, 1, 0, 30), "ROOM1", "round_over", 0.1, 0.2, deadline=0.5)
    assert not ledger.late_rejection(ledger.rejections[3])  # "round over" before the deadline: a fault


def test_ledger_excuses_a_member_that_was_away_past_the_round() -> None:
    """Away over the round's end: excused. Resumed into the same round: owed (the snapshot has it)."""
    ledger = Ledger()
    ledger.round_started(("ROOM1", 1, 1), 0.0)
    ledger.batch_sent(("p1", 1, 1, 0, 120), "ROOM1", "bot", {"s1"}, 1.0)
    ledger.batch_sent(("p1", 1, 1, 1, 900), "ROOM1", "bot", {"s2"}, 1.5)
    ledger.round_ended(("ROOM1", 1, 1), 5.0)
    away = ledger.outage_started("s1", "ROOM1", 0.9)
    away.end = 7.0
    back = ledger.outage_started("s2", "ROOM1", 1.2)
    back.end, back.resumed_into = 1.8, (1, 1)
    assert ledger.losses().strokes == 1  # s2 resumed into round 1 and its snapshot lacked the batch
    ledger.snapshot_seen([("p1", 1, 1, 1, 900)], "s2")
    assert ledger.losses().strokes == 0


def test_ledger_keeps_dropped_batches_apart_until_a_snapshot_settles_them() -> None:
    """A drawer's batches in doubt after a drop are neither lost nor delivered until settled."""
    ledger = Ledger()
    key = ("p1", 1, 1, 0, 120)
    ledger.batch_sent(key, "ROOM1", "bot", {"s1"}, 1.0)
    ledger.put_in_doubt([key])
    assert ledger.losses().unconfirmed_strokes == 1 and ledger.losses().strokes == 0
    ledger.confirm(key)
    assert ledger.losses().strokes == 1
    ledger.withdraw(key)
    assert ledger.losses().strokes == 0


def test_ledger_counts_a_recognition_that_did_not_reach_everyone() -> None:
    """A recognized seen by two members of three, and one only in the results: three misses in all."""
    ledger = Ledger()
    for member in ("host", "p2", "tv"):
        ledger.joined("ROOM1", member)
    ledger.recognized_seen(("ROOM1", 1, 1), "p_a", "host")
    ledger.recognized_seen(("ROOM1", 1, 1), "p_a", "tv")
    ledger.recognized_announced(("ROOM1", 1, 2), "p_b")
    ledger.recognized_seen(("ROOM1", 1, 2), "p_b", "host")
    assert ledger.losses().recognitions == 3


def test_report_fails_a_run_with_an_unfinished_game() -> None:
    """ok needs every started game completed, nothing lost and no unexpected error."""
    tally = Tally(bots=3, games_started=2, games_completed=1)
    report = build_report(tally, Ledger(), rooms=1, duration_s=10.0, settings={})
    assert not report.ok
    assert build_report(
        Tally(games_started=1, games_completed=1), Ledger(), rooms=1, duration_s=1, settings={}
    ).ok
    data = report.to_dict()
    assert {"games_started", "games_completed", "errors", "disconnects", "recognition_rate", "lost"} <= set(
        data
    )
    assert set(data["latency_ms"]["stroke_to_guess"]) >= {"p50", "p95", "p99"}


# ---------------------------------------------------------------------------------------------- command line


def parse(argv: list[str]) -> BotOptions:
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    return options_from_args(parser.parse_args(argv))


def test_command_line_reads_every_option(tmp_path: Path) -> None:
    """Flags land in BotOptions; --url may repeat or list several gateways."""
    options = parse(
        [
            "--url", "ws://127.0.0.1:1/,ws://127.0.0.1:2/", "--url", "ws://127.0.0.1:3/",
            "--rooms", "5", "--players", "6", "--spectators", "2", "--duration", "12.5", "--stagger", "3",
            "--rounds", "2", "--round-seconds", "9", "--results-seconds", "1", "--words", "apple, cloud",
            "--wrong-share", "0.25", "--churn", "0.5", "--churn-interval", "4", "--ramp", "50",
            "--msgpack", "--hide-drawings", "--archive", "--canvas", "400x700",
            "--json", str(tmp_path / "r.json"), "--data", str(tmp_path), "--seed", "7", "--quiet",
        ]
    )  # fmt: skip
    assert options.urls == ("ws://127.0.0.1:1/", "ws://127.0.0.1:2/", "ws://127.0.0.1:3/")
    assert (options.rooms, options.players, options.spectators, options.duration_s) == (5, 6, 2, 12.5)
    assert options.words == ("apple", "cloud") and options.results_seconds == 1
    assert (options.wrong_share, options.churn, options.churn_interval_s, options.ramp) == (0.25, 0.5, 4, 50)
    assert options.msgpack and not options.show_drawings and not options.progress
    assert options.canvas == (400, 700) and options.seed == 7 and options.stagger_s == 3
    assert options.room_settings(("apple", "cloud"))["show_drawings"] is False
    assert options.archive and options.room_settings(("apple",))["archive"] is True
    assert "archive" not in parse([]).room_settings(("apple",))


@pytest.mark.parametrize(
    "argv",
    [
        ["--players", "17"],
        ["--rounds", "0"],
        ["--round-seconds", "4"],
        ["--wrong-share", "1.5"],
        ["--url", "http://x"],
    ],
)
def test_command_line_refuses_values_the_protocol_refuses(argv: list[str]) -> None:
    """Out-of-range options are refused before any connection is made."""
    with pytest.raises(ValueError):
        parse(argv)


# ---------------------------------------------------------------------------------------------- real run


async def test_bots_play_whole_games_against_a_real_server(redis_url: str, tmp_path: Path) -> None:
    """3 rooms of 3 players + 1 spectator, some churning: games end, drawings recognized, nothing lost;
    with --archive the rooms fill the drawing archive that `train --data` reads."""
    settings = Settings(port=0, redis_url=redis_url, archive_dir=tmp_path, recognition_processes=0)
    async with running_server(settings) as server:
        options = BotOptions(
            urls=(server.url,),
            rooms=3,
            players=3,
            spectators=1,
            duration_s=0,
            stagger_s=0,
            rounds=2,
            round_seconds=7,
            results_seconds=1,
            # Words whose replayed drawings the shipped model recognizes within 7 s: with the bots'
            # default list (book and cup among them) the rate swung between 40% and 80% from run to
            # run, and this test is about the game, not about the model's hardest words.
            words=RELIABLE_WORDS,
            wrong_share=0.1,
            churn=0.25,
            churn_interval_s=3.0,
            churn_pause_s=0.3,
            ramp=200,
            data_dir=SHIPPED_DATA_DIR,
            archive=True,
            progress=False,
        )
        report = await run_bots(options)
        archived: dict[str, list[DrawingRecord]] = {}
        for _ in range(100):  # the archiver writes each finished round off the event loop
            archived = load_drawings(tmp_path) if (tmp_path / "simplified").is_dir() else {}
            if sum(map(len, archived.values())) >= report.rounds_played:
                break
            await asyncio.sleep(0.1)
    assert report.failures == [], report.render()
    assert report.games_started == report.games_completed == 3
    assert report.rounds_played == 6
    assert report.lost == {
        "strokes": 0,
        "recognitions": 0,
        "unconfirmed_strokes": report.lost["unconfirmed_strokes"],
    }
    assert report.errors == 0, report.errors_by_code
    # About 15 right-word drawers in 7 s rounds, some churning: the rate varies by run (0.43-0.88 seen
    # with these words). The model's own rate is measured in docs/model-card.md; this says that the
    # end-to-end path recognizes drawings at all.
    assert report.recognition_rate is not None and report.recognition_rate >= 0.3, report.render()
    assert report.latency_ms["stroke_to_relay"]["count"] > 100
    assert report.latency_ms["stroke_to_guess"]["count"] > 20
    assert report.churn_drops >= 1 and report.resumes == report.churn_drops
    assert report.ok
    # Every round leaves at least one player's drawing; none beyond the 3 players of each round.
    assert report.rounds_played <= sum(map(len, archived.values())) <= 3 * report.rounds_played
    assert set(archived) <= set(DEFAULT_WORDS)
