"""Training from settings: a TrainConfig's network fitted on its split of MNIST."""

from __future__ import annotations

import threading

from mnist_core.config import TrainConfig, validate
from mnist_core.data import NUM_CLASSES, MnistData, to_model_input, train_val_split
from mnist_core.engine.backend import keras
from mnist_core.engine.fit import ProgressCallback, fit
from mnist_core.engine.model import build_model
from mnist_core.engine.progress import TrainResult


def fit_arrays(config: TrainConfig, data: MnistData) -> tuple[tuple, tuple | None]:
    """The config's training and validation split as Keras fit inputs (one-hot labels)."""
    validate(config, available=len(data.y_train))
    (x_train, y_train), (x_val, y_val) = train_val_split(
        data, config.train_size, config.val_size, config.seed
    )
    training = (to_model_input(x_train), keras.utils.to_categorical(y_train, NUM_CLASSES))
    validation = (
        (to_model_input(x_val), keras.utils.to_categorical(y_val, NUM_CLASSES))
        if len(y_val)
        else None
    )
    return training, validation


def train(
    model: keras.Model,
    config: TrainConfig,
    data: MnistData,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
    report_every: float = 0.25,
) -> TrainResult:
    """Fit `model` on the config's train/validation split; report at most every `report_every` s."""
    (x_train, y_train), validation = fit_arrays(config, data)
    if validation is not None:
        validation = (validation[0], validation[1].argmax(axis=1))  # digits, for the confusion
    return fit(
        model,
        x_train,
        y_train,
        batch_size=config.batch_size,
        epochs=config.epochs,
        seed=config.seed,
        validation=validation,
        on_progress=on_progress,
        stop=stop,
        report_every=report_every,
    )


def train_config(
    config: TrainConfig,
    data: MnistData,
    on_progress: ProgressCallback | None = None,
    stop: threading.Event | None = None,
) -> TrainResult:
    """Build the config's network and train it."""
    return train(build_model(config), config, data, on_progress, stop)
