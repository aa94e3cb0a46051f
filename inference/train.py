"""Train a doodle model by distilling the seed onto prefixes of real drawings (the mnist shape).

`train` runs the prefix recipe below, optionally after a first stage (`base_epochs`, off by
default):

1. *Complete*: the seed fine-tuned on every bitmap of its classes (light jitter, hard labels plus
   the seed's soft targets), unweighted.
2. *Early*: the prefix recipe, started from stage 1's weights with stage 1 as the teacher, then
   blended back towards stage 1 as far as validation says complete drawings need.

Stage 1 learns each class's share of the bitmaps as a prior. With the full official data (100k+
bitmaps for every class, capped alike by `max_per_class`) that prior is even. With the data in
../shared it is not: six of the seed's 20 classes have no bitmaps and five have thousands, and stage
1's gain on complete drawings there was mostly that tilt (docs/model-card/notes-doodle20.md, "A first stage
on every bitmap"): a drawn cup or book became a door more often. So it is off unless asked for.

The prefix recipe (why each part is there):

- Teacher: the seed model, trained on 8,000 finished drawings per class, which we cannot match with
  our few dozen stroke drawings per class. It labels *every* input we have, including drawings of the
  325 classes it never saw, so the student inherits what the seed knows (soft targets at temperature
  `temperature`, Hinton et al. 2015).
- Prefixes: each stroke drawing is rendered as the first k of its n strokes; the teacher is shown the
  *complete* drawing under the same jitter. The student thus learns to name a half-finished doodle
  what the teacher calls the finished one: early recognition, which the seed never learned.
- Hard labels where we know the class (our 20 classes' drawings and bitmaps) keep the student honest
  where the teacher is wrong, which is how it can beat the teacher on complete drawings too.
- Bitmaps of 42 classes (plus re-rendered and cleaned noisy copies), jittered, keep it anchored on
  complete drawings in Google's exact raster style; some have part of their ink erased, a stand-in
  for unfinished drawings among the thousands of bitmaps that have no strokes.
- Start from the seed's weights (`DoodleNet.init_from_seed`), or stage 1's: a few hundred labelled
  stroke drawings can adjust what 160,000 bitmaps taught, not replace it.
- Class-balanced weights: six of the seed's classes have no bitmaps; unweighted, the student learned
  a prior against them.

`train_one_epoch` and `evaluate` are plain functions; `main` runs one stage and reads top to
bottom. Every random choice comes from (seed, epoch), and `last.pt` in each stage's folder holds
the model, optimizer, scheduler and epoch, so `--resume` continues a run exactly where it stopped.
The same code runs on CUDA when present and on CPU otherwise.
"""

from __future__ import annotations

import argparse
import math
import shlex
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from inference.dataset import (
    COMPLETE_RECIPE,
    Corpus,
    RenderRecipe,
    TrainingBatch,
    epoch_size,
    load_corpus,
    render_epoch,
)
from inference.model import SEED_LABELS, Checkpoint, CheckpointError, DoodleNet, ModelConfig, build_model
from inference.rasterize import rasterize_batch, stroke_prefix
from inference.recognizer import SEED_STATE_DICT, rasters_to_tensor

__all__ = [
    "BLEND_CANDIDATES",
    "PREFIX_LEVELS",
    "TrainConfig",
    "blend_states",
    "choose_blend",
    "configure_parser",
    "evaluate",
    "main",
    "run",
    "train_one_epoch",
]

# Blends of the seed and the fine-tuned weights tried after training (see `choose_blend`).
BLEND_CANDIDATES: tuple[float, ...] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)
# Shares of strokes the evaluation reports; 1.0 is the complete drawing.
PREFIX_LEVELS: tuple[float, ...] = (0.25, 0.5, 0.75, 1.0)


