"""Bend the drawing: rotate, shift, scale, thicken and add noise to a 28x28 MNIST-style image.

Every function takes a float32 image in [0, 1], ink bright on black (what the model sees), and
returns a new one; the canvas stays 28x28, whatever leaves it is lost and what comes in is black.
`sweep` runs the model on a whole range of rotations or scales at once, to find where it breaks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from mnist_core.data import IMAGE_SIDE
from mnist_core.engine.backend import keras
from mnist_core.engine.model import predict

ROTATIONS = np.arange(-90, 91, 5)
SCALES = np.round(np.arange(0.3, 1.51, 0.05), 2)
SWEEP_KINDS = ("rotation", "scale")

MIN_SCALE, MAX_SCALE = 0.3, 2.0
MAX_STROKE_STEPS = 2
# Bilinear, as Keras's RandomRotation/RandomZoom that trained the model: no overshoot past [0, 1].
_RESAMPLING = Image.Resampling.BILINEAR
# Pillow measures from pixel corners, so this is the centre of the canvas (between pixels 13, 14).
_CENTRE = IMAGE_SIDE / 2
# A 3x3 cross: a round pen grows by one pixel each way, without the box's square corners.
_CROSS = ((0, 0), (-1, 0), (1, 0), (0, -1), (0, 1))


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Rotate counter-clockwise by `degrees` about the image centre; corners come in black."""
    pil = Image.fromarray(_checked(image)).rotate(degrees, resample=_RESAMPLING, fillcolor=0.0)
    return _finish(np.asarray(pil))


