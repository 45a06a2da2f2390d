"""The MNIST replay set shipped with the site, for adapting a model in the browser.

``replay.npz`` holds a fixed, class-balanced choice of MNIST *training* images
(mixed into every adaptation step, so the model keeps what MNIST taught) and of
*test* images (the holdout checked before and after), as uint8. The choice is
seeded and the archive is written without timestamps, so the same MNIST files
always give the same bytes.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from digitnet.adapt import REPLAY_FILE, Replay
from digitnet.modelfile import write_atomic
from digitnet.training.mnist import FILES, locate, read_files

SEED = 20261128

__all__ = ["REPLAY_FILE", "archive_bytes", "make_replay", "replay_bytes", "write_replay"]


def balanced_choice(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices into ``labels``, ``n/10`` of each digit, in a random order."""
    per_digit = n // 10
    chosen = [rng.choice(np.flatnonzero(labels == d), per_digit, replace=False) for d in range(10)]
    return rng.permutation(np.concatenate(chosen))


def make_replay(data_dir: str | Path | None, train: int = 500, holdout: int = 500) -> Replay:
    """The replay set from the MNIST files in ``data_dir`` (see ``digitnet.training.mnist.locate``)."""
    arrays = read_files(locate(data_dir), tuple(FILES))
    rng = np.random.default_rng(SEED)
    train_labels = arrays["train-labels-idx1-ubyte"]
    test_labels = arrays["t10k-labels-idx1-ubyte"]
    t = balanced_choice(train_labels, train, rng)
    h = balanced_choice(test_labels, holdout, rng)
    return Replay(
        arrays["train-images-idx3-ubyte"][t].reshape(-1, 784).astype(np.uint8),
        train_labels[t].astype(np.uint8),
        arrays["t10k-images-idx3-ubyte"][h].reshape(-1, 784).astype(np.uint8),
        test_labels[h].astype(np.uint8),
    )


def replay_bytes(replay: Replay) -> bytes:
    """``replay`` as a compressed ``.npz`` archive whose bytes depend on its contents only."""
    names = ("train_images", "train_labels", "holdout_images", "holdout_labels")
    return archive_bytes({name: getattr(replay, name) for name in names})


def archive_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    """``arrays`` as a compressed ``.npz`` archive (``NAME.npy`` each, in order) whose bytes depend on their
    contents only: no timestamps, fixed permissions, deflate at level 9."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, values in arrays.items():
            array = io.BytesIO()
            np.lib.format.write_array(array, values, allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, array.getvalue(), compresslevel=9)
    return buffer.getvalue()


def write_replay(out: Path, data_dir: str | Path | None = None, train: int = 500, holdout: int = 500) -> int:
    """Write the replay archive to ``out``; return its size in bytes."""
    data = replay_bytes(make_replay(data_dir, train, holdout))
    write_atomic(out, data)
    return len(data)
