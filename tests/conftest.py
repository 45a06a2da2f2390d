"""Shared fixtures: the real MNIST folder and the committed models."""

import os
from pathlib import Path

import pytest

from digitnet.training.mnist import load_mnist, locate

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The MNIST folder: $DIGITNET_DATA, else the user cache (downloaded when empty)."""
    return locate(os.environ.get("DIGITNET_DATA"))


@pytest.fixture(scope="session")
def mnist_data(data_dir):
    return load_mnist(data_dir)