def shift(image: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Move by dx pixels right and dy pixels down (negative: left, up); exact for whole pixels."""
    pixels = _checked(image)
    if float(dx).is_integer() and float(dy).is_integer():
        return _finish(_shift_whole(pixels, int(dx), int(dy)))
    pil = Image.fromarray(pixels).transform(
        pixels.shape[::-1], Image.Transform.AFFINE, (1, 0, -dx, 0, 1, -dy), _RESAMPLING, fillcolor=0
    )
    return _finish(np.asarray(pil))


def _shift_whole(pixels: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Shift by whole pixels with slicing: no interpolation at all."""
    height, width = pixels.shape
    moved = np.zeros_like(pixels)
    if abs(dx) < width and abs(dy) < height:
        moved[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = pixels[
            max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
        ]
    return moved


def scale(image: np.ndarray, factor: float) -> np.ndarray:
    """Zoom by `factor` (0.3 to 2.0) about the image centre, anti-aliased when shrinking."""
    if not MIN_SCALE <= factor <= MAX_SCALE:
        raise ValueError(f"A scale factor lies between {MIN_SCALE} and {MAX_SCALE}, not {factor}.")
    pixels = _checked(image)
    # The source window is 28/factor pixels wide: pad with black so it never leaves the canvas.
    half = _CENTRE / factor
    pad = int(np.ceil(max(half - _CENTRE, 0)))
    padded = np.pad(pixels, pad)
    low, high = _CENTRE + pad - half, _CENTRE + pad + half
    pil = Image.fromarray(padded).resize(
        pixels.shape[::-1], _RESAMPLING, box=(low, low, high, high)
    )
    return _finish(np.asarray(pil))


def thickness(image: np.ndarray, steps: int) -> np.ndarray:
    """Thicker strokes (steps > 0, grey dilation) or thinner (< 0, erosion), 3x3 cross per step."""
    if steps != int(steps) or abs(steps) > MAX_STROKE_STEPS:
        raise ValueError(
            f"Stroke steps are whole numbers from {-MAX_STROKE_STEPS} to {MAX_STROKE_STEPS}, "
            f"not {steps}."
        )
    pixels = _checked(image)
    for _ in range(abs(int(steps))):
        pixels = _morph(pixels, np.maximum if steps > 0 else np.minimum)
    return _finish(pixels)


def _morph(pixels: np.ndarray, pick: np.ufunc) -> np.ndarray:
    """One grey dilation (np.maximum) or erosion (np.minimum) over the cross, black outside."""
    padded = np.pad(pixels, 1)
    height, width = pixels.shape
    out = pixels
    for dy, dx in _CROSS[1:]:
        out = pick(out, padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width])
    return out


def add_noise(image: np.ndarray, amount: float, seed: int = 0) -> np.ndarray:
    """Add Gaussian noise of sigma amount/2 (amount 0 to 1), clipped; seeded, so reproducible."""
    if not 0 <= amount <= 1:
        raise ValueError(f"A noise amount lies between 0 and 1, not {amount}.")
    pixels = _checked(image)
    if amount == 0:
        return _finish(pixels)
    noise = np.random.default_rng(seed).normal(0.0, amount * 0.5, pixels.shape)
    return _finish(pixels + noise)


def bend(
    image: np.ndarray,
    *,
    rotation: float = 0,
    dx: float = 0,
    dy: float = 0,
    factor: float = 1,
    stroke: int = 0,
    noise: float = 0,
    seed: int = 0,
) -> np.ndarray:
    """Apply, in this order: stroke thickness, scale, rotation, shift, then noise."""
    # The pen comes first, as it drew the digit; scale and rotation then act about the centre
    # before the shift moves it off; noise comes last, like a camera's, unsmoothed by resampling.
    out = _checked(image)
    if stroke:
        out = thickness(out, stroke)
    if factor != 1:
        out = scale(out, factor)
    if rotation:
        out = rotate(out, rotation)
    if dx or dy:
        out = shift(out, dx, dy)
    if noise:
        out = add_noise(out, noise, seed)
    return _finish(out)


@dataclass(frozen=True)
class Sweep:
    """The model's probabilities on one image rotated or scaled through a range of values."""

    kind: str  # "rotation" (degrees) or "scale" (factor)
    values: np.ndarray
    probabilities: np.ndarray  # (len(values), 10)
    label: int  # the model's answer on the untouched image

    @property
    def label_probability(self) -> np.ndarray:
        """The probability of `label` at each value."""
        return self.probabilities[:, self.label]

    @property
    def top(self) -> np.ndarray:
        """The model's answer at each value."""
        return self.probabilities.argmax(axis=1)

    def breaking_point(self) -> tuple[float | None, float | None]:
        """The values nearest the untouched image, below and above it, where the answer changes."""
        identity = 0.0 if self.kind == "rotation" else 1.0
        broken = self.values[self.top != self.label]
        below, above = broken[broken < identity], broken[broken > identity]
        return (
            float(below.max()) if below.size else None,
            float(above.min()) if above.size else None,
        )


def sweep(
    model: keras.Model, image: np.ndarray, kind: str, values: np.ndarray | None = None
) -> Sweep:
    """Predict `image` rotated (degrees) or scaled (factors) through `values`, in one batch."""
    if kind not in SWEEP_KINDS:
        raise ValueError(f"A sweep is over {' or '.join(SWEEP_KINDS)}, not {kind!r}.")
    pixels = _checked(image)
    if values is None:
        values = ROTATIONS if kind == "rotation" else SCALES
    values = np.asarray(values)
    move = rotate if kind == "rotation" else scale
    # The untouched image rides in the same batch: it gives the label without a second call.
    batch = np.stack([pixels, *(move(pixels, v) for v in values)])
    probabilities = predict(model, batch)
    return Sweep(kind, values, probabilities[1:], int(probabilities[0].argmax()))


def _checked(image: np.ndarray) -> np.ndarray:
    """The image as a float32 (28, 28) array, or ValueError."""
    pixels = np.asarray(image, dtype=np.float32)
    if pixels.shape == (IMAGE_SIDE, IMAGE_SIDE, 1):
        pixels = pixels[..., 0]
    if pixels.shape != (IMAGE_SIDE, IMAGE_SIDE):
        raise ValueError(
            f"Expected a {IMAGE_SIDE}×{IMAGE_SIDE} image, got an array of shape {np.shape(image)}."
        )
    return pixels


def _finish(pixels: np.ndarray) -> np.ndarray:
    """A fresh float32 copy clipped to [0, 1]."""
    return np.clip(pixels, 0, 1).astype(np.float32)


# Turns and moves for comparing two models: MNIST's digits are upright and centred, and a
# network trained on them may or may not cope with less.
ACCURACY_SWEEPS = {
    "rotation": np.arange(-60, 61, 10),  # degrees, anticlockwise
    "shift": np.arange(-6, 7, 1),  # pixels to the right
}


@dataclass(frozen=True)
class AccuracySweep:
    """A model's accuracy on the same digits turned (degrees) or moved right (pixels)."""

    kind: str  # "rotation" or "shift"
    values: np.ndarray
    accuracy: np.ndarray  # one per value


def accuracy_sweep(
    model: keras.Model, images: np.ndarray, labels: np.ndarray, kind: str
) -> AccuracySweep:
    """`model`'s accuracy on `images` (28×28 floats in [0, 1]) at every value of `kind`."""
    if kind not in ACCURACY_SWEEPS:
        raise ValueError(f"An accuracy sweep is over {' or '.join(ACCURACY_SWEEPS)}, not {kind!r}.")
    values = ACCURACY_SWEEPS[kind]
    accuracy = []
    for value in values:
        moved = np.stack(
            [rotate(x, value) if kind == "rotation" else shift(x, value, 0) for x in images]
        )
        accuracy.append(float((predict(model, moved).argmax(axis=1) == labels).mean()))
    return AccuracySweep(kind, values, np.array(accuracy))
