"""Import a TensorFlow.js layers model (ml5's DoodleNet) as a project `Checkpoint`.

The TensorFlow.js layers format is a `model.json` (the Keras topology and a weights manifest) beside
binary shards of little-endian float32 weights, concatenated in the manifest's order. This module reads
that format for the one topology family the project uses, `SketchVGG` (a Keras Sequential of Conv2D,
MaxPooling2D, Dropout, Flatten and Dense layers), and refuses anything else by name.

Two layout differences matter when porting Keras to PyTorch:

- a Keras Conv2D kernel is (kh, kw, in, out); PyTorch wants (out, in, kh, kw);
- Keras flattens channels-last (H, W, C), PyTorch (C, H, W): the first Dense layer's input rows are
  permuted accordingly. A Dense kernel is (in, out); PyTorch's Linear weight is (out, in).

Nothing here executes code from the files: the JSON is data and the shards are raw floats.

Errors::

    ValueError
     └── CheckpointError
          └── TfjsFormatError   the files are not a layers model of a supported topology
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from inference.model import Checkpoint, CheckpointError, ModelConfig, build_model

__all__ = [
    "TfjsFormatError",
    "TfjsLayer",
    "configure_parser",
    "import_tfjs",
    "read_class_names",
    "read_layers",
    "read_weights",
    "run",
]

# The architecture the supported Sequential layout maps onto.
_BLOCK = ("Conv2D", "Conv2D", "MaxPooling2D")


class TfjsFormatError(CheckpointError):
    """The folder does not hold a TensorFlow.js layers model this importer supports."""

    code = "bad_tfjs_model"


@dataclass(frozen=True, slots=True)
class TfjsLayer:
    """One Keras layer as the topology describes it.

    Attributes:
        kind: the Keras class name ("Conv2D", "Dense", ...).
        name: the layer's name, which prefixes its weights in the manifest ("conv2d_1").
        config: the layer's Keras config (filters, activation, padding, ...).
    """

    kind: str
    name: str
    config: dict[str, Any]


def read_layers(model_json: dict[str, Any]) -> list[TfjsLayer]:
    """The Sequential model's layers, in order.

    Raises:
        TfjsFormatError: not a layers-format Sequential model.
    """
    try:
        topology = model_json["modelTopology"]
        model_config = topology.get("model_config", topology)
        if model_config["class_name"] != "Sequential":
            raise TfjsFormatError(f"only Sequential models are supported, not {model_config['class_name']}")
        config = model_config["config"]
        layers = config["layers"] if isinstance(config, dict) else config
        return [TfjsLayer(layer["class_name"], layer["config"]["name"], layer["config"]) for layer in layers]
    except (KeyError, TypeError) as exc:
        raise TfjsFormatError(f"model.json has no layers topology: {exc!r}") from exc


def read_weights(folder: Path, model_json: dict[str, Any]) -> dict[str, np.ndarray]:
    """Every weight in the manifest, by name ("conv2d/kernel"), in its Keras shape.

    Raises:
        TfjsFormatError: a shard is missing or its size disagrees with the manifest.
    """
    weights: dict[str, np.ndarray] = {}
    for group in model_json.get("weightsManifest", []):
        blob = b"".join((folder / path).read_bytes() for path in group["paths"])
        offset = 0
        for spec in group["weights"]:
            if spec.get("dtype", "float32") != "float32" or "quantization" in spec:
                raise TfjsFormatError(f"{spec['name']}: only unquantized float32 weights are supported")
            shape = tuple(int(side) for side in spec["shape"])
            size = int(np.prod(shape)) * 4
            if offset + size > len(blob):
                raise TfjsFormatError(f"shards end before {spec['name']} ({len(blob)} bytes)")
            weights[spec["name"]] = np.frombuffer(blob, dtype="<f4", count=size // 4, offset=offset).reshape(
                shape
            )
            offset += size
        if offset != len(blob):
            raise TfjsFormatError(f"shards hold {len(blob) - offset} bytes the manifest does not name")
    if not weights:
        raise TfjsFormatError("model.json names no weights")
    return weights


def read_class_names(path: Path) -> tuple[str, ...]:
    """Class names in output order, with the official spaces (`ice_cream` -> `ice cream`).

    ml5 wrote spaces as underscores; no official Quick, Draw! class name contains an underscore.
    """
    return tuple(line.strip().replace("_", " ") for line in path.read_text().splitlines() if line.strip())


def _config_for(layers: list[TfjsLayer], num_classes: int) -> ModelConfig:
    """The `SketchVGG` config this layer list is, or an error naming what does not fit."""
    kinds = [layer.kind for layer in layers]
    trunk = [kind for kind in kinds if kind not in ("Dropout", "Flatten")]
    blocks = (len(trunk) - 2) // 3
    expected = [*list(_BLOCK * blocks), "Dense", "Dense"]
    if blocks < 1 or trunk != expected:
        raise TfjsFormatError(f"unsupported layer sequence {kinds}")
    convs = [layer for layer in layers if layer.kind == "Conv2D"]
    for conv in convs:
        conf = conv.config
        if (
            list(conf["kernel_size"]) != [3, 3]
            or conf["padding"] != "same"
            or list(conf["strides"]) != [1, 1]
            or conf["activation"] != "relu"
            or conf.get("data_format", "channels_last") != "channels_last"
        ):
            raise TfjsFormatError(f"{conv.name}: only 3x3 'same' stride-1 relu convolutions are supported")
    for first, second in zip(convs[::2], convs[1::2], strict=True):
        if first.config["filters"] != second.config["filters"]:
            raise TfjsFormatError(f"{first.name} and {second.name} differ in width")
    hidden, output = (layer for layer in layers if layer.kind == "Dense")
    if hidden.config["activation"] != "tanh" or output.config["activation"] != "softmax":
        raise TfjsFormatError("expected a tanh hidden layer and a softmax output")
    if int(output.config["units"]) != num_classes:
        raise TfjsFormatError(f"{output.config['units']} outputs but {num_classes} class names")
    input_shape = convs[0].config.get("batch_input_shape") or [None, 28, 28, 1]
    dropouts = [float(layer.config.get("rate", 0.0)) for layer in layers if layer.kind == "Dropout"]
    return ModelConfig(
        arch="sketch_vgg",
        num_classes=num_classes,
        image_size=int(input_shape[1]),
        channels=tuple(int(conv.config["filters"]) for conv in convs[::2]),
        hidden=(int(hidden.config["units"]),),
        dropout=dropouts[0] if dropouts else 0.0,
    )


def import_tfjs(folder: str | Path, class_names: str | Path | None = None) -> Checkpoint:
    """Read `folder/model.json` and its shards into a `Checkpoint` of `SketchVGG`.

    Args:
        folder: the folder holding model.json and the shards it names.
        class_names: one class name a line in output order (default `folder/class_names.txt`).

    Returns:
        A checkpoint whose network computes the original's logits (its softmax is the original output).

    Raises:
        FileNotFoundError: a file is missing.
        TfjsFormatError: the files are not a supported layers model.
    """
    folder = Path(folder)
    model_json = json.loads((folder / "model.json").read_text())
    labels = read_class_names(Path(class_names) if class_names else folder / "class_names.txt")
    layers = read_layers(model_json)
    config = _config_for(layers, len(labels))
    weights = read_weights(folder, model_json)
    model = build_model(config)
    state = model.state_dict()
    convs = [layer.name for layer in layers if layer.kind == "Conv2D"]
    hidden, output = (layer.name for layer in layers if layer.kind == "Dense")
    trunk = model.get_submodule("features").named_children()
    conv_modules = [index for index, module in trunk if isinstance(module, torch.nn.Conv2d)]
    ported: dict[str, np.ndarray] = {}
    for name, index in zip(convs, conv_modules, strict=True):
        ported[f"features.{index}.weight"] = weights[f"{name}/kernel"].transpose(3, 2, 0, 1)
        ported[f"features.{index}.bias"] = weights[f"{name}/bias"]
    # Keras flattened (H, W, C): reorder the hidden layer's input rows to PyTorch's (C, H, W).
    width, side = config.channels[-1], config.image_size // 2 ** len(config.channels)
    kernel = weights[f"{hidden}/kernel"]  # (H * W * C, hidden)
    kernel = kernel.reshape(side, side, width, -1).transpose(2, 0, 1, 3).reshape(width * side * side, -1)
    ported["hidden.weight"] = kernel.T
    ported["hidden.bias"] = weights[f"{hidden}/bias"]
    ported["out.weight"] = weights[f"{output}/kernel"].T
    ported["out.bias"] = weights[f"{output}/bias"]
    if set(ported) != set(state):
        raise TfjsFormatError(f"weights {sorted(ported)} do not cover the network's {sorted(state)}")
    for key, array in ported.items():
        if tuple(array.shape) != tuple(state[key].shape):
            raise TfjsFormatError(f"{key}: shape {array.shape} does not fit {tuple(state[key].shape)}")
    return Checkpoint(
        config=config,
        labels=labels,
        state_dict={
            key: torch.from_numpy(np.array(array, dtype=np.float32)) for key, array in ported.items()
        },
        training={
            "source": f"TensorFlow.js layers model imported from {folder.name}/model.json",
            "generated_by": model_json.get("generatedBy"),
            "converted_by": model_json.get("convertedBy"),
        },
    )


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Add `doodle-party data import-tfjs` options to `parser`."""
    parser.add_argument(
        "folder", type=Path, help="folder with model.json, its weight shards and class_names.txt"
    )
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (a .pt file)")
    parser.add_argument(
        "--class-names", type=Path, default=None, help="class names file (default FOLDER/class_names.txt)"
    )


def run(args: argparse.Namespace) -> int:
    """Import, save, and say what was written; returns the exit status."""
    checkpoint = import_tfjs(args.folder, args.class_names)
    checkpoint.save(args.out)
    print(f"wrote {args.out}: {checkpoint.config.arch}, {len(checkpoint.labels)} classes")
    return 0
