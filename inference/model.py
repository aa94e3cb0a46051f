"""The doodle classifiers, their `ModelConfig`, and the one `Checkpoint` type that carries them.

Two architectures live here, both reading a (B, 1, 28, 28) float tensor of white strokes on black
scaled to [0, 1] (Google's `numpy_bitmap` style divided by 255):

- `SeedCNN`: the seed model from uvipen/QuickDraw (MIT), layer for layer, so that its published
  `state_dict` (keys conv1.0, conv2.0, fc1.0, fc2.0, fc3.0) loads with `strict=True`.
- `DoodleNet`: the project's own network. The seed's convolutions (same names and shapes, so the
  seed's weights are its starting point) under a nonlinear head: PReLU activations initialised as
  the identity, so training starts from exactly the seed's function and adds the capacity that
  recognising unfinished drawings needs. Same cost per doodle as the seed (~4.4M multiply-adds),
  which keeps CPU throughput in the thousands per second per core.

A `Checkpoint` is weights + `ModelConfig` + labels + `RasterRecipe` + training metadata. It is saved
with `torch.save` as plain tensors, strings and numbers only, and read back with
`torch.load(weights_only=True)`, so loading a checkpoint never runs pickled code.

Errors::

    ValueError
     └── CheckpointError   the file is not a checkpoint this code can rebuild
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from inference.decision import DEFAULT_RULE, DecisionRule

__all__ = [
    "SEED_LABELS",
    "Checkpoint",
    "CheckpointError",
    "DoodleNet",
    "ModelConfig",
    "RasterRecipe",
    "SeedCNN",
    "SketchVGG",
    "build_model",
]

# The seed's output order, from ../shared/seed_model/README.md. The game's default words.
SEED_LABELS: tuple[str, ...] = (
    "apple",
    "book",
    "bowtie",
    "candle",
    "cloud",
    "cup",
    "door",
    "envelope",
    "eyeglasses",
    "guitar",
    "hammer",
    "hat",
    "ice cream",
    "leaf",
    "scissors",
    "star",
    "t-shirt",
    "pants",
    "lightning",
    "tree",
)

# Bumped whenever the on-disk layout of a checkpoint changes incompatibly.
CHECKPOINT_FORMAT = 1

Arch = Literal["seed_cnn", "doodle_net", "sketch_vgg"]


class CheckpointError(ValueError):
    """A file could not be read as a checkpoint: wrong format, unknown architecture, bad weights."""

    code = "bad_checkpoint"


@dataclass(frozen=True, slots=True)
class ModelConfig:
    """Everything needed to rebuild a network before its weights are loaded.

    Attributes:
        arch: "seed_cnn" (the seed's exact layout), "doodle_net" (the 20-word student) or
            "sketch_vgg" (ml5's DoodleNet layout: the 345-word teacher and our 345-word model).
        num_classes: number of output logits; equals len(labels) in a checkpoint.
        image_size: side of the square input raster in pixels (both architectures expect 28).
        channels: conv widths: DoodleNet's two conv layers (the seed's are 32, 64), or SketchVGG's
            blocks of two 3x3 convs each (ml5's DoodleNet: 16, 32, 64).
        hidden: hidden layer widths: DoodleNet's two (the seed's are 512, 128), SketchVGG's one (512).
        dropout: dropout before the hidden layers (SeedCNN's is fixed at 0.5).
    """

    arch: Arch = "doodle_net"
    num_classes: int = len(SEED_LABELS)
    image_size: int = 28
    channels: tuple[int, ...] = (32, 64)
    hidden: tuple[int, ...] = (512, 128)
    dropout: float = 0.5

    def to_dict(self) -> dict[str, Any]:
        """Plain-type form stored inside a checkpoint."""
        data = asdict(self)
        data["channels"] = list(self.channels)
        data["hidden"] = list(self.hidden)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Inverse of `to_dict`.

        Raises:
            CheckpointError: unknown keys or an unknown architecture.
        """
        try:
            config = cls(
                **{
                    **data,
                    "channels": tuple(data.get("channels", (32, 64))),
                    "hidden": tuple(data.get("hidden", (512, 128))),
                }
            )
        except TypeError as exc:
            raise CheckpointError(f"bad model config {data!r}: {exc}") from exc
        if config.arch not in ("seed_cnn", "doodle_net", "sketch_vgg"):
            raise CheckpointError(f"unknown architecture {config.arch!r}")
        return config


@dataclass(frozen=True, slots=True)
class RasterRecipe:
    """How strokes become the model's input, so a checkpoint is never fed the wrong picture.

    Attributes:
        name: the rasterizer recipe; "google_bitmap" is `inference.rasterize.rasterize`, Google's
            published numpy_bitmap recipe (bbox centred in 256, line 16, padding 16, antialiased).
        size: output side in pixels.
        scale: divisor applied to uint8 pixels before the network (255 -> inputs in [0, 1]).
    """

    name: str = "google_bitmap"
    size: int = 28
    scale: float = 255.0


class SeedCNN(nn.Module):
    """The seed model from uvipen/QuickDraw, with the same module names as its state_dict.

    Each layer is wrapped in an `nn.Sequential` because the published keys are `conv1.0.weight` and
    so on; the ReLU/pool/dropout that follow hold no weights, so the keys match exactly.
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.conv1 = nn.Sequential(
            nn.Conv2d(1, 32, kernel_size=5, bias=False), nn.ReLU(inplace=True), nn.MaxPool2d(2)
        )
        self.conv2 = nn.Sequential(
            nn.Conv2d(32, 64, kernel_size=5, bias=False), nn.ReLU(inplace=True), nn.MaxPool2d(2)
        )
        # The original has no activation between the fully connected layers, only dropout.
        self.fc1 = nn.Sequential(nn.Linear(64 * 4 * 4, 512), nn.Dropout(0.5))
        self.fc2 = nn.Sequential(nn.Linear(512, 128), nn.Dropout(0.5))
        self.fc3 = nn.Sequential(nn.Linear(128, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of rasters.

        Args:
            x: (B, 1, 28, 28) float in [0, 1].

        Returns:
            (B, num_classes) logits.
        """
        x = self.conv1(x)  # (B, 32, 12, 12)
        x = self.conv2(x)  # (B, 64, 4, 4)
        x = x.flatten(1)  # (B, 1024)
        x = self.fc2(self.fc1(x))  # (B, 128)
        return self.fc3(x)  # (B, C)


class DoodleNet(nn.Module):
    """The project's own classifier: the seed's layer plan with a learnable nonlinear head.

    The seed's fully connected layers have no activation between them, so its head is one linear map
    of rank 128 from conv features to logits. Recognising half-finished drawings as well as finished
    ones asks more of the head, so each hidden layer here ends in a PReLU whose slope is initialised
    to 1: at initialisation it is the identity, the network computes exactly what the seed computes
    when given the seed's weights (`init_from_seed`), and training bends the head into a nonlinear
    one only as far as the data asks. The convolutions keep the seed's shapes and names, so its
    learned stroke detectors are the starting point; with other `channels`/`hidden` it trains from
    scratch just the same (for the full official dataset).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        c1, c2 = config.channels
        h1, h2 = config.hidden
        side = ((config.image_size - 4) // 2 - 4) // 2  # two valid 5x5 convs, each followed by a 2x pool
        self.conv1 = nn.Sequential(
            nn.Conv2d(1, c1, kernel_size=5, bias=False), nn.ReLU(inplace=True), nn.MaxPool2d(2)
        )
        self.conv2 = nn.Sequential(
            nn.Conv2d(c1, c2, kernel_size=5, bias=False), nn.ReLU(inplace=True), nn.MaxPool2d(2)
        )
        self.fc1 = nn.Sequential(
            nn.Linear(c2 * side * side, h1), nn.PReLU(h1, init=1.0), nn.Dropout(config.dropout)
        )
        self.fc2 = nn.Sequential(nn.Linear(h1, h2), nn.PReLU(h2, init=1.0), nn.Dropout(config.dropout))
        self.fc3 = nn.Sequential(nn.Linear(h2, config.num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of rasters.

        Args:
            x: (B, 1, 28, 28) float in [0, 1].

        Returns:
            (B, num_classes) logits.
        """
        x = self.conv1(x)  # (B, c1, 12, 12)
        x = self.conv2(x)  # (B, c2, 4, 4)
        x = x.flatten(1)  # (B, c2 * 16)
        x = self.fc2(self.fc1(x))  # (B, h2)
        return self.fc3(x)  # (B, C)

    def init_from_seed(self, seed_state: dict[str, torch.Tensor]) -> None:
        """Copy the seed's weights into the layers of the same names and shapes.

        Raises:
            CheckpointError: a seed tensor does not fit (other channels, hidden sizes or classes).
        """
        try:
            missing, unexpected = self.load_state_dict(seed_state, strict=False)
        except RuntimeError as exc:  # a tensor of another shape
            raise CheckpointError(f"seed weights do not fit: {exc}") from exc
        if unexpected or any(not name.endswith(".1.weight") for name in missing):
            raise CheckpointError(f"seed weights do not fit: missing {missing}, unexpected {unexpected}")


class SketchVGG(nn.Module):
    """ml5's DoodleNet layout (a small VGG), so its published weights port exactly (`inference.tfjs`).

    Blocks of two 3x3 "same" convolutions with ReLU, each block followed by a 2x2 max-pool (28 -> 14
    -> 7 -> 3), then dropout, one tanh hidden layer and the class logits. The softmax of the original
    is left to the caller, as for every network here. Module names follow the Keras layer order
    (`features.0` is `conv2d`, `features.2` is `conv2d_1`, ...), which `inference.tfjs` relies on.
    About 7.6M multiply-adds per doodle (the seed: 4.4M).
    """

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width_in, side = 1, config.image_size
        for width in config.channels:
            layers += [nn.Conv2d(width_in, width, 3, padding=1), nn.ReLU(inplace=True)]
            layers += [nn.Conv2d(width, width, 3, padding=1), nn.ReLU(inplace=True), nn.MaxPool2d(2)]
            width_in, side = width, side // 2
        self.features = nn.Sequential(*layers)
        (hidden,) = config.hidden
        self.dropout = nn.Dropout(config.dropout)
        self.hidden = nn.Linear(width_in * side * side, hidden)
        self.out = nn.Linear(hidden, config.num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits for a batch of rasters.

        Args:
            x: (B, 1, 28, 28) float in [0, 1].

        Returns:
            (B, num_classes) logits.
        """
        x = self.features(x)  # (B, 64, 3, 3)
        x = self.dropout(x.flatten(1))  # (B, 576), flattened (C, H, W)
        x = torch.tanh(self.hidden(x))  # (B, 512)
        return self.out(x)  # (B, C)


def build_model(config: ModelConfig) -> nn.Module:
    """A freshly initialised network for `config`.

    Raises:
        CheckpointError: unknown architecture.
    """
    if config.arch == "seed_cnn":
        return SeedCNN(config)
    if config.arch == "doodle_net":
        return DoodleNet(config)
    if config.arch == "sketch_vgg":
        return SketchVGG(config)
    raise CheckpointError(f"unknown architecture {config.arch!r}")


# The module holding each architecture's class logits (`Checkpoint.restricted` slices its rows).
_OUTPUT_LAYER: dict[str, str] = {"seed_cnn": "fc3.0", "doodle_net": "fc3.0", "sketch_vgg": "out"}


def _decision(data: Any, path: str | Path) -> DecisionRule:
    """The stored decision rule; checkpoints from before rules were swept get the old fixed rule."""
    if data is None:
        return DEFAULT_RULE
    try:
        return DecisionRule.from_dict(dict(data))
    except (TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: bad decision rule {data!r}: {exc}") from exc


def _plain(value: Any) -> Any:
    """`value` round-tripped through JSON: only types `torch.load(weights_only=True)` accepts."""
    return json.loads(json.dumps(value))


@dataclass(slots=True)
class Checkpoint:
    """A trained model as it lives on disk: weights, config, labels, input recipe, metadata.

    Attributes:
        config: rebuilds the network.
        labels: class names in output order.
        raster: how to turn strokes into the network's input.
        state_dict: the weights (CPU float tensors).
        training: how it was made (data, recipe, seeds, epochs); JSON-serialisable.
        metrics: held-out results measured when it was saved; JSON-serialisable.
        decision: when a guess counts as recognizing a word, chosen for this model's probabilities
            on validation data (`inference.sweep`); the server and `evaluate` both apply it.
    """

    config: ModelConfig
    labels: tuple[str, ...]
    state_dict: dict[str, torch.Tensor]
    raster: RasterRecipe = field(default_factory=RasterRecipe)
    training: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    decision: DecisionRule = DEFAULT_RULE

    @classmethod
    def from_model(
        cls,
        model: nn.Module,
        config: ModelConfig,
        labels: tuple[str, ...],
        raster: RasterRecipe | None = None,
        training: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> Checkpoint:
        """Snapshot `model`'s weights (copied to CPU) with everything needed to rebuild it."""
        state = {name: tensor.detach().to("cpu").clone() for name, tensor in model.state_dict().items()}
        return cls(
            config=config,
            labels=tuple(labels),
            state_dict=state,
            raster=raster or RasterRecipe(),
            training=dict(training or {}),
            metrics=dict(metrics or {}),
        )

    @classmethod
    def from_seed_state_dict(cls, path: str | Path) -> Checkpoint:
        """Wrap the seed model's bare state_dict (../shared/seed_model) as a checkpoint.

        Raises:
            CheckpointError: the file is not the seed's state_dict.
        """
        state = torch.load(Path(path), map_location="cpu", weights_only=True)
        if not isinstance(state, dict) or "fc3.0.weight" not in state:
            raise CheckpointError(f"{path} is not the seed model's state_dict")
        config = ModelConfig(arch="seed_cnn", num_classes=int(state["fc3.0.weight"].shape[0]), dropout=0.5)
        if config.num_classes != len(SEED_LABELS):
            raise CheckpointError(f"{path}: expected {len(SEED_LABELS)} classes, got {config.num_classes}")
        return cls(
            config=config,
            labels=SEED_LABELS,
            state_dict=dict(state),
            training={
                "source": "uvipen/QuickDraw (MIT), commit cb5173d, trained_models/whole_model_quickdraw"
            },
        )

    def restricted(self, words: Sequence[str]) -> Checkpoint:
        """The same network answering among `words` only: its output layer keeps their rows.

        The argmax of the restricted network is the original's argmax over those words, so a
        345-word model can be compared like for like with a 20-word one.

        Raises:
            CheckpointError: a word the model does not know.
        """
        missing = [word for word in words if word not in self.labels]
        if missing:
            raise CheckpointError(f"the model does not know {missing}")
        rows = torch.tensor([self.labels.index(word) for word in words])
        prefix = _OUTPUT_LAYER[self.config.arch]
        state = dict(self.state_dict)
        for suffix in ("weight", "bias"):
            state[f"{prefix}.{suffix}"] = state[f"{prefix}.{suffix}"][rows].clone()
        return replace(
            self,
            config=replace(self.config, num_classes=len(words)),
            labels=tuple(words),
            state_dict=state,
            training={**self.training, "restricted_to": list(words)},
        )

    def build(self) -> nn.Module:
        """The network with these weights loaded (strict), in eval mode, on CPU.

        Raises:
            CheckpointError: the weights do not fit the config.
        """
        model = build_model(self.config)
        try:
            model.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:
            raise CheckpointError(f"weights do not match {self.config}: {exc}") from exc
        return model.eval()

    def save(self, path: str | Path) -> None:
        """Write the checkpoint atomically (temporary file, then rename)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "format": CHECKPOINT_FORMAT,
            "config": self.config.to_dict(),
            "labels": list(self.labels),
            "raster": asdict(self.raster),
            "training": _plain(self.training),
            "metrics": _plain(self.metrics),
            "decision": self.decision.to_dict(),
            "state_dict": self.state_dict,
        }
        tmp = path.with_suffix(path.suffix + ".tmp")
        torch.save(payload, tmp)
        tmp.replace(path)

    @classmethod
    def load(cls, path: str | Path) -> Checkpoint:
        """Read a checkpoint with `torch.load(weights_only=True)`: tensors and plain data only.

        Raises:
            FileNotFoundError: no such file.
            CheckpointError: not a checkpoint of a known format.
        """
        try:
            payload = torch.load(Path(path), map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise
        except Exception as exc:  # pickle and zip errors have no common base class
            raise CheckpointError(f"cannot read checkpoint {path}: {exc}") from exc
        if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path} is not a doodle-party checkpoint (format {CHECKPOINT_FORMAT})")
        config = ModelConfig.from_dict(payload["config"])
        labels = tuple(str(label) for label in payload["labels"])
        if len(labels) != config.num_classes:
            raise CheckpointError(f"{path}: {len(labels)} labels for {config.num_classes} outputs")
        return cls(
            config=config,
            labels=labels,
            state_dict=dict(payload["state_dict"]),
            raster=RasterRecipe(**payload.get("raster", {})),
            training=dict(payload.get("training", {})),
            metrics=dict(payload.get("metrics", {})),
            decision=_decision(payload.get("decision"), path),
        )
