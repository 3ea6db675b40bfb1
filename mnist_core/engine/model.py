"""The CNN: building, summarising, predicting and testing, looking inside, saving and loading."""

from __future__ import annotations

import json
import os
import tempfile
import weakref
import zipfile
from pathlib import Path

import numpy as np

from mnist_core.config import (
    ONE_CYCLE_WARMUP,
    ModelFileError,
    TrainConfig,
    steps_per_execution,
    validate,
)
from mnist_core.data import IMAGE_SIDE, INPUT_SHAPE, NUM_CLASSES, to_model_input
from mnist_core.engine.backend import keras, tf
from mnist_core.engine.evaluation import Evaluation
from mnist_core.i18n import _

PREDICT_CHUNK = 1024


# Keras's TensorFlow optimizer sums gradients across replicas through tf.custom_gradient even
# with one replica, and in graph mode that registers a closure in TensorFlow's process-wide
# gradient registry which is never removed: it kept every training's train-step graph (about
# 10 MB for the codelab net) alive for good. The one Keras internal this engine relies on, so
# it is checked at import rather than found missing in the middle of a class.
if not hasattr(keras.optimizers.Optimizer, "_all_reduce_sum_gradients"):
    raise ImportError(
        "keras.optimizers.Optimizer._all_reduce_sum_gradients is gone: review "
        "mnist_core/engine/model.py's single-replica override before upgrading Keras."
    )


def _single_replica_all_reduce(grads_and_vars):
    """Gradients unchanged: with one replica there is nothing to sum."""
    return list(grads_and_vars)


def learning_rate(config: TrainConfig) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The learning rate of `config`: a number, or a schedule of the training step."""
    rate = config.learning_rate
    steps = config.batches_per_epoch * config.epochs
    if config.lr_schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(rate, decay_steps=steps)
    if config.lr_schedule == "one-cycle":
        # A tenth of the rate at first, up to the rate linearly, then cosine down to zero: a
        # high rate that a freshly initialised network would not survive from the first step.
        warmup = int(steps * ONE_CYCLE_WARMUP)
        return keras.optimizers.schedules.CosineDecay(
            rate / 10, decay_steps=steps - warmup, warmup_target=rate, warmup_steps=warmup
        )
    return rate


def _optimizer(config: TrainConfig) -> keras.optimizers.Optimizer:
    rate = learning_rate(config)
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(rate, momentum=0.9)
    kinds = {"adam": keras.optimizers.Adam, "rmsprop": keras.optimizers.RMSprop}
    return kinds[config.optimizer](learning_rate=rate)


def build_model(config: TrainConfig) -> keras.Model:
    """A compiled Keras CNN for `config` (ConfigError if it cannot be built)."""
    validate(config)
    # Every random layer gets the config's seed, so building never touches global seeds (a
    # training in another thread relies on them). The codelab's tf.js 'varianceScaling'.
    init = keras.initializers.VarianceScaling(distribution="truncated_normal", seed=config.seed)

    inputs = keras.Input(shape=INPUT_SHAPE, name="image")
    x = inputs
    if config.shift:
        x = keras.layers.RandomTranslation(
            config.shift, config.shift, fill_mode="constant", seed=config.seed, name="shift"
        )(x)
    if config.rotation:
        x = keras.layers.RandomRotation(
            config.rotation / 360, fill_mode="constant", seed=config.seed, name="rotate"
        )(x)
    if config.zoom:
        x = keras.layers.RandomZoom(
            config.zoom, fill_mode="constant", seed=config.seed, name="zoom"
        )(x)
    for i, (filters, kernel) in enumerate(zip(config.filters, config.kernel_sizes), 1):
        conv = dict(strides=config.strides, padding=config.padding, kernel_initializer=init)
        if config.batch_norm:
            x = keras.layers.Conv2D(filters, kernel, use_bias=False, name=f"conv{i}", **conv)(x)
            x = keras.layers.BatchNormalization(name=f"bn{i}")(x)
            x = keras.layers.Activation(config.activation, name=f"act{i}")(x)
        else:
            x = keras.layers.Conv2D(
                filters, kernel, activation=config.activation, name=f"conv{i}", **conv
            )(x)
        if config.pooling == "max":
            x = keras.layers.MaxPooling2D(2, strides=2, name=f"pool{i}")(x)
        elif config.pooling == "average":
            x = keras.layers.AveragePooling2D(2, strides=2, name=f"pool{i}")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    if config.dense_units:
        x = keras.layers.Dense(
            config.dense_units, activation=config.activation, kernel_initializer=init, name="dense"
        )(x)
    if config.dropout:
        x = keras.layers.Dropout(config.dropout, seed=config.seed, name="dropout")(x)
    outputs = keras.layers.Dense(
        NUM_CLASSES, activation="softmax", kernel_initializer=init, name="digits"
    )(x)

    model = keras.Model(inputs, outputs, name="digit_cnn")
    loss = "categorical_crossentropy"
    if config.label_smoothing:
        loss = keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing)
    return compile_model(model, _optimizer(config), loss, steps_per_execution(config))


def compile_model(
    model: keras.Model,
    optimizer: keras.optimizers.Optimizer,
    loss: str | keras.losses.Loss,
    steps_per_execution: int = 1,
) -> keras.Model:
    """`model` compiled for training with accuracy, without the single-replica leak above."""
    model.compile(
        optimizer=optimizer,
        loss=loss,
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
    )
    if not tf.distribute.has_strategy():
        model.optimizer._all_reduce_sum_gradients = _single_replica_all_reduce
    return model


_compiled: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _inference_fn(model: keras.Model):
    """A traced inference call per model: ~1 ms for one image against ~50 ms for model.predict."""
    fn = _compiled.get(model)
    if fn is None:
        # Through a weak reference: a function holding the model itself would keep its own
        # weak key alive, and no model that ever predicted would be freed.
        model_ref = weakref.ref(model)
        fn = tf.function(
            lambda x: model_ref()(x, training=False),
            input_signature=[tf.TensorSpec((None, *INPUT_SHAPE), tf.float32)],
            reduce_retracing=True,
        )
        _compiled[model] = fn
    return fn


def predict(model: keras.Model, images: np.ndarray) -> np.ndarray:
    """Class probabilities (n, 10) for float images in [0, 1], (n, 28, 28[, 1]) or (28, 28)."""
    x = np.asarray(images, dtype=np.float32)
    if x.shape == INPUT_SHAPE[:2]:
        x = x[np.newaxis]
    if x.ndim == 3:
        x = x[..., np.newaxis]
    if x.shape[1:] != INPUT_SHAPE:
        raise ValueError(
            f"Expected {IMAGE_SIDE}×{IMAGE_SIDE} images, got an array of shape {np.shape(images)}."
        )
    fn = _inference_fn(model)
    chunks = [fn(x[i : i + PREDICT_CHUNK]).numpy() for i in range(0, len(x), PREDICT_CHUNK)]
    return np.concatenate(chunks) if chunks else np.zeros((0, NUM_CLASSES), np.float32)


_probes: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _feature_probe(model: keras.Model) -> tuple[keras.Model | None, list[str]]:
    """A model giving every conv layer's output after its activation, and their names (cached)."""
    probe = _probes.get(model)
    if probe is None:
        names = {layer.name for layer in model.layers}
        picked = []
        for layer in model.layers:
            if isinstance(layer, keras.layers.Conv2D):
                act = "act" + layer.name.removeprefix("conv")
                picked.append(model.get_layer(act) if act in names else layer)
        outputs = [layer.output for layer in picked]
        probe = keras.Model(model.inputs, outputs) if outputs else None
        probe = _probes[model] = (probe, [layer.name for layer in picked])
    return probe


