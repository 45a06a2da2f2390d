"""The real MNIST: find, download, verify and read the four original IDX files.

Where the files come from, in order: an explicit directory, the environment
variable ``DIGITNET_DATA``, then a per-user cache directory, which is filled
from the public mirrors when empty. Each file may be gzipped (as published, or
re-compressed) or raw: it is recognised by the sha256 of its decompressed
contents, read as a stream and never beyond the original's size, so a faithful
copy is accepted, an altered one refused, and a huge impostor costs nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import sys
import urllib.error
import urllib.request
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.modelfile import write_atomic

N_TRAIN = 50_000


class Original(NamedTuple):
    """A published MNIST file: the sha256 of the ``.gz`` as published (what the mirrors serve),
    the sha256 of its decompressed IDX contents and their size in bytes."""

    gz_sha256: str
    sha256: str
    size: int


FILES = {
    "train-images-idx3-ubyte": Original(
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        47_040_016,
    ),
    "train-labels-idx1-ubyte": Original(
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        60_008,
    ),
    "t10k-images-idx3-ubyte": Original(
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        7_840_016,
    ),
    "t10k-labels-idx1-ubyte": Original(
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
        "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
        10_008,
    ),
}
TEST_FILES = ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
GZIP_MAGIC = b"\x1f\x8b"
CHUNK = 1 << 20

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)


class MnistError(DigitnetError, RuntimeError):
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
    arrays = read_files(locate(data_dir), tuple(FILES))
    checksums = {name: original.gz_sha256 for name, original in FILES.items()}
    images = arrays["train-images-idx3-ubyte"]
    labels = arrays["train-labels-idx1-ubyte"]
    test = _split(arrays, "t10k")
    if use_all:
        train = Split(np.concatenate([_to_float(images), test.images]), np.concatenate([labels, test.labels]))
        return Mnist(train, None, None, checksums)
    train = Split(_to_float(images[:N_TRAIN]), labels[:N_TRAIN].astype(np.int64))
    validation = Split(_to_float(images[N_TRAIN:]), labels[N_TRAIN:].astype(np.int64))
    return Mnist(train, validation, test, checksums)


def load_test(data_dir: str | Path | None = None) -> Split:
    """Only the 10,000 test images, verified like ``load_mnist``'s: what evaluation needs, in a fifth of the memory."""
    return _split(read_files(locate(data_dir, TEST_FILES), TEST_FILES), "t10k")


def _split(arrays: dict[str, np.ndarray], prefix: str) -> Split:
    images, labels = arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"]
    return Split(_to_float(images), labels.astype(np.int64))


def _to_float(images: np.ndarray) -> np.ndarray:
    """``uint8 (n, 28, 28)`` → ``float32 (n, 784)`` in [0, 1]."""
    return np.divide(images.reshape(len(images), -1), np.float32(255), dtype=np.float32)


def locate(data_dir: str | Path | None = None, names: tuple[str, ...] = tuple(FILES)) -> Path:
    """The directory holding MNIST: ``data_dir``, else ``$DIGITNET_DATA``, else the user cache.

    Only the cache is filled by downloading, and only with the files ``names`` that the caller
    reads; an explicit directory that lacks files is an error that names them.
    """
    if data_dir is None and os.environ.get("DIGITNET_DATA"):
        data_dir = os.environ["DIGITNET_DATA"]
    if data_dir is not None:
        return Path(data_dir)
    cache = cache_dir()
    download_missing(cache, names=names)
    return cache


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/digitnet/mnist``, by default ``~/.cache/digitnet/mnist``."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitnet" / "mnist"


def candidates(directory: Path, name: str) -> list[Path]:
    """The copies of file ``name`` in ``directory``, in order of preference: ``NAME.gz``, then raw ``NAME``."""
    return [path for path in (directory / f"{name}.gz", directory / name) if path.is_file()]


