"""Which CPU runtime should serve the doodle model? Speed and exactness of each option, on real doodles.

Options measured for the model `Recognizer.load()` serves (and the seed model):

- eager: plain `model(x)` under `torch.no_grad()`, NCHW input (the reference for exactness);
- inference_mode: the same under `torch.inference_mode()`;
- channels_last: inference mode with model and input in channels-last memory order (what
  `Recognizer` does);
- torchscript: `torch.jit.trace` + `torch.jit.freeze` (+ `optimize_for_inference`);
- bfloat16_autocast: channels-last under `torch.autocast("cpu", torch.bfloat16)` (fast only on CPUs
  with native bf16 instructions);
- compile: `torch.compile` (inductor), timed after warm-up, compile time reported separately;
- onnxruntime: exported with `torch.onnx.export`, run by ONNX Runtime (float32 is what the server
  serves, `inference/ort.py`; both packages come with `pip install -e '.[dev]'`; `--onnx-path DIR`
  points at another install of them);

each at torch intra-op threads 1 and 2, for batch sizes 1..256. "Exact" means the probabilities agree
with the eager reference within 1e-5 and every top-3 ranking is identical.

    .venv/bin/python benchmarks/bench_runtime.py --out runs/bench_runtime.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from inference.formats import read_ndjson  # noqa: E402
from inference.model import Checkpoint  # noqa: E402
from inference.ort import export_onnx  # noqa: E402
from inference.recognizer import Recognizer, rasters_to_tensor  # noqa: E402

Runner = Callable[[np.ndarray], np.ndarray]  # (B, 28, 28) uint8 -> (B, C) probabilities


def real_rasters(shared: Path, count: int) -> np.ndarray:
    """Official 28x28 bitmaps of several of the model's classes, round-robin."""
    words = ["apple", "bowtie", "cloud", "door", "hat", "scissors", "star", "tree"]
    per_word = -(-count // len(words))
    rows = []
    for word in words:
        path = shared / "quickdraw" / "numpy_bitmap" / f"{word}.npy"
        rows.append(np.load(path, mmap_mode="r")[:per_word].reshape(-1, 28, 28))
    return np.ascontiguousarray(np.concatenate(rows)[:count])


def nchw(rasters: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(rasters).to(torch.float32).div_(255.0).unsqueeze(1).contiguous()


def eager_runner(model: torch.nn.Module, *, inference_mode: bool, channels_last: bool) -> Runner:
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def run(rasters: np.ndarray) -> np.ndarray:
        context = torch.inference_mode() if inference_mode else torch.no_grad()
        with context:
            x = rasters_to_tensor(rasters) if channels_last else nchw(rasters)
            return torch.softmax(model(x), dim=1).numpy()

    return run


def bfloat16_runner(model: torch.nn.Module) -> Runner:
    """Channels-last under `torch.autocast` to bfloat16: the convolutions in bf16 where the CPU has
    native bf16 instructions (AVX512-BF16, AMX), the softmax in float32."""
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]

    def run(rasters: np.ndarray) -> np.ndarray:
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(rasters_to_tensor(rasters))
        return torch.softmax(logits.float(), dim=1).numpy()

    return run


def torchscript_runner(model: torch.nn.Module, sample: np.ndarray) -> Runner:
    with torch.no_grad():
        traced = torch.jit.trace(model, nchw(sample[:8]))
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(traced.eval()))

    def run(rasters: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.softmax(frozen(nchw(rasters)), dim=1).numpy()

    return run


def compile_runner(model: torch.nn.Module) -> Runner:
    # Every batch size is its own graph (dynamic=False is the fastest); allow them all, and start clean
    # so graphs compiled under another thread setting are not reused.
    torch._dynamo.reset()
    torch._dynamo.config.recompile_limit = 64
    compiled = torch.compile(model, mode="max-autotune-no-cudagraphs", dynamic=False)

    def run(rasters: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return torch.softmax(compiled(nchw(rasters)), dim=1).numpy()

    return run


def onnx_runner(
    checkpoint: Checkpoint, sample: np.ndarray, threads: int, int8: bool = False
) -> Runner | None:
    """ONNX Runtime on the exported model; with `int8`, statically quantized (QOperator, per-channel
    int8 weights, uint8 activations calibrated on 1,024 of `sample`'s real drawings)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    path = export_onnx(checkpoint, Path(tempfile.mkdtemp()) / "model.onnx")  # as the server's graph
    if int8:
        from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

        class Calibration(CalibrationDataReader):  # type: ignore[misc]
            def __init__(self) -> None:
                self.batches = iter(
                    [{"x": nchw(sample[i : i + 64]).numpy()} for i in range(0, min(len(sample), 1024), 64)]
                )

            def get_next(self) -> dict[str, np.ndarray] | None:
                return next(self.batches, None)

        quantized = path.with_name("model-int8.onnx")
        quantize_static(
            str(path),
            str(quantized),
            Calibration(),
            quant_format=QuantFormat.QOperator,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
        )
        path = quantized
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(rasters: np.ndarray) -> np.ndarray:
        x = (rasters.astype(np.float32) / np.float32(255.0))[:, None]
        logits = session.run(["logits"], {"x": x})[0]
        return torch.softmax(torch.from_numpy(logits), dim=1).numpy()

    return run


def time_runner(run: Runner, rasters: np.ndarray, batch: int, min_seconds: float) -> float:
    """Median seconds per batch of `batch` drawings."""
    inputs = [rasters[(i * batch) % len(rasters) :][:batch] for i in range(8)]
    inputs = [x if len(x) == batch else rasters[:batch] for x in inputs]
    for x in inputs[:3]:
        run(x)
    samples = []
    deadline = time.perf_counter() + min_seconds
    index = 0
    while time.perf_counter() < deadline or len(samples) < 5:
        x = inputs[index % len(inputs)]
        started = time.perf_counter()
        run(x)
        samples.append(time.perf_counter() - started)
        index += 1
    return statistics.median(samples)


def exactness(run: Runner, reference: Runner, rasters: np.ndarray) -> tuple[float, bool, float]:
    """Largest probability difference, whether every top-3 is identical, and the share of equal top-1."""
    expected = reference(rasters)
    got = run(rasters)
    max_diff = float(np.abs(expected - got).max())
    same_top1 = float(np.mean(expected.argmax(axis=1) == got.argmax(axis=1)))
    same_top3 = bool(
        (
            np.argsort(-expected, axis=1, kind="stable")[:, :3]
            == np.argsort(-got, axis=1, kind="stable")[:, :3]
        ).all()
    )
    return max_diff, same_top3, same_top1


def rasterize_cost(
    recognizer: Recognizer, shared: Path, batch_sizes: list[int], min_seconds: float
) -> dict[int, float]:
    """Seconds per drawing to normalize + rasterize real raw drawings (canvas pixels), per batch size."""
    drawings = []
    for word in ("apple", "star", "cloud", "tree"):
        for record in read_ndjson(shared / "quickdraw" / "raw" / f"{word}.ndjson.gz"):
            drawings.append(record.strokes)
    costs = {}
    for batch in batch_sizes:
        chunk = (drawings * (batch // len(drawings) + 1))[:batch]
        samples = []
        deadline = time.perf_counter() + min_seconds
        while time.perf_counter() < deadline or len(samples) < 3:
            started = time.perf_counter()
            recognizer.rasterize(chunk)
            samples.append(time.perf_counter() - started)
        costs[batch] = statistics.median(samples) / batch
    return costs


def measure(args: argparse.Namespace) -> dict[str, Any]:
    shared = Path(os.environ.get("DOODLE_SHARED", REPO_ROOT.parent / "shared"))
    rasters = real_rasters(shared, 512)
    models = {"served": Recognizer.load(args.checkpoint)}
    if args.with_seed and models["served"].checkpoint.config.arch != "seed_cnn":
        models["seed"] = Recognizer.from_seed(shared / "seed_model" / "quickdraw20_cnn_state_dict.pt")
    report: dict[str, Any] = {"torch": torch.__version__, "cpu_count": os.cpu_count(), "models": {}}
    for model_name, recognizer in models.items():
        rows = []
        for threads in args.threads:
            torch.set_num_threads(threads)
            base = recognizer.checkpoint.build()
            reference = eager_runner(base, inference_mode=False, channels_last=False)
            options: dict[str, Runner] = {
                "eager": reference,
                "inference_mode": eager_runner(
                    recognizer.checkpoint.build(), inference_mode=True, channels_last=False
                ),
                "channels_last": eager_runner(
                    recognizer.checkpoint.build(), inference_mode=True, channels_last=True
                ),
                "torchscript": torchscript_runner(recognizer.checkpoint.build(), rasters),
                "bfloat16_autocast": bfloat16_runner(recognizer.checkpoint.build()),
            }
            onnx = onnx_runner(recognizer.checkpoint, rasters, threads)
            if onnx is not None:
                options["onnxruntime"] = onnx
                quantized = onnx_runner(recognizer.checkpoint, rasters, threads, int8=True)
                if quantized is not None:
                    options["onnxruntime_int8"] = quantized
            if args.compile:
                started = time.perf_counter()
                compiled = compile_runner(recognizer.checkpoint.build())
                for batch in args.batch_sizes:
                    compiled(rasters[:batch])
                report.setdefault("compile_seconds", {})[f"{model_name}/{threads}"] = (
                    time.perf_counter() - started
                )
                options["compile"] = compiled
            for option, run in options.items():
                max_diff, same_top3, same_top1 = exactness(run, reference, rasters)
                for batch in args.batch_sizes:
                    seconds = time_runner(run, rasters, batch, args.min_seconds)
                    row = {
                        "option": option,
                        "threads": threads,
                        "batch": batch,
                        "ms_per_batch": seconds * 1000.0,
                        "per_second": batch / seconds,
                        "max_abs_diff": max_diff,
                        "same_top3": same_top3,
                        "same_top1": same_top1,
                    }
                    rows.append(row)
                    print(json.dumps({"model": model_name, **row}), flush=True)
        report["models"][model_name] = {
            "arch": recognizer.checkpoint.config.arch,
            "source": recognizer.source,
            "rows": rows,
        }
    torch.set_num_threads(max(args.threads))
    report["rasterize_s_per_drawing"] = rasterize_cost(
        models["served"], shared, args.batch_sizes, args.min_seconds
    )
    return report


def markdown(report: dict[str, Any]) -> str:
    lines = []
    for model_name, model in report["models"].items():
        lines.append(
            f"Model `{model_name}` ({model['arch']}, {Path(model['source']).name}): drawings/s (ms per batch)"
        )
        lines.append("")
        batches = sorted({row["batch"] for row in model["rows"]})
        lines.append("| option | threads | exact | " + " | ".join(f"B={b}" for b in batches) + " |")
        lines.append("| --- | ---: | --- | " + " | ".join("---:" for _ in batches) + " |")
        keys = sorted({(row["option"], row["threads"]) for row in model["rows"]}, key=lambda k: (k[1], k[0]))
        for option, threads in keys:
            cells = {
                row["batch"]: row
                for row in model["rows"]
                if (row["option"], row["threads"]) == (option, threads)
            }
            any_row = next(iter(cells.values()))
            exact = "yes" if any_row["same_top3"] and any_row["max_abs_diff"] <= 1e-5 else "no"
            exact += f" ({any_row['max_abs_diff']:.0e}; top-1 equal {100 * any_row['same_top1']:.1f}%)"
            values = " | ".join(
                f"{cells[b]['per_second']:,.0f} ({cells[b]['ms_per_batch']:.2f})" if b in cells else ""
                for b in batches
            )
            lines.append(f"| {option} | {threads} | {exact} | {values} |")
        lines.append("")
    raster = report["rasterize_s_per_drawing"]
    lines.append(
        "Rasterize (normalize + draw) real raw drawings, microseconds per drawing: "
        + ", ".join(f"B={b}: {seconds * 1e6:.0f}" for b, seconds in raster.items())
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkpoint", type=Path, default=None, help="model to measure (default: the served one)"
    )
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8, 64, 256])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--min-seconds", type=float, default=1.0, help="timing window per cell")
    parser.add_argument("--compile", action="store_true", help="also measure torch.compile (slow to build)")
    parser.add_argument("--with-seed", action="store_true", help="also measure the seed model")
    parser.add_argument(
        "--onnx-path", type=Path, help="directory with onnxruntime + onnx installed (--target)"
    )
    parser.add_argument("--out", type=Path, help="write the JSON report here")
    args = parser.parse_args()
    if args.onnx_path:
        sys.path.append(str(args.onnx_path))  # after site-packages: it must not shadow our numpy
    report = measure(args)
    text = markdown(report)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
