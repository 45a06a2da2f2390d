"""Property-based tests: for any input, a correct answer or one clear ``ValueError`` sentence, never
another exception and never NaN shown as a result. Example counts are bounded so CI stays fast."""

import gzip
import io
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from digitnet import webapp
from digitnet.training.cli import main
from digitnet.training.mnist import FILES, TEST_FILES, MnistError, load_test

from .conftest import ROOT

MODEL = ROOT / "weights" / "c2-100.json"
QUICK = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

coordinates = st.one_of(
    st.floats(-1e6, 1e6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
)


def assert_answer(answer: dict) -> None:
    """A recognition as the page receives it: a digit with a probability distribution, or a reason."""
    assert set(answer) >= {"digit", "probabilities", "confidence", "reason"}
    if answer["digit"] is None:
        assert answer["reason"]
        return
    probabilities = np.array(answer["probabilities"])
    assert answer["digit"] in range(10) and np.all(np.isfinite(probabilities))
    assert np.all(probabilities >= 0) and math.isclose(probabilities.sum(), 1.0, rel_tol=1e-6)
    assert 0.0 <= answer["confidence"] <= 1.0 and int(np.argmax(probabilities)) == answer["digit"]
    assert len(answer["image"]) == 784 and np.all(np.isfinite(answer["image"]))


@pytest.fixture(scope="module")
def loaded_model():
    return webapp.load(MODEL.read_text(), MODEL.name)


@st.composite
def strokes(draw):
    """Flat points and per-stroke lengths, mostly consistent, sometimes not."""
    n_strokes = draw(st.integers(0, 6))
    lengths = [draw(st.integers(0, 40)) for _ in range(n_strokes)]
    points = draw(st.lists(coordinates, min_size=2 * sum(lengths), max_size=2 * sum(lengths)))
    if draw(st.integers(0, 9)) == 0:  # now and then: lengths that do not add up, or are negative
        lengths = draw(st.lists(st.integers(-50, 50), max_size=6))
    if draw(st.integers(0, 9)) == 0:
        points = [*points, draw(coordinates)]  # an odd count: half a point
    return points, lengths


@QUICK
@given(sent=strokes(), canvas=st.one_of(st.floats(allow_nan=True), st.integers(-1000, 4000)))
def test_any_strokes_give_an_answer_or_one_sentence(loaded_model, sent, canvas):
    points, lengths = sent
    try:
        answer = webapp.predict_strokes(points, lengths, canvas)
    except ValueError as e:
        assert str(e) and "\n" not in str(e)
        return
    assert_answer(answer)


@QUICK
@given(
    scale=st.floats(1e-3, 1e4),
    offset=st.tuples(st.floats(-1e5, 1e5), st.floats(-1e5, 1e5)),
    canvas=st.floats(1, 1e5),
)
def test_a_drawn_digit_is_recognised_wherever_and_however_large(loaded_model, scale, offset, canvas):
    """A clean 7 (two strokes) at any scale and place on a canvas no larger than the drawing."""
    seven = np.array([[0.0, 0.0], [10.0, 0.0], [4.0, 16.0]]) * scale + np.array(offset)
    canvas = min(canvas, 16 * scale)
    answer = webapp.predict_strokes(seven.ravel(), [3], canvas)
    assert_answer(answer)
    assert answer["digit"] == 7


# ---------------------------------------------------------------- pictures given to `digitnet predict`

MODES = ("1", "L", "LA", "P", "RGB", "RGBA", "I", "F", "I;16")
FORMATS = {"PNG": "png", "JPEG": "jpg", "GIF": "gif", "BMP": "bmp", "TIFF": "tif", "WEBP": "webp"}


@st.composite
def pictures(draw):
    """Bytes of a small picture in any mode and format (or of a damaged one)."""
    width, height = draw(st.integers(1, 48)), draw(st.integers(1, 48))
    mode = draw(st.sampled_from(MODES))
    seed = draw(st.integers(0, 2**32 - 1))
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 4), dtype=np.uint8)
    if draw(st.booleans()):  # a dark blob on paper instead of noise
        pixels[:] = 255
        pixels[height // 4 : 3 * height // 4 + 1, width // 3 : 2 * width // 3 + 1, :3] = 0
    image = Image.fromarray(pixels, "RGBA").convert(mode)
    name = draw(st.sampled_from(sorted(FORMATS)))
    buffer = io.BytesIO()
    try:
        image.save(buffer, name)
    except (OSError, ValueError, KeyError):
        image.convert("RGB").save(buffer, name)
    data = buffer.getvalue()
    cut = draw(st.one_of(st.none(), st.integers(0, len(data))))
    return (data if cut is None else data[:cut]), FORMATS[name]


@QUICK
@given(picture=pictures())
def test_any_picture_gives_a_digit_or_one_line(picture, tmp_path_factory, capsys):
    data, extension = picture
    path = tmp_path_factory.mktemp("pictures") / f"picture.{extension}"
    path.write_bytes(data)
    code = main(["predict", str(MODEL), str(path)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err and "nan" not in captured.out.replace(str(path), "").lower()
    if code == 0:
        line = captured.out.strip()
        assert line.startswith(f"{path}: ") and "confidence" in line and "\n" not in line
        digit = int(line.split(": ")[1].split()[0])
        assert digit in range(10)
    else:
        assert code == 1 and captured.err.startswith(f"{path}: no prediction: ")
        assert captured.err.count("\n") == 1


# ---------------------------------------------------------------- data folders

COPIES = ("missing", "original", "raw", "gzip -9", "truncated", "bit flipped", "empty", "junk", "junk.gz")


@pytest.fixture(scope="module")
def originals(data_dir):
    """The published ``.gz`` bytes and the decompressed contents of each test file."""
    published = {name: (Path(data_dir) / f"{name}.gz").read_bytes() for name in TEST_FILES}
    return {name: (data, gzip.decompress(data)) for name, data in published.items()}


def write_copy(folder: Path, name: str, published: bytes, contents: bytes, kind: str, where: int) -> None:
    """One copy of MNIST file ``name`` of the given kind (see ``COPIES``) in ``folder``."""
    gz, raw = folder / f"{name}.gz", folder / name
    if kind == "original":
        gz.write_bytes(published)
    elif kind == "raw":
        raw.write_bytes(contents)
    elif kind == "gzip -9":
        gz.write_bytes(gzip.compress(contents, compresslevel=9))
    elif kind == "truncated":
        gz.write_bytes(gzip.compress(contents)[: where % 5000 + 10])
    elif kind == "bit flipped":
        flipped = bytearray(contents)
        flipped[where % len(flipped)] ^= 1 << (where % 8)
        raw.write_bytes(bytes(flipped))
    elif kind == "empty":
        raw.write_bytes(b"")
    elif kind == "junk":
        raw.write_bytes(np.random.default_rng(where).bytes(len(contents)))
    elif kind == "junk.gz":
        gz.write_bytes(gzip.compress(np.random.default_rng(where).bytes(1000)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kinds=st.fixed_dictionaries({name: st.lists(st.sampled_from(COPIES), max_size=2) for name in TEST_FILES}),
    where=st.integers(0, 10**7),
)
def test_any_data_folder_gives_mnist_or_one_error(data_dir, originals, tmp_path_factory, kinds, where):
    """Each test file as zero, one or two copies (``NAME.gz`` and raw ``NAME``) of any kind: the
    real test split when every file has a faithful copy, else one ``MnistError`` naming a file."""
    folder = tmp_path_factory.mktemp("mnist")
    for name, copies in kinds.items():
        for kind in copies:
            write_copy(folder, name, *originals[name], kind, where)
    faithful = {}
    for name in TEST_FILES:
        present = [p for p in (folder / f"{name}.gz", folder / name) if p.exists()]
        faithful[name] = any(is_faithful(p, originals[name][1]) for p in present)
    try:
        test = load_test(folder)
    except MnistError as e:
        assert not all(faithful.values())
        assert any(name in str(e) for name in TEST_FILES) and "Traceback" not in str(e)
        return
    assert all(faithful.values())
    assert len(test) == 10_000 and test.labels[0] == 7
    assert np.array_equal(test.labels, np.frombuffer(originals["t10k-labels-idx1-ubyte"][1], np.uint8, offset=8))


def is_faithful(path: Path, contents: bytes) -> bool:
    data = path.read_bytes()
    try:
        return (gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data) == contents
    except (OSError, EOFError):
        return False


def test_sizes_of_the_originals_are_recorded(originals):
    for name, (_, contents) in originals.items():
        assert FILES[name].size == len(contents)
