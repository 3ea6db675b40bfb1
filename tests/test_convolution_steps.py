"""How a filter computes: each value worked out by hand equals Keras's own feature map."""

import numpy as np
import pytest

from mnist_core.config import PRESETS, TrainConfig
from mnist_core.engine import convolution_steps as cs
from mnist_core.engine.model import build_model

CONFIGS = {
    "codelab": PRESETS["codelab"],
    "best": PRESETS["best"],  # stride 2, 'same' padding, batch normalisation, no pooling
    "odd": TrainConfig(  # 7×7 maps into the last pooling, which drops their last row
        filters=(4, 6, 8),
        kernel_sizes=(3, 5, 1),
        padding="same",
        pooling="average",
        activation="tanh",
    ),
    "gelu-stride-3": TrainConfig(
        filters=(3,), kernel_sizes=(5,), strides=3, padding="same", activation="gelu"
    ),
    "elu-valid": TrainConfig(
        filters=(5, 7), kernel_sizes=(7, 3), strides=2, pooling="none", activation="elu"
    ),
}


def _model(config: TrainConfig):
    model = build_model(config)
    rng = np.random.default_rng(0)
    for layer in model.layers:  # non-trivial biases and normalisation statistics
        if type(layer).__name__ not in ("Conv2D", "Dense", "BatchNormalization"):
            continue
        weights = [w + rng.normal(0, 0.1, w.shape).astype(w.dtype) for w in layer.get_weights()]
        if type(layer).__name__ == "BatchNormalization":  # a positive variance
            weights[3] = np.abs(weights[3]) + 0.5
        layer.set_weights(weights)
    return model


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_each_value_worked_out_by_hand_is_the_feature_maps_value(name, digits):
    config = CONFIGS[name]
    model = _model(config)
    image = digits[0][3]
    rng = np.random.default_rng(1)
    layers = cs.conv_layers(model)
    assert [layer.name for layer in layers] == [f"conv{i + 1}" for i in range(config.conv_blocks)]
    for layer in layers:
        maps = cs.layer_maps(model, layer, image)
        rows, cols, filters = maps.maps.shape
        assert filters == layer.filters and maps.inputs.shape[2] == layer.channels
        picks = [(0, 0), (rows - 1, cols - 1)] + [
            (int(rng.integers(rows)), int(rng.integers(cols))) for _ in range(6)
        ]
        for row, col in picks:
            f = int(rng.integers(filters))
            step = cs.conv_step(maps, row, col, f)
            by_hand = cs.activate(step)
            assert by_hand == pytest.approx(maps.maps[row, col, f], abs=1e-4), (
                layer.name,
                row,
                col,
            )
            assert step.value == maps.maps[row, col, f]
            # The sum over channels of window × weights, plus the bias, as one dot product.
            dot = float((step.windows * step.weights).sum()) + step.bias
            assert step.total + step.bias == pytest.approx(dot, abs=1e-5)
            assert step.windows[~step.inside].sum() == 0  # the padding is zeros


def test_same_padding_puts_the_window_where_keras_does():
    # 28 wide, 3×3 kernel, stride 3 → 10 outputs: 2 padding columns in all, 1 before.
    assert cs.padding_before(28, 3, 3, "same") == 1
    assert cs.padding_before(28, 5, 1, "same") == 2
    assert cs.padding_before(28, 5, 2, "same") == 1  # 3 in all: the odd one goes after
    assert cs.padding_before(28, 5, 1, "valid") == 0


@pytest.mark.parametrize("name", ["codelab", "odd"])
def test_pooling_keeps_the_largest_or_the_mean_of_its_window(name, digits):
    model = _model(CONFIGS[name])
    for layer in cs.conv_layers(model):
        maps = cs.layer_maps(model, layer, digits[0][5])
        rows, cols, _f = maps.maps.shape
        for row in range(rows):
            for col in range(0, cols, 3):
                step = cs.pool_step(maps, row, col, 1)
                if step is None:  # the odd last row or column that pooling drops
                    assert row // 2 >= maps.pooled.shape[0] or col // 2 >= maps.pooled.shape[1]
                    continue
                assert step.value == pytest.approx(maps.pooled[row // 2, col // 2, 1], abs=1e-5)
                if step.kind == "max":
                    assert step.window[step.winner] == pytest.approx(step.value)
                else:
                    assert step.winner is None
                    assert step.window.mean() == pytest.approx(step.value, abs=1e-5)


def test_a_layer_without_pooling_has_no_pool_step(digits):
    model = _model(CONFIGS["best"])
    layer = cs.conv_layers(model)[0]
    assert layer.norm is not None and layer.activation is not None and layer.pool is None
    assert cs.pool_step(cs.layer_maps(model, layer, digits[0][0]), 0, 0, 0) is None
