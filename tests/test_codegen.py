"""The Train page's code: a standalone Keras script that builds and trains the app's network."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mnist_core import config as cfg
from mnist_core.config import PRESETS, ConfigError, TrainConfig, validate
from mnist_core.data import MnistData, train_val_split
from mnist_core.engine.model import build_model
from mnist_core.engine.training import train
from mnist_core.presentation.codegen import script_for

REPO = Path(__file__).resolve().parents[1]
# Presets and custom networks that between them use every setting the script can hold.
CONFIGS = {
    "codelab": PRESETS["codelab"],
    "fast": PRESETS["fast"],
    "best": PRESETS["best"],
    "dense": PRESETS["dense"],
    "custom": TrainConfig(
        filters=(8, 16),
        kernel_sizes=(3, 5),
        strides=2,
        padding="same",
        pooling="average",
        activation="elu",
        batch_norm=True,
        dense_units=16,
        optimizer="sgd",
        learning_rate=0.01,
        lr_schedule="one-cycle",
        label_smoothing=0.1,
        rotation=10.0,
        seed=3,
    ),
    "custom-plain": TrainConfig(
        filters=(4,),
        kernel_sizes=(7,),
        pooling="none",
        activation="tanh",
        dropout=0.3,
        optimizer="rmsprop",
        lr_schedule="cosine",
        shift=0.1,
        zoom=0.1,
        seed=7,
        val_size=0,
    ),
}


def _tiny(config: TrainConfig) -> TrainConfig:
    """`config` on a few hundred digits for one epoch of four batches."""
    return config.replace(
        train_size=200, val_size=min(config.val_size, 100), epochs=1, batch_size=64
    )


# Run every script in one process: TensorFlow's import alone takes seconds. Each script runs
# in a fresh namespace, as `python script.py` would, and leaves what it built in it.
DRIVER = """
import json, runpy, sys

results = []
for path in sys.argv[2:]:
    ns = runpy.run_path(path, run_name="__main__")
    results.append({
        "layers": [
            [type(layer).__name__, list(layer.output.shape), layer.count_params()]
            for layer in ns["model"].layers
        ],
        "val_indices": ns["val_indices"].tolist() if "val_indices" in ns else None,
        "train_indices": ns["train_indices"].tolist(),
        "loss": ns["history"].history["loss"],
    })
with open(sys.argv[1], "w") as f:
    json.dump(results, f)
"""


@pytest.fixture(scope="module")
def small_mnist(mnist, tmp_path_factory) -> tuple[MnistData, Path]:
    """1,000 training and 300 test digits, as data and as an .npz in MNIST's layout."""
    arrays = {
        "x_train": mnist.x_train[:1000],
        "y_train": mnist.y_train[:1000],
        "x_test": mnist.x_test[:300],
        "y_test": mnist.y_test[:300],
    }
    path = tmp_path_factory.mktemp("mnist") / "mnist.npz"
    np.savez(path, **arrays)
    return MnistData(**arrays, source="file", origin=str(path)), path


def test_the_scripts_build_and_train_exactly_the_apps_networks(small_mnist, tmp_path):
    data, npz = small_mnist
    configs = {name: _tiny(config) for name, config in CONFIGS.items()}
    paths = []
    for name, config in configs.items():
        path = tmp_path / f"digit_lab_{name}.py"
        path.write_text(script_for(config, name))
        paths.append(str(path))
    out = tmp_path / "results.json"
    env = {**os.environ, "MNIST_NPZ": str(npz)}
    scripts = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(out), *paths],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # The app trains the same configs meanwhile, for the scripts' losses to be compared with.
    apps = {}
    for name, config in configs.items():
        model = build_model(config)
        apps[name] = (model, train(model, config, data).history)
    stdout, stderr = scripts.communicate(timeout=300)
    assert scripts.returncode == 0, stderr[-3000:]
    assert stdout.count("Test accuracy: ") == len(configs), "every script tests its network"

    for (name, config), got in zip(configs.items(), json.loads(out.read_text()), strict=True):
        model, history = apps[name]
        expected = [
            [type(layer).__name__, list(layer.output.shape), layer.count_params()]
            for layer in model.layers[1:]  # not the functional model's InputLayer
        ]
        assert got["layers"] == expected, name
        assert sum(params for *_, params in got["layers"]) == model.count_params()
        (x_train, y_train), (x_val, y_val) = train_val_split(
            data, config.train_size, config.val_size, config.seed
        )
        assert np.array_equal(data.y_train[got["train_indices"]], y_train), name
        assert np.array_equal(data.x_train[got["train_indices"]], x_train), name
        if config.val_size:
            assert np.array_equal(data.x_train[got["val_indices"]], x_val), name
            assert np.array_equal(data.y_train[got["val_indices"]], y_val), name
        else:
            assert got["val_indices"] is None, name
        # Same data, weights, shuffling, augmentation, optimizer and schedule: the same losses.
        assert len(got["loss"]) == config.epochs
        np.testing.assert_allclose(got["loss"], [e.loss for e in history], rtol=1e-4)


