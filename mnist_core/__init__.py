"""Digit Lab's engine: MNIST data, CNN models, training, evaluation and drawing preprocessing.

It never imports streamlit: the pages call into it, and it reports progress through callbacks.

The names below are imported on first use (PEP 562), so `import mnist_core` is cheap and a page
that needs no network (Home, Data, the sidebar) never waits for TensorFlow's import (2-4 s,
about 500 MB): `mc.TrainConfig` imports only mnist_core.config, `mc.build_model` imports Keras.
"""

import importlib
import os
from pathlib import Path

# Keep TensorFlow's C++ start-up chatter off the terminal; it must be set before TF is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

_NAMES_BY_MODULE = {
    "board": ("Board", "BoardEntry", "BoardError", "clean_name", "default_data_dir"),
    "codegen": ("script_for",),
    "config": (
        "PRESETS",
        "ConfigError",
        "LayerInfo",
        "ModelFileError",
        "TrainConfig",
        "layer_shapes",
        "network_layers",
        "read_metadata",
        "validate",
    ),
    "data": (
        "IMAGE_SIDE",
        "INPUT_SHAPE",
        "NUM_CLASSES",
        "DataFileError",
        "MnistData",
        "class_means",
        "evaluation_indices",
        "load_mnist",
        "load_sample",
        "stratified_indices",
        "to_model_input",
        "train_val_split",
    ),
    "evaluation": ("Evaluation", "evaluate"),
    "fine_tuning": ("FineTuneJob", "fine_tune", "fine_tune_arrays"),
    "handwriting": (
        "HandwritingError",
        "HandwritingFileError",
        "HandwritingSet",
        "HandwrittenDigit",
    ),
    "lessons": ("Goal", "Lesson", "Verdict"),
    "model": (
        "build_model",
        "feature_maps",
        "first_layer_filters",
        "load_model",
        "model_to_bytes",
        "predict",
        "save_model",
    ),
    "preprocess": (
        "MAX_UPLOAD_BYTES",
        "DigitTooSmallError",
        "EmptyImageError",
        "ImageError",
        "ImageFileError",
        "PreprocessSteps",
        "image_to_mnist",
        "naive_resize",
        "preprocess_steps",
        "read_image_file",
    ),
    "shared_runs": ("RunKey", "Seat", "SharedRuns"),
    "training": (
        "BatchProgress",
        "EpochProgress",
        "JobState",
        "JobView",
        "Progress",
        "RunLimits",
        "ServerSpeed",
        "StopReason",
        "TrainingJob",
        "TrainingSlots",
        "TrainResult",
        "count_macs",
        "estimate_epoch_seconds",
        "estimate_seconds",
        "measure_speed",
        "train",
    ),
    "warmup": ("PageActivity", "ServerWarmup"),
    "workspaces": ("ModelEntry", "Workspace", "Workspaces"),
}
_MODULE_OF = {name: module for module, names in _NAMES_BY_MODULE.items() for name in names}
_MODULES = {path.stem for path in Path(__file__).parent.glob("*.py")} - {"__init__", "__main__"}

__all__ = [*sorted(_MODULE_OF), "charts", "export", "links", "saliency", "transforms"]


def __getattr__(name: str) -> object:
    """A public name or module of the package, imported the first time it is asked for."""
    if name in _MODULE_OF:
        value = getattr(importlib.import_module(f"mnist_core.{_MODULE_OF[name]}"), name)
    elif name in _MODULES:
        value = importlib.import_module(f"mnist_core.{name}")
    else:
        raise AttributeError(f"module 'mnist_core' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__) | _MODULES)
