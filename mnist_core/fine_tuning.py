"""Fine-tuning: teach a trained model the user's handwriting without forgetting MNIST.

The user's few digits are repeated so they weigh in every epoch, and MNIST training digits are
mixed in so the model keeps reading everyone else's. BatchNormalization layers stay frozen (in
inference mode): batch statistics of a few hundred mixed digits would shift the ones learned on
all of MNIST. On the shipped model, the defaults (4 epochs at a learning rate of 0.0002) on 20
digits rotated by 50 degrees took them from 65 % to 100 %, and 300 other digits rotated so from
61 % to 74-79 %, while its accuracy on 2,000 MNIST test digits went from 99.45 % to 99.2 %.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from mnist_core.backend import keras, tf
from mnist_core.config import TrainConfig
from mnist_core.data import NUM_CLASSES, MnistData, stratified_indices, to_model_input
from mnist_core.evaluation import Evaluation, evaluate
from mnist_core.handwriting import HandwritingError, HandwritingSet
from mnist_core.i18n import _, ngettext
from mnist_core.model import _single_replica_all_reduce
from mnist_core.training import Progress, TrainingJob, TrainResult, _Reporter
from mnist_core.workspaces import ModelEntry

# Each own digit appears often enough that together they make about this many images an epoch,
# but never more than MAX_REPEAT times (more only memorises them).
OWN_IMAGES_PER_EPOCH = 160
MAX_REPEAT = 8
LEARNING_RATE, BATCH_SIZE = 2e-4, 64  # small steps: the model already reads digits


def auto_repeat(own: int) -> int:
    """How many times each of `own` digits appears in an epoch by default."""
    return min(MAX_REPEAT, max(1, math.ceil(OWN_IMAGES_PER_EPOCH / max(own, 1))))


def mix_size(own: int, available: int, mnist_per_own: int = 3, repeat: int | None = None) -> int:
    """Images in one epoch of fine-tuning on `own` digits with `available` MNIST digits."""
    repeat = auto_repeat(own) if repeat is None else repeat
    return own * repeat + min(own * repeat * mnist_per_own, available)


def _or_none(indices: np.ndarray | None) -> np.ndarray:
    return np.zeros(0, int) if indices is None else indices


def fine_tune_arrays(
    hset: HandwritingSet,
    mnist: MnistData,
    *,
    mnist_per_own: int = 3,
    repeat: int | None = None,
    seed: int = 0,
    exclude: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Shuffled (x, one-hot y) as `model.fit` takes them: own digits repeated, MNIST mixed in.

    Each own digit appears `repeat` times (auto_repeat by default); `mnist_per_own` stratified
    MNIST training digits (none of `exclude`) are added per own appearance, as many as MNIST has
    at most.
    """
    if not len(hset):
        raise HandwritingError(_("Add some digits of your own before fine-tuning on them."))
    repeat = auto_repeat(len(hset)) if repeat is None else repeat
    if repeat < 1 or mnist_per_own < 0:
        raise ValueError(
            f"repeat must be at least 1 and mnist_per_own at least 0, not {repeat} and "
            f"{mnist_per_own}."
        )
    own_x, own_y = hset.as_test_data()
    x, y = [np.repeat(own_x, repeat, axis=0)], [np.repeat(own_y, repeat)]
    n_mnist = mix_size(len(hset), len(mnist.y_train) - len(_or_none(exclude)), mnist_per_own,
                       repeat) - len(hset) * repeat  # fmt: skip
    if n_mnist:
        picked = stratified_indices(mnist.y_train, n_mnist, seed, exclude)
        x.append(mnist.x_train[picked])
        y.append(mnist.y_train[picked])
    order = np.random.default_rng(seed).permutation(sum(len(part) for part in y))
    x_all, y_all = np.concatenate(x)[order], np.concatenate(y)[order]
    return to_model_input(x_all), keras.utils.to_categorical(y_all, NUM_CLASSES)


def copy_for_fine_tuning(model: keras.Model, learning_rate: float) -> keras.Model:
    """A compiled copy of `model` with the same weights and frozen BatchNormalization layers."""
    copy = keras.models.clone_model(model)
    copy.set_weights(model.get_weights())
    for layer in copy.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    copy.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss="categorical_crossentropy",
        metrics=["accuracy"],
    )
    if not tf.distribute.has_strategy():  # the same leak fix as build_model's
        copy.optimizer._all_reduce_sum_gradients = _single_replica_all_reduce
    return copy


def _check_settings(epochs: int, learning_rate: float, batch_size: int) -> None:
    """Raise ValueError naming the first impossible fine-tuning setting."""
    if not 1 <= epochs <= 200:
        raise ValueError(f"Fine-tune for 1 to 200 epochs, not {epochs}.")
    if not 0 < learning_rate <= 1:
        raise ValueError(f"The learning rate must be above 0 and at most 1, not {learning_rate}.")
    if not 1 <= batch_size <= 8192:
        raise ValueError(f"The batch size must be 1 to 8,192, not {batch_size}.")