@dataclass(frozen=True, slots=True)
class TrainConfig:
    """Every setting of a training run; stored in the checkpoint it produces.

    Attributes:
        data_dirs: Quick, Draw! folders (bucket, flat or archive layout), read as one: the official
            data and any number of the game's drawing archives.
        out_dir: where last.pt (resumable state) and best.pt (best on validation) go.
        labels: the model's classes in output order.
        model: the student's architecture.
        init_seed: start the student from the seed's weights (its layers that fit).
        init: start the student from this checkpoint's weights instead (same architecture).
        teacher: the teacher's state_dict or checkpoint; None trains on hard labels alone.
        epochs: passes over freshly rendered data.
        batch_size: examples per optimizer step.
        lr: peak learning rate of the one-cycle schedule (AdamW).
        weight_decay: AdamW weight decay.
        temperature: distillation temperature.
        kd_weight: weight of the distillation term.
        ce_weight: weight of the hard-label term (only where the label is known).
        other_classes: use drawings of classes outside `labels` as distillation inputs.
        bitmaps_per_class: bitmap rows drawn per class per epoch.
        max_per_class: cap on drawings and bitmap rows read per class (for the full dataset).
        recipe: stroke rendering and jitter settings.
        seed: fixes every random choice.
        threads: torch CPU threads (0 = torch's default).
        blend: after the last epoch, blend the weights back towards the starting ones as far as
            validation says complete drawings need (`choose_blend`); needs `init_seed` and a teacher.
        base_epochs: epochs of the complete-drawing stage that `train` runs first (0 skips it).
        base_lr: that stage's peak learning rate.
    """

    data_dirs: tuple[Path, ...]
    out_dir: Path
    labels: tuple[str, ...] = SEED_LABELS
    model: ModelConfig = field(default_factory=ModelConfig)
    init_seed: bool = True
    init: Path | None = None
    teacher: Path | None = SEED_STATE_DICT
    epochs: int = 8
    batch_size: int = 256
    lr: float = 2e-3
    weight_decay: float = 1e-4
    temperature: float = 3.0
    kd_weight: float = 1.0
    ce_weight: float = 1.0
    other_classes: bool = True
    bitmaps_per_class: int = 500
    max_per_class: int | None = None
    recipe: RenderRecipe = field(default_factory=RenderRecipe)
    seed: int = 0
    threads: int = 0
    blend: bool = True
    base_epochs: int = 0
    base_lr: float = 1e-3

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for the checkpoint's training metadata."""
        data = asdict(self)
        data["data_dirs"] = [str(folder) for folder in self.data_dirs]
        data["out_dir"] = str(self.out_dir)
        data["teacher"] = None if self.teacher is None else str(self.teacher)
        data["init"] = None if self.init is None else str(self.init)
        data["labels"] = list(self.labels)
        data["model"] = self.model.to_dict()
        return data


@dataclass(frozen=True, slots=True)
class EvalSet:
    """Held-out drawings rendered once at every prefix level, in the evaluation's framing.

    Attributes:
        rasters: level -> (N, 28, 28) uint8, the first ceil(level * n) strokes of each drawing.
        labels: (N,) int64 class indices.
        bitmaps: complete drawings known only as bitmaps (scored as "bitmaps").
        bitmap_labels: their class indices.
    """

    rasters: dict[float, np.ndarray]
    labels: np.ndarray
    bitmaps: np.ndarray
    bitmap_labels: np.ndarray


def build_eval_set(corpus: Corpus, size: int = 28) -> EvalSet:
    """Render the labelled drawings of `corpus` at each of `PREFIX_LEVELS`, beside its bitmaps."""
    drawings = corpus.labelled()
    rasters = {
        level: rasterize_batch([stroke_prefix(d.strokes, level) for d in drawings], size=size)
        for level in PREFIX_LEVELS
    }
    labelled = corpus.bitmaps.labels >= 0
    return EvalSet(
        rasters,
        np.array([d.label for d in drawings], dtype=np.int64),
        corpus.bitmaps.rasters[labelled],
        corpus.bitmaps.labels[labelled],
    )


