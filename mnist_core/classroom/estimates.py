"""How long a run will take: a cost model fitted once, scaled by this server's measured speed."""

from __future__ import annotations

import math
import threading

import numpy as np

from mnist_core.config import (
    PRESETS,
    TrainConfig,
    layer_shapes,
    network_layers,
    steps_per_execution,
)
from mnist_core.data import IMAGE_SIDE, NUM_CLASSES, MnistData


def _conv_macs(config: TrainConfig, lanes: int = 1) -> list[int]:
    """Multiply-accumulates of each conv layer for one image, its filters rounded up to a
    multiple of `lanes`."""
    shapes = dict(layer_shapes(config))
    inputs = (1, *config.filters[:-1])  # each layer's input channels
    return [
        shapes[f"conv{i}"] ** 2 * kernel * kernel * channels * -(-filters // lanes) * lanes
        for i, (filters, kernel, channels) in enumerate(
            zip(config.filters, config.kernel_sizes, inputs), 1
        )
    ]


def _dense_macs(config: TrainConfig) -> int:
    """Multiply-accumulates of the dense layers for one image."""
    shapes = layer_shapes(config)
    flat = shapes[-1][1] ** 2 * config.filters[-1] if shapes else IMAGE_SIDE * IMAGE_SIDE
    macs = 0
    if config.dense_units:
        macs += flat * config.dense_units
        flat = config.dense_units
    return macs + flat * NUM_CLASSES


def count_macs(config: TrainConfig) -> int:
    """Multiply-accumulates of one forward pass, for speed estimates."""
    return sum(_conv_macs(config)) + _dense_macs(config)


def _augmentation_layers(config: TrainConfig) -> int:
    return sum(bool(v) for v in (config.shift, config.rotation, config.zoom))


def cost_features(config: TrainConfig) -> dict[str, float]:
    """What one epoch of `config` does, in the units of EPOCH_COSTS."""
    shapes = dict(layer_shapes(config))
    maps = activations = 0  # values the activation and pooling touch; the activation's alone
    for i, filters in enumerate(config.filters, 1):
        out = shapes[f"conv{i}"]
        pooled = shapes.get(f"pool{i}", out)
        maps += (out * out + pooled * pooled) * filters
        activations += out * out * filters
    # The CPU's vector units work on 8 filters at once (AVX2): 2 filters cost as much as 8.
    convs, dense, macs = _conv_macs(config, lanes=8), _dense_macs(config), count_macs(config)
    images, steps = config.train_size, config.batches_per_epoch
    return {
        "epoch": 1,  # Keras's own work around an epoch: a new data iterator, callbacks
        # Each call into TensorFlow (one or several steps) costs Python and dispatch; each step
        # its own optimizer update and batch copy.
        "call": math.ceil(steps / steps_per_execution(config)),
        "step": steps,
        "image": images,  # shuffling, copying each batch in, the loss and metrics per image
        # The first conv has one input channel: few MACs for the memory it reads.
        "first_conv_mac": images * convs[0] if convs else 0,
        "conv_mac": images * sum(convs[1:]),
        "dense_mac": images * dense,
        "map_value": images * maps,
        "batch_norm_value": images * maps * config.batch_norm,
        # Each activation's own cost beyond map_value's; measured, tanh and sigmoid cost no
        # more than ReLU's comparison, ELU's exponential a little and GELU's error function most.
        "elu_value": images * activations * (config.activation == "elu"),
        "gelu_value": images * activations * (config.activation == "gelu"),
        "val_image": config.val_size,  # converting, predicting in chunks, the confusion counts
        "val_mac": config.val_size * macs,
        "val_map_value": config.val_size * maps,
    }


def setup_features(config: TrainConfig) -> dict[str, float]:
    """What a run does once (build the network, trace its steps), in the units of SETUP_COSTS."""
    return {
        "run": 1,
        "layer": len(network_layers(config)) - 1,  # every layer but the input
        "augmentation": _augmentation_layers(config),  # large graphs to trace
        "validation": bool(config.val_size),  # tracing the network for prediction
    }


# The cost of one unit of each feature, in SPEED_PROBE epochs, so that they hold on a faster or
# slower machine once its probe epoch is timed. Fitted on this project's 2-core machine (a
# robust fit, where a run slowed by other work counts less) by
# `python -m bench.bench_estimates --fit --n 14 --bound 20 --save fit.json` (it prints both
# tables; `--refit fit.json more.json` fits again from saved runs): 36 runs on 2026-12-05, once
# training ran several steps per call. Features that fitted 0 before (a cost per weight and
# batch, per augmented image, tanh's and sigmoid's own cost) were dropped.
EPOCH_COSTS = {
    "epoch": 0.211,
    "call": 0.0118,
    "step": 0.00686,
    "image": 0.000183,
    "first_conv_mac": 3.32e-10,
    "conv_mac": 2.2e-10,
    "dense_mac": 5.32e-10,
    "map_value": 8.47e-09,
    "batch_norm_value": 2.17e-08,
    "elu_value": 3.63e-09,
    "gelu_value": 2.57e-08,
    "val_image": 7.72e-06,
    "val_mac": 1.7e-10,
    "val_map_value": 4.23e-09,
}
SETUP_COSTS = {"run": 4.92, "layer": 0.401, "augmentation": 0.38, "validation": 1.11}
# A short run timed once per server: seconds of one of its epochs after the first.
SPEED_PROBE = PRESETS["codelab"].replace(train_size=2048, val_size=0, batch_size=128, epochs=5)


def _cost(features: dict[str, float], costs: dict[str, float]) -> float:
    return sum(costs[name] * value for name, value in features.items())


def estimate_epoch_seconds(config: TrainConfig, speed: float) -> float:
    """Seconds of one epoch after the first on a server whose SPEED_PROBE epoch takes `speed` s."""
    return speed * _cost(cost_features(config), EPOCH_COSTS)


def estimate_seconds(config: TrainConfig, speed: float) -> float:
    """Seconds of a whole run: building, the first epoch's tracing and every epoch."""
    setup = speed * _cost(setup_features(config), SETUP_COSTS)
    return setup + config.epochs * estimate_epoch_seconds(config, speed)


class ServerSpeed:
    """This server's speed for estimates: the speed probe's epoch, timed once, corrected after
    each run that trained all its epochs by how long it took against its estimate, so that the
    estimates follow the server's load (another user's run, other processes) as it changes."""

    WEIGHT = 0.5  # of the newest run in the correction; the rest is the runs before it
    MAX_CORRECTION = 4.0  # one run's ratio counts as at most 4× (or 1/4): a stall stays a blip

    def __init__(self, probe: float):
        self.probe = probe  # seconds of one SPEED_PROBE epoch, timed by the warm-up
        self.correction = 1.0  # smoothed measured / estimated of the finished runs
        self._lock = threading.Lock()

    @property
    def seconds(self) -> float:
        """Seconds of one SPEED_PROBE epoch at the server's recent pace."""
        with self._lock:
            return self.probe * self.correction

    def estimate(self, config: TrainConfig) -> float:
        """Seconds to build and train `config` now: estimate_seconds at the recent pace."""
        return estimate_seconds(config, self.seconds)

    def estimate_epoch(self, config: TrainConfig) -> float:
        """Seconds of one of `config`'s epochs after the first, at the recent pace."""
        return estimate_epoch_seconds(config, self.seconds)

    def record(self, config: TrainConfig, seconds: float) -> None:
        """Fold in a finished run of `config` that took `seconds` to build and train."""
        ratio = seconds / estimate_seconds(config, self.probe)
        ratio = min(max(ratio, 1 / self.MAX_CORRECTION), self.MAX_CORRECTION)
        with self._lock:  # geometric smoothing: 2× slower then 2× faster comes back to 1
            self.correction = self.correction ** (1 - self.WEIGHT) * ratio**self.WEIGHT


def measure_speed(data: MnistData) -> float:
    """This machine's speed: the seconds of one SPEED_PROBE epoch after the first (2-3 s in all)."""
    from mnist_core.engine.training import train_config  # TensorFlow, once the server warms up

    history = train_config(SPEED_PROBE, data).history
    # The median of the epochs after the first (which traces): a moment's load spike drops out.
    return float(np.median([epoch.seconds for epoch in history[1:]]))
