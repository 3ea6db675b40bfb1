"""The fit: Keras's `model.fit` with throttled progress reports, a stop switch and a per-digit
validation pass after each epoch. Training from settings and fine-tuning both fit through it."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable

import numpy as np

from mnist_core.engine.backend import keras
from mnist_core.engine.evaluation import Evaluation
from mnist_core.engine.model import predict
from mnist_core.engine.progress import BatchProgress, EpochProgress, Progress, TrainResult
from mnist_core.engine.weight_watch import WeightWatch

ProgressCallback = Callable[[Progress], None]
# Keras shuffles the training data from TensorFlow's global seed, read when fit makes its
# dataset: a training beside this one must not reseed it in between, or a run's result would
# depend on what trained beside it.
_SEEDING = threading.Lock()


def fit(
    model: keras.Model,
    x: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int,
    epochs: int,
    seed: int,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    report_every: float = 0.25,
    watch_weights: bool = True,
) -> TrainResult:
    """Fit a compiled `model` on model inputs `x` and one-hot `y`, reporting at most every
    `report_every` s and stopping after the call into TensorFlow (the model's
    steps_per_execution batches) in which `stop` is set; Keras's random state is seeded with
    `seed`, and no other fit reseeds it until this one has seeded its data's shuffling.

    `validation`, model inputs and their digits, is predicted after each epoch; `watch_weights`
    adds each layer's weight histogram to every epoch's report.
    """
    reporter = _Reporter(
        len(y), batch_size, epochs, on_progress, stop, report_every, validation, watch_weights
    )
    start = time.perf_counter()
    _SEEDING.acquire()
    reporter.seeding = _SEEDING.release  # called when training begins
    try:
        keras.utils.set_random_seed(seed)
        model.fit(x, y, batch_size=batch_size, epochs=epochs, callbacks=[reporter], verbose=0)
    finally:
        reporter.release_seeding()  # when fit failed before training began
    # The traced train and test steps only serve to train this model again (Keras retraces
    # then); kept, every finished run would hold its graphs.
    model.train_function = model.test_function = model.predict_function = None
    return TrainResult(
        model=model,
        history=reporter.history,
        stopped=bool(stop is not None and stop.is_set()),
        fit_seconds=time.perf_counter() - start,
        images_seen=reporter.images_seen,
    )


class _Reporter(keras.callbacks.Callback):
    """Turns Keras's running averages into throttled progress events and honours stop requests."""

    def __init__(
        self, n_train, batch_size, epochs, on_progress, stop, report_every, validation, watch
    ):
        super().__init__()
        self.n_train, self.batch_size, self.epochs = n_train, batch_size, epochs
        self.batches = math.ceil(n_train / batch_size)
        self.on_progress, self.stop, self.report_every = on_progress, stop, report_every
        self.validation = validation  # (x_val, y_val as digits) or None
        self.watch = watch
        self.history: list[EpochProgress] = []
        self.images_seen = 0
        self.seeding: Callable[[], None] | None = None  # releases _SEEDING once

    def release_seeding(self) -> None:
        if self.seeding is not None:
            release, self.seeding = self.seeding, None
            release()

    def honour_stop(self) -> None:
        """End the fit before its next call into TensorFlow if a stop was asked for."""
        if self.stop is not None and self.stop.is_set():
            self.model.stop_training = True

    def on_train_begin(self, logs=None):
        self.release_seeding()  # fit has made its dataset: its shuffling is seeded
        self.start = time.perf_counter()
        self.weights = WeightWatch(self.model) if self.watch else None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch_start = time.perf_counter()
        self.done = 0  # batches done in this epoch
        self.reported = (0, 0.0, 0.0)  # images, summed loss, summed correct at the last report
        self.last_report = self.epoch_start

    def on_train_batch_end(self, batch, logs=None):
        self.honour_stop()
        # Called once per call into TensorFlow (the model's steps_per_execution steps), with
        # its last step's index: past the epoch's end when the epoch's last call runs fewer.
        done = min(batch + 1, self.batches)
        images = min(done * self.batch_size, self.n_train)
        self.images_seen += images - min(self.done * self.batch_size, self.n_train)
        self.done = done
        now = time.perf_counter()
        due = now - self.last_report >= self.report_every
        if not (due or self.done == self.batches or self.model.stop_training):
            return
        if self.on_progress is None:
            return
        # Keras reports means over the epoch so far: recover the sums to get the window's mean.
        loss_sum, correct = logs["loss"] * images, logs["accuracy"] * images
        seen, loss_before, correct_before = self.reported
        window = max(images - seen, 1)
        self.reported, self.last_report = (images, loss_sum, correct), now
        elapsed = now - self.start
        step = len(self.history) * self.batches + self.done
        self.on_progress(
            BatchProgress(
                epoch=len(self.history) + 1,
                epochs=self.epochs,
                batch=self.done,
                batches=self.batches,
                step=step,
                loss=(loss_sum - loss_before) / window,
                accuracy=(correct - correct_before) / window,
                images_per_s=self.images_seen / elapsed,
                elapsed=elapsed,
                eta=elapsed / step * (self.epochs * self.batches - step),
            )
        )
        self.honour_stop()  # asked for during the report: the next call runs several steps

    def on_epoch_end(self, epoch, logs=None):
        val_loss = val_accuracy = confusion = None
        if self.validation is not None:
            val_loss, val_accuracy, confusion = _validate(self.model, *self.validation)
        now = time.perf_counter()
        elapsed = now - self.start
        done_epochs = len(self.history) + 1
        progress = EpochProgress(
            epoch=done_epochs,
            epochs=self.epochs,
            loss=float(logs["loss"]),
            accuracy=float(logs["accuracy"]),
            val_loss=val_loss,
            val_accuracy=val_accuracy,
            val_confusion=confusion,
            weights=self.weights.look(self.model, done_epochs) if self.weights else None,
            seconds=now - self.epoch_start,
            elapsed=elapsed,
            eta=0.0
            if self.model.stop_training
            else elapsed / done_epochs * (self.epochs - done_epochs),
            partial=self.done < self.batches,
        )
        self.history.append(progress)
        if self.on_progress is not None:
            self.on_progress(progress)
        self.honour_stop()


def _validate(model: keras.Model, x_val: np.ndarray, y_val: np.ndarray) -> tuple:
    """Validation loss, accuracy and confusion counts from one pass over the validation set.

    Done here rather than by Keras's own validation, which gives only the two means: the same
    single forward pass also shows which digits the network has learned so far.
    """
    ev = Evaluation(y_val, predict(model, x_val))
    # Keras's categorical cross-entropy, clipped the same way.
    picked = np.clip(ev.probabilities[np.arange(len(y_val)), y_val], 1e-7, 1 - 1e-7)
    return float(-np.log(picked).mean()), ev.accuracy, ev.confusion
