"""The weights while a network trains: after each epoch, a histogram of each layer's weights and
how much the layer changed, from numpy copies of the weights (cheap next to an epoch)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

BINS = 40


@dataclass(frozen=True)
class LayerWeights:
    """One layer's weights (its kernel, not its biases) after one epoch."""

    name: str
    edges: np.ndarray = field(repr=False)  # BINS + 1 bin edges, over these and the initial
    counts: np.ndarray = field(repr=False)  # the weights in each bin
    initial_counts: np.ndarray = field(repr=False)  # the weights as initialised, same bins
    norm: float  # ‖W‖, the weights' Euclidean length
    change: float  # ‖W − W a epoch before‖ / ‖W an epoch before‖
    largest: float  # max |w| of the finite weights
    broken: int = 0  # weights that are NaN or infinite


@dataclass(frozen=True)
class WeightEpoch:
    """Every weighted layer after `epoch` epochs."""

    epoch: int
    layers: tuple[LayerWeights, ...]


def kernels(model) -> dict[str, np.ndarray]:
    """Each layer's kernel (conv and dense weights), copied, by layer name."""
    return {
        layer.name: np.array(layer.kernel)
        for layer in model.layers
        if getattr(layer, "kernel", None) is not None
    }


def relative_change(now: np.ndarray, before: np.ndarray) -> float:
    """‖now − before‖ / ‖before‖ (0 for weights that were all zero and stayed so)."""
    size = float(np.linalg.norm(before))
    moved = float(np.linalg.norm(now - before))
    return moved / size if size else (0.0 if not moved else float("inf"))


def describe(epoch: int, now: dict, before: dict, initial: dict) -> WeightEpoch:
    """Histograms and norms of the kernels `now`, their change since `before` (one epoch
    earlier), and the `initial` kernels counted in the same bins."""
    layers = []
    for name, weights in now.items():
        # A far too high learning rate can turn weights into NaN or infinity: counted apart.
        finite = weights[np.isfinite(weights)]
        largest = float(np.abs(finite).max()) if finite.size else 0.0
        start = initial[name][np.isfinite(initial[name])]
        # Bins over both the weights and the initial ones, so the two histograms compare whole.
        reach = max(largest, float(np.abs(start).max()) if start.size else 0.0) or 1.0
        edges = np.linspace(-reach, reach, BINS + 1)
        layers.append(
            LayerWeights(
                name=name,
                edges=edges,
                counts=np.histogram(finite, edges)[0],
                initial_counts=np.histogram(start, edges)[0],
                norm=float(np.linalg.norm(weights)),
                change=relative_change(weights, before[name]),
                largest=largest,
                broken=int(weights.size - finite.size),
            )
        )
    return WeightEpoch(epoch, tuple(layers))


class WeightWatch:
    """Remembers the kernels as initialised and one epoch ago, to describe each epoch's."""

    def __init__(self, model) -> None:
        self._initial = self._before = kernels(model)

    def look(self, model, epoch: int) -> WeightEpoch:
        """The weights after `epoch` epochs."""
        now = kernels(model)
        described = describe(epoch, now, self._before, self._initial)
        self._before = now
        return described
