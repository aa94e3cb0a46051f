"""Training on a tiny slice of real drawings: the loss goes down, and a resumed run replays exactly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from inference.dataset import RenderRecipe, drop_near_copies, load_corpus, render_epoch, split_of
from inference.formats import read_bitmaps
from inference.model import SEED_LABELS, Checkpoint, ModelConfig, build_model
from inference.rasterize import rasterize_batch
from inference.recognizer import rasters_to_tensor
from inference.train import (
    TrainConfig,
    blend_states,
    distillation_loss,
    load_teacher,
    main,
    train_one_epoch,
)

TINY_MODEL = ModelConfig(channels=(8, 16), hidden=(32, 16))
TINY_RECIPE = RenderRecipe(variants_labelled=2)


def _config(tmp_path: Path, quickdraw_dir: Path, seed_model_path: Path) -> TrainConfig:
    return TrainConfig(
        data_dirs=(quickdraw_dir,),
        out_dir=tmp_path,
        model=TINY_MODEL,
        init_seed=False,
        teacher=seed_model_path,
        epochs=2,
        batch_size=32,
        other_classes=False,
        bitmaps_per_class=0,
        max_per_class=3,
        recipe=TINY_RECIPE,
        threads=1,
    )


def test_split_is_fixed_by_key_id() -> None:
    """The held-out rule depends on the key_id only and keeps about a quarter for testing."""
    assert split_of("4541885710336000") == split_of("4541885710336000")
    splits = [split_of(str(5_000_000_000_000_000 + i)) for i in range(4000)]
    assert 0.22 < splits.count("test") / len(splits) < 0.28
    assert 0.08 < splits.count("val") / len(splits) < 0.12


def test_short_training_run_lowers_the_loss(
    tmp_path: Path, quickdraw_dir: Path, seed_model_path: Path
) -> None:
    """Ten short epochs on ~60 real drawings lower the distillation loss on those drawings."""
    config = _config(tmp_path, quickdraw_dir, seed_model_path)
    corpus = load_corpus(quickdraw_dir, SEED_LABELS, "train", max_per_class=3)
    assert all(split_of(d.key_id) == "train" for d in corpus.drawings)
    teacher = load_teacher(seed_model_path, SEED_LABELS, torch.device("cpu"))
    torch.manual_seed(0)
    model = build_model(TINY_MODEL)
    examples = render_epoch(corpus, 0, 0, TINY_RECIPE, 0)

    def loss() -> float:
        model.eval()
        with torch.inference_mode():
            logits = model(rasters_to_tensor(examples.inputs))
            teacher_logits = teacher(rasters_to_tensor(examples.teacher_inputs))
            return float(
                distillation_loss(logits, teacher_logits, torch.from_numpy(examples.labels), config).mean()
            )

    before = loss()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    scheduler = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=1.0)
    for epoch in range(10):
        train_one_epoch(model, teacher, examples, optimizer, scheduler, config, epoch, torch.device("cpu"))
    assert loss() < 0.8 * before


def test_resumed_run_equals_uninterrupted_run(
    tmp_path: Path, quickdraw_dir: Path, seed_model_path: Path
) -> None:
    """Stopping after one epoch and resuming gives the same weights as training straight through."""
    straight = main(_config(tmp_path / "straight", quickdraw_dir, seed_model_path))
    config = _config(tmp_path / "resumed", quickdraw_dir, seed_model_path)
    main(config, stop_after=1)
    main(config, resume=True)
    straight_last = torch.load(tmp_path / "straight" / "last.pt", weights_only=True)["model"]
    resumed_last = torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)["model"]
    for name, tensor in straight_last.items():
        torch.testing.assert_close(tensor, resumed_last[name], rtol=0, atol=0)
    # The final checkpoint carries its recipe and validation metrics; best.pt loads on its own.
    assert straight.training["epochs"] == 2
    assert 0.0 <= straight.metrics["validation"]["top1_100"] <= 1.0
    reloaded = Checkpoint.load(tmp_path / "straight" / "best.pt")
    assert reloaded.config == replace(TINY_MODEL)
    assert np.isfinite(reloaded.metrics["validation"]["score"])


def test_training_bitmaps_never_copy_a_held_out_drawing(quickdraw_dir: Path) -> None:
    """Official bitmap rows that are a held-out drawing again are dropped from the training corpus."""
    words = ("apple", "cloud", "tree")
    train = load_corpus(quickdraw_dir, words, "train", bitmaps=True)
    held_out = [
        d.strokes for split in ("test", "val") for d in load_corpus(quickdraw_dir, words, split).drawings
    ]
    held_out_rasters = rasterize_batch(held_out)
    official = np.concatenate(
        [np.asarray(read_bitmaps(quickdraw_dir / "numpy_bitmap" / f"{w}.npy")) for w in words]
    ).reshape(-1, 28, 28)
    # The check is not vacuous: Google's files do hold copies of our held-out drawings ...
    assert not drop_near_copies(held_out_rasters, official).all()
    # ... and none of them reached the training corpus.
    assert drop_near_copies(held_out_rasters, train.bitmaps.rasters).all()


def test_blend_runs_on_the_line_between_seed_and_trained_weights() -> None:
    """blend_states(start, end, a) is start at 0, end at 1, and the weighted mix in between."""
    start = {"w": torch.zeros(3), "steps": torch.tensor(1)}
    end = {"w": torch.ones(3) * 4, "steps": torch.tensor(9)}
    assert torch.equal(blend_states(start, end, 0.0)["w"], start["w"])
    assert torch.equal(blend_states(start, end, 1.0)["w"], end["w"])
    assert torch.equal(blend_states(start, end, 0.25)["w"], torch.ones(3))
    assert blend_states(start, end, 0.25)["steps"] == 9  # counters are not interpolated
