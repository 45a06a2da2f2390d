"""Reading the real MNIST files; corrupt, truncated and missing files; the downloader."""

import functools
import gzip
import http.server
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from digitnet.training import mnist
from digitnet.training.mnist import (
    FILES,
    MnistError,
    download_missing,
    load_mnist,
    load_test,
    locate,
    parse_idx,
)


def test_real_mnist_splits(data_dir):
    data = load_mnist(data_dir)
    assert (len(data.train), len(data.validation), len(data.test)) == (50_000, 10_000, 10_000)
    for split in (data.train, data.validation, data.test):
        assert split.images.dtype == np.float32 and split.images.shape[1] == 784
        assert split.labels.dtype == np.int64
        assert split.images.min() == 0.0 and split.images.max() == 1.0
        assert set(np.unique(split.labels)) == set(range(10))
    # first training label of MNIST is a 5, first test label a 7 (the well-known first images)
    assert data.train.labels[0] == 5 and data.test.labels[0] == 7
    assert np.bincount(data.test.labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


def test_all_70000_mode(data_dir):
    data = load_mnist(data_dir, use_all=True)
    assert len(data.train) == 70_000 and data.validation is None and data.test is None


@pytest.fixture
def copied(data_dir, tmp_path):
    """A writable copy of the MNIST folder."""
    for name in FILES:
        shutil.copy(Path(data_dir) / f"{name}.gz", tmp_path / f"{name}.gz")
    return tmp_path


def test_raw_uncompressed_files_are_accepted(copied):
    path = copied / "t10k-labels-idx1-ubyte.gz"
    (copied / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress(path.read_bytes()))
    path.unlink()
    assert len(load_mnist(copied).test) == 10_000


def test_corrupt_file_is_named(copied):
    path = copied / "train-labels-idx1-ubyte.gz"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(MnistError, match=r"train-labels-idx1-ubyte\.gz: unreadable .*corrupt or truncated"):
        load_mnist(copied)


def test_truncated_file_is_named(copied):
    path = copied / "t10k-images-idx3-ubyte.gz"
    path.write_bytes(path.read_bytes()[:5000])
    with pytest.raises(MnistError, match=r"t10k-images-idx3-ubyte\.gz: unreadable .*corrupt or truncated"):
        load_mnist(copied)


def test_faithful_copies_are_recognised_by_their_contents(copied):
    """A copy re-compressed with gzip -9 and a raw copy are the original; an altered one is not."""
    images = copied / "t10k-images-idx3-ubyte.gz"
    contents = gzip.decompress(images.read_bytes())
    images.write_bytes(gzip.compress(contents, compresslevel=9, mtime=0))
    labels = copied / "t10k-labels-idx1-ubyte.gz"
    (copied / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress(labels.read_bytes()))
    labels.unlink()
    assert np.bincount(load_test(copied).labels).tolist()[0] == 980
    altered = bytearray(contents)
    altered[-1] ^= 1  # one pixel of the last test image
    images.write_bytes(gzip.compress(bytes(altered), compresslevel=9))
    with pytest.raises(MnistError, match=r"t10k-images-idx3-ubyte\.gz: sha256 \w+ of its contents does not match"):
        load_test(copied)


def test_good_file_is_preferred_to_a_broken_sibling(copied, capsys):
    gz = copied / "t10k-labels-idx1-ubyte.gz"
    (copied / "t10k-labels-idx1-ubyte").write_bytes(gzip.decompress(gz.read_bytes()))
    gz.write_bytes(gz.read_bytes()[:-20])
    assert len(load_test(copied)) == 10_000
    note = capsys.readouterr().err
    assert f"note: {gz}: unreadable" in note and f"using {copied / 't10k-labels-idx1-ubyte'} instead" in note
    (copied / "t10k-labels-idx1-ubyte").write_bytes(b"\0" * 10_008)
    with pytest.raises(MnistError, match=r"\.gz: unreadable .* Also: .*t10k-labels-idx1-ubyte: sha256"):
        load_test(copied)


def test_huge_files_are_refused_without_being_read(copied):
    """A 6 GB file named like MNIST (sparse, so it costs no disk) and a gzip bomb: refused at once."""
    raw = copied / "t10k-images-idx3-ubyte"
    (copied / "t10k-images-idx3-ubyte.gz").unlink()
    with raw.open("wb") as f:
        f.truncate(6_000_000_000)
    started = time.perf_counter()
    with pytest.raises(MnistError, match=r"t10k-images-idx3-ubyte: 6,000,000,000 bytes, but the original is"):
        load_test(copied)
    raw.unlink()
    bomb = copied / "t10k-images-idx3-ubyte.gz"
    with gzip.open(bomb, "wb", compresslevel=1) as f:
        for _ in range(100):
            f.write(bytes(1 << 20))
    with pytest.raises(MnistError, match=r"more than 7,840,016 bytes of contents"):
        load_test(copied)
    assert time.perf_counter() - started < 5


def test_missing_files_are_listed(copied):
    (copied / "train-images-idx3-ubyte.gz").unlink()
    (copied / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MnistError, match=r"missing in .*: train-images-idx3-ubyte\.gz, t10k-labels-idx1-ubyte\.gz"):
        load_mnist(copied)


def test_idx_parser_checks_its_input():
    good = bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 3]) + bytes(range(6))
    assert parse_idx(good, "x").tolist() == [[0, 1, 2], [3, 4, 5]]
    with pytest.raises(MnistError, match="5 data bytes, expected 6"):
        parse_idx(good[:-1], "x")
    with pytest.raises(MnistError, match="not an IDX file"):
        parse_idx(b"\x1f\x8b\x08\x00", "x")
    with pytest.raises(MnistError, match="truncated IDX header"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0]), "x")


