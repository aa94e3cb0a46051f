"""The network on ONNX Runtime: the same float32 answers as torch, in less CPU time per drawing.

Why: the 345-word network costs about twice the multiply-adds of the old 20-word one, and the server
runs it in small batches (a few drawings at a time under ordinary load), where torch's per-call
overhead dominates. ONNX Runtime runs the same float32 graph 1.5-2.6x faster at batch sizes 1-8 and
still exact to 1e-5 (docs/benchmarks.md), so the decision rule chosen for the checkpoint, and every
figure measured with it, still hold. Lower precisions (bfloat16, int8) would be faster again, but
they change guesses, and the rule would have to be chosen anew.

The graph ships beside its checkpoint (``doodle345.onnx`` next to ``doodle345.pt``). It is written by
``doodle-party data export-onnx`` (which needs the ``onnx`` package, a development dependency; serving
needs only ``onnxruntime``) and carries the digest of the weights it was exported from: a graph whose
digest does not match its checkpoint's weights is never used, so a retrained checkpoint can never be
served with a stale graph. An ONNX file is a protobuf: loading it runs no code.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import warnings
from pathlib import Path

import numpy as np
import torch

from inference.model import Checkpoint

__all__ = [
    "DIGEST_KEY",
    "OnnxNetwork",
    "OnnxUnavailable",
    "configure_parser",
    "export_onnx",
    "run",
    "weights_digest",
]

# Most drawings one run of the graph takes (see `OnnxNetwork.run`): past a few hundred the cost per
# drawing no longer falls, while the memory ONNX Runtime keeps grows with the largest run.
_MAX_ROWS = 256
# The metadata entry of an exported graph that names the weights it was exported from.
DIGEST_KEY = "doodle_party.weights_sha256"


class OnnxUnavailable(RuntimeError):
    """ONNX Runtime cannot serve this checkpoint (not installed, no graph, or a graph of other weights)."""


def weights_digest(checkpoint: Checkpoint) -> str:
    """SHA-256 over the network's architecture and weights (names, dtypes, shapes and bytes, in order).

    The labels and the decision rule are not part of it: `doodle-party rule` changes the rule of a
    checkpoint without changing what the network computes, and the exported graph stays valid.
    """
    digest = hashlib.sha256(repr(sorted(checkpoint.config.to_dict().items())).encode())
    for name, tensor in checkpoint.state_dict.items():
        array = tensor.detach().cpu().contiguous().numpy()
        digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def export_onnx(checkpoint: Checkpoint, path: str | Path) -> Path:
    """Write the checkpoint's network as an ONNX graph (float32, any batch size) with its digest.

    Raises:
        ImportError: the ``onnx`` package is missing (``pip install -e '.[dev]'``).
    """
    import onnx  # only for export; serving needs onnxruntime alone

    model = checkpoint.build()
    side = checkpoint.raster.size
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's notes about its own future
        torch.onnx.export(
            model,
            (torch.zeros(2, 1, side, side),),
            str(tmp),
            input_names=["x"],
            output_names=["logits"],
            dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}},
            dynamo=False,
        )
    graph = onnx.load(str(tmp))
    entry = graph.metadata_props.add()
    entry.key, entry.value = DIGEST_KEY, weights_digest(checkpoint)
    onnx.save(graph, str(tmp))
    tmp.replace(path)
    return path


class OnnxNetwork:
    """A checkpoint's network on ONNX Runtime: float32 NCHW input in, logits out.

    One intra-op thread, as torch is run in the server: parallelism comes from recognition processes,
    and a second thread spinning beside a busy event loop costs more than it gives on two cores.
    `run` may be called from several threads at once (ONNX Runtime sessions are thread-safe).
    """

    def __init__(self, path: str | Path, checkpoint: Checkpoint) -> None:
        """Open the graph at `path` for `checkpoint`.

        Raises:
            OnnxUnavailable: onnxruntime is not installed, there is no such file, or the graph was
                exported from other weights.
        """
        try:
            import onnxruntime
        except ImportError as exc:
            raise OnnxUnavailable("onnxruntime is not installed") from exc
        path = Path(path)
        if not path.is_file():
            raise OnnxUnavailable(f"no exported graph at {path}")
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own untyped errors for unreadable graphs
            raise OnnxUnavailable(f"cannot open {path}: {exc}") from exc
        found = session.get_modelmeta().custom_metadata_map.get(DIGEST_KEY)
        if found != weights_digest(checkpoint):
            raise OnnxUnavailable(f"{path} was exported from other weights than its checkpoint")
        self._session = session

    def run(self, x: np.ndarray) -> np.ndarray:
        """Logits (B, C) float32 for inputs (B, 1, H, W) float32, any B.

        At most `_MAX_ROWS` drawings go through the graph at once: ONNX Runtime keeps the memory of
        its largest run for the session's life, and `evaluate` hands over thousands of drawings in one
        call (a run of 4,000 held ~0.9 GB; the whole test split, 24 GB, and the kernel killed it). The
        server's batches are far smaller (at most `max_batch`, 64), and each row's logits are its own.
        """
        parts = [
            self._session.run(["logits"], {"x": x[start : start + _MAX_ROWS]})[0]
            for start in range(0, len(x), _MAX_ROWS)
        ]
        logits: np.ndarray = parts[0] if len(parts) == 1 else np.concatenate(parts)
        return logits


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add `doodle-party data export-onnx` options to `parser`."""
    parser.add_argument("checkpoint", type=Path, help="checkpoint to export (a .pt file)")
    parser.add_argument(
        "--out", type=Path, default=None, help="graph to write (default: beside the checkpoint, .onnx)"
    )


def run(args: argparse.Namespace) -> int:
    """Export, check the graph against torch on random inputs, say what was written; 1 when the graph
    does not answer as torch does (to 1e-4 in the logits), 2 without the `onnx` package."""
    checkpoint = Checkpoint.load(args.checkpoint)
    try:
        out = export_onnx(checkpoint, args.out or args.checkpoint.with_suffix(".onnx"))
    except ImportError:
        print("doodle-party: exporting needs the onnx package: pip install -e '.[dev]'", file=sys.stderr)
        return 2
    side = checkpoint.raster.size
    x = np.random.default_rng(0).random((16, 1, side, side), dtype=np.float32)
    with torch.inference_mode():
        expected = checkpoint.build()(torch.from_numpy(x)).numpy()
    difference = float(np.abs(OnnxNetwork(out, checkpoint).run(x) - expected).max())
    print(f"wrote {out}: largest logit difference from torch {difference:.1e} on 16 random inputs")
    return 0 if difference <= 1e-4 else 1