def load_teacher(path: Path, labels: Sequence[str], device: torch.device) -> nn.Module:
    """The teacher network in eval mode, from the seed's bare state_dict or a checkpoint.

    Raises:
        ValueError: the teacher's classes differ from the student's (distillation needs the same
            outputs; train without a teacher for other class lists).
    """
    try:
        checkpoint = Checkpoint.load(path)
    except Exception:  # not our format: the seed's bare state_dict
        checkpoint = Checkpoint.from_seed_state_dict(path)
    if tuple(checkpoint.labels) != tuple(labels):
        raise ValueError(f"teacher {path} has classes {checkpoint.labels}, student has {tuple(labels)}")
    return checkpoint.build().to(device)


def distillation_loss(
    logits: torch.Tensor,
    teacher_logits: torch.Tensor | None,
    labels: torch.Tensor,
    config: TrainConfig,
) -> torch.Tensor:
    """Per-example loss: T^2 * KL(teacher || student) at temperature T, plus cross-entropy on known labels.

    Args:
        logits: (B, C) student logits.
        teacher_logits: (B, C) teacher logits on the teacher view, or None without a teacher.
        labels: (B,) class index, -1 where unknown.
        config: the weights and the temperature.

    Returns:
        (B,) loss per example.
    """
    known = labels >= 0
    ce = F.cross_entropy(logits, labels.clamp(min=0), reduction="none") * known
    loss = config.ce_weight * ce
    if teacher_logits is not None:
        temperature = config.temperature
        log_student = F.log_softmax(logits / temperature, dim=1)
        teacher = F.softmax(teacher_logits / temperature, dim=1)
        kd = F.kl_div(log_student, teacher, reduction="none").sum(dim=1) * temperature**2
        loss = loss + config.kd_weight * kd
    return loss


def train_one_epoch(
    model: nn.Module,
    teacher: nn.Module | None,
    examples: TrainingBatch,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: TrainConfig,
    epoch: int,
    device: torch.device,
) -> float:
    """One pass over `examples` in an order fixed by (seed, epoch).

    Returns:
        Mean training loss over the epoch.
    """
    model.train()
    generator = torch.Generator().manual_seed(config.seed * 7919 + epoch)
    torch.manual_seed(config.seed * 7919 + epoch)  # dropout masks, so a resumed epoch replays exactly
    order = torch.randperm(len(examples), generator=generator).numpy()
    total, seen = 0.0, 0
    steps = math.ceil(len(order) / config.batch_size)
    progress = tqdm(range(steps), desc=f"epoch {epoch + 1}/{config.epochs}", unit="batch", leave=False)
    for step in progress:
        index = order[step * config.batch_size : (step + 1) * config.batch_size]
        inputs = rasters_to_tensor(examples.inputs[index]).to(device)  # (B, 1, 28, 28)
        labels = torch.from_numpy(examples.labels[index]).to(device)  # (B,)
        teacher_logits = None
        if teacher is not None:
            with torch.no_grad():
                teacher_logits = teacher(rasters_to_tensor(examples.teacher_inputs[index]).to(device))
        per_example = distillation_loss(model(inputs), teacher_logits, labels, config)
        weights = torch.from_numpy(examples.weights[index]).to(device)  # (B,)
        loss = (per_example * weights).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()  # type: ignore[no-untyped-call]
        optimizer.step()
        scheduler.step()
        total += loss.item() * len(index)
        seen += len(index)
        progress.set_postfix(loss=f"{total / seen:.4f}")
    return total / max(seen, 1)


def _logits(model: nn.Module, rasters: np.ndarray, device: torch.device, batch_size: int) -> torch.Tensor:
    """(N, C) logits on CPU, computed in batches."""
    parts = [
        model(rasters_to_tensor(rasters[i : i + batch_size]).to(device)).cpu()
        for i in range(0, len(rasters), batch_size)
    ]
    return torch.cat(parts) if parts else torch.zeros(0, 0)


def _accuracy(logits: torch.Tensor, labels: np.ndarray, k: int) -> float:
    """Share of rows whose label is among the k largest logits (0.0 for no rows)."""
    if len(labels) == 0:
        return 0.0
    top = logits.topk(min(k, logits.shape[1]), dim=1).indices
    return float((top == torch.from_numpy(labels)[:, None]).any(dim=1).float().mean())


