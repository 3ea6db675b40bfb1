"""Why this answer: which pixels pushed the network towards a digit, by Integrated Gradients.

Integrated Gradients (Sundararajan et al., 2017) averages the gradient along the straight path
from a baseline to the image and multiplies by (image - baseline). The baseline is the all-black
canvas: black is "no ink", MNIST's natural absence of evidence. Two of its properties matter here:
completeness, the attributions add up to score(image) - score(black) (to a few % with 64 steps),
so the map is a budget of the answer, and sensitivity, any pixel whose ink changes the score gets
a share. A plain gradient has neither: it tells what a tiny nudge at this very image would do, not
what the ink contributed, and it is speckled (on the default model 56 to 87 % of its magnitude
lies off the ink). Grad-CAM explains at the resolution of the last conv layer, 7x7 to 11x11 cells
in the presets, each seeing much of the digit: too coarse to say which stroke mattered.

The score is the class's pre-softmax logit: the network's own evidence for that digit. Softmax
probabilities saturate and mix every class into each one, and log-probability still subtracts the
other classes' evidence. Models that do not end in a softmax Dense layer fall back to
log-probability. One limit of a black baseline: a black pixel gets no attribution, so the map
shows what the ink did, never what missing ink would have done.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from mnist_core.data import IMAGE_SIDE, INPUT_SHAPE, NUM_CLASSES
from mnist_core.engine.backend import keras, tf
from mnist_core.i18n import N_

DEFAULT_STEPS = 64
HOW_TO_READ = N_(  # translated with _() where shown
    "Red pixels pushed the network towards its answer and blue pixels pushed it away, the "
    "brighter the harder; black pixels hold no ink, so they cannot push either way."
)

_RED = np.array([1.0, 0.0, 0.0], dtype=np.float32)
_BLUE = np.array([0.0, 0.3, 1.0], dtype=np.float32)
# The digit is drawn at this grey so that white ink does not wash out the colours.
_DIGIT_GREY = 0.5


@dataclass(frozen=True)
class Saliency:
    """Signed per-pixel attributions of one image's score for one class."""

    attributions: np.ndarray  # (28, 28) float32; positive pushed towards `target`
    target: int
    method: str
    score_change: float  # score(image) - score(black); the attributions add up to about this


def saliency(
    model: keras.Model, image: np.ndarray, target: int | None = None, steps: int = DEFAULT_STEPS
) -> Saliency:
    """Integrated Gradients from a black image for `target` (default: the model's answer)."""
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.size != IMAGE_SIDE * IMAGE_SIDE:
        raise ValueError(
            f"Expected a {IMAGE_SIDE}×{IMAGE_SIDE} image, got an array of shape {np.shape(image)}."
        )
    pixels = pixels.reshape(INPUT_SHAPE)
    if target is not None and not 0 <= target < NUM_CLASSES:
        raise ValueError(f"A target is a digit from 0 to {NUM_CLASSES - 1}, not {target}.")
    if steps < 1:
        raise ValueError(f"Integrated Gradients needs at least one step, not {steps}.")
    fn, score = _attribution_fn(model)
    # Midpoints of `steps` equal slices: more accurate than either end for the same count.
    alphas = (np.arange(steps, dtype=np.float32) + 0.5) / steps
    attributions, chosen, change = fn(
        tf.constant(pixels), tf.constant(-1 if target is None else target), tf.constant(alphas)
    )
    return Saliency(
        np.asarray(attributions)[..., 0],
        int(chosen),
        f"Integrated Gradients of the {score}, from a black image, {steps} steps",
        float(change),
    )


def overlay(image: np.ndarray, attributions: np.ndarray) -> np.ndarray:
    """An RGB (28, 28, 3) image in [0, 1]: the digit in grey, positive red, negative blue."""
    grey = _DIGIT_GREY * np.asarray(image, dtype=np.float32).reshape(IMAGE_SIDE, IMAGE_SIDE)
    attributions = np.asarray(attributions, dtype=np.float32).reshape(IMAGE_SIDE, IMAGE_SIDE)
    peak = float(np.abs(attributions).max())
    weight = np.abs(attributions) / peak if peak > 0 else np.zeros_like(attributions)
    colour = np.where((attributions >= 0)[..., np.newaxis], _RED, _BLUE)
    rgb = (1 - weight[..., np.newaxis]) * grey[..., np.newaxis] + weight[..., np.newaxis] * colour
    return np.clip(rgb, 0, 1).astype(np.float32)


_attributors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _attribution_fn(model: keras.Model):
    """A traced Integrated Gradients per model, and the name of the score it explains (cached)."""
    cached = _attributors.get(model)
    if cached is None:
        scores, name = _score_model(model)
        fn = tf.function(
            lambda image, target, alphas: _integrated_gradients(scores, image, target, alphas),
            input_signature=[
                tf.TensorSpec(INPUT_SHAPE, tf.float32),
                tf.TensorSpec((), tf.int32),
                tf.TensorSpec((None,), tf.float32),
            ],
            reduce_retracing=True,
        )
        cached = _attributors[model] = (fn, name)
    return cached


def _score_model(model: keras.Model):
    """A function from images to per-class scores: logits when the model ends in softmax Dense."""
    last = model.layers[-1]
    if (
        isinstance(last, keras.layers.Dense)
        and last.activation is keras.activations.softmax
        and last.output is model.outputs[0]
    ):
        below = keras.Model(model.inputs[0], last.input)

        def logits(x: tf.Tensor) -> tf.Tensor:
            return tf.matmul(below(x, training=False), last.kernel) + last.bias

        return logits, "pre-softmax logit"

    # A twin sharing the layers: a closure over `model` itself would keep its weak key alive.
    whole = keras.Model(model.inputs[0], model.outputs[0])

    def log_probabilities(x: tf.Tensor) -> tf.Tensor:
        # The floor keeps log finite where a probability underflows to zero.
        return tf.math.log(tf.maximum(whole(x, training=False), 1e-30))

    return log_probabilities, "log-probability"


def _integrated_gradients(scores, image: tf.Tensor, target: tf.Tensor, alphas: tf.Tensor):
    """Attributions, the class explained and score(image) - score(black), in one batched pass."""
    # The path's points, then black and the image itself, so the ends cost no second call.
    ends = tf.constant([0.0, 1.0])
    weights = tf.concat([alphas, ends], axis=0)[:, tf.newaxis, tf.newaxis, tf.newaxis]
    path = weights * image[tf.newaxis]
    with tf.GradientTape() as tape:
        tape.watch(path)
        all_scores = scores(path)
        chosen = tf.where(target < 0, tf.argmax(all_scores[-1], output_type=tf.int32), target)
        picked = all_scores[:, chosen]
    gradients = tape.gradient(picked, path)[: tf.shape(alphas)[0]]
    attributions = image * tf.reduce_mean(gradients, axis=0)
    return attributions, chosen, picked[-1] - picked[-2]
