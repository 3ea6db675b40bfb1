"""Why this answer: Integrated Gradients on a model with a known answer and on the default model."""

import gc
import time
import weakref

import keras
import numpy as np
import pytest

from mnist_core.engine.model import predict
from mnist_core.engine.saliency import HOW_TO_READ, _attribution_fn, overlay, saliency

PIXEL = (12, 17)


@pytest.fixture
def model(default_model):
    """The shipped model (conftest.py)."""
    return default_model


def one_pixel_model() -> keras.Model:
    """A conv-free model whose class 3 logit is 5 x the ink at PIXEL, and every other logit 0."""
    inputs = keras.Input(shape=(28, 28, 1))
    outputs = keras.layers.Dense(10, activation="softmax", name="digits")(
        keras.layers.Flatten()(inputs)
    )
    model = keras.Model(inputs, outputs)
    kernel = np.zeros((28 * 28, 10), np.float32)
    kernel[PIXEL[0] * 28 + PIXEL[1], 3] = 5.0
    model.get_layer("digits").set_weights([kernel, np.zeros(10, np.float32)])
    return model


def logits(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The default model's pre-softmax logits, computed independently of the saliency module."""
    digits = model.get_layer("digits")
    below = keras.Model(model.inputs[0], digits.input)
    hidden = np.asarray(below(images.reshape(-1, 28, 28, 1), training=False))
    return hidden @ np.asarray(digits.kernel) + np.asarray(digits.bias)


def test_only_the_pixel_the_answer_depends_on_is_credited():
    model = one_pixel_model()
    image = np.zeros((28, 28), np.float32)
    image[5:9, 5:9] = 1.0
    image[20, 3:25] = 0.7
    image[PIXEL] = 0.8
    result = saliency(model, image, target=3)
    assert result.target == 3
    expected = np.zeros((28, 28), np.float32)
    expected[PIXEL] = 5.0 * 0.8  # a linear logit: the attribution is weight x ink, exactly
    assert np.allclose(result.attributions, expected, atol=1e-5)
    # Every other class ignores every pixel.
    assert np.allclose(saliency(model, image, target=7).attributions, 0, atol=1e-6)


def test_the_default_target_is_the_models_answer(model, digits):
    images = digits[0]
    for image in images[:3]:
        assert saliency(model, image).target == predict(model, image).argmax()
    with pytest.raises(ValueError):
        saliency(model, images[0], target=10)


def test_attributions_add_up_to_the_logit_change_from_black(model, digits):
    images, labels = digits
    black = logits(model, np.zeros((28, 28), np.float32))[0]
    for image, label in zip(images, labels):
        result = saliency(model, image, target=int(label))
        change = logits(model, image)[0, label] - black[label]
        assert result.score_change == pytest.approx(change, abs=1e-3)
        # Measured with 64 steps on these 20 digits: at most 0.20 off (3.8 %, median 0.05) on
        # logit changes of -1.7 to 7.4 (the shipped model learned with label smoothing, which
        # keeps its logits small); 32 steps were up to 0.69 off (13 %).
        assert result.attributions.sum() == pytest.approx(change, abs=0.35)


def test_the_attributions_lie_on_the_ink(model, digits):
    images, labels = digits
    # A black canvas is itself read as a digit (a 1, 98 % sure, by the shipped model): for that
    # digit the ink adds little over black, so its balance can tip either way.
    blacks_answer = predict(model, np.zeros((28, 28), np.float32))[0].argmax()
    for image, label in zip(images, labels):
        attributions = saliency(model, image, target=int(label)).attributions
        positive, negative = np.clip(attributions, 0, None), np.clip(-attributions, 0, None)
        # A black pixel has no ink to credit (a black baseline), but faint edges could still
        # dominate: measured, 96 % to 100 % of the positive mass is on clear ink.
        assert positive[image > 0.1].sum() >= 0.9 * positive.sum()
        top = np.unravel_index(np.argsort(-attributions.ravel())[:10], attributions.shape)
        assert (image[top] > 0.1).all()
        if label != blacks_answer:  # on balance the ink argues for the true label
            assert positive.sum() > negative.sum()


def test_the_overlay_is_an_rgb_image_in_0_1(digits):
    image = digits[0][0]
    attributions = np.zeros((28, 28), np.float32)
    attributions[10, 10], attributions[20, 20] = 2.0, -1.0
    rgb = overlay(image, attributions)
    assert rgb.shape == (28, 28, 3) and rgb.dtype == np.float32
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert rgb[10, 10].tolist() == [1.0, 0.0, 0.0]  # the strongest push: pure red
    assert rgb[20, 20, 2] > rgb[20, 20, 0]  # pushing away: blue
    assert np.allclose(rgb[0, 0], rgb[0, 0, 0])  # elsewhere grey
    assert np.allclose(overlay(image, np.zeros((28, 28))), 0.5 * image[..., np.newaxis])


def test_a_model_without_a_softmax_layer_is_explained_by_its_log_probability():
    inputs = keras.Input(shape=(28, 28, 1))
    dense = keras.layers.Dense(10)(keras.layers.Flatten()(inputs))
    model = keras.Model(inputs, keras.layers.Activation("softmax")(dense))
    image = np.random.default_rng(0).random((28, 28)).astype(np.float32)
    result = saliency(model, image, target=2)
    assert "log-probability" in result.method
    log_p = np.log(predict(model, np.stack([image, np.zeros_like(image)]))[:, 2])
    assert result.score_change == pytest.approx(log_p[0] - log_p[1], abs=1e-4)
    assert result.attributions.sum() == pytest.approx(result.score_change, rel=0.05)


def test_the_traced_function_is_reused_per_model(model, digits):
    images = digits[0]
    saliency(model, images[0])
    fn, score = _attribution_fn(model)
    assert score == "pre-softmax logit"
    traces = fn.experimental_get_tracing_count()
    start = time.perf_counter()
    for image in images[1:6]:
        saliency(model, image)
    saliency(model, images[0], target=4, steps=16)  # another target and step count
    elapsed = (time.perf_counter() - start) / 6
    assert fn.experimental_get_tracing_count() == traces == 1
    assert _attribution_fn(model)[0] is fn
    assert elapsed < 1.0  # measured about 35 ms; a retrace takes seconds
    small = one_pixel_model()
    assert _attribution_fn(small)[0] is not fn


def test_how_to_read_is_one_sentence():
    assert HOW_TO_READ.startswith("Red pixels") and HOW_TO_READ.count(".") == 1


@pytest.mark.parametrize("softmax_dense", [True, False])
def test_the_cache_does_not_keep_a_model_alive(softmax_dense):
    inputs = keras.Input(shape=(28, 28, 1))
    flat = keras.layers.Flatten()(inputs)
    if softmax_dense:
        outputs = keras.layers.Dense(10, activation="softmax")(flat)
    else:
        outputs = keras.layers.Activation("softmax")(keras.layers.Dense(10)(flat))
    model = keras.Model(inputs, outputs)
    saliency(model, np.ones((28, 28), np.float32))
    alive = weakref.ref(model)
    del model
    gc.collect()
    assert alive() is None
