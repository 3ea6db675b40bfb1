"""Hyperparameters: one frozen dataclass, its presets and its checks (plain Python, no Keras)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

from mnist_core.data import IMAGE_SIDE, NUM_CLASSES
from mnist_core.i18n import _, ngettext

ACTIVATIONS = ("relu", "elu", "gelu", "tanh", "sigmoid")
OPTIMIZERS = ("adam", "sgd", "rmsprop")
LR_SCHEDULES = ("constant", "cosine", "one-cycle")
ONE_CYCLE_WARMUP = 0.2  # the share of a "one-cycle" run spent raising the learning rate
POOLINGS = ("max", "average", "none")
PADDINGS = ("valid", "same")

# What the Train page offers for each setting (ui/train_settings.py); a shared link's values
# snap to these (links.py). Discrete settings pick from a grid:
MAX_BLOCKS = 3
FILTERS = (2, 4, 8, 16, 32, 64, 128)
KERNELS = (1, 3, 5, 7)
STRIDES = (1, 2, 3)
DENSE = (0, 8, 16, 32, 64, 128, 256, 512)  # 0: no hidden dense layer
RATES = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
BATCHES = (16, 32, 64, 128, 256, 512, 1024, 2048)
# What a block beyond the config's last one shows (its widgets are disabled then).
SPARE_FILTERS, SPARE_KERNELS = (32, 64, 128), (3, 3, 3)


@dataclass(frozen=True)
class Span:
    """A slider's range: `low` to `high` in steps of `step` (all ints for a whole-number one)."""

    low: float
    high: float
    step: float = 1


# Sliders: any value in the range (the presets use some between the steps, such as 0.08).
SPANS = {
    "dropout": Span(0.0, 0.7, 0.05),
    "epochs": Span(1, 50),
    "seed": Span(0, 10**6),
    "label_smoothing": Span(0.0, 0.3, 0.05),
    "shift": Span(0.0, 0.3, 0.05),
    "rotation": Span(0.0, 30.0, 5.0),
    "zoom": Span(0.0, 0.3, 0.05),
}


