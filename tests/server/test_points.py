"""Stroke points as the server reads them: every number checked, whole batches at once."""

from __future__ import annotations

import json

import msgpack
import pytest

from server.messages import MAX_NESTING, BadMessage, OutOfCanvas, decode_frame, parse_client_message

CANVAS = (400.0, 300.0)


def _stroke(points: object) -> dict[str, object]:
    return {"type": "stroke", "round": 1, "stroke": 0, "points": points, "end": False}


def test_pairs_and_triples_mix_and_pairs_get_time_zero() -> None:
    """[x, y] and [x, y, t] may share a batch; integers become floats."""
    batch = parse_client_message(_stroke([[1, 2], [3.5, 4, 16], [5, 6]]), CANVAS)
    assert batch.points == ((1.0, 2.0, 0.0), (3.5, 4.0, 16.0), (5.0, 6.0, 0.0))
    assert all(type(value) is float for point in batch.points for value in point)
    assert parse_client_message(_stroke([]), CANVAS).points == ()


@pytest.mark.parametrize(
    "points",
    [
        [[1, 2, True]],  # a bool is not a number, although Python's bool is an int
        [[1, 2, 0, 0]],
        [[1]],
        [[1, 2, None]],
        [[1, "2", 0]],
        [[1, 2, float("nan")]],
        [[1, float("inf"), 0]],
        [[10**400, 2, 0]],  # JSON integers have no size limit; too large for a float is bad
        [(1, 2, 0), {"x": 1}],
        [[1, 2, -1]],
        [[1, 2, 3_600_001]],
        "not a list",
    ],
)
def test_anything_but_finite_number_points_is_a_bad_message(points: object) -> None:
    with pytest.raises(BadMessage) as raised:
        parse_client_message(_stroke(points), CANVAS)
    assert not isinstance(raised.value, OutOfCanvas)


def test_out_of_canvas_names_the_first_point_outside() -> None:
    """5% slack beyond each edge; the error names the point that left it."""
    inside = [[-19, -14, 0], [419, 314, 5]]
    assert len(parse_client_message(_stroke(inside), CANVAS).points) == 2
    with pytest.raises(OutOfCanvas, match=r"\(421, 10\)"):
        parse_client_message(_stroke([*inside, [421, 10, 9], [500, 10, 9]]), CANVAS)
    with pytest.raises(OutOfCanvas, match=r"\(10, -16\)"):
        parse_client_message(_stroke([[10, -16]]), CANVAS)


def test_a_huge_integer_anywhere_is_a_bad_message_not_an_exception() -> None:
    """Values of a shape no field check foresaw still come back as BadMessage (never a 1011)."""
    hello = decode_frame(json.dumps({"type": "hello", "name": "x", "canvas": [10**400, 5]}))[0]
    with pytest.raises(BadMessage):
        parse_client_message(hello)
    recognize = {"type": "recognize", "strokes": [[[1, 2, 0]]], "canvas": [5, 10**400]}
    with pytest.raises(BadMessage):
        parse_client_message(recognize)


@pytest.mark.parametrize("depth", [MAX_NESTING, MAX_NESTING + 1])
def test_nesting_is_counted_in_any_field_and_mixed_levels(depth: int) -> None:
    """The depth limit holds for containers beside scalars, in maps and lists alike."""
    value: object = 1
    for level in range(depth - 1):
        value = [3, value, "x"] if level % 2 else {"a": value, "b": 2}
    frame = msgpack.packb({"type": "ping", "extra": value, "points": [[1, 2, 0]] * 50})
    if depth > MAX_NESTING:
        with pytest.raises(BadMessage):
            decode_frame(frame)
    else:
        assert decode_frame(frame)[0]["type"] == "ping"