def _ruff() -> str:
    ruff = Path(sys.executable).with_name("ruff")
    found = str(ruff) if ruff.is_file() else shutil.which("ruff")
    if found is None:
        pytest.skip("ruff is not installed (requirements-dev.txt)")
    return found


def _random_configs(n: int, seed: int = 0) -> list[TrainConfig]:
    """`n` valid configs with every setting drawn at random, for the script's layout."""
    rng = np.random.default_rng(seed)
    configs = []
    while len(configs) < n:
        blocks = int(rng.integers(1, 4))
        config = TrainConfig(
            filters=tuple(int(f) for f in rng.choice([2, 8, 32, 128, 512], blocks)),
            kernel_sizes=tuple(int(k) for k in rng.choice([1, 3, 5, 7], blocks)),
            strides=int(rng.integers(1, 4)),
            padding=str(rng.choice(cfg.PADDINGS)),
            pooling=str(rng.choice(cfg.POOLINGS)),
            activation=str(rng.choice(cfg.ACTIVATIONS)),
            batch_norm=bool(rng.integers(2)),
            dropout=float(rng.choice([0, 0.05, 0.5])),
            dense_units=int(rng.choice([0, 16, 4096])),
            optimizer=str(rng.choice(cfg.OPTIMIZERS)),
            learning_rate=float(rng.choice([0.0001, 0.003, 0.1])),
            lr_schedule=str(rng.choice(cfg.LR_SCHEDULES)),
            batch_size=int(rng.choice([16, 8192])),
            epochs=int(rng.choice([1, 200])),
            train_size=int(rng.choice([100, 59999])),
            val_size=int(rng.choice([0, 1])),
            shift=float(rng.choice([0, 0.05, 0.3])),
            rotation=float(rng.choice([0, 12.5, 180])),
            zoom=float(rng.choice([0, 0.25])),
            seed=int(rng.choice([0, 10**6])),
            label_smoothing=float(rng.choice([0, 0.05, 0.3])),
        )
        try:
            validate(config)
        except ConfigError:
            continue
        configs.append(config)
    return configs


def test_every_script_compiles_and_is_ruff_clean_and_formatted(tmp_path):
    scripts = {f"digit_lab_{name}.py": script_for(c, name) for name, c in CONFIGS.items()}
    scripts |= {f"random_{i}.py": script_for(c) for i, c in enumerate(_random_configs(30))}
    for file_name, script in scripts.items():
        compile(script, file_name, "exec")
        (tmp_path / file_name).write_text(script)
    ruff = _ruff()
    # A script is the user's own: it imports Keras at the top as any Keras script does.
    for command in (["check", "--extend-ignore", "TID253"], ["format", "--check", "--diff"]):
        result = subprocess.run(
            [ruff, *command, "--config", str(REPO / "pyproject.toml"), str(tmp_path)],
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_script_holds_only_what_the_settings_use():
    plain = script_for(PRESETS["codelab"], "codelab")
    absent = ["BatchNormalization", "Random", "Dropout", "schedules", "import math", "smoothing"]
    for text in [*absent, "strides=", "padding=", "SGD", "RMSprop"]:
        assert text not in plain, text
    assert "keras.optimizers.Adam(learning_rate=learning_rate)" in plain
    assert "learning_rate = 0.001" in plain
    assert "validation_data=(x_val, y_val)" in plain
    best = script_for(PRESETS["best"], "best")
    assert best.count("layers.BatchNormalization()") == 3
    assert "layers.RandomTranslation(0.1, 0.1" in best and "RandomRotation" not in best
    assert "warmup_target=0.003" in best and "label_smoothing=0.1" in best
    assert best.count("strides=2,") == 3 and "MaxPooling2D" not in best
    assert "batch_size = 128" in best and "epochs = 13" in best
    # A value a link set between the sliders' steps is written exactly, not rounded.
    assert "layers.Dropout(0.1234567," in script_for(PRESETS["codelab"].replace(dropout=0.1234567))
    no_validation = script_for(PRESETS["codelab"].replace(val_size=0))
    assert "x_val" not in no_validation and "validation_data" not in no_validation
    # Standalone: only keras and numpy, and none of the app's own speed-ups.
    for script in (plain, best, script_for(CONFIGS["custom"])):
        assert "mnist_core" not in script and "_all_reduce" not in script
        imports = {
            line.split()[1] for line in script.splitlines() if line.startswith(("import ", "from "))
        }
        assert imports <= {"os", "math", "keras", "numpy"}, imports


def test_the_script_names_the_preset_and_refuses_an_impossible_network():
    assert "python digit_lab_fast.py" in script_for(PRESETS["fast"], "fast")
    assert "python digit_lab_custom.py" in script_for(CONFIGS["custom"])
    impossible = TrainConfig(filters=(8, 8, 8), kernel_sizes=(7, 7, 7))
    with pytest.raises(ConfigError, match="Block 3 conv"):
        script_for(impossible)
