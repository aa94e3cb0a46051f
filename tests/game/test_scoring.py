"""points_for: the rule, its edges, and the worked table in docs/scoring.md."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from game.scoring import points_for

SCORING_DOC = Path(__file__).resolve().parents[2] / "docs" / "scoring.md"


def test_first_and_fast_scores_most() -> None:
    """Instant first recognition: 100 speed + 50 bonus."""
    assert points_for(1, 0, 20_000) == 150


def test_rank_bonus_fades_after_fourth() -> None:
    """Same time, different ranks: 50/30/15/5, then nothing."""
    assert [points_for(rank, 10_000, 20_000) for rank in range(1, 7)] == [100, 80, 65, 55, 50, 50]


def test_speed_floor_at_the_buzzer() -> None:
    """Recognized at the very end still earns the floor of 10."""
    assert points_for(9, 20_000, 20_000) == 10
    assert points_for(1, 20_000, 20_000) == 60


def test_rounds_half_up_with_integers() -> None:
    """76.5 speed points round to 77, where Python's round() would give 76."""
    assert round(76.5) == 76
    assert points_for(5, 4_700, 20_000) == 77


def test_never_more_for_later() -> None:
    """Points never grow with elapsed time or with rank."""
    for duration in (5_000, 20_000, 120_000):
        for rank in range(1, 7):
            points = [
                points_for(rank, elapsed, duration) for elapsed in range(0, duration + 1, duration // 50)
            ]
            assert points == sorted(points, reverse=True)
        assert all(points_for(r, 3_000, duration) >= points_for(r + 1, 3_000, duration) for r in range(1, 7))


@pytest.mark.parametrize(
    ("rank", "elapsed_ms", "duration_ms"), [(0, 0, 1000), (1, -1, 1000), (1, 1001, 1000), (1, 0, 0)]
)
def test_out_of_range_arguments_raise(rank: int, elapsed_ms: int, duration_ms: int) -> None:
    """Arguments the rules never produce are a bug, not a score."""
    with pytest.raises(ValueError):
        points_for(rank, elapsed_ms, duration_ms)


def test_worked_example_table_in_docs_is_right() -> None:
    """Every row of docs/scoring.md's worked example equals points_for."""
    rows = re.findall(
        r"^\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|\s*(\d+)\s*\|$",
        SCORING_DOC.read_text(encoding="utf-8"),
        flags=re.MULTILINE,
    )
    assert len(rows) >= 10
    for rank, elapsed_ms, duration_ms, speed, bonus, points in (tuple(map(int, row)) for row in rows):
        assert speed + bonus == points
        assert points_for(rank, elapsed_ms, duration_ms) == points
        # the bonus column alone: the same rank's points minus a rank-5 (bonus 0) recognition
        assert points - points_for(max(rank, 5), elapsed_ms, duration_ms) == bonus
