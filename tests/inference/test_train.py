"""Training on a tiny slice of real drawings: the loss goes down, and a resumed run replays exactly."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from inference.dataset import (
    COMPLETE_RECIPE,
    BitmapSet,
    Corpus,
    RenderRecipe,
    drop_near_copies,
    epoch_size,
    load_corpus,
    render_epoch,
    split_of,
)
from inference.formats import read_bitmaps
from inference.model import SEED_LABELS, Checkpoint, CheckpointError, ModelConfig, build_model
from inference.rasterize import rasterize_batch
from inference.recognizer import rasters_to_tensor
from inference.train import (
    TrainConfig,
    blend_states,
    distillation_loss,
    load_teacher,
    main,
    make_student,
    train,
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


def test_complete_stage_takes_every_labelled_bitmap_and_caps_the_others(quickdraw_dir: Path) -> None:
    """Stage 1's epoch: all rows of the model's classes, `bitmaps_per_class` of others, weight 1."""
    apple = np.asarray(read_bitmaps(quickdraw_dir / "numpy_bitmap" / "apple.npy"))[:40].reshape(-1, 28, 28)
    bee = np.asarray(read_bitmaps(quickdraw_dir / "numpy_bitmap" / "bee.npy"))[:30].reshape(-1, 28, 28)
    bitmaps = BitmapSet(
        np.concatenate([apple, bee]),
        np.array([SEED_LABELS.index("apple")] * 40 + [-1] * 30),
        np.array(["apple"] * 40 + ["bee"] * 30, dtype=object),
    )
    corpus = Corpus(SEED_LABELS, (), bitmaps)
    examples = render_epoch(corpus, 0, 0, COMPLETE_RECIPE, bitmaps_per_class=10)
    assert len(examples) == epoch_size(corpus, COMPLETE_RECIPE, 10) == 40 + 10
    assert (examples.labels >= 0).sum() == 40
    assert np.all(examples.weights == 1.0)  # no class weights in stage 1
    assert np.array_equal(examples.inputs, examples.teacher_inputs)  # no ink erased
    capped = render_epoch(corpus, 0, 0, replace(COMPLETE_RECIPE, all_labelled_bitmaps=False), 10)
    assert (capped.labels >= 0).sum() == 10


def test_student_starts_from_the_given_checkpoint(tmp_path: Path, quickdraw_dir: Path) -> None:
    """`init` loads a checkpoint's weights exactly, and refuses one of another architecture."""
    torch.manual_seed(3)
    start = build_model(TINY_MODEL)
    Checkpoint.from_model(start, TINY_MODEL, SEED_LABELS).save(tmp_path / "start.pt")
    config = replace(_config(tmp_path, quickdraw_dir, tmp_path / "start.pt"), init=tmp_path / "start.pt")
    student = make_student(config, torch.device("cpu"))
    for name, tensor in start.state_dict().items():
        torch.testing.assert_close(student.state_dict()[name], tensor, rtol=0, atol=0)
    with pytest.raises(CheckpointError):
        make_student(replace(config, model=ModelConfig()), torch.device("cpu"))


def test_train_runs_the_complete_stage_then_prefixes_from_it(
    tmp_path: Path, quickdraw_dir: Path, seed_model_path: Path
) -> None:
    """Stage 2 starts from, learns from and is blended towards stage 1's model; both are recorded."""
    config = replace(
        _config(tmp_path, quickdraw_dir, seed_model_path),
        model=ModelConfig(),
        init_seed=True,
        epochs=1,
        base_epochs=1,
        max_per_class=2,
    )
    final = train(config)
    stage_1 = tmp_path / "complete" / "model.pt"
    assert Checkpoint.load(stage_1).training["epochs"] == 1
    assert final.training["init"] == final.training["teacher"] == str(stage_1)
    assert final.training["base"]["recipe"]["all_labelled_bitmaps"] is True
    assert 0.0 <= final.training["base"]["validation"]["top1_100"] <= 1.0
    assert "alpha" in final.training["blend"]
    # The shipped file is the final model with that record.
    assert Checkpoint.load(tmp_path / "model.pt").training["base"] == final.training["base"]
    for name, tensor in final.state_dict.items():
        torch.testing.assert_close(Checkpoint.load(tmp_path / "model.pt").state_dict[name], tensor)