def fine_tune(
    model: keras.Model,
    hset: HandwritingSet,
    mnist: MnistData,
    *,
    epochs: int = 4,
    learning_rate: float = LEARNING_RATE,
    batch_size: int = BATCH_SIZE,
    mnist_per_own: int = 3,
    repeat: int | None = None,
    seed: int = 0,
    exclude: np.ndarray | None = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    stop: threading.Event | None = None,
    report_every: float = 0.25,
) -> TrainResult:
    """Fine-tune a copy of `model` on `hset` mixed with MNIST; `model` itself is left untouched.

    `validation`, uint8 digits and their labels (MNIST test digits, say), is tested after each
    epoch and reported as val_loss and val_accuracy, to watch whether MNIST is being forgotten.
    """
    _check_settings(epochs, learning_rate, batch_size)
    x, y = fine_tune_arrays(
        hset, mnist, mnist_per_own=mnist_per_own, repeat=repeat, seed=seed, exclude=exclude
    )
    copy = copy_for_fine_tuning(model, learning_rate)
    # _Reporter reads the run's shape from a config: only these fields matter to it.
    shape = TrainConfig(
        train_size=len(y), val_size=0, batch_size=batch_size, epochs=epochs, seed=seed
    )
    if validation is not None:
        validation = (to_model_input(validation[0]), np.asarray(validation[1], dtype=np.int64))
    reporter = _Reporter(shape, on_progress, stop, report_every, validation)
    keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    copy.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[reporter], verbose=0)
    # As in train(): the traced steps would only serve to train this copy again.
    copy.train_function = copy.test_function = copy.predict_function = None
    return TrainResult(
        model=copy,
        history=reporter.history,
        stopped=bool(stop is not None and stop.is_set()),
        fit_seconds=time.perf_counter() - start,
        images_seen=reporter.images_seen,
    )


HELD_OUT = 1_000  # MNIST training digits kept out of the mix, to watch for forgetting


@dataclass(eq=False, kw_only=True)
class FineTuneJob(TrainingJob):
    """A run that fine-tunes a copy of a model on the user's digits, with before/after tests.

    Its validation digits are HELD_OUT MNIST training digits (every digit in proportion), left
    out of the mix: their curve shows whether the model forgets MNIST while it learns the
    user's handwriting.
    """

    base: ModelEntry
    own: HandwritingSet  # a copy, taken when the run was asked for
    own_before: Evaluation | None = field(default=None, init=False)
    own_after: Evaluation | None = field(default=None, init=False)
    test_before: Evaluation | None = field(default=None, init=False)

    @classmethod
    def of(
        cls, name: str, base: ModelEntry, own: HandwritingSet, epochs: int, data: MnistData,
        slots=None, **options,
    ) -> FineTuneJob:  # fmt: skip
        """A job fine-tuning `base` on a copy of `own` for `epochs` (not started)."""
        if not len(own):
            raise HandwritingError(_("Add some digits of your own before fine-tuning on them."))
        config = TrainConfig(
            epochs=epochs, batch_size=BATCH_SIZE, learning_rate=LEARNING_RATE,
            train_size=mix_size(len(own), len(data.y_train) - HELD_OUT), val_size=HELD_OUT,
        )  # fmt: skip
        return cls(name, config, data, slots, base=base, own=own.copy(), **options)

    @property
    def publishable(self) -> bool:
        """Never: its config alone cannot redo it."""
        return False

    def describe(self) -> str:
        """What this run trains, in plain words."""
        return ngettext(
            "{model}, fine-tuned on {n} digit of your own",
            "{model}, fine-tuned on {n} digits of your own",
            len(self.own),
        ).format(model=self.base.name, n=len(self.own))

    def _train(self) -> TrainResult:
        x_own, y_own = self.own.as_test_data()
        self.own_before = evaluate(self.base.model, x_own, y_own)
        self.test_before = evaluate(self.base.model, self.data.x_test, self.data.y_test)
        held_out = stratified_indices(self.data.y_train, HELD_OUT, seed=0)
        return fine_tune(
            self.base.model, self.own, self.data, epochs=self.config.epochs,
            learning_rate=self.config.learning_rate, batch_size=self.config.batch_size,
            exclude=held_out,
            validation=(self.data.x_train[held_out], self.data.y_train[held_out]),
            on_progress=self._record, stop=self._stop,
        )  # fmt: skip

    def _test(self, model: keras.Model) -> None:
        super()._test(model)
        self.own_after = evaluate(model, *self.own.as_test_data())
