"""What a fit reports while it runs and what it returns: plain data, free of Keras, so that the
classroom and the pages can hold and show it without importing TensorFlow."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.engine.weight_watch import WeightEpoch

if TYPE_CHECKING:
    import keras


@dataclass(frozen=True)
class BatchProgress:
    """Progress within an epoch; loss and accuracy cover the batches since the last report."""

    epoch: int  # 1-based
    epochs: int
    batch: int  # 1-based, within the epoch
    batches: int
    step: int  # batches done since training began
    loss: float
    accuracy: float
    images_per_s: float
    elapsed: float
    eta: float


@dataclass(frozen=True)
class EpochProgress:
    """Metrics at the end of an epoch (`partial` when it was stopped early)."""

    epoch: int
    epochs: int
    loss: float
    accuracy: float
    val_loss: float | None
    val_accuracy: float | None
    seconds: float
    elapsed: float
    eta: float
    partial: bool
    # Validation counts, rows the true digit and columns the predicted one (None without one).
    val_confusion: np.ndarray | None = field(default=None, compare=False, repr=False)
    weights: WeightEpoch | None = field(default=None, compare=False, repr=False)

    @property
    def val_per_digit(self) -> np.ndarray | None:
        """Validation accuracy of each digit (NaN for a digit with no validation images)."""
        if self.val_confusion is None:
            return None
        counts = self.val_confusion.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.diag(self.val_confusion) / counts


Progress = BatchProgress | EpochProgress


@dataclass
class TrainResult:
    """A trained model with its per-epoch history and timings."""

    model: keras.Model
    history: list[EpochProgress]
    stopped: bool
    fit_seconds: float
    images_seen: int

    @property
    def images_per_s(self) -> float:
        """Training throughput over the whole fit, validation included."""
        return self.images_seen / self.fit_seconds if self.fit_seconds else 0.0
