"""The fake clock moves only when told, and runs what came due in time order."""

from __future__ import annotations

from server.clock import FakeClock


def test_wakeups_run_in_time_order_when_the_clock_reaches_them() -> None:
    """advance() runs each due wake-up once, at its own time; a cancelled one never runs."""
    clock = FakeClock(start=100.0)
    seen: list[tuple[str, float]] = []
    clock.call_at(103.0, lambda: seen.append(("late", clock.now())))
    clock.call_at(101.0, lambda: seen.append(("early", clock.now())))
    clock.call_at(102.0, lambda: seen.append(("cancelled", clock.now()))).cancel()
    clock.advance(0.5)
    assert seen == [] and clock.now() == 100.5
    clock.advance(2.5)
    assert seen == [("early", 101.0), ("late", 103.0)] and clock.now() == 103.0
    clock.advance(10)
    assert len(seen) == 2