def read_files(directory: Path, names: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The array of each file in ``names``, from its first faithful copy in ``directory``."""
    missing = [f"{name}.gz" for name in names if not candidates(directory, name)]
    if missing:
        raise MnistError(
            f"MNIST files missing in {directory}: {', '.join(missing)}. "
            f"Put the original files there (gzipped or not), or point --data-dir or DIGITNET_DATA "
            f"at a folder that has them."
        )
    return {name: read_original(directory, name) for name in names}


def read_original(directory: Path, name: str) -> np.ndarray:
    """The first copy of ``name`` whose contents are the original's; a broken copy beside a good one
    is passed over with a note on stderr, since the user will want to delete it."""
    problems = []
    for path in candidates(directory, name):
        try:
            array = read_idx(path)
        except MnistError as e:
            problems.append(str(e))
            continue
        for problem in problems:
            print(f"note: {problem.split(';')[0]}; using {path} instead", file=sys.stderr)
        return array
    raise MnistError(" Also: ".join(problems))


def read_idx(path: Path) -> np.ndarray:
    """The array stored in an MNIST IDX file (gzipped or raw) after checking the sha256 of its contents.

    IDX: magic ``0x00 0x00 0x08 ndim``, then ``ndim`` big-endian uint32 sizes,
    then the uint8 data in row-major order.
    """
    original = FILES[path.name.removesuffix(".gz")]
    data, actual = read_contents(path, original.size)
    if actual != original.sha256:
        raise MnistError(
            f"{path}: sha256 {actual} of its contents does not match the published original ({original.sha256}); "
            "the file is altered or not the MNIST original. Delete it and fetch it again."
        )
    return parse_idx(data, str(path))


def read_contents(path: Path, size: int) -> tuple[bytearray, str]:
    """The (decompressed, when it starts like gzip) contents of ``path`` and their sha256.

    Read and hashed as a stream that stops one byte past ``size``, the original's
    size, so an oversized file, or a small gzip bomb, is refused without being read whole.
    """
    try:
        with path.open("rb") as raw:
            compressed = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            on_disk = os.fstat(raw.fileno()).st_size
            if not compressed and on_disk != size:
                raise MnistError(
                    f"{path}: {on_disk:,} bytes, but the original is {size:,} bytes (raw) or a gzip file; "
                    "the file is truncated, altered or not the MNIST original. Delete it and fetch it again."
                )
            stream = gzip.GzipFile(fileobj=raw) if compressed else raw
            data, digest = bytearray(), hashlib.sha256()
            while len(data) <= size and (chunk := stream.read(min(CHUNK, size + 1 - len(data)))):
                data += chunk
                digest.update(chunk)
    except (OSError, EOFError, zlib.error) as e:  # gzip.BadGzipFile is an OSError
        raise MnistError(
            f"{path}: unreadable ({e}); the file is corrupt or truncated. Delete it and fetch it again."
        ) from None
    if len(data) != size:
        amount = f"more than {size:,}" if len(data) > size else f"{len(data):,}"
        raise MnistError(
            f"{path}: {amount} bytes of contents, but the original has {size:,}; "
            "the file is truncated, altered or not the MNIST original. Delete it and fetch it again."
        )
    return data, digest.hexdigest()


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


def download_missing(
    directory: Path, mirrors: tuple[str, ...] | None = None, names: tuple[str, ...] = tuple(FILES)
) -> None:
    """Fetch each file of ``names`` not yet in ``directory`` from the first mirror that serves it intact.

    Each download is verified before it is renamed into place; when no mirror
    answers, the error names the missing files and where to put them.
    """
    mirrors = mirrors or tuple(os.environ.get("DIGITNET_MNIST_MIRRORS", "").split()) or MIRRORS
    for name in names:
        original = FILES[name]
        if candidates(directory, name):
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
            if digest != original.gz_sha256:
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
    # progress goes to stderr: stdout may be a pipe whose reader has gone (`digitnet evaluate | head -1`)
    print(f"downloading {url}", file=sys.stderr, flush=True)
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()
