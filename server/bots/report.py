"""The numbers of a bots run: running tallies, latency percentiles, and the final report.

Latencies (all in ms, measured on the bots' one monotonic clock):

- ``stroke_to_guess``: for each ``guess`` a drawer receives about itself, the time since that drawer
  sent its newest stroke batch of the round. A guess does not say which batch it answers, so this is
  exact when it answers the newest batch and a lower bound when it answers an older one (the newest
  batch left while the guess was on its way). It includes the server's deliberate hold-back: a
  player's guesses are at least ``guess_interval_ms`` (150 ms) apart, so a batch that comes soon
  after a guess waits for the next slot.
- ``stroke_to_guess_unthrottled``: the same samples, kept only when the newest batch was one the
  server may judge at once: a pen-up (finished strokes skip the hold-back), or a batch sent at least
  one guess interval after both the drawer's previous batch and its previous guess. This is the
  server's own latency (queueing, model, delivery) without the designed-in wait.
- ``pen_up_to_guess``: for each pen-up (a batch with ``end: true``) followed by a pause of at least
  ``PEN_UP_MIN_GAP_S`` before the drawer's next batch, the time to the *last* guess that arrived in
  that pause. The server recognizes every finished stroke at once and never delivers an older guess
  after a newer one, and nothing newer was sent in the pause, so that guess answers the pen-up: this
  one includes queueing and the guess rate limit. A pause with no guess at all is counted in
  ``pen_up_unanswered`` (its answer took longer than the pause).
- ``stroke_to_relay``: from a drawer sending a batch to a spectator of the room receiving its
  ``stroke`` relay (matched by player, game, round, stroke and the batch's last ``t``).
- ``recognition_elapsed``: the server's ``elapsed_ms`` of each ``recognized`` (time from round start
  to recognition); ``recognition_client``: from the drawer receiving ``round_started`` to it
  receiving its own ``recognized``.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from server.bots.ledger import Ledger

__all__ = ["LATENCIES", "PEN_UP_MIN_GAP_S", "Report", "Tally", "build_report", "percentiles"]

LATENCIES = (
    "stroke_to_guess",
    "stroke_to_guess_unthrottled",
    "pen_up_to_guess",
    "stroke_to_relay",
    "recognition_elapsed",
    "recognition_client",
)
PEN_UP_MIN_GAP_S = 0.25


def percentiles(samples: list[float]) -> dict[str, float | int | None]:
    """p50, p95, p99, max, mean and count of latency samples (ms, one decimal); None when empty."""
    if not samples:
        return {"count": 0, "p50": None, "p95": None, "p99": None, "max": None, "mean": None}
    values = np.asarray(samples, dtype=np.float64)
    p50, p95, p99 = np.percentile(values, [50, 95, 99])
    return {
        "count": int(values.size),
        "p50": round(float(p50), 1),
        "p95": round(float(p95), 1),
        "p99": round(float(p99), 1),
        "max": round(float(values.max()), 1),
        "mean": round(float(values.mean()), 1),
    }


@dataclass
class Tally:
    """Running numbers, updated by the bots and read by the progress line and the report."""

    bots: int = 0
    connected: int = 0
    drawing_now: int = 0
    messages_sent: int = 0
    messages_received: int = 0
    strokes_sent: int = 0
    relays_received: int = 0
    guesses_received: int = 0
    games_started: int = 0
    games_completed: int = 0
    rounds_played: int = 0
    disconnects: int = 0
    disconnect_reasons: Counter[str] = field(default_factory=Counter)
    churn_drops: int = 0
    resumes: int = 0
    resent_strokes: int = 0
    pen_up_unanswered: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    drawing_samples: list[int] = field(default_factory=list)
    latency: dict[str, list[float]] = field(default_factory=lambda: {name: [] for name in LATENCIES})

    def error(self, code: str, detail: str = "") -> None:
        """An error the run did not expect (it fails the run); the first few are kept with details."""
        self.errors[code] += 1
        if len(self.error_examples) < 10:
            self.error_examples.append(f"{code}: {detail}" if detail else code)

    def fail(self, what: str) -> None:
        """Something a bot could not do (join, start, finish a game): fails the run."""
        self.failures.append(what)


@dataclass(frozen=True)
class Report:
    """The final report (``--json`` writes ``to_dict()``; ``render()`` is for people)."""

    ok: bool
    duration_s: float
    settings: dict[str, Any]
    bots: int
    rooms: int
    games_started: int
    games_completed: int
    rounds_played: int
    errors: int
    errors_by_code: dict[str, int]
    error_examples: list[str]
    late_strokes: int
    disconnects: int
    disconnect_reasons: dict[str, int]
    churn_drops: int
    resumes: int
    recognition_rate: float | None
    recognized_drawers: int
    right_word_drawers: int
    false_recognitions: int
    drawing_players: dict[str, float]
    messages: dict[str, float]
    strokes: dict[str, int]
    lost: dict[str, int]
    lost_examples: list[str]
    failures: list[str]
    latency_ms: dict[str, dict[str, float | int | None]]
    anomalies: dict[str, int]
    anomaly_examples: list[str]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def render(self) -> str:
        """A few lines for a terminal."""
        lat = self.latency_ms

        def line(name: str) -> str:
            stats = lat[name]
            if not stats["count"]:
                return f"  {name:<20} no samples"
            return (
                f"  {name:<20} p50 {stats['p50']:>7} p95 {stats['p95']:>7} p99 {stats['p99']:>7}"
                f" max {stats['max']:>7} ms  (n={stats['count']})"
            )

        rate = "n/a" if self.recognition_rate is None else f"{self.recognition_rate:.1%}"
        lines = [
            f"{'OK' if self.ok else 'FAILED'}: {self.bots} bots in {self.rooms} rooms"
            f" for {self.duration_s:.1f}s",
            f"  games {self.games_completed}/{self.games_started} completed, {self.rounds_played} rounds;"
            f" drawing players mean {self.drawing_players['mean']:.0f},"
            f" max {self.drawing_players['max']:.0f}",
            f"  recognition rate {rate} ({self.recognized_drawers}/{self.right_word_drawers} right-word"
            f" drawers), false recognitions {self.false_recognitions}",
            f"  strokes sent {self.strokes['sent']}, relays received {self.strokes['relays_received']},"
            f" late {self.late_strokes}, resent {self.strokes['resent']}",
            f"  messages/s sent {self.messages['sent_per_s']:.0f},"
            f" received {self.messages['received_per_s']:.0f}",
            f"  errors {self.errors} {self.errors_by_code or ''}, disconnects {self.disconnects}"
            f" {self.disconnect_reasons or ''},"
            f" churn drops {self.churn_drops}, resumes {self.resumes}",
            f"  lost strokes {self.lost['strokes']}, lost recognitions {self.lost['recognitions']},"
            f" unconfirmed strokes {self.lost['unconfirmed_strokes']}",
            *(line(name) for name in LATENCIES),
        ]
        lines += [f"  failure: {text}" for text in self.failures[:20]]
        lines += [f"  error: {text}" for text in self.error_examples[:10]]
        lines += [f"  lost: {text}" for text in self.lost_examples[:10]]
        if self.anomalies:
            lines.append(f"  anomalies: {self.anomalies}")
            lines += [f"  anomaly: {text}" for text in self.anomaly_examples[:5]]
        return "\n".join(lines)


def build_report(
    tally: Tally, ledger: Ledger, *, rooms: int, duration_s: float, settings: dict[str, Any]
) -> Report:
    """Settle the ledger and turn the tallies into the report.

    The run is ``ok`` when every room completed every game it started (and started at least one),
    nothing was lost, no error came back other than strokes racing a round's end, and no bot failed.
    """
    losses = ledger.losses()
    late = [rejection for rejection in ledger.rejections if ledger.late_rejection(rejection)]
    errors = Counter(tally.errors)
    error_examples = list(tally.error_examples)
    for rejection in ledger.rejections:
        if not ledger.late_rejection(rejection):
            errors[rejection.code] += 1
            if len(error_examples) < 20:
                span = ledger.timeline.get((rejection.room, rejection.game, rejection.round))
                before_end = f"{span[1] - rejection.answered_at:.2f}s" if span else "?"
                error_examples.append(
                    f"{rejection.code}: stroke batch in room {rejection.room} game {rejection.game} round"
                    f" {rejection.round} refused {before_end} before the host saw the round end"
                )
    right = [d for d in ledger.drawer_rounds if d.right_word and d.batches and d.outcome_known]
    recognized = sum(1 for d in right if d.recognized)
    false = sum(1 for d in ledger.drawer_rounds if not d.right_word and d.recognized)
    samples = tally.drawing_samples or [0]
    error_total = sum(errors.values())
    ok = (
        tally.games_started >= rooms
        and tally.games_completed == tally.games_started
        and losses.strokes == 0
        and losses.recognitions == 0
        and error_total == 0
        and not tally.failures
    )
    return Report(
        ok=ok,
        duration_s=round(duration_s, 2),
        settings=settings,
        bots=tally.bots,
        rooms=rooms,
        games_started=tally.games_started,
        games_completed=tally.games_completed,
        rounds_played=tally.rounds_played,
        errors=error_total,
        errors_by_code=dict(errors),
        error_examples=error_examples,
        late_strokes=len(late),
        disconnects=tally.disconnects,
        disconnect_reasons=dict(tally.disconnect_reasons),
        churn_drops=tally.churn_drops,
        resumes=tally.resumes,
        recognition_rate=round(recognized / len(right), 4) if right else None,
        recognized_drawers=recognized,
        right_word_drawers=len(right),
        false_recognitions=false,
        drawing_players={"mean": round(float(np.mean(samples)), 1), "max": float(max(samples))},
        messages={
            "sent": tally.messages_sent,
            "received": tally.messages_received,
            "sent_per_s": round(tally.messages_sent / max(duration_s, 1e-9), 1),
            "received_per_s": round(tally.messages_received / max(duration_s, 1e-9), 1),
        },
        strokes={
            "sent": tally.strokes_sent,
            "relays_received": tally.relays_received,
            "resent": tally.resent_strokes,
            "rejected": len(ledger.rejections),
            "pen_up_unanswered": tally.pen_up_unanswered,
        },
        lost={
            "strokes": losses.strokes,
            "recognitions": losses.recognitions,
            "unconfirmed_strokes": losses.unconfirmed_strokes,
        },
        lost_examples=list(losses.examples),
        failures=list(tally.failures),
        latency_ms={name: percentiles(tally.latency[name]) for name in LATENCIES},
        anomalies=dict(ledger.anomalies),
        anomaly_examples=list(ledger.anomaly_examples),
    )
