"""The CSV downloads: a run's history per epoch, an evaluation per digit and its confusion."""

import csv
import io

import numpy as np
import pandas as pd
from conftest import epoch_progress

from mnist_core.engine.evaluation import Evaluation
from mnist_core.presentation.export import confusion_csv, file_stem, history_csv, per_digit_csv

# A history's first columns, in every download (then one per digit, when it was validated).
HISTORY_HEADER = "epoch,complete,loss,accuracy,val_loss,val_accuracy,seconds"


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def _confusion(seed: int) -> np.ndarray:
    matrix = np.random.default_rng(seed).integers(0, 30, (10, 10))
    matrix[5] = 0  # no validation images of a 5
    return matrix


def test_history_has_a_row_per_epoch_and_its_numbers_read_back_exactly():
    history = [
        epoch_progress(1, _confusion(1)),
        epoch_progress(2, _confusion(2)),
        epoch_progress(3, _confusion(3), True),
    ]
    rows = _rows(history_csv(history))
    header, body = rows[0], rows[1:]
    assert ",".join(header) == HISTORY_HEADER + "".join(f",val_accuracy_{d}" for d in range(10))
    assert len(body) == 3 and [r[0] for r in body] == ["1", "2", "3"]
    assert [r[1] for r in body] == ["true", "true", "false"]  # the last was cut short by Stop
    for row, epoch in zip(body, history, strict=True):
        cells = dict(zip(header, row, strict=True))
        for name in ("loss", "accuracy", "val_loss", "val_accuracy", "seconds"):
            assert float(cells[name]) == getattr(epoch, name)  # exactly, not rounded
        with np.errstate(invalid="ignore"):  # 0/0 for the 5s
            per_digit = epoch.val_confusion.diagonal() / epoch.val_confusion.sum(axis=1)
        for digit in range(10):
            cell = cells[f"val_accuracy_{digit}"]
            if digit == 5:
                assert cell == "", "no validation 5s: an empty cell, not 'nan'"
            else:
                assert float(cell) == per_digit[digit]


def test_history_without_validation_has_empty_cells_and_no_digit_columns():
    rows = _rows(history_csv([epoch_progress(1, val=False), epoch_progress(2, val=False)]))
    assert ",".join(rows[0]) == HISTORY_HEADER
    assert [(r[4], r[5]) for r in rows[1:]] == [("", ""), ("", "")]
    assert _rows(history_csv([])) == [rows[0]], "no epochs yet: the header alone"


def test_a_spreadsheet_reads_the_history_as_numbers():
    history = [epoch_progress(1, _confusion(1)), epoch_progress(2, _confusion(2))]
    table = pd.read_csv(io.StringIO(history_csv(history)))
    assert table["epoch"].tolist() == [1, 2]
    assert table["complete"].tolist() == [True, True]
    assert table["val_loss"].tolist() == [e.val_loss for e in history]
    assert table["val_accuracy_5"].isna().all()


def _evaluation() -> Evaluation:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 500)
    labels[labels == 8] = 3  # no 8s in the set
    probabilities = rng.random((500, 10))
    probabilities[np.arange(500), labels] += rng.random(500) * 2  # mostly right
    return Evaluation(labels, probabilities / probabilities.sum(axis=1, keepdims=True))


def test_per_digit_table_has_one_row_per_digit_and_adds_up_to_the_evaluation():
    ev = _evaluation()
    rows = _rows(per_digit_csv(ev))
    assert rows[0] == ["digit", "count", "correct", "accuracy", "precision", "recall"]
    body = rows[1:]
    assert [int(r[0]) for r in body] == list(range(10))
    assert sum(int(r[1]) for r in body) == len(ev.labels)
    assert sum(int(r[2]) for r in body) == round(ev.accuracy * len(ev.labels))
    for row, expected in zip(body, ev.per_class(), strict=True):
        if expected["count"]:
            assert float(row[3]) == expected["accuracy"] == float(row[5])
        else:
            assert row[3] == row[5] == "", "no 8s: accuracy is empty, not 0 or nan"
        if not np.isnan(expected["precision"]):
            assert float(row[4]) == expected["precision"]


def test_confusion_is_a_ten_by_ten_table_of_true_rows_and_predicted_columns():
    ev = _evaluation()
    rows = _rows(confusion_csv(ev))
    assert rows[0] == ["true", *(f"predicted_{d}" for d in range(10))]
    assert len(rows) == 11 and all(len(r) == 11 for r in rows)
    assert [int(r[0]) for r in rows[1:]] == list(range(10))
    counts = np.array([[int(c) for c in r[1:]] for r in rows[1:]])
    assert (counts == ev.confusion).all()
    assert counts.sum() == len(ev.labels) and counts.trace() == (ev.predictions == ev.labels).sum()
    table = pd.read_csv(io.StringIO(confusion_csv(ev)), index_col="true")
    assert table.shape == (10, 10) and table.loc[3, "predicted_3"] == ev.confusion[3, 3]


def test_file_names_come_from_the_model_name():
    assert file_stem("Run 3 (custom)") == "run-3-custom"
    assert file_stem("Default model") == "default-model"
    assert file_stem("mine.keras (uploaded)") == "mine-keras-uploaded"
    assert file_stem("训练 3 (custom)") == "训练-3-custom", "a run named in Chinese keeps its name"
    assert file_stem("../(*)") == "model", "never an empty file name, never a path"