def feature_maps(model: keras.Model, image: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """(layer name, maps of shape (h, w, channels)) for every conv layer, after its activation."""
    probe, names = _feature_probe(model)
    if not names:
        return []
    outputs = probe([np.asarray(image, np.float32).reshape(1, *INPUT_SHAPE)], training=False)
    if not isinstance(outputs, list | tuple):
        outputs = [outputs]
    return [(name, np.asarray(out)[0]) for name, out in zip(names, outputs)]


def first_layer_filters(model: keras.Model) -> np.ndarray | None:
    """The first conv layer's learned kernels, shaped (filters, k, k); None without conv layers."""
    conv = next((layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)), None)
    if conv is None:
        return None
    kernel = np.asarray(conv.kernel)  # (k, k, 1, filters)
    return np.moveaxis(kernel[:, :, 0, :], -1, 0)


def _without_optimizer(model: keras.Model) -> keras.Model:
    """The same network, uncompiled: a functional model sharing `model`'s layers and weights.

    A .keras file of a compiled model also holds its optimizer's state (Adam's two moments:
    twice the weights again) and its compile settings. Nothing here trains a loaded model
    further (fine-tuning compiles a copy with a fresh optimizer), so files leave both out.
    """
    if getattr(model, "optimizer", None) is None:
        return model
    inputs, outputs = model.inputs, model.outputs  # (a Sequential has no `input` of its own)
    return keras.Model(
        inputs[0] if len(inputs) == 1 else inputs,
        outputs[0] if len(outputs) == 1 else outputs,
        name=model.name,
    )


