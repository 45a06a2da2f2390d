"""The real MNIST: find, download, verify and read the four original IDX files.

Where the files come from, in order: an explicit directory, the environment
variable ``DIGITNET_DATA``, then a per-user cache directory, which is filled
from the public mirrors when empty. Each file may be gzipped (as published) or
raw; either way its sha256 must match the published original.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitnet.modelfile import write_atomic

N_TRAIN = 50_000

#: name → (sha256 of the .gz file, sha256 of the raw IDX file)
FILES = {
    "train-images-idx3-ubyte": (
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    ),
    "train-labels-idx1-ubyte": (
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    ),
    "t10k-images-idx3-ubyte": (
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    ),
    "t10k-labels-idx1-ubyte": (
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    ),
}

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


class MnistError(RuntimeError):
    """MNIST files missing, corrupt or unreadable; the message says which and what to do."""


@dataclass
class Split:
    """``images (n, 784)`` float32 in [0, 1] (ink = 1) and ``labels (n,)`` int64 digits."""

    images: np.ndarray
    labels: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Mnist:
    """Nielsen's splits: train 50,000 / validation 10,000 / test 10,000, or all 70,000 as train."""

    train: Split
    validation: Split | None
    test: Split | None
    checksums: dict[str, str]


def load_mnist(data_dir: str | Path | None = None, use_all: bool = False) -> Mnist:
    """Read and verify MNIST from ``data_dir`` (see ``locate``) and split it.

    With ``use_all`` the training split is all 70,000 images (60,000 + the test
    set) and there is no validation or test split.
    """
    directory = locate(data_dir)
    arrays = {name: read_idx(path) for name, path in find_files(directory).items()}
    checksums = {name: FILES[name][0] for name in FILES}
    images = arrays["train-images-idx3-ubyte"]
    labels = arrays["train-labels-idx1-ubyte"]
    test = Split(_to_float(arrays["t10k-images-idx3-ubyte"]), arrays["t10k-labels-idx1-ubyte"].astype(np.int64))
    if use_all:
        train = Split(np.concatenate([_to_float(images), test.images]), np.concatenate([labels, test.labels]))
        return Mnist(train, None, None, checksums)
    train = Split(_to_float(images[:N_TRAIN]), labels[:N_TRAIN].astype(np.int64))
    validation = Split(_to_float(images[N_TRAIN:]), labels[N_TRAIN:].astype(np.int64))
    return Mnist(train, validation, test, checksums)


def _to_float(images: np.ndarray) -> np.ndarray:
    """``uint8 (n, 28, 28)`` → ``float32 (n, 784)`` in [0, 1]."""
    return np.divide(images.reshape(len(images), -1), np.float32(255), dtype=np.float32)


def locate(data_dir: str | Path | None = None) -> Path:
    """The directory holding MNIST: ``data_dir``, else ``$DIGITNET_DATA``, else the user cache.

    Only the cache is filled by downloading; an explicit directory that lacks
    files is an error that names them.
    """
    if data_dir is None and os.environ.get("DIGITNET_DATA"):
        data_dir = os.environ["DIGITNET_DATA"]
    if data_dir is not None:
        return Path(data_dir)
    cache = cache_dir()
    download_missing(cache)
    return cache


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/digitnet/mnist``, by default ``~/.cache/digitnet/mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitnet" / "mnist"


def find_files(directory: Path) -> dict[str, Path]:
    """Path of each of the four files in ``directory`` (``NAME.gz`` or raw ``NAME``)."""
    found, missing = {}, []
    for name in FILES:
        candidates = [directory / f"{name}.gz", directory / name]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            missing.append(f"{name}.gz")
        else:
            found[name] = path
    if missing:
        raise MnistError(
            f"MNIST files missing in {directory}: {', '.join(missing)}. "
            f"Put the original files there (gzipped or not), or point --data-dir or DIGITNET_DATA "
            f"at a folder that has them."
        )
    return found


def read_idx(path: Path) -> np.ndarray:
    """The array stored in an IDX file (gzipped or raw) after checking its sha256.

    IDX: magic ``0x00 0x00 0x08 ndim``, then ``ndim`` big-endian uint32 sizes,
    then the uint8 data in row-major order.
    """
    data = path.read_bytes()
    name = path.name.removesuffix(".gz")
    expected_gz, expected_raw = FILES[name]
    expected = expected_gz if path.suffix == ".gz" else expected_raw
    actual = hashlib.sha256(data).hexdigest()
    if actual != expected:
        raise MnistError(
            f"{path}: sha256 {actual} does not match the published original ({expected}); "
            "the file is corrupt, truncated or not the MNIST original. Delete it and fetch it again."
        )
    if path.suffix == ".gz":
        data = gzip.decompress(data)
    return parse_idx(data, str(path))


def parse_idx(data: bytes, name: str) -> np.ndarray:
    """Decode IDX bytes of unsigned bytes (type 0x08) into an array of their shape."""
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise MnistError(f"{name}: not an IDX file of unsigned bytes")
    ndim = data[3]
    header = 4 + 4 * ndim
    if len(data) < header:
        raise MnistError(f"{name}: truncated IDX header")
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    size = int(np.prod(shape))
    if len(data) != header + size:
        raise MnistError(f"{name}: {len(data) - header} data bytes, expected {size} for shape {shape}")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def download_missing(directory: Path, mirrors: tuple[str, ...] | None = None) -> None:
    """Fetch every file not yet in ``directory`` from the first mirror that serves it intact.

    Each download is verified before it is renamed into place; when no mirror
    answers, the error names the missing files and where to put them.
    """
    mirrors = mirrors or tuple(os.environ.get("DIGITNET_MNIST_MIRRORS", "").split()) or MIRRORS
    for name, (expected, _) in FILES.items():
        if (directory / f"{name}.gz").is_file() or (directory / name).is_file():
            continue
        failures = []
        for mirror in mirrors:
            url = mirror.rstrip("/") + f"/{name}.gz"
            try:
                data = _fetch(url)
            except (urllib.error.URLError, OSError, TimeoutError) as e:
                failures.append(f"{url}: {e}")
                continue
            digest = hashlib.sha256(data).hexdigest()
            if digest != expected:
                failures.append(f"{url}: sha256 {digest} is not the original's")
                continue
            write_atomic(directory / f"{name}.gz", data)
            break
        else:
            raise MnistError(
                f"could not download {name}.gz into {directory} ({'; '.join(failures)}). "
                f"Offline? Copy the four original MNIST files "
                f"({', '.join(n + '.gz' for n in FILES)}) into {directory}, "
                "or point --data-dir or DIGITNET_DATA at a folder that has them."
            )


def _fetch(url: str) -> bytes:
    print(f"downloading {url}", flush=True)
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()
