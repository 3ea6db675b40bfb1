"""Digit Lab's engine: MNIST data, CNN models, training, evaluation and drawing preprocessing.

It never imports streamlit: the pages call into it, and it reports progress through callbacks.
"""

import os

# Keep TensorFlow's C++ start-up chatter off the terminal; it must be set before TF is imported.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from mnist_core import charts, saliency, transforms
from mnist_core.board import Board, BoardEntry, BoardError, clean_name, default_data_dir
from mnist_core.codegen import script_for
from mnist_core.config import PRESETS, ConfigError, TrainConfig, layer_shapes, validate
from mnist_core.data import (
    IMAGE_SIDE,
    INPUT_SHAPE,
    NUM_CLASSES,
    DataFileError,
    MnistData,
    class_means,
    evaluation_indices,
    load_mnist,
    load_sample,
    stratified_indices,
    to_model_input,
    train_val_split,
)
from mnist_core.evaluation import Evaluation, evaluate
from mnist_core.fine_tuning import FineTuneJob, fine_tune, fine_tune_arrays
from mnist_core.handwriting import (
    HandwritingError,
    HandwritingFileError,
    HandwritingSet,
    HandwrittenDigit,
)
from mnist_core.model import (
    LayerInfo,
    ModelFileError,
    build_model,
    feature_maps,
    first_layer_filters,
    load_model,
    model_to_bytes,
    predict,
    read_metadata,
    save_model,
    summarize,
)
from mnist_core.preprocess import (
    MAX_UPLOAD_BYTES,
    DigitTooSmallError,
    EmptyImageError,
    ImageError,
    ImageFileError,
    PreprocessSteps,
    image_to_mnist,
    naive_resize,
    preprocess_steps,
    read_image_file,
)
from mnist_core.training import (
    BatchProgress,
    EpochProgress,
    JobState,
    JobView,
    Progress,
    RunLimits,
    StopReason,
    TrainingJob,
    TrainingSlots,
    TrainResult,
    count_macs,
    estimate_epoch_seconds,
    measure_speed,
    train,
)
from mnist_core.workspaces import ModelEntry, Workspace, Workspaces

__all__ = [
    "IMAGE_SIDE",
    "INPUT_SHAPE",
    "MAX_UPLOAD_BYTES",
    "NUM_CLASSES",
    "PRESETS",
    "BatchProgress",
    "Board",
    "BoardEntry",
    "BoardError",
    "ConfigError",
    "DataFileError",
    "DigitTooSmallError",
    "EmptyImageError",
    "EpochProgress",
    "Evaluation",
    "FineTuneJob",
    "HandwritingError",
    "HandwritingFileError",
    "HandwritingSet",
    "HandwrittenDigit",
    "ImageError",
    "ImageFileError",
    "JobState",
    "JobView",
    "LayerInfo",
    "MnistData",
    "ModelEntry",
    "ModelFileError",
    "PreprocessSteps",
    "Progress",
    "RunLimits",
    "StopReason",
    "TrainConfig",
    "TrainResult",
    "TrainingJob",
    "TrainingSlots",
    "Workspace",
    "Workspaces",
    "build_model",
    "charts",
    "class_means",
    "clean_name",
    "count_macs",
    "default_data_dir",
    "estimate_epoch_seconds",
    "evaluate",
    "evaluation_indices",
    "feature_maps",
    "fine_tune",
    "fine_tune_arrays",
    "first_layer_filters",
    "image_to_mnist",
    "layer_shapes",
    "load_mnist",
    "load_model",
    "load_sample",
    "measure_speed",
    "model_to_bytes",
    "naive_resize",
    "predict",
    "preprocess_steps",
    "read_image_file",
    "read_metadata",
    "saliency",
    "save_model",
    "script_for",
    "stratified_indices",
    "summarize",
    "to_model_input",
    "train",
    "train_val_split",
    "transforms",
    "validate",
]