@pytest.fixture
def mirrors(data_dir, tmp_path):
    """Three mirrors on 127.0.0.1: one missing the files, one serving corrupt bytes, one good."""
    roots = {name: tmp_path / "mirrors" / name for name in ("empty", "corrupt", "good")}
    for root in roots.values():
        root.mkdir(parents=True)
    for name in FILES:
        original = (Path(data_dir) / f"{name}.gz").read_bytes()
        (roots["corrupt"] / f"{name}.gz").write_bytes(original[:-10])
        (roots["good"] / f"{name}.gz").write_bytes(original)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=str(tmp_path / "mirrors"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    yield {name: f"{base}/{name}/" for name in roots}
    server.shutdown()


def test_download_tries_mirrors_and_verifies(mirrors, tmp_path):
    cache = tmp_path / "cache"
    download_missing(cache, (mirrors["empty"], mirrors["corrupt"], mirrors["good"]))
    assert sorted(p.name for p in cache.iterdir()) == sorted(f"{n}.gz" for n in FILES)
    assert len(load_mnist(cache).train) == 50_000


def test_download_failure_says_what_to_do(mirrors, tmp_path):
    with pytest.raises(MnistError) as error:
        download_missing(tmp_path / "cache", (mirrors["empty"], mirrors["corrupt"]))
    message = str(error.value)
    assert "404" in message and "is not the original's" in message
    assert "Copy the four original MNIST files" in message and str(tmp_path / "cache") in message
    assert not any((tmp_path / "cache").glob("*.gz"))  # nothing unverified is left behind


def test_cache_is_used_and_filled_when_no_folder_is_given(mirrors, tmp_path, monkeypatch):
    monkeypatch.delenv("DIGITNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DIGITNET_MNIST_MIRRORS", mirrors["good"])
    assert locate() == tmp_path / "xdg" / "digitnet" / "mnist"
    assert len(list(mnist.cache_dir().glob("*.gz"))) == 4
    monkeypatch.setenv("DIGITNET_DATA", "/elsewhere")
    assert locate() == Path("/elsewhere")
    assert locate(tmp_path) == tmp_path


def test_the_test_split_alone_fetches_only_the_test_files(mirrors, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("DIGITNET_DATA", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    monkeypatch.setenv("DIGITNET_MNIST_MIRRORS", mirrors["good"])
    assert len(mnist.load_test()) == 10_000
    assert sorted(p.name for p in mnist.cache_dir().glob("*.gz")) == sorted(f"{n}.gz" for n in mnist.TEST_FILES)
    out, err = capsys.readouterr()
    assert out == "" and err.count("downloading") == 2  # progress on stderr: stdout may be a closed pipe
