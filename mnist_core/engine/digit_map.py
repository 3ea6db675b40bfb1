"""A map of digits: test digits placed in 2-D by what a network's last hidden layer makes of them.

The features are the input to the final Dense layer (the ten answers are a weighted sum of
them), so digits the network finds alike lie close. PCA places them at once and places a new
digit (a drawing) by the same projection; t-SNE keeps neighbours together better but takes
seconds, so a `MapMaker` works it out once per model in a background thread. Both are
scikit-learn's.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from mnist_core.data import INPUT_SHAPE
from mnist_core.engine.backend import keras
from mnist_core.engine.model import PREDICT_CHUNK, predict

if TYPE_CHECKING:
    from sklearn.decomposition import PCA

MAP_DIGITS = 2000  # test digits on the map: t-SNE takes seconds for this many, not minutes
NEIGHBOURS = 10  # a drawing's nearest test digits, in feature space
SEED = 0


class NoFeaturesError(ValueError):
    """A model without a final Dense layer, so no hidden features to map."""


_probes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _feature_probe(model: keras.Model) -> keras.Model:
    """A model giving the input of `model`'s last Dense layer (cached per model)."""
    probe = _probes.get(model)
    if probe is None:
        dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
        if not dense:
            raise NoFeaturesError("This model has no Dense layer whose inputs could be mapped.")
        probe = _probes[model] = keras.Model(model.inputs[0], dense[-1].input)
    return probe


def hidden_features(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """The last hidden features (n, d) of float images in [0, 1], (n, 28, 28[, 1]) or (28, 28):
    what the final Dense layer weighs into the ten answers."""
    probe = _feature_probe(model)
    x = np.asarray(images, np.float32).reshape(-1, *INPUT_SHAPE)
    chunks = [
        probe(x[i : i + PREDICT_CHUNK], training=False) for i in range(0, len(x), PREDICT_CHUNK)
    ]
    return np.concatenate([np.asarray(c) for c in chunks]).reshape(len(x), -1)


@dataclass(frozen=True)
class DigitMap:
    """Test digits, their last hidden features and their places on the PCA map."""

    indices: np.ndarray  # into the test set
    labels: np.ndarray  # true digits
    predicted: np.ndarray  # the network's answers
    features: np.ndarray = field(repr=False)  # (n, d)
    pca_points: np.ndarray = field(repr=False)  # (n, 2)
    pca: PCA = field(repr=False)

    @property
    def mistakes(self) -> np.ndarray:
        """True where the network reads the digit wrong."""
        return self.predicted != self.labels

    def project(self, features: np.ndarray) -> np.ndarray:
        """Where digits of these features lie on the PCA map: the same projection, (n, 2)."""
        return self.pca.transform(np.asarray(features, np.float32).reshape(len(features), -1))


def digit_map(model: keras.Model, images: np.ndarray, labels: np.ndarray, indices) -> DigitMap:
    """The PCA map of `images` (uint8 (n, 28, 28) test digits, their `labels` and test-set
    `indices`) in `model`'s last hidden features."""
    # Imported here, once Keras is: engine/backend.py hides scikit-learn while Keras imports.
    from sklearn.decomposition import PCA

    x = images.astype(np.float32) / 255.0
    features = hidden_features(model, x)
    pca = PCA(n_components=2, random_state=SEED).fit(features)
    return DigitMap(
        indices=np.asarray(indices),
        labels=np.asarray(labels),
        predicted=predict(model, x).argmax(axis=1),
        features=features,
        pca_points=pca.transform(features),
        pca=pca,
    )


def tsne_points(features: np.ndarray) -> np.ndarray:
    """t-SNE's 2-D places (n, 2) for these features (seconds for 2,000 digits)."""
    from sklearn.manifold import TSNE  # after Keras, as in digit_map
    from threadpoolctl import threadpool_limits  # scikit-learn's own dependency

    perplexity = min(30.0, (len(features) - 1) / 3)
    tsne = TSNE(n_components=2, init="pca", perplexity=perplexity, random_state=SEED)
    # One core for t-SNE's OpenMP loops (a setting of this thread alone): a map in the
    # background leaves the other core to trainings and pages.
    with threadpool_limits(limits=1, user_api="openmp"):
        return tsne.fit_transform(features).astype(np.float32)


@dataclass(frozen=True)
class Neighbourhood:
    """A digit's nearest mapped digits in feature space, and what they mostly are."""

    indices: np.ndarray  # into the map's rows, nearest first
    labels: np.ndarray
    among: int  # the commonest digit among them
    near: int | None  # the next commonest, if any

    @property
    def share(self) -> float:
        """The share of the neighbours that are `among`."""
        return float(np.mean(self.labels == self.among))


def neighbours(digit_map: DigitMap, features: np.ndarray, k: int = NEIGHBOURS) -> Neighbourhood:
    """The `k` mapped digits nearest one digit's features (Euclidean, in feature space)."""
    distances = np.linalg.norm(digit_map.features - np.asarray(features).reshape(1, -1), axis=1)
    nearest = np.argsort(distances, kind="stable")[:k]
    labels = digit_map.labels[nearest]
    # Ties go to the digit whose member is nearest (Counter keeps first-seen order).
    ranked = [digit for digit, _count in Counter(labels.tolist()).most_common()]
    return Neighbourhood(nearest, labels, ranked[0], ranked[1] if len(ranked) > 1 else None)


def place_among(points: np.ndarray, neighbourhood: Neighbourhood) -> np.ndarray:
    """A new digit's place on a map that cannot project new digits (t-SNE): the mean place of
    its nearest neighbours in feature space."""
    return points[neighbourhood.indices].mean(axis=0)


@dataclass(eq=False)
class TsneJob:
    """One model's t-SNE map, worked out in the background."""

    points: np.ndarray | None = None  # (n, 2) once done
    error: str | None = None
    seconds: float | None = None  # how long t-SNE took, once done
    done: threading.Event = field(default_factory=threading.Event, repr=False)


class MapMaker:
    """t-SNE maps worked out in background threads, one at a time for the whole server (a
    second would only slow the first on a small machine), and kept per model while it lives."""

    def __init__(self) -> None:
        self._maps: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model → DigitMap
        self._jobs: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model → TsneJob
        self._lock = threading.Lock()
        self._one_at_a_time = threading.Lock()

    def digit_map(self, model: keras.Model, images, labels, indices) -> DigitMap:
        """`model`'s PCA map of these digits (see `digit_map`), worked out once per model."""
        with self._lock:
            found = self._maps.get(model)
        if found is None:  # worked out outside the lock: another model's map need not wait
            found = digit_map(model, images, labels, indices)
            with self._lock:
                found = self._maps.setdefault(model, found)
        return found

    def tsne(self, model: keras.Model, features: np.ndarray) -> TsneJob:
        """`model`'s t-SNE job for these features; the first call starts it in a thread, which
        holds the features only, never the model."""
        with self._lock:
            job = self._jobs.get(model)
            if job is None:
                job = self._jobs[model] = TsneJob()
                threading.Thread(
                    target=self._work, args=(job, features), name="tsne", daemon=True
                ).start()
        return job

    def _work(self, job: TsneJob, features: np.ndarray) -> None:
        with self._one_at_a_time:
            start = time.perf_counter()
            try:
                job.points = tsne_points(features)
            except Exception as err:  # shown on the page; the thread must not die silently
                job.error = f"{type(err).__name__}: {err}"
            job.seconds = time.perf_counter() - start
        job.done.set()
