"""Jobs and results as msgpack on the Redis streams (server/recognition/keys.py), and back."""

from __future__ import annotations

import msgpack
import numpy as np
import structlog

from inference.recognize import as_points
from server.recognition.jobs import RecognitionJob, RecognitionResult

log = structlog.get_logger("server.recognition")

# Wire format of jobs and results on the streams; bumped on an incompatible change.
WIRE_VERSION = 1


def encode_request(request: RecognitionJob) -> bytes:
    """A request as msgpack for `doodle:jobs`. Strokes travel as float32 x, y bytes (time is not used
    by the model), 8 bytes a point instead of ~27 for msgpack floats."""
    strokes = []
    for stroke in request.strokes:
        points = as_points(stroke)
        strokes.append(np.ascontiguousarray(points[:, :2]).tobytes())
    data: bytes = msgpack.packb(
        {
            "v": WIRE_VERSION,
            "id": request.job_id,
            "gw": request.gateway_id,
            "room": request.room_code,
            "player": request.player_id,
            "round": request.round,
            "game": request.game,
            "target": request.target_word,
            "strokes": strokes,
            "canvas": list(request.canvas) if request.canvas is not None else None,
            "deciding": request.deciding,
            "at": request.submitted_at,
            "threshold": request.threshold,
        }
    )
    return data


def decode_request(data: bytes) -> RecognitionJob:
    """Inverse of `encode_request`.

    Raises:
        ValueError: not a job of this wire version.
    """
    try:
        raw = msgpack.unpackb(data)
        if raw.get("v") != WIRE_VERSION:
            raise ValueError(f"job wire version {raw.get('v')!r}, expected {WIRE_VERSION}")
        canvas = raw["canvas"]
        return RecognitionJob(
            job_id=str(raw["id"]),
            gateway_id=str(raw["gw"]),
            room_code=str(raw["room"]),
            player_id=str(raw["player"]),
            round=int(raw["round"]),
            target_word=raw["target"],
            strokes=[np.frombuffer(stroke, dtype=np.float32).reshape(-1, 2) for stroke in raw["strokes"]],
            canvas=(float(canvas[0]), float(canvas[1])) if canvas is not None else None,
            deciding=bool(raw["deciding"]),
            submitted_at=float(raw["at"]),
            threshold=None if raw["threshold"] is None else float(raw["threshold"]),
            game=int(raw.get("game", 0)),
        )
    except (KeyError, TypeError, IndexError, AttributeError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed job: {exc!r}") from exc


def encode_result(result: RecognitionResult, worker: str = "") -> bytes:
    """A result as msgpack for `doodle:results:{gateway_id}`; `worker` names who made it (for logs)."""
    data: bytes = msgpack.packb(
        {
            "v": WIRE_VERSION,
            "by": worker,
            "id": result.job_id,
            "room": result.room_code,
            "player": result.player_id,
            "round": result.round,
            "game": result.game,
            "guesses": [[label, score] for label, score in result.guesses],
            "target_score": result.target_score,
            "recognized": result.recognized,
            "at": result.submitted_at,
            "done": result.finished_at,
        }
    )
    return data


def decode_result(data: bytes) -> RecognitionResult:
    """Inverse of `encode_result`.

    Raises:
        ValueError: not a result of this wire version.
    """
    try:
        raw = msgpack.unpackb(data)
        if raw.get("v") != WIRE_VERSION:
            raise ValueError(f"result wire version {raw.get('v')!r}, expected {WIRE_VERSION}")
        return RecognitionResult(
            job_id=str(raw["id"]),
            room_code=str(raw["room"]),
            player_id=str(raw["player"]),
            round=int(raw["round"]),
            guesses=[(str(label), float(score)) for label, score in raw["guesses"]],
            target_score=None if raw["target_score"] is None else float(raw["target_score"]),
            recognized=bool(raw["recognized"]),
            submitted_at=float(raw["at"]),
            finished_at=float(raw["done"]),
            game=int(raw.get("game", 0)),
        )
    except (KeyError, TypeError, IndexError, AttributeError, msgpack.UnpackException) as exc:
        raise ValueError(f"malformed result: {exc!r}") from exc
