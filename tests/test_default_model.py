"""The model shipped in models/: it loads, and it is as good as the README says."""

import pytest
from conftest import DEFAULT_MODEL

from mnist_core.config import PRESETS, TrainConfig, read_metadata
from mnist_core.engine.model import evaluate, load_model


def test_the_default_model_scores_at_least_99_5_percent_on_the_test_set(full_mnist):
    model = load_model(DEFAULT_MODEL)
    result = evaluate(model, full_mnist.x_test, full_mnist.y_test)
    assert len(result.labels) == 10_000
    assert result.accuracy >= 0.995, result.accuracy
    info = read_metadata(DEFAULT_MODEL)
    assert info["test_accuracy"] == pytest.approx(result.accuracy, abs=2e-4)


def test_the_default_model_was_trained_with_the_best_preset():
    info = read_metadata(DEFAULT_MODEL)
    assert info["preset"] == "best" and info["data"] == "file"
    assert TrainConfig.from_dict(info["config"]) == PRESETS["best"]
    assert load_model(DEFAULT_MODEL).count_params() == info["params"]
