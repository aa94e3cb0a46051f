"""The networks and the Checkpoint type, against the real seed weights and real bitmaps."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.formats import read_bitmaps
from inference.model import (
    SEED_LABELS,
    Checkpoint,
    CheckpointError,
    DoodleNet,
    ModelConfig,
    SeedCNN,
    build_model,
)
from inference.recognizer import DEFAULT_CHECKPOINT, rasters_to_tensor

# Classes with official bitmaps in ../shared that are the seed's own training rows (first 10,000).
EXACT_BITMAP_WORDS = ("apple", "bowtie", "cloud", "door", "hat", "scissors", "star", "tree")


def test_seed_state_dict_keys_match_exactly(seed_model_path: Path) -> None:
    """SeedCNN has the seed's keys and shapes, so the published state_dict loads strictly."""
    state = torch.load(seed_model_path, map_location="cpu", weights_only=True)
    model = SeedCNN(ModelConfig(arch="seed_cnn"))
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {
        k: tuple(v.shape) for k, v in state.items()
    }
    model.load_state_dict(state, strict=True)


def test_seed_classifies_its_own_bitmaps_as_claimed(seed_model_path: Path, quickdraw_dir: Path) -> None:
    """On official bitmaps from its training rows the seed is at least as good as its 92.7% test score."""
    model = Checkpoint.from_seed_state_dict(seed_model_path).build()
    rasters, labels = [], []
    for word in EXACT_BITMAP_WORDS:
        rows = np.asarray(read_bitmaps(quickdraw_dir / "numpy_bitmap" / f"{word}.npy")[:100])
        rasters.append(rows)
        labels += [SEED_LABELS.index(word)] * len(rows)
    with torch.inference_mode():
        predicted = model(rasters_to_tensor(np.concatenate(rasters))).argmax(1).numpy()
    accuracy = float((predicted == np.array(labels)).mean())
    assert accuracy >= 0.927, accuracy


def test_doodlenet_shapes() -> None:
    """DoodleNet maps (B, 1, 28, 28) to (B, C) logits for any C."""
    model = DoodleNet(ModelConfig(num_classes=7)).eval()
    with torch.inference_mode():
        assert model(torch.rand(3, 1, 28, 28)).shape == (3, 7)


def test_doodlenet_starts_as_exactly_the_seed(seed_model_path: Path) -> None:
    """Initialised from the seed, DoodleNet's identity PReLUs make it compute the seed's logits."""
    seed = Checkpoint.from_seed_state_dict(seed_model_path)
    model = DoodleNet(ModelConfig())
    model.init_from_seed(seed.state_dict)
    x = torch.rand(16, 1, 28, 28)
    with torch.inference_mode():
        torch.testing.assert_close(model.eval()(x), seed.build()(x))


def test_init_from_seed_refuses_other_shapes(seed_model_path: Path) -> None:
    """Seed weights cannot be forced into a network of other widths."""
    with pytest.raises(CheckpointError):
        DoodleNet(ModelConfig(channels=(16, 32))).init_from_seed(
            Checkpoint.from_seed_state_dict(seed_model_path).state_dict
        )


def test_checkpoint_round_trip_rebuilds_the_same_model(tmp_path: Path) -> None:
    """save then load (weights_only) gives back config, labels, metadata and identical outputs."""
    config = ModelConfig(num_classes=3, channels=(8, 8), hidden=(16, 8))
    torch.manual_seed(0)
    model = build_model(config).eval()
    checkpoint = Checkpoint.from_model(
        model, config, ("a", "b", "c"), training={"epochs": 2}, metrics={"top1": 0.5}
    )
    checkpoint.save(tmp_path / "m.pt")
    loaded = Checkpoint.load(tmp_path / "m.pt")
    assert (loaded.config, loaded.labels, loaded.raster) == (config, ("a", "b", "c"), checkpoint.raster)
    assert (loaded.training, loaded.metrics) == ({"epochs": 2}, {"top1": 0.5})
    x = torch.rand(4, 1, 28, 28)
    with torch.inference_mode():
        assert torch.equal(model(x), loaded.build()(x))


def test_load_refuses_pickled_code(tmp_path: Path) -> None:
    """A file that needs arbitrary unpickling is refused (weights_only), not executed."""
    path = tmp_path / "evil.pt"
    with path.open("wb") as f:
        pickle.dump({"format": 1, "payload": Path("/")}, f, protocol=2)
    with pytest.raises(CheckpointError):
        Checkpoint.load(path)


def test_load_refuses_a_bare_state_dict(seed_model_path: Path) -> None:
    """The seed's bare state_dict is not a checkpoint; from_seed_state_dict is the way to wrap it."""
    with pytest.raises(CheckpointError):
        Checkpoint.load(seed_model_path)


def test_shipped_checkpoint_is_small_and_self_describing() -> None:
    """The default checkpoint exists, is a few MB, knows every official word (the seed's 20 among them),
    and carries its metrics and decision rule."""
    assert DEFAULT_CHECKPOINT.stat().st_size < 5_000_000
    checkpoint = Checkpoint.load(DEFAULT_CHECKPOINT)
    assert len(checkpoint.labels) == 345 and set(SEED_LABELS) <= set(checkpoint.labels)
    assert checkpoint.training["decision_sweep"]["chosen"]["threshold"] == checkpoint.decision.threshold
    assert checkpoint.raster.size == 28
    assert checkpoint.training and checkpoint.metrics
