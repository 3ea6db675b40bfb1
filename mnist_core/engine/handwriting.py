"""A user's own handwriting: drawn digits with their true labels, to test and fine-tune models on.

The file is an .npz in the `keras.datasets.mnist` layout, so `np.load(f)["x_test"]` reads it like
Keras's mnist.npz:

- `x_test`: (n, 28, 28) uint8, the digits after the app's preprocessing (ink bright on black);
- `y_test`: (n,) uint8, the true digits 0-9;
- `originals`: (n, 112, 112) uint8, each drawing's ink as the preprocessing saw it (bright on
  black), fitted into a 112-pixel square with its aspect ratio kept. A quarter of a 280-pixel
  canvas's pixels is plenty to show the drawing and to preprocess it again, keeps a full set
  (2,000 digits) near 27 MB in memory, and compresses to little since drawings are mostly black;
- `version`: the format version, a 0-d integer (1).

Written with np.savez_compressed; read with allow_pickle=False, checking every array's header
before decompressing it, so a hostile file cannot make the server unpack more than a full set.
"""

from __future__ import annotations

import io
import operator
import threading
import zipfile
import zlib
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image

from mnist_core.data import IMAGE_SIDE, NUM_CLASSES
from mnist_core.engine.preprocess import pad_square, preprocess_steps
from mnist_core.i18n import _

FORMAT_VERSION = 1
MAX_DIGITS = 2_000
ORIGINAL_SIDE = 112  # px: a 280 px canvas at 40 %, as the UI's 4x digit tiles
# A full set is about 27 MB unpacked; compressed it is far smaller, so this leaves slack.
MAX_FILE_BYTES = 32 * 1024 * 1024
KEYS = ("x_test", "y_test", "originals", "version")
_PICKLE_PROTOCOL_2_PLUS = b"\x80"
_NPY_MAGIC = b"\x93NUMPY"
_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


class HandwritingError(ValueError):
    """A handwriting set cannot do what was asked (full, no digits, a label outside 0-9)."""


class HandwritingFileError(HandwritingError):
    """A file that is not a readable handwriting set; the message names the problem."""


@dataclass(frozen=True)
class HandwrittenDigit:
    """One digit of the set: its MNIST-style image, its true label and the drawing it came from."""

    image: np.ndarray  # (28, 28) uint8, ink bright
    digit: int
    original: np.ndarray  # (112, 112) uint8, ink bright on black


