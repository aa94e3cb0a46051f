"""The network on ONNX Runtime: the shipped graph is the shipped checkpoint's, and answers as torch does."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from inference.formats import load_drawings
from inference.model import Checkpoint
from inference.ort import DIGEST_KEY, OnnxNetwork, OnnxUnavailable, export_onnx, weights_digest
from inference.recognize import recognize_batch
from inference.recognizer import DEFAULT_CHECKPOINT, Recognizer

WORDS = ("apple", "cup", "star", "hammer", "t-shirt", "book", "tree", "cloud")


@pytest.fixture(scope="module")
def rasters(quickdraw_dir: Path) -> np.ndarray:
    """Real drawings rasterized as the server does, 8 of each of several words."""
    by_word = load_drawings(quickdraw_dir, WORDS)
    strokes = [record.strokes for word in WORDS for record in by_word[word][:8]]
    return Recognizer.load(runtime="torch").rasterize(strokes)


def test_the_default_checkpoint_is_served_on_onnxruntime() -> None:
    """The graph shipped beside doodle345.pt was exported from its weights, so `auto` takes it."""
    recognizer = Recognizer.load()
    assert recognizer.runtime == "onnxruntime", recognizer.fallback_reason
    assert Recognizer.load(runtime="torch").runtime == "torch"


def test_onnxruntime_answers_as_torch_on_real_drawings(rasters: np.ndarray) -> None:
    """Same probabilities to 1e-5 and the same three best guesses, at every batch size the server runs
    and past the most the graph takes in one run."""
    onnx, torch_ = Recognizer.load(runtime="onnxruntime"), Recognizer.load(runtime="torch")
    expected = torch_.predict_rasters(rasters)
    got = onnx.predict_rasters(rasters)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert (np.argsort(-got, axis=1)[:, :3] == np.argsort(-expected, axis=1)[:, :3]).all()
    for size in (1, 3, 8):
        np.testing.assert_allclose(onnx.predict_rasters(rasters[:size]), expected[:size], atol=1e-5)
    # More drawings than one run of the graph takes (evaluate's calls): run in parts, joined in order.
    many = np.concatenate([rasters] * 10)
    assert len(many) > 256
    np.testing.assert_allclose(onnx.predict_rasters(many), np.concatenate([expected] * 10), atol=1e-5)


def test_verdicts_do_not_depend_on_the_runtime(quickdraw_dir: Path) -> None:
    """The decision rule was chosen on torch's probabilities; ONNX Runtime must reach the same verdicts."""
    by_word = load_drawings(quickdraw_dir, ("apple", "cup"))
    models = [Recognizer.load(runtime=runtime) for runtime in ("onnxruntime", "torch")]

    class Drawing:
        def __init__(self, strokes: list[np.ndarray], word: str) -> None:
            self.strokes, self.canvas, self.target_word, self.threshold = strokes, None, word, None

    # Prefixes of growing length: the half-finished drawings a live round is judged on.
    drawings = [
        Drawing(record.strokes[:count], word)
        for word in ("apple", "cup")
        for record in by_word[word][:6]
        for count in range(1, len(record.strokes) + 1)
    ]
    onnx, torch_ = (recognize_batch(model, drawings) for model in models)
    assert [v.recognized for v in onnx] == [v.recognized for v in torch_]
    assert any(v.recognized for v in onnx) and not all(v.recognized for v in onnx)
    assert [[label for label, _ in v.guesses] for v in onnx] == [
        [label for label, _ in v.guesses] for v in torch_
    ]


def test_a_graph_of_other_weights_is_never_served(tmp_path: Path) -> None:
    """A retrained checkpoint beside an old graph: `auto` falls back to torch and says why;
    `onnxruntime` refuses."""
    checkpoint = tmp_path / "model.pt"
    shutil.copy(DEFAULT_CHECKPOINT, checkpoint)
    other = Checkpoint.load(DEFAULT_CHECKPOINT.with_name("doodle20.pt"))
    export_onnx(other, tmp_path / "model.onnx")
    recognizer = Recognizer.load(checkpoint)
    assert recognizer.runtime == "torch"
    assert recognizer.fallback_reason is not None and "other weights" in recognizer.fallback_reason
    with pytest.raises(OnnxUnavailable, match="other weights"):
        Recognizer.load(checkpoint, runtime="onnxruntime")


def test_no_graph_means_torch_unless_onnxruntime_is_demanded(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.pt"
    shutil.copy(DEFAULT_CHECKPOINT, checkpoint)
    assert Recognizer.load(checkpoint).runtime == "torch"
    with pytest.raises(OnnxUnavailable, match="no exported graph"):
        Recognizer.load(checkpoint, runtime="onnxruntime")
    with pytest.raises(ValueError, match="runtime must be one of"):
        Recognizer.load(checkpoint, runtime="tpu")


def test_an_unreadable_graph_is_refused_not_crashed_on(tmp_path: Path) -> None:
    checkpoint = tmp_path / "model.pt"
    shutil.copy(DEFAULT_CHECKPOINT, checkpoint)
    (tmp_path / "model.onnx").write_bytes(b"not a protobuf")
    assert Recognizer.load(checkpoint).runtime == "torch"
    with pytest.raises(OnnxUnavailable, match="cannot open"):
        OnnxNetwork(tmp_path / "model.onnx", Checkpoint.load(checkpoint))


def test_the_digest_ignores_the_rule_but_not_the_weights() -> None:
    """`doodle-party rule` rewrites a checkpoint's rule; the exported graph must stay valid for it."""
    checkpoint = Checkpoint.load(DEFAULT_CHECKPOINT)
    loosened = replace(checkpoint, decision=replace(checkpoint.decision, threshold=0.3))
    assert weights_digest(loosened) == weights_digest(checkpoint)
    assert weights_digest(checkpoint.restricted(["apple", "cup"])) != weights_digest(checkpoint)


def test_export_onnx_command_writes_a_graph_that_serves(tmp_path: Path) -> None:
    """`doodle-party data export-onnx` on a checkpoint without a graph; then `auto` serves it. (In its
    own process: the command line configures logging for the process it runs in.)"""
    import onnx

    checkpoint = tmp_path / "doodle20.pt"
    shutil.copy(DEFAULT_CHECKPOINT.with_name("doodle20.pt"), checkpoint)
    command = "import sys; from server.cli import main; sys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", command, "data", "export-onnx", str(checkpoint)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "largest logit difference" in done.stdout
    graph = onnx.load(str(tmp_path / "doodle20.onnx"))
    stored = {entry.key: entry.value for entry in graph.metadata_props}
    assert stored[DIGEST_KEY] == weights_digest(Checkpoint.load(checkpoint))
    assert Recognizer.load(checkpoint).runtime == "onnxruntime"
