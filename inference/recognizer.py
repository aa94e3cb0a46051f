"""The recognizer the game server calls: live strokes or rasters in, class probabilities out.

The path is normalize -> rasterize -> tensor -> model -> probabilities, each step a plain function
from `inference.simplify`, `inference.rasterize` and `inference.model`; this module only wires them
to one loaded `Checkpoint` and runs one batched forward pass per call.

Two runtimes compute the same network: ONNX Runtime, when the checkpoint's exported graph sits beside
it (`inference.ort`: float32, equal to torch to 1e-5, faster at the small batches a server runs), and
torch otherwise. `runtime="auto"` (the default) takes ONNX Runtime when it can and says why not in
`Recognizer.fallback_reason` (the server logs it as a warning).

`Recognizer.load(None)` serves the shipped checkpoint `inference/checkpoints/doodle345.pt` (all 345
Quick, Draw! words, with the decision rule chosen for it). Should that file be missing (a source tree
where it was deleted), it falls back to the seed model's state_dict at `$DOODLE_SHARED/seed_model/`
(default `../shared/seed_model` beside the repository), 20 classes with the same input recipe, so the
server always has a recognizer.

Thread safety: the model is only read under `torch.inference_mode()`, so one `Recognizer` may be
shared by worker threads. Each call sets no global torch state.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from inference.model import Checkpoint
from inference.ort import OnnxNetwork, OnnxUnavailable
from inference.rasterize import rasterize_batch
from inference.recognize import top_indices
from inference.simplify import normalize_batch

__all__ = [
    "DEFAULT_CHECKPOINT",
    "DOODLENET_DIR",
    "RUNTIMES",
    "SEED_STATE_DICT",
    "Recognizer",
    "rasters_to_tensor",
    "square_rasters",
]

DEFAULT_CHECKPOINT: Path = Path(__file__).resolve().parent / "checkpoints" / "doodle345.pt"

# Same lookup as tests/conftest.py: ../shared beside the repository unless DOODLE_SHARED says otherwise.
_SHARED_DIR = Path(os.environ.get("DOODLE_SHARED", Path(__file__).resolve().parents[2] / "shared"))
SEED_STATE_DICT: Path = _SHARED_DIR / "seed_model" / "quickdraw20_cnn_state_dict.pt"
# ml5's DoodleNet (TensorFlow.js), the 345-word teacher and yardstick (`inference.tfjs`).
DOODLENET_DIR: Path = _SHARED_DIR / "teachers" / "doodlenet"

# "auto": ONNX Runtime when the checkpoint's graph is beside it and matches, else torch.
RUNTIMES = ("auto", "onnxruntime", "torch")


def square_rasters(rasters: np.ndarray) -> np.ndarray:
    """A batch of rasters as (B, H, W), accepting flat (B, H*W) rows.

    Raises:
        ValueError: not a batch of square rasters.
    """
    array = np.asarray(rasters)
    if array.ndim == 2:
        side = math.isqrt(array.shape[1])
        if side * side != array.shape[1]:
            raise ValueError(f"flat rasters of {array.shape[1]} pixels are not square")
        array = array.reshape(-1, side, side)
    if array.ndim != 3 or array.shape[1] != array.shape[2]:
        raise ValueError(f"expected (B, H, W) square rasters, got shape {array.shape}")
    return array


def rasters_to_tensor(rasters: np.ndarray, scale: float = 255.0) -> torch.Tensor:
    """uint8 rasters to the networks' input tensor.

    Args:
        rasters: (B, H, W) or (B, H*W) uint8, white strokes on black.
        scale: divisor that maps pixel values into [0, 1].

    Returns:
        (B, 1, H, W) float32 tensor in channels-last memory order (faster convolutions on CPU).

    Raises:
        ValueError: not a batch of square rasters.
    """
    array = square_rasters(rasters)
    tensor = torch.from_numpy(np.ascontiguousarray(array)).to(torch.float32).div_(scale)
    return tensor.unsqueeze(1).contiguous(memory_format=torch.channels_last)  # (B, 1, H, W)


class Recognizer:
    """One loaded doodle model behind the API the game server uses.

    Attributes:
        labels: class names in output order.
        rule: the checkpoint's decision rule (when a guess recognizes a word).
        checkpoint: the checkpoint this recognizer was built from (config, recipe, metrics).
        source: where it was loaded from, for logs.
    """

    def __init__(
        self,
        checkpoint: Checkpoint,
        source: str = "<memory>",
        *,
        onnx_path: str | Path | None = None,
        runtime: str = "auto",
    ) -> None:
        """Wrap a checkpoint.

        Args:
            checkpoint: the model.
            source: where it came from, for logs.
            onnx_path: its exported graph (`inference.ort`), if there is one.
            runtime: "auto", "onnxruntime" (the graph must be usable) or "torch".

        Raises:
            ValueError: an unknown runtime.
            OnnxUnavailable: runtime "onnxruntime" and the graph cannot serve this checkpoint.
        """
        if runtime not in RUNTIMES:
            raise ValueError(f"runtime must be one of {RUNTIMES}, got {runtime!r}")
        self.checkpoint = checkpoint
        self.labels: tuple[str, ...] = checkpoint.labels
        self.rule = checkpoint.decision
        self.source = source
        self._size = checkpoint.raster.size
        self._scale = checkpoint.raster.scale
        model: nn.Module = checkpoint.build()
        self._model = model.to(memory_format=torch.channels_last).eval()  # type: ignore[call-overload]
        self._onnx: OnnxNetwork | None = None
        # Why "auto" ended on torch (no graph, a stale one, no onnxruntime); None when it did not.
        self.fallback_reason: str | None = None
        if runtime != "torch":
            try:
                if onnx_path is None:
                    raise OnnxUnavailable("no exported graph for a checkpoint built in memory")
                self._onnx = OnnxNetwork(onnx_path, checkpoint)
            except OnnxUnavailable as exc:
                if runtime == "onnxruntime":
                    raise
                self.fallback_reason = str(exc)

    @property
    def runtime(self) -> str:
        """What computes the network: "onnxruntime" or "torch"."""
        return "onnxruntime" if self._onnx is not None else "torch"

    @classmethod
    def load(cls, path: str | Path | None = None, runtime: str = "auto") -> Recognizer:
        """Load a checkpoint; `None` means the shipped default, or the seed model if that is missing.

        The exported graph is looked for beside the checkpoint, with the suffix ``.onnx``.

        Raises:
            FileNotFoundError: the file (or, for `None`, both the default and the seed) is missing.
            CheckpointError: the file is not a checkpoint.
            OnnxUnavailable: runtime "onnxruntime" and no usable graph beside the checkpoint.
        """
        if path is None:
            if DEFAULT_CHECKPOINT.is_file():
                path = DEFAULT_CHECKPOINT
            elif SEED_STATE_DICT.is_file():
                return cls.from_seed(SEED_STATE_DICT, runtime)
            else:
                raise FileNotFoundError(f"neither {DEFAULT_CHECKPOINT} nor the seed model {SEED_STATE_DICT}")
        path = Path(path)
        return cls(
            Checkpoint.load(path), source=str(path), onnx_path=path.with_suffix(".onnx"), runtime=runtime
        )

    @classmethod
    def from_seed(cls, state_dict_path: str | Path, runtime: str = "auto") -> Recognizer:
        """Wrap the seed model's bare state_dict (uvipen/QuickDraw, 20 classes); it has no graph.

        Raises:
            FileNotFoundError: no such file.
            CheckpointError: not the seed's state_dict.
            OnnxUnavailable: runtime "onnxruntime" (the seed has no exported graph).
        """
        checkpoint = Checkpoint.from_seed_state_dict(state_dict_path)
        return cls(checkpoint, source=str(state_dict_path), runtime=runtime)

    def predict_rasters(self, rasters: np.ndarray) -> np.ndarray:
        """Class probabilities for rasters already in the model's input recipe.

        Args:
            rasters: (B, size, size) uint8, white on black, as `rasterize` or Google's numpy_bitmap.

        Returns:
            (B, C) float32 probabilities, rows summing to 1; (0, C) for an empty batch.

        Raises:
            ValueError: wrong raster shape.
        """
        array = np.asarray(rasters)
        if array.shape[0] == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        array = square_rasters(array)
        if array.shape[-1] != self._size:
            raise ValueError(f"model expects {self._size}x{self._size} rasters, got {tuple(array.shape)}")
        with torch.inference_mode():
            if self._onnx is not None:
                x = (array.astype(np.float32) / np.float32(self._scale))[:, None]  # (B, 1, H, W)
                logits = torch.from_numpy(self._onnx.run(np.ascontiguousarray(x)))
            else:
                logits = self._model(rasters_to_tensor(array, self._scale))  # (B, C)
            probs = torch.softmax(logits.float(), dim=1)
        return probs.numpy().astype(np.float32, copy=False)

    def rasterize(
        self,
        drawings: Sequence[Sequence[np.ndarray]],
        canvases: Sequence[tuple[float, float] | None] | None = None,
    ) -> np.ndarray:
        """Live drawings to this model's input rasters (normalize, then rasterize).

        Args:
            drawings: B drawings; each a sequence of strokes, each an (n, 2) or (n, 3) array of
                canvas-pixel points (x, y[, t]).
            canvases: per drawing, the client's canvas (width, height) or None. Points are clipped to
                the canvas; the drawing is always fitted on its own extent, as Google's
                simplification does (see `inference.simplify.normalize_strokes`).

        Returns:
            (B, size, size) uint8.

        Raises:
            ValueError: `canvases` has a different length from `drawings`, a canvas is not positive,
                or a stroke is not an (n, 2) or (n, 3) array.
        """
        # One batched normalisation for all drawings (it also checks the canvases' count and values).
        normalized = normalize_batch(drawings, canvases)
        return rasterize_batch(normalized, size=self._size)

    def predict_strokes(
        self,
        drawings: Sequence[Sequence[np.ndarray]],
        canvases: Sequence[tuple[float, float] | None] | None = None,
    ) -> np.ndarray:
        """Class probabilities for live drawings, partial or complete.

        Args:
            drawings: see `rasterize`.
            canvases: see `rasterize`.

        Returns:
            (B, C) float32 probabilities.

        Raises:
            ValueError: `canvases` has a different length from `drawings`.
        """
        if len(drawings) == 0:
            return np.zeros((0, len(self.labels)), dtype=np.float32)
        return self.predict_rasters(self.rasterize(drawings, canvases))

    def top_k(self, probs_row: np.ndarray, k: int = 3) -> list[tuple[str, float]]:
        """The `k` most probable labels of one probability row, best first.

        Args:
            probs_row: (C,) probabilities, one row of a `predict_*` result.
            k: how many to return (capped at C).

        Returns:
            [(label, probability), ...] in descending probability; ties keep label order.
        """
        row = np.asarray(probs_row, dtype=np.float64).reshape(1, -1)
        return [(self.labels[i], float(row[0, i])) for i in top_indices(row, k)[0]]
