"""The command line, run as a user would, and the core's independence from Streamlit."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def _cli(*args, check=True):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "mnist_core", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=300,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _data_args(mnist, tmp_path):
    """The CLI reads the same data as the tests: $MNIST_NPZ, or the sample saved to a file."""
    if os.environ.get("MNIST_NPZ"):
        return ["--data", os.environ["MNIST_NPZ"]]
    path = tmp_path / "sample.npz"
    np.savez(
        path, x_train=mnist.x_train, y_train=mnist.y_train, x_test=mnist.x_test, y_test=mnist.y_test
    )
    return ["--data", str(path)]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, mnist):
    tmp = tmp_path_factory.mktemp("cli")
    data = _data_args(mnist, tmp)
    out = tmp / "codelab.keras"
    result = _cli(
        "train",
        "--preset",
        "codelab",
        *data,
        "--epochs",
        "8",
        "--train-size",
        "3000",
        "--out",
        str(out),
    )
    return result, out, data, tmp


def test_train_prints_a_line_per_epoch_then_json_metrics(trained):
    result, out, _, _ = trained
    lines = result.stdout.strip().splitlines()
    assert [line.split(" - ")[0] for line in lines[:-1]] == [f"epoch {i}/8" for i in range(1, 9)]
    report = json.loads(lines[-1])
    assert report["params"] == 5994 and report["epochs"] == 8
    assert report["val_accuracy"] > 0.5 and report["test_accuracy"] > 0.5
    assert report["fit_seconds"] > 0 and report["images_per_s"] > 0
    assert out.is_file() and json.loads(out.with_suffix(".json").read_text())["params"] == 5994


def test_evaluate_prints_accuracy_per_class_and_the_confusion_matrix(trained, mnist):
    _, out, data, _ = trained
    report = json.loads(_cli("evaluate", str(out), *data).stdout)
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == len(mnist.y_test)
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert len(report["per_class_accuracy"]) == 10


def test_predict_reads_an_image_file(trained, mnist):
    _, out, _, tmp = trained
    # A test digit drawn big and dark on white paper, as a photo or scan would be.
    digit = Image.fromarray(255 - mnist.x_test[0]).resize((200, 200), Image.Resampling.BILINEAR)
    paper = Image.new("L", (400, 300), 255)
    paper.paste(digit, (30, 60))
    paper.save(tmp / "digit.png")
    report = json.loads(_cli("predict", str(out), str(tmp / "digit.png")).stdout)
    assert 0 <= report["digit"] <= 9 and sum(report["probabilities"]) == pytest.approx(1, abs=1e-4)
    assert report["digit"] == int(np.argmax(report["probabilities"]))


def test_bad_input_gets_one_clear_line_and_exit_2(tmp_path, trained):
    not_a_model = tmp_path / "model.keras"
    not_a_model.write_text("hello")
    result = _cli("evaluate", str(not_a_model), check=False)
    assert result.returncode == 2 and "is not a Keras model" in result.stderr
    assert "Traceback" not in result.stderr
    blank = tmp_path / "blank.png"
    Image.new("L", (100, 100), 0).save(blank)
    result = _cli("predict", str(trained[1]), str(blank), check=False)
    assert result.returncode == 2 and "The image is blank" in result.stderr
    result = _cli("train", "--data", str(tmp_path / "absent.npz"), check=False)
    assert result.returncode == 2 and "No MNIST file" in result.stderr
    result = _cli("train", "--preset", "codelab", "--epochs", "0", *trained[2], check=False)
    assert result.returncode == 2 and "Epochs must be" in result.stderr


def test_importing_the_core_does_not_import_streamlit():
    code = "import sys, mnist_core, mnist_core.__main__; print('streamlit' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.stdout.strip() == "False", result.stderr
