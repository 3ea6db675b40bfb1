"""The weights while training: histograms and changes per epoch, checked against the weights."""

import numpy as np

from mnist_core.engine.model import build_model
from mnist_core.engine.progress import EpochProgress
from mnist_core.engine.training import train
from mnist_core.engine.weight_watch import BINS, describe


def _kernels(model) -> dict[str, np.ndarray]:
    return {
        layer.name: np.asarray(layer.kernel).copy()
        for layer in model.layers
        if type(layer).__name__ in ("Conv2D", "Dense")
    }


def _train(config, mnist):
    model = build_model(config)
    snapshots = [_kernels(model)]  # as initialised

    def on_progress(progress):
        if isinstance(progress, EpochProgress):
            snapshots.append(_kernels(model))

    result = train(model, config, mnist, on_progress=on_progress)
    return result, snapshots


def test_each_epoch_reports_each_layers_histogram_and_relative_change(tiny_config, mnist):
    result, snapshots = _train(tiny_config.replace(epochs=3), mnist)
    assert [e.weights.epoch for e in result.history] == [1, 2, 3]
    for epoch, progress in enumerate(result.history, 1):
        layers = {layer.name: layer for layer in progress.weights.layers}
        assert list(layers) == ["conv1", "conv2", "dense", "digits"]
        for name, layer in layers.items():
            now, before, start = (
                snapshots[epoch][name],
                snapshots[epoch - 1][name],
                snapshots[0][name],
            )
            assert layer.counts.sum() == now.size and len(layer.counts) == BINS
            assert np.array_equal(layer.counts, np.histogram(now, layer.edges)[0])
            assert np.array_equal(layer.initial_counts, np.histogram(start, layer.edges)[0])
            assert layer.initial_counts.sum() == start.size  # the bins hold them all too
            assert layer.largest == np.abs(now).max()
            change = np.linalg.norm(now - before) / np.linalg.norm(before)
            assert np.isclose(layer.change, change, rtol=1e-5)


def test_a_too_high_learning_rate_shows_in_the_weights(tiny_config, mnist):
    calm = tiny_config.replace(epochs=2, learning_rate=0.0003)
    wild = calm.replace(learning_rate=0.1)  # Adam: steps of about 0.1 each, but never NaN
    calm_run, _ = _train(calm, mnist)
    wild_run, _ = _train(wild, mnist)
    for name in ("conv1", "dense"):
        quiet = next(x for x in calm_run.history[-1].weights.layers if x.name == name)
        loud = next(x for x in wild_run.history[-1].weights.layers if x.name == name)
        # The weights blow up: conv1 to about 2×, the dense layer to 10× (‖W‖ and max |w|).
        assert loud.norm > 1.5 * quiet.norm and loud.largest > 1.5 * quiet.largest
        assert loud.broken == quiet.broken == 0


def test_weights_that_are_no_longer_numbers_are_counted_not_a_crash():
    before = {"dense": np.array([[0.5, -0.5], [0.25, 0.0]], np.float32)}
    now = {"dense": np.array([[np.nan, -0.75], [np.inf, 0.1]], np.float32)}
    layer = describe(3, now, before, before).layers[0]
    assert layer.broken == 2 and layer.counts.sum() == 2 and layer.largest == 0.75
    assert not np.isfinite(layer.change)  # the UI then says the rate is far too high
