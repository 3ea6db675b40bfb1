"""The engine's own arithmetic checked against reference implementations (Keras, scikit-learn)."""

import itertools

import keras
import numpy as np
import pytest
from sklearn.metrics import confusion_matrix, precision_score, recall_score

from mnist_core.classroom.estimates import count_macs
from mnist_core.config import ConfigError, TrainConfig, layer_shapes
from mnist_core.engine.evaluation import Evaluation
from mnist_core.engine.model import build_model

# Every combination of the settings that change shapes and multiply-accumulates.
GRID = [
    TrainConfig(
        filters=filters[:blocks],
        kernel_sizes=kernels[:blocks],
        strides=strides,
        padding=padding,
        pooling=pooling,
        dense_units=dense,
    )
    for blocks, filters, kernels, strides, padding, pooling, dense in itertools.product(
        (1, 2, 3),
        ((4, 8, 16), (16, 8, 4)),
        ((3, 5, 7), (1, 3, 3)),
        (1, 2),
        ("valid", "same"),
        ("max", "average", "none"),
        (0, 32),
    )
]


def _keras_macs(model) -> int:
    """Multiply-accumulates of one forward pass, counted from Keras's own layer shapes."""
    macs = 0
    for layer in model.layers:
        if layer.__class__.__name__ == "Conv2D":
            _, h, w, out = layer.output.shape
            k = layer.kernel_size
            macs += h * w * out * k[0] * k[1] * layer.input.shape[-1]
        elif layer.__class__.__name__ == "Dense":
            macs += layer.input.shape[-1] * layer.units
    return macs


def _keras_sizes(config: TrainConfig) -> dict[str, int] | None:
    """Feature-map sides after each conv and pooling layer by Keras's own shape inference;
    None when a map would shrink below 1×1."""
    shape, sizes = (None, 28, 28, 1), {}
    try:
        for i, (filters, kernel) in enumerate(zip(config.filters, config.kernel_sizes), 1):
            conv = keras.layers.Conv2D(
                filters, kernel, strides=config.strides, padding=config.padding
            )
            shape = conv.compute_output_shape(shape)
            sizes[f"conv{i}"] = shape[1]
            if shape[1] < 1:
                return None
            if config.pooling != "none":
                shape = keras.layers.MaxPooling2D(2, strides=2).compute_output_shape(shape)
                sizes[f"pool{i}"] = shape[1]
                if shape[1] < 1:
                    return None
    except ValueError:  # Keras refuses some negative sizes itself
        return None
    return sizes


def test_layer_shapes_and_macs_match_keras_over_a_grid_of_networks():
    built = refused = 0
    for config in GRID:
        expected = _keras_sizes(config)
        if expected is None:
            with pytest.raises(ConfigError):
                layer_shapes(config)
            refused += 1
            continue
        assert dict(layer_shapes(config)) == expected, config
        assert count_macs(config) == _keras_macs(build_model(config)), config
        built += 1
    assert built > 100 and refused > 10, (built, refused)


def test_evaluation_figures_match_scikit_learn():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 10, 2000)
    # A noisy classifier: right about 70 % of the time, with random probabilities.
    logits = rng.normal(size=(2000, 10))
    logits[np.arange(2000), labels] += 1.5
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    ev = Evaluation(labels, probabilities)
    predicted = probabilities.argmax(axis=1)

    assert np.array_equal(ev.confusion, confusion_matrix(labels, predicted, labels=range(10)))
    rows = ev.per_class()
    precision = precision_score(labels, predicted, labels=range(10), average=None)
    recall = recall_score(labels, predicted, labels=range(10), average=None)
    assert np.allclose([r["precision"] for r in rows], precision)
    assert np.allclose([r["recall"] for r in rows], recall)
    assert np.allclose([r["accuracy"] for r in rows], recall)
    assert ev.accuracy == pytest.approx((predicted == labels).mean())
