"""Accuracy, per-class figures, the confusion matrix and the mistakes behind each cell."""

import numpy as np

from mnist_core.engine.evaluation import Evaluation


def _onehot(predicted, confidence):
    probs = np.full((len(predicted), 10), 0.0)
    for row, (p, c) in enumerate(zip(predicted, confidence, strict=True)):
        probs[row] = (1 - c) / 9
        probs[row, p] = c
    return probs


def test_figures_match_a_hand_count():
    labels = np.array([0, 0, 0, 1, 1, 2, 7, 7])
    predicted = [0, 0, 1, 1, 7, 2, 1, 7]
    ev = Evaluation(labels, _onehot(predicted, [0.9, 0.8, 0.95, 0.7, 0.6, 0.99, 0.85, 0.5]))
    assert ev.accuracy == 5 / 8
    m = ev.confusion
    assert m.sum() == 8 and m[0, 0] == 2 and m[0, 1] == 1 and m[1, 7] == 1 and m[7, 1] == 1
    rows = {r["digit"]: r for r in ev.per_class()}
    assert (rows[0]["count"], rows[0]["correct"]) == (3, 2)
    assert rows[0]["recall"] == 2 / 3 and rows[0]["precision"] == 1.0
    assert rows[1]["precision"] == 1 / 3  # predicted 1 three times, right once
    assert rows[7]["accuracy"] == 0.5 and rows[7]["precision"] == 0.5
    assert np.isnan(rows[5]["accuracy"])  # no fives to test


def test_mistakes_and_cells_come_most_confident_first():
    labels = np.array([3, 3, 3, 3, 5])
    ev = Evaluation(labels, _onehot([5, 5, 3, 5, 5], [0.6, 0.9, 0.99, 0.75, 0.8]))
    assert ev.cell(3, 5).tolist() == [1, 3, 0]
    assert ev.cell(3, 3).tolist() == [2]
    assert ev.cell(5, 3).tolist() == []
    assert ev.mistakes().tolist() == [1, 3, 0]
    assert ev.mistakes(2).tolist() == [1, 3]