def size_spans(available: int) -> dict[str, Span]:
    """The training- and validation-size sliders' ranges when `available` digits can be used."""
    return {"train_size": Span(100, available, 100), "val_size": Span(0, available // 5, 100)}


class ConfigError(ValueError):
    """A configuration that cannot be built or trained, with the reason."""


class ModelFileError(ValueError):
    """A file that is not a usable digit model (raised by read_metadata and the engine's loader)."""


@dataclass(frozen=True)
class TrainConfig:
    """Every hyperparameter of the network and its training."""

    filters: tuple[int, ...] = (8, 16)  # one entry per conv block (0-3 blocks)
    kernel_sizes: tuple[int, ...] = (5, 5)
    strides: int = 1
    padding: str = "valid"
    pooling: str = "max"
    activation: str = "relu"
    batch_norm: bool = False
    dropout: float = 0.0
    dense_units: int = 0  # 0: no hidden dense layer
    optimizer: str = "adam"
    learning_rate: float = 0.001
    # "cosine": decay to zero over the whole run; "one-cycle": rise from a tenth of the rate
    # to the rate over the first fifth of the run, then the same cosine decay to zero.
    lr_schedule: str = "constant"
    batch_size: int = 512
    epochs: int = 10
    train_size: int = 5500
    val_size: int = 1000
    shift: float = 0.0  # augmentation: random shift, as a fraction of the image size
    rotation: float = 0.0  # augmentation: random rotation, in degrees
    zoom: float = 0.0  # augmentation: random zoom, as a fraction
    seed: int = 0
    # Targets keep this share spread over all ten digits (0.1: 0.91 for the right digit and
    # 0.01 for each other, not 1 and 0), so training stops pushing answers that are already
    # confident: a little better on new digits. 0: plain one-hot targets.
    label_smoothing: float = 0.0

    @property
    def conv_blocks(self) -> int:
        """Number of conv blocks."""
        return len(self.filters)

    @property
    def batches_per_epoch(self) -> int:
        """Training steps in one epoch (the last batch may be partial)."""
        return math.ceil(self.train_size / self.batch_size)

    @property
    def augmented(self) -> bool:
        """True when any random augmentation is on."""
        return bool(self.shift or self.rotation or self.zoom)

    def replace(self, **changes) -> TrainConfig:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    def fit_to(self, available: int) -> TrainConfig:
        """The same config with train and validation sizes shrunk to fit `available` digits."""
        val = min(self.val_size, available // 5)
        return self.replace(val_size=val, train_size=min(self.train_size, available - val))

    def to_dict(self) -> dict:
        """Plain JSON-ready data."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in vars(self).items()}

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        """Inverse of to_dict; unknown keys are refused."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(values) - names
        if unknown:
            raise ConfigError(
                _("Unknown hyperparameters: {names}.").format(names=", ".join(sorted(unknown)))
            )
        tuples = {k: tuple(v) for k, v in values.items() if isinstance(v, list)}
        return cls(**{**values, **tuples})

    def summary(self) -> str:
        """The network in one line of plain words, for the sidebar and run tables."""
        parts = [self._conv_summary()]
        if self.dense_units:
            parts.append(_("{n} hidden neurons").format(n=self.dense_units))
        if self.batch_norm:
            parts.append(_("batch normalisation"))
        if self.dropout:
            parts.append(_("dropout {share:.0%}").format(share=self.dropout))
        if self.augmented:
            parts.append(_("varied training images"))
        if self.label_smoothing:
            parts.append(_("softened answers"))
        optimizer = self.optimizer.title()
        if self.lr_schedule != "constant":
            step = _("{optimizer} at {rate:g}, slowing down")
        else:
            step = _("{optimizer} at {rate:g}")
        parts.append(step.format(optimizer=optimizer, rate=self.learning_rate))
        return " · ".join(parts)

    def _conv_summary(self) -> str:
        if not self.conv_blocks:
            return _("no pattern detectors (every pixel wired to every neuron)")
        sizes = ", ".join(str(f) for f in self.filters)
        kernels = sorted(set(self.kernel_sizes))
        window = _(" or ").join(f"{k}×{k}" for k in kernels)
        return ngettext(
            "{n} layer of {sizes} pattern detectors ({window} pixels)",
            "{n} layers of {sizes} pattern detectors ({window} pixels)",
            self.conv_blocks,
        ).format(n=self.conv_blocks, sizes=sizes, window=window)


# The training both tuned presets share: full MNIST, large batches, a one-cycle schedule.
_TUNED = dict(
    learning_rate=0.003, lr_schedule="one-cycle", batch_size=128, train_size=55000, val_size=5000
)
PRESETS: dict[str, TrainConfig] = {
    # The TensorFlow.js codelab's network and training, exactly.
    "codelab": TrainConfig(),
    # 99 % on the test set in well under a minute on 2 CPU cores (99.03-99.15 % over seeds 0-2).
    "fast": TrainConfig(filters=(16, 32), kernel_sizes=(5, 5), dropout=0.25, epochs=4, **_TUNED),
    # 99.5 % on the test set in under 3 minutes on 2 CPU cores (99.53-99.59 % over seeds 0-2;
    # 10 epochs gave 99.47-99.53 %): strided convolutions instead of pooling put the compute
    # where the maps are small.
    "best": TrainConfig(
        filters=(32, 64, 128),
        kernel_sizes=(5, 3, 3),
        strides=2,
        padding="same",
        pooling="none",
        batch_norm=True,
        dropout=0.2,
        dense_units=128,
        epochs=13,
        shift=0.1,
        label_smoothing=0.1,
        **_TUNED,
    ),
    # No convolution: the image flattened into 8 neurons, then the ten answers. About the
    # codelab network's size (6,370 parameters against 5,994) and the same training, so
    # Compare shows what convolution itself brings.
    "dense": TrainConfig(filters=(), kernel_sizes=(), dense_units=8),
}


def layer_shapes(config: TrainConfig) -> list[tuple[str, int]]:
    """Spatial size after each conv and pooling layer, refusing a map that shrinks below 1x1."""
    size, shapes = IMAGE_SIDE, []
    for i, k in enumerate(config.kernel_sizes, 1):
        if config.padding == "valid":
            if k > size:
                raise ConfigError(
                    _(
                        "Block {i} conv: a {k}×{k} kernel does not fit its {size}×{size} input "
                        "(feature maps would shrink below 1×1). Use smaller kernels, fewer "
                        "blocks or 'same' padding."
                    ).format(i=i, k=k, size=size)
                )
            size = (size - k) // config.strides + 1
        else:
            size = -(-size // config.strides)
        shapes.append((f"conv{i}", size))
        if config.pooling != "none":
            if size < 2:
                raise ConfigError(
                    _(
                        "Block {i} pooling: its {size}×{size} input is too small for 2×2 "
                        "pooling (feature maps would shrink below 1×1). Use smaller kernels, "
                        "stride 1, fewer blocks or no pooling."
                    ).format(i=i, size=size)
                )
            size //= 2
            shapes.append((f"pool{i}", size))
    return shapes


@dataclass(frozen=True)
class LayerInfo:
    """One row of a model summary."""

    name: str
    kind: str
    output_shape: tuple  # (None, ...): any number of images
    params: int


def network_layers(config: TrainConfig) -> list[LayerInfo]:
    """The layers model.build_model makes for `config`, worked out without Keras, so the Train
    page shows them before TensorFlow is imported (tests/test_model.py checks them against it)."""
    sizes = dict(layer_shapes(config))
    side, channels = IMAGE_SIDE, 1
    rows = [LayerInfo("image", "InputLayer", (None, side, side, 1), 0)]
    augmentations = (
        (config.shift, "shift", "RandomTranslation"),
        (config.rotation, "rotate", "RandomRotation"),
        (config.zoom, "zoom", "RandomZoom"),
    )
    rows += [LayerInfo(n, kind, (None, side, side, 1), 0) for on, n, kind in augmentations if on]
    pools = {"max": "MaxPooling2D", "average": "AveragePooling2D"}
    for i, (filters, kernel) in enumerate(zip(config.filters, config.kernel_sizes), 1):
        side, weights = sizes[f"conv{i}"], kernel * kernel * channels * filters
        shape, channels = (None, side, side, filters), filters
        if config.batch_norm:  # no bias: the normalisation's shift does its work
            rows += [
                LayerInfo(f"conv{i}", "Conv2D", shape, weights),
                LayerInfo(f"bn{i}", "BatchNormalization", shape, 4 * filters),
                LayerInfo(f"act{i}", "Activation", shape, 0),
            ]
        else:
            rows.append(LayerInfo(f"conv{i}", "Conv2D", shape, weights + filters))
        if config.pooling in pools:
            side = sizes[f"pool{i}"]
            shape = (None, side, side, filters)
            rows.append(LayerInfo(f"pool{i}", pools[config.pooling], shape, 0))
    width = side * side * channels
    rows.append(LayerInfo("flatten", "Flatten", (None, width), 0))
    if config.dense_units:
        units = config.dense_units
        rows.append(LayerInfo("dense", "Dense", (None, units), (width + 1) * units))
        width = units
    if config.dropout:
        rows.append(LayerInfo("dropout", "Dropout", (None, width), 0))
    rows.append(LayerInfo("digits", "Dense", (None, NUM_CLASSES), (width + 1) * NUM_CLASSES))
    return rows


# Each call from Keras into TensorFlow costs milliseconds of Python and dispatch: a sixth of a
# small network's fit (the codelab's). A call may run several training steps, up to about this
# many multiply-accumulates (forward pass): half a second on one core, so that Stop and the
# live progress, which answer between calls, stay prompt. A costlier step runs alone.
EXECUTION_MACS = 2_000_000_000
MAX_STEPS_PER_EXECUTION = 16


def steps_per_execution(config: TrainConfig) -> int:
    """Training steps Keras runs in one call into TensorFlow for `config`'s network."""
    if config.augmented or config.dropout:
        # Their random layers draw otherwise in a multi-step loop: one step per call keeps
        # `fast` and `best` training as they were tuned.
        return 1
    weighted = (layer for layer in network_layers(config) if layer.kind in ("Conv2D", "Dense"))
    # A layer's weights are each used once per position of its output map.
    macs = sum(layer.params * math.prod(layer.output_shape[1:-1]) for layer in weighted)
    return min(max(EXECUTION_MACS // (macs * config.batch_size), 1), MAX_STEPS_PER_EXECUTION)


def validate(config: TrainConfig, available: int | None = None) -> None:
    """Raise ConfigError naming the first impossible setting."""
    c = config
    checks = [
        (
            0 <= c.conv_blocks <= MAX_BLOCKS,
            _("Use 0 to {most} conv blocks, not {n}.").format(most=MAX_BLOCKS, n=c.conv_blocks),
        ),
        (
            len(c.kernel_sizes) == c.conv_blocks,
            _("Give one kernel size per block: {blocks} blocks, {kernels} kernel sizes.").format(
                blocks=c.conv_blocks, kernels=len(c.kernel_sizes)
            ),
        ),
        (all(1 <= f <= 512 for f in c.filters), _("Filters per block must be 1 to 512.")),
        (
            all(1 <= k <= IMAGE_SIDE for k in c.kernel_sizes),
            _("Kernel sizes must be 1 to {n}.").format(n=IMAGE_SIDE),
        ),
        (1 <= c.strides <= 4, _("Stride must be 1 to 4.")),
        (
            c.padding in PADDINGS,
            _("Padding must be one of {options}.").format(options=PADDINGS),
        ),
        (
            c.pooling in POOLINGS,
            _("Pooling must be one of {options}.").format(options=POOLINGS),
        ),
        (
            c.activation in ACTIVATIONS,
            _("Activation must be one of {options}.").format(options=ACTIVATIONS),
        ),
        (
            c.optimizer in OPTIMIZERS,
            _("Optimizer must be one of {options}.").format(options=OPTIMIZERS),
        ),
        (0 <= c.dropout < 1, _("Dropout must be at least 0 and below 1.")),
        (0 <= c.dense_units <= 4096, _("Dense units must be 0 (none) to 4,096.")),
        (0 < c.learning_rate <= 1, _("The learning rate must be above 0 and at most 1.")),
        (
            c.lr_schedule in LR_SCHEDULES,
            _("Learning-rate schedule must be one of {options}.").format(options=LR_SCHEDULES),
        ),
        (1 <= c.batch_size <= 8192, _("The batch size must be 1 to 8,192.")),
        (1 <= c.epochs <= 200, _("Epochs must be 1 to 200.")),
        (c.train_size >= 10, _("Train on at least 10 digits.")),
        (c.val_size >= 0, _("The validation size cannot be negative.")),
        (0 <= c.shift <= 0.5, _("Random shift must be 0 to 0.5 of the image.")),
        (0 <= c.rotation <= 180, _("Random rotation must be 0 to 180 degrees.")),
        (0 <= c.zoom < 1, _("Random zoom must be at least 0 and below 1.")),
        (
            0 <= c.label_smoothing < 1,
            _("Label smoothing must be at least 0 and below 1."),
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)
    if available is not None and c.train_size + c.val_size > available:
        raise ConfigError(
            _(
                "{train:,} training + {val:,} validation digits exceed the "
                "{available:,} training digits available."
            ).format(train=c.train_size, val=c.val_size, available=available)
        )
    layer_shapes(config)


def read_metadata(path: str | os.PathLike) -> dict:
    """The .json written beside a saved model (how it was trained, its scores), or {} when
    there is none. Plain Python, so a model can be described before Keras is imported."""
    sidecar = Path(path).with_suffix(".json")
    return json.loads(sidecar.read_text()) if sidecar.is_file() else {}
