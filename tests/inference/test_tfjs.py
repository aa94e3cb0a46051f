"""The DoodleNet import: the TensorFlow.js layers files become a checkpoint that computes the same network."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.model import Checkpoint
from inference.recognizer import Recognizer
from inference.tfjs import TfjsFormatError, import_tfjs, read_class_names, read_layers, read_weights
from tests.conftest import SHARED_DIR

DOODLENET_DIR = SHARED_DIR / "teachers" / "doodlenet"


@pytest.fixture(scope="module")
def doodlenet() -> Checkpoint:
    """The teacher, imported once."""
    if not (DOODLENET_DIR / "model.json").is_file():
        pytest.fail(f"DoodleNet not found at {DOODLENET_DIR} (set DOODLE_SHARED)")
    return import_tfjs(DOODLENET_DIR)


def keras_reference(folder: Path, images: np.ndarray) -> np.ndarray:
    """An independent forward pass of the Keras topology in numpy, channels-last as Keras runs it.

    Written from model.json's layer list and the manifest's weights alone, without the importer's
    layout conversions: convolutions as explicit 3x3 window sums, Flatten over (H, W, C).
    """
    model_json = json.loads((folder / "model.json").read_text())
    weights = read_weights(folder, model_json)
    x = images.astype(np.float64)[..., None]  # (B, H, W, 1)
    for layer in read_layers(model_json):
        if layer.kind == "Conv2D":
            kernel = weights[f"{layer.name}/kernel"].astype(np.float64)  # (3, 3, in, out)
            bias = weights[f"{layer.name}/bias"].astype(np.float64)
            padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
            height, width = x.shape[1:3]
            out = np.zeros((*x.shape[:3], kernel.shape[3]))
            for dy in range(3):
                for dx in range(3):
                    out += padded[:, dy : dy + height, dx : dx + width, :] @ kernel[dy, dx]
            x = np.maximum(out + bias, 0.0)
        elif layer.kind == "MaxPooling2D":
            height, width = x.shape[1] // 2, x.shape[2] // 2
            x = x[:, : height * 2, : width * 2].reshape(len(x), height, 2, width, 2, -1).max(axis=(2, 4))
        elif layer.kind == "Flatten":
            x = x.reshape(len(x), -1)
        elif layer.kind == "Dense":
            x = x @ weights[f"{layer.name}/kernel"].astype(np.float64) + weights[f"{layer.name}/bias"]
            if layer.config["activation"] == "tanh":
                x = np.tanh(x)
            elif layer.config["activation"] == "softmax":
                x = np.exp(x - x.max(axis=1, keepdims=True))
                x /= x.sum(axis=1, keepdims=True)
    return x


def test_port_reproduces_the_original_outputs(doodlenet: Checkpoint, quickdraw_dir: Path) -> None:
    """On real bitmaps the ported network's probabilities match the Keras reference to 1e-5."""
    images = np.load(quickdraw_dir / "numpy_bitmap" / "book.npy")[:64].reshape(-1, 28, 28) / 255.0
    reference = keras_reference(DOODLENET_DIR, images)
    with torch.inference_mode():
        logits = doodlenet.build()(torch.from_numpy(images.astype(np.float32)).unsqueeze(1))
    ported = torch.softmax(logits.double(), dim=1).numpy()
    assert ported.shape == (64, 345)
    np.testing.assert_allclose(ported, reference, atol=1e-5)


def test_port_recognizes_real_bitmaps(doodlenet: Checkpoint, quickdraw_dir: Path) -> None:
    """Top-1 among all 345 classes on official bitmaps is what SOURCES.md measured (book 77%, bowtie 87%)."""
    recognizer = Recognizer(doodlenet)
    for word, expected in (("book", 0.77), ("bowtie", 0.87)):
        rasters = np.load(quickdraw_dir / "numpy_bitmap" / f"{word}.npy")[:500].reshape(-1, 28, 28)
        top = recognizer.predict_rasters(rasters).argmax(axis=1)
        accuracy = float(np.mean([doodlenet.labels[i] == word for i in top]))
        assert accuracy == pytest.approx(expected, abs=0.05), word


def test_checkpoint_is_self_describing_with_official_names(doodlenet: Checkpoint, tmp_path: Path) -> None:
    """The saved file rebuilds the same network, loads weights-only, and names classes with spaces."""
    path = tmp_path / "doodlenet.pt"
    doodlenet.save(path)
    loaded = Checkpoint.load(path)
    assert loaded.config == doodlenet.config
    assert loaded.config.arch == "sketch_vgg" and loaded.config.channels == (16, 32, 64)
    assert len(loaded.labels) == 345 and "ice cream" in loaded.labels and "The Eiffel Tower" in loaded.labels
    assert not any("_" in label for label in loaded.labels)
    for name, tensor in doodlenet.state_dict.items():
        assert torch.equal(loaded.state_dict[name], tensor)
    assert sum(t.numel() for t in loaded.state_dict.values()) == 544_201


def test_class_names_keep_official_spaces(tmp_path: Path) -> None:
    """ml5 wrote spaces as underscores; the import restores them."""
    path = tmp_path / "names.txt"
    path.write_text("ice_cream\nThe_Eiffel_Tower\n\n")
    assert read_class_names(path) == ("ice cream", "The Eiffel Tower")


def test_unsupported_topologies_are_refused(tmp_path: Path) -> None:
    """A model the importer cannot port exactly is an error naming the reason, never a wrong network."""
    model_json = json.loads((DOODLENET_DIR / "model.json").read_text())
    for layer in model_json["modelTopology"]["model_config"]["config"]["layers"]:
        if layer["class_name"] == "Conv2D":
            layer["config"]["padding"] = "valid"
    (tmp_path / "model.json").write_text(json.dumps(model_json))
    (tmp_path / "class_names.txt").write_text((DOODLENET_DIR / "class_names.txt").read_text())
    with pytest.raises(TfjsFormatError, match="same"):
        import_tfjs(tmp_path)


def test_truncated_shards_are_refused(tmp_path: Path) -> None:
    """Shards shorter than the manifest says are an error, not a silently zero-padded network."""
    for name in ("model.json", "class_names.txt"):
        (tmp_path / name).write_text((DOODLENET_DIR / name).read_text())
    blob = (DOODLENET_DIR / "group1-shard1of1.bin").read_bytes()
    (tmp_path / "group1-shard1of1.bin").write_bytes(blob[:-4])
    with pytest.raises(TfjsFormatError, match="shards end"):
        import_tfjs(tmp_path)
