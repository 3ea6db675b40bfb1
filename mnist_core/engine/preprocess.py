"""Turn a drawing or a photo of a digit into a 28x28 MNIST-style image."""

from dataclasses import dataclass
from io import BytesIO

import numpy as np
from PIL import Image, ImageOps

from mnist_core.data import IMAGE_SIDE
from mnist_core.i18n import N_, _

MAX_UPLOAD_BYTES = 10 * 1024 * 1024
MAX_UPLOAD_SIDE = 4000
WORKING_SIDE = 1024

_DIGIT_BOX = 20
# MNIST puts the centre of mass at pixel index 14 (measured on the test set: 13.99, 14.00).
_MNIST_CENTRE = 14.0
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)
_MIN_CONTRAST = 0.1
_INK_THRESHOLD = 0.2
# A single stray noise pixel would stretch the bounding box, so noise must sit far below the cut.
_NOISE_SIGMAS = 6
_MIN_INK_FRACTION = 1e-4
# On smaller images the frame is mostly the drawing, so it tells nothing of lighting or noise.
_MIN_FRAME_SIDE = 40
# Ink smaller than this cannot hold a readable digit: MNIST's own are 20 px tall. On a canvas, a
# digit must also span a tenth of it (a pen's dot is not a digit).
_MIN_DIGIT_PX = 8
_MIN_DRAWING_FRACTION = 0.1
_RESAMPLING = Image.Resampling.LANCZOS

_MEBIBYTE = 1024 * 1024
_EMPTY_MESSAGE = N_("The image is blank: draw or upload a digit first.")
_TOO_SMALL_MESSAGE = N_(
    "The ink is only {size} px across: too small to read as a digit. Draw it larger (or upload "
    "a picture where the digit is at least {least} px tall)."
)
_NOT_AN_IMAGE_MESSAGE = N_(
    "The file is not an image that can be read (PNG, JPEG, GIF, BMP, WebP, ...) or it is damaged."
)
# Pillow reports broken files with any of these, depending on the format and the damage.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError)
_SIXTEEN_BIT_MODES = ("I", "I;16", "I;16B", "I;16L", "I;16N")


class ImageError(ValueError):
    """An image that cannot be read as a digit; the message says why."""


class EmptyImageError(ImageError):
    """The image holds nothing to read: no ink (blank or near-blank)."""


class DigitTooSmallError(EmptyImageError):
    """The image holds ink, but too little of it to be a digit (a dot, a tiny picture)."""


class ImageFileError(ImageError):
    """An uploaded file is not a usable image (not an image, corrupt, too large)."""


@dataclass(frozen=True)
class PreprocessSteps:
    """Every intermediate image of the MNIST preprocessing, for display."""

    ink: np.ndarray
    cropped: np.ndarray
    scaled: np.ndarray
    centred: np.ndarray
    inverted: bool


def preprocess_steps(image: np.ndarray, *, drawing: bool = False) -> PreprocessSteps:
    """Run the MNIST preprocessing on a grey, RGB or RGBA image and keep every step.

    `drawing` is for the canvas, whose background is known to be black: its ink is read as it
    is. Anything else is taken for a photo or scan: paper or ink may be the brighter, lighting
    may grade across the page, and there may be noise (the photo heuristics).
    """
    ink, inverted = _ink(image, drawing)
    cropped = _crop_to_ink(ink)
    least = _MIN_DIGIT_PX
    if drawing:
        least = max(least, round(_MIN_DRAWING_FRACTION * min(ink.shape)))
    if max(cropped.shape) < least:
        raise DigitTooSmallError(_(_TOO_SMALL_MESSAGE).format(size=max(cropped.shape), least=least))
    scaled = _scale_to_box(cropped)
    return PreprocessSteps(ink, cropped, scaled, _centre_by_mass(scaled), inverted)


def image_to_mnist(image: np.ndarray, *, drawing: bool = False) -> np.ndarray:
    """Return the 28x28 float32 MNIST-style version of a grey, RGB or RGBA image."""
    return preprocess_steps(image, drawing=drawing).centred


def naive_resize(image: np.ndarray, *, drawing: bool = False) -> np.ndarray:
    """Resize the whole ink image to 28x28 without cropping or centring, as a naive app would."""
    return _resize(_ink(image, drawing)[0], IMAGE_SIDE, IMAGE_SIDE)


def pad_square(image: np.ndarray) -> np.ndarray:
    """Centre an image on a black square, so tiles of different shapes line up."""
    h, w = image.shape
    side = max(h, w)
    out = np.zeros((side, side), image.dtype)
    top, left = (side - h) // 2, (side - w) // 2
    out[top : top + h, left : left + w] = image
    return out


def _ink(image: np.ndarray, drawing: bool) -> tuple[np.ndarray, bool]:
    """The ink, bright on zero, of a drawing or a photo; and whether it was inverted."""
    grey = _grey(image)
    return _drawing_ink(grey) if drawing else _extract_ink(grey)


