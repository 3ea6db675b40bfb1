"""Downloads as CSV: a run's per-epoch history, an evaluation's per-digit table and confusion.

Column headers are data (English snake_case identifiers), not UI text: they stay the same in
every language, so a spreadsheet or a script reads any download the same way. Numbers are
written in full (Python's shortest round-tripping form); a missing value is an empty cell.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from mnist_core.data import NUM_CLASSES

if TYPE_CHECKING:  # annotations only: naming a download needs no TensorFlow
    from mnist_core.engine.evaluation import Evaluation
    from mnist_core.engine.progress import EpochProgress

HISTORY_COLUMNS = (
    "epoch",
    "complete",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "seconds",
)
PER_DIGIT_COLUMNS = ("digit", "count", "correct", "accuracy", "precision", "recall")


def file_stem(name: str) -> str:
    """`name` as the start of a file name: lower case letters (any script) and digits, runs of
    other characters as one '-'."""
    return re.sub(r"[\W_]+", "-", name.lower()).strip("-") or "model"


def _cell(value: object) -> object:
    """A value as a CSV cell: None and NaN empty, booleans as true/false."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value


def _csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows([_cell(v) for v in row] for row in rows)
    return out.getvalue()


def history_csv(history: Sequence[EpochProgress]) -> str:
    """One row per epoch: loss, accuracy, validation loss and accuracy, seconds, and the
    validation accuracy of each digit when it was recorded (`complete` is false for an epoch
    cut short by a stop)."""
    per_digit = any(e.val_confusion is not None for e in history)
    header = list(HISTORY_COLUMNS)
    if per_digit:
        header += [f"val_accuracy_{digit}" for digit in range(NUM_CLASSES)]
    rows = []
    for e in history:
        row = [e.epoch, not e.partial, e.loss, e.accuracy, e.val_loss, e.val_accuracy, e.seconds]
        if per_digit:
            digits = e.val_per_digit
            row += [None] * NUM_CLASSES if digits is None else [float(a) for a in digits]
        rows.append(row)
    return _csv(header, rows)


def per_digit_csv(evaluation: Evaluation) -> str:
    """One row per digit: images, right answers, accuracy (= recall) and precision."""
    rows = (
        [r["digit"], r["count"], r["correct"], *(float(r[c]) for c in PER_DIGIT_COLUMNS[3:])]
        for r in evaluation.per_class()
    )
    return _csv(PER_DIGIT_COLUMNS, rows)


def confusion_csv(evaluation: Evaluation) -> str:
    """The 10×10 confusion counts: a row per true digit, a column per predicted digit."""
    header = ["true", *(f"predicted_{digit}" for digit in range(NUM_CLASSES))]
    matrix = evaluation.confusion
    return _csv(header, ([digit, *map(int, matrix[digit])] for digit in range(NUM_CLASSES)))