class HandwritingSet:
    """A user's drawn digits with their true labels, in the order they were added.

    Safe to share between threads (a user's browser tabs); its arrays are read-only.
    """

    def __init__(self) -> None:
        self._items: list[HandwrittenDigit] = []
        self._lock = threading.Lock()
        self.version = 0  # counts changes, so results computed on the set can be cached

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> HandwrittenDigit:
        with self._lock:
            return self._items[self._checked_index(index)]

    def add(self, image: np.ndarray, digit: int, *, drawing: bool = True) -> int:
        """Preprocess a canvas drawing (or a photo) of `digit` and keep it; returns its index.

        Raises the preprocessing's EmptyImageError or DigitTooSmallError for a blank or tiny
        drawing, and HandwritingError for a label outside 0-9 or a full set.
        """
        label = _checked_digit(digit)
        steps = preprocess_steps(image, drawing=drawing)
        item = HandwrittenDigit(
            _read_only(_to_uint8(steps.centred)), label, _read_only(_fit_original(steps.ink))
        )
        with self._lock:
            if len(self._items) >= MAX_DIGITS:
                raise HandwritingError(
                    _("The set is full: it holds at most {n} digits. Delete some first.").format(
                        n=f"{MAX_DIGITS:,}"
                    )
                )
            self._items.append(item)
            self.version += 1
            return len(self._items) - 1

    def items(self) -> list[HandwrittenDigit]:
        """The digits as they are now, oldest first; each item stays the same object for good."""
        with self._lock:
            return list(self._items)

    def discard(self, items: list[HandwrittenDigit]) -> None:
        """Delete these digits (those still in the set: another tab may have deleted some)."""
        gone = {id(item) for item in items}
        with self._lock:
            self._items = [item for item in self._items if id(item) not in gone]
            self.version += 1

    def replace_with(self, other: HandwritingSet) -> None:
        """Hold `other`'s digits instead of these (a loaded file)."""
        items = other.items()
        with self._lock:
            self._items = items
            self.version += 1

    def copy(self) -> HandwritingSet:
        """A set of the same digits (their arrays shared: they are read-only)."""
        copied = HandwritingSet()
        copied.replace_with(self)
        return copied

    def counts(self) -> list[int]:
        """How many examples of each digit 0-9 the set holds."""
        return np.bincount(self.y, minlength=NUM_CLASSES).tolist()

    @property
    def x(self) -> np.ndarray:
        """The digits as (n, 28, 28) uint8, MNIST style."""
        return _images(self.items(), "image", IMAGE_SIDE)

    @property
    def y(self) -> np.ndarray:
        """The true digits as (n,) uint8."""
        return _labels(self.items())

    @property
    def originals(self) -> np.ndarray:
        """The drawings as (n, 112, 112) uint8, ink bright on black."""
        return _images(self.items(), "original", ORIGINAL_SIDE)

    def as_test_data(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) as `evaluate(model, x, y)` takes them."""
        items = self.items()
        return _images(items, "image", IMAGE_SIDE), _labels(items)

    def to_npz_bytes(self) -> bytes:
        """The set as a compressed .npz file (see the module docstring for its layout)."""
        items = self.items()
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            x_test=_images(items, "image", IMAGE_SIDE),
            y_test=_labels(items),
            originals=_images(items, "original", ORIGINAL_SIDE),
            version=np.array(FORMAT_VERSION, dtype=np.uint8),
        )
        return buffer.getvalue()

    @classmethod
    def from_npz_bytes(cls, data: bytes) -> HandwritingSet:
        """Read a file written by to_npz_bytes, raising HandwritingFileError for anything else."""
        x, y, originals = (_read_only(array) for array in _read_npz(data))
        hset = cls()
        hset._items = [HandwrittenDigit(*item) for item in zip(x, y.tolist(), originals)]
        return hset

    def _checked_index(self, index: int) -> int:
        """`index` if it names a digit of the set, else IndexError."""
        i = operator.index(index)
        if not 0 <= i < len(self._items):
            raise IndexError(f"No digit at index {i}: the set holds {len(self._items)}.")
        return i


def _images(items: list[HandwrittenDigit], field: str, side: int) -> np.ndarray:
    """One image field of every item, stacked as (n, side, side) uint8."""
    if not items:
        return np.zeros((0, side, side), np.uint8)
    return np.stack([getattr(item, field) for item in items])


def _labels(items: list[HandwrittenDigit]) -> np.ndarray:
    """The items' digits as (n,) uint8."""
    return np.array([item.digit for item in items], dtype=np.uint8)


def _read_only(array: np.ndarray) -> np.ndarray:
    """`array`, no longer writable: the set's images are shared with whoever reads them."""
    array.flags.writeable = False
    return array


def _checked_digit(digit: int) -> int:
    """`digit` as an int if it is a whole number 0-9, else HandwritingError."""
    try:
        label = operator.index(digit)
    except TypeError:
        raise HandwritingError(
            _("A digit is a whole number 0-9, not {value}.").format(value=repr(digit))
        ) from None
    if not 0 <= label < NUM_CLASSES:
        raise HandwritingError(_("A digit is a whole number 0-9, not {value}.").format(value=label))
    return label


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """A float image in [0, 1] as uint8 in [0, 255]."""
    return np.round(np.clip(image, 0, 1) * 255).astype(np.uint8)


def _fit_original(ink: np.ndarray) -> np.ndarray:
    """The ink centred on a black square and resized to ORIGINAL_SIDE, as uint8."""
    square = pad_square(ink.astype(np.float32))
    resized = Image.fromarray(square).resize(
        (ORIGINAL_SIDE, ORIGINAL_SIDE), Image.Resampling.LANCZOS
    )
    return _to_uint8(np.asarray(resized))


