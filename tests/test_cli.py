"""The command line, run as a user would, and the core's independence from Streamlit."""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import DEFAULT_MODEL
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


def _save_mnist(path: Path, mnist, train: int | None = None, test: int | None = None) -> Path:
    """`mnist` as an .npz in MNIST's layout: its first `train` training digits and first `test`
    test digits (all by default)."""
    np.savez(
        path,
        x_train=mnist.x_train[:train],
        y_train=mnist.y_train[:train],
        x_test=mnist.x_test[:test],
        y_test=mnist.y_test[:test],
    )
    return path


def _data_args(mnist, tmp_path):
    """The CLI reads the same data as the tests: $MNIST_NPZ, or the sample saved to a file."""
    if os.environ.get("MNIST_NPZ"):
        return ["--data", os.environ["MNIST_NPZ"]]
    return ["--data", str(_save_mnist(tmp_path / "sample.npz", mnist))]


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
    # Only the CLI's own line on stderr: no TensorFlow start-up notices (oneDNN's on AVX-512).
    assert len(result.stderr.splitlines()) == 1 and "digits" in result.stderr, result.stderr
    assert report["val_accuracy"] > 0.5 and report["test_accuracy"] > 0.5
    assert report["fit_seconds"] > 0 and report["images_per_s"] > 0
    assert out.is_file() and json.loads(out.with_suffix(".json").read_text())["params"] == 5994


def test_train_preset_dense_trains_a_network_without_convolution(trained, tmp_path):
    data = trained[2]
    out = tmp_path / "dense.keras"
    args = ("--epochs", "3", "--train-size", "3000", "--val-size", "200", "--batch-size", "64")
    result = _cli("train", "--preset", "dense", *data, *args, "--out", str(out))
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["preset"] == "dense" and report["epochs"] == 3
    assert report["params"] == 784 * 8 + 8 + 8 * 10 + 10  # flatten → 8 → 10
    assert report["test_accuracy"] > 0.5  # it learns, without a single filter
    saved = json.loads(out.with_suffix(".json").read_text())
    assert saved["config"]["filters"] == [] and saved["config"]["dense_units"] == 8


def test_evaluate_prints_accuracy_per_class_and_the_confusion_matrix(trained, mnist):
    _, out, data, _ = trained
    report = json.loads(_cli("evaluate", str(out), *data).stdout)
    matrix = np.array(report["confusion_matrix"])
    assert matrix.shape == (10, 10) and matrix.sum() == len(mnist.y_test)
    assert report["accuracy"] == pytest.approx(np.trace(matrix) / matrix.sum())
    assert len(report["per_class_accuracy"]) == 10


def test_predict_reads_real_test_digits_photographed_on_paper(mnist, tmp_path):
    # Test digits drawn big and dark on white paper, as a photo or scan would be, read by the
    # shipped model: the printed digit must be the true one.
    for digit in (2, 7, 9):
        index = int(np.flatnonzero(mnist.y_test == digit)[0])
        ink = Image.fromarray(255 - mnist.x_test[index]).resize((200, 200), Image.BILINEAR)
        paper = Image.new("L", (400, 300), 255)
        paper.paste(ink, (30, 60))
        paper.save(tmp_path / f"{digit}.png")
        result = _cli("predict", str(DEFAULT_MODEL), str(tmp_path / f"{digit}.png"))
        report = json.loads(result.stdout)
        assert report["digit"] == digit, report
        assert result.stderr == ""  # nothing from TensorFlow's start-up either
        assert sum(report["probabilities"]) == pytest.approx(1, abs=1e-4)


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


@pytest.mark.parametrize("damage", ["truncated", "text"])
def test_a_damaged_data_file_gives_exit_2_and_one_line(tmp_path, mnist, damage):
    path = tmp_path / "mnist.npz"
    if damage == "truncated":  # a download cut short
        _save_mnist(path, mnist, train=500, test=500)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_text("x_train,y_train\n1,2\n")
    result = _cli("evaluate", str(DEFAULT_MODEL), "--data", str(path), check=False)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not a readable .npz file" in lines[0], lines
    assert "pickle" not in result.stderr and "Traceback" not in result.stderr


# What a TensorFlow that cannot run on this CPU does as it imports: notices, a fatal record, abort.
BROKEN_TENSORFLOW = """
import os
os.write(2, b"WARNING: All log messages before absl::InitializeLog() is called are written "
            b"to STDERR\\n")
os.write(2, b"I0000 00:00:1796461086.684 7168 port.cc:153] oneDNN custom operations are on.\\n")
os.write(2, b"F0000 00:00:1796461086.685 7168 cpu_feature_guard.cc:52] The TensorFlow library was "
            b"compiled to use AVX instructions, but these aren't available on your machine.\\n")
os.abort()
"""


@pytest.mark.parametrize("level", ["2", "0"])
def test_a_tensorflow_that_dies_as_it_imports_still_says_why(tmp_path, level):
    """The CLI holds back TensorFlow's start-up notices, never its errors, even when the import
    kills the process; TF_CPP_MIN_LOG_LEVEL=0 asks for the notices too."""
    (tmp_path / "keras").mkdir()
    (tmp_path / "keras" / "__init__.py").write_text(BROKEN_TENSORFLOW)
    image = tmp_path / "digit.png"
    Image.new("L", (28, 28), 0).save(image)
    env = {
        **os.environ,
        "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}",
        "TF_CPP_MIN_LOG_LEVEL": level,
    }
    result = subprocess.run(
        [sys.executable, "-m", "mnist_core", "predict", str(DEFAULT_MODEL), str(image)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert result.returncode == -signal.SIGABRT, result.stderr
    lines = result.stderr.splitlines()
    assert any("aren't available on your machine" in line for line in lines), lines
    assert any("oneDNN" in line for line in lines) == (level == "0"), lines
    assert not any("absl::InitializeLog" in line for line in lines), lines


def test_help_the_board_and_impossible_settings_answer_without_importing_tensorflow(
    tmp_path, mnist
):
    # 1,000 training digits: 5,000 is too many
    small = _save_mnist(tmp_path / "small.npz", mnist, train=1000, test=100)
    code = """
import contextlib, io, sys
from mnist_core.__main__ import main
with contextlib.redirect_stdout(io.StringIO()) as help_text, contextlib.suppress(SystemExit):
    main(["train", "--help"])
codes = [
    main(["train", "--epochs", "0"]),
    main(["train", "--train-size", "5000", "--data", sys.argv[1]]),
    main(["board", "list", "--data-dir", sys.argv[2]]),
]
print("--dry-run" in help_text.getvalue(), codes, "tensorflow" in sys.modules)
"""
    result = subprocess.run(
        [sys.executable, "-c", code, str(small), str(tmp_path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.stdout.splitlines()[-1] == "True [2, 2, 0] False", result.stderr
    errors = result.stderr.strip().splitlines()
    assert errors[0] == "error: Epochs must be 1 to 200.", result.stderr
    assert errors[-1].startswith("error: ") and "5,000" in errors[-1], result.stderr


def test_importing_the_core_does_not_import_streamlit():
    code = "import sys, mnist_core, mnist_core.__main__; print('streamlit' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert result.stdout.strip() == "False", result.stderr