def save_model(model: keras.Model, path: str | os.PathLike, metadata: dict | None = None) -> Path:
    """Save as .keras (extension added when missing), with `metadata` in a .json beside it.

    Only the network and its weights are saved, not the optimizer's state (a third the size).
    """
    path = Path(path)
    if path.suffix != ".keras":
        path = path.with_name(path.name + ".keras")
    path.parent.mkdir(parents=True, exist_ok=True)
    _without_optimizer(model).save(path)
    if metadata is not None:
        path.with_suffix(".json").write_text(json.dumps(metadata, indent=2) + "\n")
    return path


def model_to_bytes(model: keras.Model) -> bytes:
    """The .keras file of `model`, for a download button."""
    with tempfile.TemporaryDirectory() as tmp:
        return save_model(model, Path(tmp) / "model.keras").read_bytes()


def load_model(source: str | os.PathLike | bytes) -> keras.Model:
    """Load a .keras digit model safely (path or bytes), raising ModelFileError if unusable."""
    if isinstance(source, bytes):
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "upload.keras"
            path.write_bytes(source)
            return _load(path, _("The uploaded file"))
    return _load(Path(source), str(source))


def _load(path: Path, label: str) -> keras.Model:
    if not path.is_file():
        raise ModelFileError(_("{file}: no such file.").format(file=label))
    if not zipfile.is_zipfile(path):
        raise ModelFileError(
            _("{file} is not a Keras model: a .keras file is a zip archive, this is not.").format(
                file=label
            )
        )
    try:
        # Uncompiled: a loaded model only predicts (fine-tuning compiles a copy of its own), so
        # an optimizer saved in older files is neither rebuilt nor filled.
        model = keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as err:  # Keras raises many kinds for a bad archive
        raise ModelFileError(
            _("{file} is not a loadable Keras model: {error}").format(file=label, error=err)
        ) from err
    if not isinstance(model, keras.Model):
        raise ModelFileError(
            _("{file} holds a {kind}, not a Keras model.").format(
                file=label, kind=type(model).__name__
            )
        )
    if len(model.inputs) != 1:
        raise ModelFileError(
            _("{file} takes {n} inputs; a digit model takes one {side}×{side}×1 image.").format(
                file=label, n=len(model.inputs), side=IMAGE_SIDE
            )
        )
    if len(model.outputs) != 1:
        raise ModelFileError(
            _(
                "{file} gives {n} outputs; a digit model gives one output of {classes} class "
                "probabilities."
            ).format(file=label, n=len(model.outputs), classes=NUM_CLASSES)
        )
    inputs, outputs = tuple(model.inputs[0].shape[1:]), tuple(model.outputs[0].shape[1:])
    if inputs != INPUT_SHAPE:
        raise ModelFileError(
            _("{file} expects inputs of shape {shape}, not {side}×{side}×1 digits.").format(
                file=label, shape=inputs, side=IMAGE_SIDE
            )
        )
    if outputs != (NUM_CLASSES,):
        raise ModelFileError(
            _("{file} outputs shape {shape}, not {classes} digit classes.").format(
                file=label, shape=outputs, classes=NUM_CLASSES
            )
        )
    return model if _gives_probabilities(model) else _with_softmax(model)


def _gives_probabilities(model: keras.Model) -> bool:
    """True when the outputs are probabilities (each row non-negative, summing to 1) for a
    blank and a noisy image; raw scores (logits) are not. Asked of the outputs, not of the
    last layer's name: a nested Sequential or a Softmax layer both count, a sigmoid does not.
    """
    x = np.stack([np.zeros(INPUT_SHAPE), np.random.default_rng(0).random(INPUT_SHAPE)])
    y = np.asarray(model(x.astype(np.float32), training=False))
    return bool((y >= 0).all() and np.allclose(y.sum(axis=1), 1, atol=1e-3))


def _with_softmax(model: keras.Model) -> keras.Model:
    """`model` with a softmax on its scores: many Keras examples leave it to the loss
    (`from_logits=True`), but everything here, fine-tuning's loss included, needs probabilities.
    """
    return keras.Model(
        model.inputs[0],
        keras.layers.Softmax(name="probabilities")(model.outputs[0]),
        name=model.name,
    )


def evaluate(model, x: np.ndarray, y: np.ndarray) -> Evaluation:
    """Predict uint8 (n, 28, 28) digits `x` and compare with labels `y`."""
    # A chunk at a time: the 10,000 test digits as floats are 31 MB, which glibc keeps, once
    # freed, in the arena of the thread that tested (a page's, often a new one).
    chunks = [
        predict(model, to_model_input(x[i : i + PREDICT_CHUNK]))
        for i in range(0, len(x), PREDICT_CHUNK)
    ]
    probabilities = np.concatenate(chunks) if chunks else np.zeros((0, NUM_CLASSES), np.float32)
    return Evaluation(labels=np.asarray(y, dtype=np.int64), probabilities=probabilities)