def _read_npz(data: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """x, y and originals of a handwriting .npz, every problem raised as HandwritingFileError."""
    _check_container(data)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
            missing = [key for key in KEYS if f"{key}.npy" not in names]
            if missing:
                raise HandwritingFileError(
                    _("The file is missing {missing}; a handwriting set holds {keys}.").format(
                        missing=", ".join(missing), keys=", ".join(KEYS)
                    )
                )
            n = _check_headers({key: _array_header(archive, key) for key in KEYS})
            arrays = {key: _read_array(archive, key) for key in KEYS}
    except HandwritingFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as err:
        raise HandwritingFileError(
            _("The file is not a readable .npz handwriting set (damaged, or another kind of file).")
        ) from err
    _check_values(arrays, n)
    return arrays["x_test"], arrays["y_test"].astype(np.uint8), arrays["originals"]


def _check_container(data: bytes) -> None:
    """Refuse a file too large, a pickle, or anything that is not a zip archive (an .npz)."""
    if len(data) > MAX_FILE_BYTES:
        raise HandwritingFileError(
            _("The file is {size} MB; a handwriting set is at most {limit} MB.").format(
                size=f"{len(data) / 2**20:.1f}", limit=MAX_FILE_BYTES // 2**20
            )
        )
    if data[:1] == _PICKLE_PROTOCOL_2_PLUS:
        raise HandwritingFileError(
            _(
                "The file is a Python pickle, which Digit Lab never opens (loading one can run "
                "any code); a handwriting set is an .npz file."
            )
        )
    if data.startswith(_NPY_MAGIC):
        raise HandwritingFileError(
            _("The file is a single .npy array; a handwriting set is an .npz file of several.")
        )
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise HandwritingFileError(
            _("The file is not an .npz file (an .npz is a zip archive of arrays; this is not).")
        )


class ArrayHeader(NamedTuple):
    """What an .npy header says of its array."""

    shape: tuple[int, ...]
    dtype: np.dtype


def _array_header(archive: zipfile.ZipFile, key: str) -> ArrayHeader:
    """Shape and dtype of the array `key`, read from its .npy header without decompressing it."""
    with archive.open(f"{key}.npy") as f:
        version = np.lib.format.read_magic(f)
        reader = _HEADER_READERS.get(version)
        if reader is None:
            raise HandwritingFileError(
                _("{key} is stored in an unknown .npy version {version}.").format(
                    key=key, version=version
                )
            )
        shape, _fortran_order, dtype = reader(f)
    return ArrayHeader(shape, dtype)


def _read_array(archive: zipfile.ZipFile, key: str) -> np.ndarray:
    """The array `key` of the archive; never unpickled."""
    with archive.open(f"{key}.npy") as f:
        return np.lib.format.read_array(f, allow_pickle=False)


def _check_headers(headers: dict[str, ArrayHeader]) -> int:
    """Refuse wrong versions, shapes, dtypes, lengths or sizes; the number of digits."""
    shape, dtype = headers["version"]
    if shape != () or dtype.kind not in "iu":
        raise HandwritingFileError(
            _("version must be one integer; got {dtype} {shape}.").format(dtype=dtype, shape=shape)
        )
    expected = {
        "x_test": (IMAGE_SIDE, IMAGE_SIDE),
        "originals": (ORIGINAL_SIDE, ORIGINAL_SIDE),
    }
    for key, side in expected.items():
        shape, dtype = headers[key]
        if dtype != np.uint8 or len(shape) != 3 or shape[1:] != side:
            raise HandwritingFileError(
                _(
                    "{key} must be uint8 images of shape (n, {side}, {side}); got {dtype} {shape}."
                ).format(key=key, side=side[0], dtype=dtype, shape=shape)
            )
    shape, dtype = headers["y_test"]
    if len(shape) != 1 or dtype.kind not in "iu":
        raise HandwritingFileError(
            _("y_test must be a 1-D array of integer digits; got {dtype} {shape}.").format(
                dtype=dtype, shape=shape
            )
        )
    lengths = {key: headers[key].shape[0] for key in ("x_test", "y_test", "originals")}
    if max(lengths.values()) > MAX_DIGITS:
        raise HandwritingFileError(
            _("The file holds {n} digits; a handwriting set holds at most {limit}.").format(
                n=f"{max(lengths.values()):,}", limit=f"{MAX_DIGITS:,}"
            )
        )
    if len(set(lengths.values())) != 1:
        counts = ", ".join(f"{key} {n:,}" for key, n in lengths.items())
        raise HandwritingFileError(
            _("The arrays disagree on the number of digits: {counts}.").format(counts=counts)
        )
    return lengths["x_test"]


def _check_values(arrays: dict[str, np.ndarray], n: int) -> None:
    """Refuse another format version or labels outside 0-9."""
    version = int(arrays["version"])
    if version != FORMAT_VERSION:
        raise HandwritingFileError(
            _(
                "The file is in handwriting format version {version}; this Digit Lab reads "
                "version {supported}."
            ).format(version=version, supported=FORMAT_VERSION)
        )
    y = arrays["y_test"]
    if n and (y.min() < 0 or y.max() >= NUM_CLASSES):
        raise HandwritingFileError(
            _("y_test has digits outside 0-9 (from {low} to {high}).").format(
                low=y.min(), high=y.max()
            )
        )