def read_image_file(data: bytes) -> np.ndarray:
    """Decode an uploaded image file into an upright uint8 RGB or RGBA array."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageFileError(
            _("The file is {size} MB; the limit is {limit} MB.").format(
                size=_megabytes(len(data)), limit=MAX_UPLOAD_BYTES // _MEBIBYTE
            )
        )
    if not data:
        raise ImageFileError(_("The file is empty."))
    with _open_image(data) as image:
        _check_side(image.size)
        return _decode(image)


def _open_image(data: bytes) -> Image.Image:
    """Read only the header of an image file."""
    try:
        return Image.open(BytesIO(data))
    except Image.DecompressionBombError as error:
        raise ImageFileError(
            _("The image has too many pixels; the largest side allowed is {side} px.").format(
                side=MAX_UPLOAD_SIDE
            )
        ) from error
    except _DECODE_ERRORS as error:
        raise ImageFileError(_(_NOT_AN_IMAGE_MESSAGE)) from error


def _decode(image: Image.Image) -> np.ndarray:
    """Decode the pixels upright, as uint8 RGB or RGBA, at most WORKING_SIDE px a side."""
    try:
        upright = _to_rgb_or_rgba(ImageOps.exif_transpose(image))
        # The digit ends up 20 px tall: a 12-megapixel photo only costs time and memory.
        upright.thumbnail((WORKING_SIDE, WORKING_SIDE), Image.Resampling.BOX)
        return np.asarray(upright)
    except _DECODE_ERRORS as error:
        raise ImageFileError(_(_NOT_AN_IMAGE_MESSAGE)) from error


def _megabytes(size: int) -> str:
    """Format a byte count in MB with one decimal, rounded up so it never equals the limit."""
    tenths = -(-size * 10 // _MEBIBYTE)
    return f"{tenths / 10:.1f}"


def _check_side(size: tuple[int, int]) -> None:
    """Reject images whose header declares a side longer than MAX_UPLOAD_SIDE."""
    width, height = size
    if max(width, height) > MAX_UPLOAD_SIDE:
        raise ImageFileError(
            _("The image is {width} x {height} px; the largest side allowed is {side} px.").format(
                width=width, height=height, side=MAX_UPLOAD_SIDE
            )
        )


def _to_rgb_or_rgba(image: Image.Image) -> Image.Image:
    """Convert any Pillow mode to RGBA when it carries transparency, else to RGB."""
    if image.mode in _SIXTEEN_BIT_MODES:
        # Pillow clips 16-bit samples to 255 instead of scaling them.
        eight_bit = np.clip(np.asarray(image, dtype=np.float32) / 257, 0, 255)
        image = Image.fromarray(np.round(eight_bit).astype(np.uint8))
    return image.convert("RGBA" if image.has_transparency_data else "RGB")


def _grey(image: np.ndarray) -> np.ndarray:
    """Validate an image and return its luminance as float32 in [0, 1], transparency composited."""
    pixels = _checked_pixels(image)
    if pixels.shape[2] == 1:
        return _unit(pixels[..., 0])
    # Channel by channel, so a large photo never exists as a whole float copy.
    luminance = sum(weight * _unit(pixels[..., i]) for i, weight in enumerate(_LUMA_WEIGHTS))
    if pixels.shape[2] == 3:
        return luminance
    return _composite(luminance, _unit(pixels[..., 3]))


def _checked_pixels(image: np.ndarray) -> np.ndarray:
    """Return the image as (H, W, C) uint8 or float in [0, 1], or raise ImageError."""
    pixels = np.asarray(image)
    if pixels.ndim == 2:
        pixels = pixels[..., np.newaxis]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 3, 4):
        raise ImageError(
            "Expected a grey (H, W), RGB (H, W, 3) or RGBA (H, W, 4) image, "
            f"got an array of shape {pixels.shape}."
        )
    if pixels.size == 0:
        raise ImageError(f"The image has no pixels (shape {pixels.shape}).")
    if pixels.dtype == np.uint8:
        return pixels
    if not np.issubdtype(pixels.dtype, np.floating):
        raise ImageError(f"Expected uint8 or float pixels, got {pixels.dtype}.")
    if not (np.isfinite(pixels).all() and pixels.min() >= 0 and pixels.max() <= 1):
        raise ImageError("Float images must hold finite values in [0, 1].")
    return pixels


def _unit(channel: np.ndarray) -> np.ndarray:
    """Return one channel as float32 in [0, 1]."""
    if channel.dtype == np.uint8:
        return channel.astype(np.float32) / 255
    return channel.astype(np.float32)


def _composite(luminance: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite over black when the opaque pixels are bright, over white when they are dark."""
    opaque = alpha > 0.5
    bright_ink = not opaque.any() or float(luminance[opaque].mean()) >= 0.5
    background = 0.0 if bright_ink else 1.0
    return luminance * alpha + background * (1 - alpha)


