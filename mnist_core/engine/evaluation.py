"""Evaluation: accuracy, per-class figures, the confusion matrix and the mistakes behind it."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mnist_core.data import NUM_CLASSES


@dataclass(frozen=True)
class Evaluation:
    """Predictions on a labelled set and everything derived from them."""

    labels: np.ndarray  # (n,) true digits
    probabilities: np.ndarray  # (n, 10)

    @property
    def predictions(self) -> np.ndarray:
        """Predicted digit per image."""
        return self.probabilities.argmax(axis=1)

    @property
    def confidence(self) -> np.ndarray:
        """Probability of the predicted digit per image."""
        return self.probabilities.max(axis=1)

    @property
    def accuracy(self) -> float:
        """Share of images predicted right."""
        return float((self.predictions == self.labels).mean())

    @property
    def confusion(self) -> np.ndarray:
        """10x10 counts, rows the true digit, columns the predicted one."""
        matrix = np.zeros((NUM_CLASSES, NUM_CLASSES), dtype=np.int64)
        np.add.at(matrix, (self.labels, self.predictions), 1)
        return matrix

    def per_class(self) -> list[dict]:
        """Per digit: test count, correct count, accuracy (=recall) and precision."""
        m = self.confusion
        rows = []
        for digit in range(NUM_CLASSES):
            count, predicted, correct = m[digit].sum(), m[:, digit].sum(), m[digit, digit]
            rows.append(
                {
                    "digit": digit,
                    "count": int(count),
                    "correct": int(correct),
                    "accuracy": correct / count if count else float("nan"),
                    "precision": correct / predicted if predicted else float("nan"),
                    "recall": correct / count if count else float("nan"),
                }
            )
        return rows

    def cell(self, true: int, predicted: int) -> np.ndarray:
        """Indices of images of digit `true` predicted as `predicted`, most confident first."""
        idx = np.flatnonzero((self.labels == true) & (self.predictions == predicted))
        return idx[np.argsort(-self.probabilities[idx, predicted], kind="stable")]

    def mistakes(self, n: int | None = None) -> np.ndarray:
        """Indices of wrong predictions, most confident mistakes first."""
        idx = np.flatnonzero(self.labels != self.predictions)
        return idx[np.argsort(-self.confidence[idx], kind="stable")][:n]