def evaluate(
    model: nn.Module, eval_set: EvalSet, device: torch.device, batch_size: int = 1024
) -> dict[str, float]:
    """Top-1 and top-3 accuracy at each prefix level, under eval mode and inference mode.

    Returns:
        {"top1_25": .., "top3_25": .., ..., "top1_100": .., "top1_bitmaps": ..}, plus "score": the
        mean top-1 over the prefix levels, complete drawings and bitmaps, which validation selects on.
    """
    model.eval()
    metrics: dict[str, float] = {}
    with torch.inference_mode():
        for level, rasters in eval_set.rasters.items():
            logits = _logits(model, rasters, device, batch_size)
            metrics[f"top1_{round(level * 100)}"] = _accuracy(logits, eval_set.labels, 1)
            metrics[f"top3_{round(level * 100)}"] = _accuracy(logits, eval_set.labels, 3)
        if len(eval_set.bitmap_labels):
            logits = _logits(model, eval_set.bitmaps, device, batch_size)
            metrics["top1_bitmaps"] = _accuracy(logits, eval_set.bitmap_labels, 1)
    top1 = [value for key, value in metrics.items() if key.startswith("top1_")]
    metrics["score"] = float(np.mean(top1)) if top1 else 0.0
    return metrics


def blend_states(
    start: dict[str, torch.Tensor], end: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """Weights `alpha` of the way from `start` to `end` (Wortsman et al. 2022, "WiSE-FT").

    Fine-tuning on a few hundred drawings drifts away from what the seed learned on 160,000; a
    point on the straight line between the two keeps most of the new skill (early recognition) and
    gives back most of what drifted (complete drawings). It costs nothing at inference.
    """
    return {
        name: start[name] + alpha * (end[name] - start[name]) if end[name].is_floating_point() else end[name]
        for name in end
    }


def _complete_top1(metrics: dict[str, float], eval_set: EvalSet) -> float:
    """Top-1 on complete drawings, stroke drawings and bitmaps pooled."""
    counts = (len(eval_set.labels), len(eval_set.bitmap_labels))
    scores = (metrics.get("top1_100", 0.0), metrics.get("top1_bitmaps", 0.0))
    return sum(n * score for n, score in zip(counts, scores, strict=True)) / max(sum(counts), 1)


def choose_blend(
    model: nn.Module,
    start: dict[str, torch.Tensor],
    trained: dict[str, torch.Tensor],
    teacher: nn.Module,
    eval_set: EvalSet,
    device: torch.device,
) -> tuple[float, dict[str, float]]:
    """The largest blend (see `blend_states`) that is no worse than the teacher on complete drawings.

    Measured on the validation split only. Candidates are 1.0, 0.9, ..., 0.5; if none reaches the
    teacher, the best of them on complete drawings.

    Returns:
        (alpha, {alpha as text: pooled complete-drawing top-1}), the table including "teacher".
    """
    target = _complete_top1(evaluate(teacher, eval_set, device), eval_set)
    table = {"teacher": target}
    for alpha in BLEND_CANDIDATES:
        model.load_state_dict(blend_states(start, trained, alpha))
        table[f"{alpha:.1f}"] = _complete_top1(evaluate(model, eval_set, device), eval_set)
    model.load_state_dict(trained)
    reaching = [alpha for alpha in BLEND_CANDIDATES if table[f"{alpha:.1f}"] >= target]
    alpha = max(reaching) if reaching else max(BLEND_CANDIDATES, key=lambda a: table[f"{a:.1f}"])
    return alpha, table


def make_student(config: TrainConfig, device: torch.device) -> nn.Module:
    """A fresh student, started from `init`'s weights, or the seed's when `init_seed` asks for it.

    Raises:
        CheckpointError: the starting weights do not fit the student's config.
    """
    model = build_model(config.model)
    if config.init is not None:
        start = Checkpoint.load(config.init)
        if start.config != config.model or tuple(start.labels) != tuple(config.labels):
            raise CheckpointError(f"{config.init} is a {start.config} over {start.labels}, not this student")
        model.load_state_dict(start.state_dict)
    elif config.init_seed:
        seed_state = Checkpoint.from_seed_state_dict(SEED_STATE_DICT).state_dict
        if isinstance(model, DoodleNet):
            model.init_from_seed(seed_state)
        else:
            model.load_state_dict(seed_state, strict=True)
    return model.to(device)


def _save_state(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    epoch: int,
    best: float,
    history: list[dict[str, float]],
) -> None:
    """Resumable state: plain tensors and numbers only, so it loads with weights_only=True."""
    tmp = path.with_suffix(".tmp")
    torch.save(
        {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict(),
            "epoch": epoch,
            "best": best,
            "history": history,
        },
        tmp,
    )
    tmp.replace(path)


def main(
    config: TrainConfig, resume: bool = False, stop_after: int | None = None, command: str = ""
) -> Checkpoint:
    """Train, validating after each epoch, and return the final model as a checkpoint.

    Files in `out_dir`: `last.pt` (resumable state), `model.pt` (the latest epoch's checkpoint) and
    `best.pt` (the epoch with the best validation score). The final model, not the best, is the
    result: our validation split holds a few dozen stroke drawings, too few to pick an epoch by, and
    the one-cycle schedule ends at a small learning rate, so the last epoch is the settled one. With
    `config.blend`, `model.pt` finally holds the last epoch blended towards the seed (`choose_blend`).

    Args:
        config: the run's settings.
        resume: continue from `out_dir/last.pt` if it exists.
        stop_after: stop once this many epochs are done (as if interrupted; resume continues).
        command: the command line, recorded in the checkpoint.

    Returns:
        The checkpoint of the last epoch run.
    """
    if config.threads:
        torch.set_num_threads(config.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(config.seed)
    config.out_dir.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    uses_bitmaps = config.bitmaps_per_class > 0 or config.recipe.all_labelled_bitmaps
    train = load_corpus(
        config.data_dirs,
        config.labels,
        "train",
        other_classes=config.other_classes,
        bitmaps=uses_bitmaps,
        max_per_class=config.max_per_class,
    )
    val = build_eval_set(
        load_corpus(
            config.data_dirs,
            config.labels,
            "val",
            bitmaps=uses_bitmaps,
            max_per_class=config.max_per_class,
        )
    )
    data_summary = (
        f"train split: {len(train.labelled())} stroke drawings of the model's classes, "
        f"{len(train.drawings) - len(train.labelled())} of other classes, {len(train.bitmaps)} bitmap rows "
        f"({int((train.bitmaps.labels >= 0).sum())} of the model's classes); validation split: "
        f"{len(val.labels)} stroke drawings, {len(val.bitmap_labels)} re-rendered bitmaps"
    )
    print(data_summary, file=sys.stderr)

    teacher = load_teacher(config.teacher, config.labels, device) if config.teacher else None
    model = make_student(config, device)
    start_state = {name: tensor.clone() for name, tensor in model.state_dict().items()}
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = math.ceil(
        epoch_size(train, config.recipe, config.bitmaps_per_class) / config.batch_size
    )
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=steps_per_epoch * config.epochs, pct_start=0.15
    )

    start_epoch, best, history = 0, -1.0, []
    last_path, model_path, best_path = (config.out_dir / name for name in ("last.pt", "model.pt", "best.pt"))
    if resume and last_path.is_file():
        state = torch.load(last_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        start_epoch, best, history = state["epoch"] + 1, state["best"], list(state["history"])
        print(f"resumed after epoch {start_epoch}", file=sys.stderr)

    def snapshot(epoch: int, metrics: dict[str, float], extra: dict[str, Any] | None = None) -> Checkpoint:
        training = {
            **config.to_dict(),
            "epoch": epoch,
            "seconds": time.perf_counter() - started,
            "data": data_summary,
            "command": command,
            "device": str(device),
            **(extra or {}),
        }
        return Checkpoint.from_model(
            model,
            config.model,
            config.labels,
            training=training,
            metrics={"validation": metrics, "history": history},
        )

    last_epoch = config.epochs if stop_after is None else min(stop_after, config.epochs)
    for epoch in range(start_epoch, last_epoch):
        examples = render_epoch(train, epoch, config.seed, config.recipe, config.bitmaps_per_class)
        loss = train_one_epoch(model, teacher, examples, optimizer, scheduler, config, epoch, device)
        metrics = evaluate(model, val, device)
        history.append({"epoch": epoch + 1, "loss": loss, **metrics})
        print(
            f"epoch {epoch + 1}: loss {loss:.4f} val " + " ".join(f"{k} {v:.3f}" for k, v in metrics.items()),
            file=sys.stderr,
        )
        checkpoint = snapshot(epoch + 1, metrics)
        checkpoint.save(model_path)
        if metrics["score"] > best:
            best = metrics["score"]
            checkpoint.save(best_path)
        _save_state(last_path, model, optimizer, scheduler, epoch, best, history)

    starts_trained = config.init_seed or config.init is not None
    if config.blend and starts_trained and teacher is not None and last_epoch == config.epochs:
        trained = {name: tensor.clone() for name, tensor in model.state_dict().items()}
        alpha, table = choose_blend(model, start_state, trained, teacher, val, device)
        model.load_state_dict(blend_states(start_state, trained, alpha))
        metrics = evaluate(model, val, device)
        print(
            f"blend with the starting weights: alpha {alpha} (validation complete-drawing top-1 {table})",
            file=sys.stderr,
        )
        snapshot(config.epochs, metrics, {"blend": {"alpha": alpha, "validation_complete_top1": table}}).save(
            model_path
        )
    return Checkpoint.load(model_path)


def complete_stage(config: TrainConfig) -> TrainConfig:
    """The settings of stage 1 (see the module docstring), in `config.out_dir / "complete"`."""
    return replace(
        config,
        out_dir=config.out_dir / "complete",
        epochs=config.base_epochs,
        lr=config.base_lr,
        recipe=replace(COMPLETE_RECIPE, size=config.recipe.size),
        blend=False,
    )


def train(config: TrainConfig, resume: bool = False, command: str = "") -> Checkpoint:
    """Both stages: complete drawings, then prefixes started from (and blended towards) stage 1.

    Stage 1 runs only where it can start from the seed with the seed as teacher, and `base_epochs`
    is not 0; otherwise this is `main(config)`. Each stage keeps its own `last.pt`, so `resume`
    continues whichever stage was interrupted.

    Returns:
        The final checkpoint; its training record holds stage 1's settings and validation metrics
        under "base".
    """
    if not (config.base_epochs and config.init_seed and config.init is None and config.teacher):
        return main(config, resume=resume, command=command)
    base = complete_stage(config)
    base_checkpoint = main(base, resume=resume, command=command)
    base_path = base.out_dir / "model.pt"
    final = main(replace(config, init=base_path, teacher=base_path), resume=resume, command=command)
    stage_1 = {
        "epochs": base.epochs,
        "lr": base.lr,
        "recipe": asdict(base.recipe),
        "seconds": base_checkpoint.training.get("seconds", 0.0),
        "validation": base_checkpoint.metrics.get("validation", {}),
    }
    final = replace(final, training={**final.training, "base": stage_1})
    final.save(config.out_dir / "model.pt")
    return final


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add `doodle-party train` options to `parser`."""
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        required=True,
        help="Quick, Draw! folder (bucket or flat layout) or drawing archive; repeat to train on several",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("runs/doodle20"), help="run folder (last.pt, best.pt)"
    )
    parser.add_argument(
        "--arch",
        choices=["doodle_net", "seed_cnn", "sketch_vgg"],
        default="doodle_net",
        help="network layout (ignored with --init, which brings its own)",
    )
    parser.add_argument(
        "--init",
        type=Path,
        default=None,
        help="start from this checkpoint: its layout, classes and weights (the 345-word model starts"
        " from the imported DoodleNet, `doodle-party import-tfjs`)",
    )
    parser.add_argument(
        "--from-scratch",
        action="store_true",
        help="random initial weights instead of the seed's (other classes)",
    )
    parser.add_argument(
        "--teacher", type=Path, default=SEED_STATE_DICT, help="teacher state_dict or checkpoint"
    )
    parser.add_argument("--no-teacher", action="store_true", help="hard labels only (other class lists)")
    parser.add_argument(
        "--labels", default=",".join(SEED_LABELS), help="comma-separated classes, output order"
    )
    parser.add_argument(
        "--epochs", type=int, default=8, help="passes over freshly rendered data (default %(default)s)"
    )
    parser.add_argument(
        "--batch-size", type=int, default=256, help="examples per optimizer step (default %(default)s)"
    )
    parser.add_argument(
        "--lr",
        type=float,
        default=2e-3,
        help="peak learning rate of the one-cycle schedule (default %(default)s)",
    )
    parser.add_argument(
        "--temperature",
        type=float,
        default=3.0,
        help="distillation temperature of the soft targets (default %(default)s)",
    )
    parser.add_argument(
        "--bitmaps-per-class",
        type=int,
        default=500,
        help="bitmaps drawn per class per epoch (default %(default)s)",
    )
    parser.add_argument("--variants", type=int, default=32, help="renders per labelled drawing per epoch")
    parser.add_argument(
        "--complete-share",
        type=float,
        default=0.3,
        help="share of a drawing's renders that show it complete rather than a prefix",
    )
    parser.add_argument(
        "--live-share",
        type=float,
        default=0.5,
        help="share of prefixes framed on their own extent, as the live game frames them (the rest keep"
        " the complete drawing's frame, as the prefix accuracy figures do)",
    )
    parser.add_argument(
        "--max-per-class", type=int, help="cap on drawings and bitmaps read per class (default: no cap)"
    )
    parser.add_argument("--no-other-classes", action="store_true", help="skip drawings of other classes")
    parser.add_argument("--seed", type=int, default=0, help="fixes every random choice (default %(default)s)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default 0: torch's own)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    parser.add_argument("--no-blend", action="store_true", help="ship the fine-tuned weights unblended")
    parser.add_argument(
        "--base-epochs",
        type=int,
        default=0,
        help="epochs of a first stage on every bitmap of the model's classes (0: none; see the docstring)",
    )
    parser.add_argument("--export", type=Path, default=None, help="also write the final checkpoint here")


def _command_line() -> str:
    """This process's options as a `doodle-party train` command line, for the checkpoint's record."""
    argv = sys.argv[1:]
    if argv[:1] == ["train"]:  # run through `doodle-party train`
        argv = argv[1:]
    return "doodle-party train " + shlex.join(argv)


def run(args: argparse.Namespace) -> int:
    """Run `doodle-party train` with parsed `args`; returns the exit status."""
    labels = tuple(word.strip() for word in args.labels.split(",") if word.strip())
    model = ModelConfig(arch=args.arch, num_classes=len(labels))
    if args.init is not None:
        start = Checkpoint.load(args.init)
        labels, model = start.labels, start.config
    config = TrainConfig(
        data_dirs=tuple(args.data),
        out_dir=args.out,
        labels=labels,
        model=model,
        init_seed=not args.from_scratch and args.init is None,
        init=args.init,
        teacher=None if args.no_teacher else args.teacher,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        temperature=args.temperature,
        other_classes=not args.no_other_classes,
        bitmaps_per_class=args.bitmaps_per_class,
        max_per_class=args.max_per_class,
        recipe=RenderRecipe(
            variants_labelled=args.variants, complete_share=args.complete_share, live_share=args.live_share
        ),
        seed=args.seed,
        threads=args.threads,
        blend=not args.no_blend,
        base_epochs=args.base_epochs,
    )
    checkpoint = train(config, resume=args.resume, command=_command_line())
    if args.export is not None:
        checkpoint.save(args.export)
    print(f"final validation: {checkpoint.metrics.get('validation')}")
    return 0


if __name__ == "__main__":
    _parser = argparse.ArgumentParser(prog="python -m inference.train", description=__doc__.split("\n")[0])
    configure_parser(_parser)
    sys.exit(run(_parser.parse_args()))