def _drawing_ink(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """The ink of a drawing, bright on its known black background (never inverted)."""
    peak = float(grey.max())
    if peak < _MIN_CONTRAST:
        raise EmptyImageError(_(_EMPTY_MESSAGE))
    ink = grey / peak
    ink[ink < _INK_THRESHOLD] = 0
    return ink.astype(np.float32), False


def _extract_ink(grey: np.ndarray) -> tuple[np.ndarray, bool]:
    """Make the ink bright on a zero background, stretched to a peak of 1; report inversion."""
    inverted = _is_dark_on_light(grey)
    if inverted:
        grey = 1 - grey
    ink = grey - _background(grey)
    peak = float(ink.max())
    if peak < _MIN_CONTRAST:
        raise EmptyImageError(_(_EMPTY_MESSAGE))
    threshold = max(_INK_THRESHOLD, _NOISE_SIGMAS * _noise_level(ink) / peak)
    ink = np.clip(ink / peak, 0, 1).astype(np.float32)
    ink[ink < threshold] = 0
    if np.count_nonzero(ink) < max(1, round(ink.size * _MIN_INK_FRACTION)):
        raise EmptyImageError(_(_EMPTY_MESSAGE))
    return ink, inverted


def _border_strips(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Return the top, bottom, left and right strips of the outer frame (5% of the short side)."""
    thickness = max(1, min(grey.shape) // 20)
    return grey[:thickness], grey[-thickness:], grey[:, :thickness], grey[:, -thickness:]


def _is_dark_on_light(grey: np.ndarray) -> bool:
    """Tell whether the border, the paper, lies nearer the brightest level than the darkest."""
    border = np.median(np.concatenate([strip.ravel() for strip in _border_strips(grey)]))
    return bool(border - grey.min() > grey.max() - border)


def _noise_level(ink: np.ndarray) -> float:
    """Estimate the noise's standard deviation from the border strips' median absolute deviation."""
    if min(ink.shape) < _MIN_FRAME_SIDE:
        return 0.0
    border = np.concatenate([strip.ravel() for strip in _border_strips(ink)])
    return 1.4826 * float(np.median(np.abs(border - np.median(border))))


def _background(grey: np.ndarray) -> np.ndarray | float:
    """Estimate the paper level as a plane through the border strips' medians."""
    strips = _border_strips(grey)
    level = float(np.median(np.concatenate([strip.ravel() for strip in strips])))
    if min(grey.shape) < _MIN_FRAME_SIDE:
        return level
    # A plane cancels light that grades across the paper, as from a lamp to one side.
    top, bottom, left, right = (float(np.median(strip)) for strip in strips)
    height, width = grey.shape
    frame = strips[0].shape[0]
    rows = np.arange(height, dtype=np.float32)[:, np.newaxis] - (height - 1) / 2
    cols = np.arange(width, dtype=np.float32)[np.newaxis, :] - (width - 1) / 2
    return (
        level + (bottom - top) / (height - frame) * rows + (right - left) / (width - frame) * cols
    )


def _crop_to_ink(ink: np.ndarray) -> np.ndarray:
    """Cut out the bounding box of the non-zero pixels."""
    rows = np.flatnonzero(ink.any(axis=1))
    cols = np.flatnonzero(ink.any(axis=0))
    return ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _scale_to_box(cropped: np.ndarray) -> np.ndarray:
    """Resize so the longer side is 20 px, keeping the aspect ratio, with the peak back at 1."""
    height, width = cropped.shape
    factor = _DIGIT_BOX / max(height, width)
    scaled = _resize(cropped, max(1, round(width * factor)), max(1, round(height * factor)))
    return scaled / scaled.max()


def _resize(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Anti-aliased resize of a float image, clipped to [0, 1]."""
    resized = Image.fromarray(image.astype(np.float32)).resize((width, height), _RESAMPLING)
    return np.clip(np.asarray(resized), 0, 1)


def _centre_by_mass(scaled: np.ndarray) -> np.ndarray:
    """Paste into a 28x28 field so the centre of mass lands on MNIST's centre, nothing clipped."""
    height, width = scaled.shape
    mass = scaled.sum()
    com_row = (scaled.sum(axis=1) @ np.arange(height)) / mass
    com_col = (scaled.sum(axis=0) @ np.arange(width)) / mass
    top = _offset(com_row, IMAGE_SIDE - height)
    left = _offset(com_col, IMAGE_SIDE - width)
    centred = np.zeros((IMAGE_SIDE, IMAGE_SIDE), dtype=np.float32)
    centred[top : top + height, left : left + width] = scaled
    return centred


def _offset(centre_of_mass: float, slack: int) -> int:
    """Integer shift moving the centre of mass to MNIST's centre, kept within [0, slack]."""
    return min(max(int(np.floor(_MNIST_CENTRE - centre_of_mass + 0.5)), 0), slack)
