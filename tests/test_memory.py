"""The memory of kept drawings (``digitnet.memory``): its maths, and the page's Python side reading with it."""

import itertools

import numpy as np
import pytest

from digitnet import load_model, webapp
from digitnet.memory import (
    KeptDrawings,
    Memory,
    MemoryInputError,
    MemorySettings,
    blend,
    feature_kind,
    settings_for,
)
from digitnet.recognise import recognise_strokes
from digitnet.strokes import normalise_strokes
from digitnet.strokesfile import Sample, StrokesFormatError, dump_strokes

from .conftest import ROOT
from .handstyle import styled_digit

SIZE = 280.0


@pytest.fixture(scope="module")
def cnn():
    return load_model(ROOT / "weights" / "cnn.json").folded()


def nines(n: int, seed: int = 19) -> list[list[np.ndarray]]:
    """``n`` nines with a curled tail (``handstyle``): the MNIST-only cnn reads them as 8s."""
    rng = np.random.default_rng(seed)
    return [styled_digit(9, rng, SIZE) for _ in range(n)]


def image(strokes: list[np.ndarray]) -> np.ndarray:
    return normalise_strokes(strokes, SIZE)[None]


def kept(network, drawings: list[list[np.ndarray]], labels: list[int]) -> KeptDrawings:
    memory = KeptDrawings()
    memory.use(network)
    memory.add(range(len(drawings)), np.concatenate([np.zeros((0, 784)), *(image(s) for s in drawings)]), labels)
    return memory


def test_the_formula_on_a_small_case():
    settings = MemorySettings(width=0.5, network_weight=0.5, neighbours=2)
    memory = Memory(np.array([[1.0, 0.0], [1.0, 0.1], [0.0, 1.0]]), np.array([3, 5, 7]), settings)
    p = np.full((1, 10), 0.1)
    reading = memory.read(np.array([[2.0, 0.0]]), p)  # scale does not matter: cosine
    d = np.array([0.0, 1 - 1 / np.sqrt(1.01)])  # the two nearest; the third (d = 1) is beyond h anyway
    k = (1 - d / 0.5) ** 2
    expected = 0.5 * p[0]
    expected[3] += k[0]
    expected[5] += k[1]
    expected /= 0.5 + k.sum()
    np.testing.assert_allclose(reading.probabilities[0], expected, rtol=1e-12)
    assert reading.weight[0] == pytest.approx(k.sum() / (0.5 + k.sum()))
    assert reading.alike[0] == 2
    assert reading.probabilities[0].sum() == pytest.approx(1.0)


def test_an_empty_memory_is_the_network_exactly(cnn):
    drawing = nines(1)[0]
    alone = recognise_strokes(cnn, drawing, SIZE).as_dict()
    assert recognise_strokes(cnn, drawing, SIZE, memory=KeptDrawings().memory).as_dict() == alone
    empty = kept(cnn, [], [])
    assert len(empty.memory) == 0
    assert recognise_strokes(cnn, drawing, SIZE, memory=empty.memory).as_dict() == alone
    p = np.random.default_rng(0).dirichlet(np.ones(10), 5)
    assert np.array_equal(empty.memory.read(np.ones((5, 3)), p).probabilities, p)


def test_a_kept_drawing_redrawn_gets_its_label(cnn):
    drawing = nines(1)[0]
    alone = recognise_strokes(cnn, drawing, SIZE)
    assert alone.digit != 9  # the style the network misreads
    for label in (9, (alone.digit + 3) % 10):  # a correction, and any label at all (β < 1)
        read = recognise_strokes(cnn, drawing, SIZE, memory=kept(cnn, [drawing], [label]).memory)
        assert read.digit == label
        assert read.memory["without_digit"] == alone.digit and read.memory["alike"] == 1
        assert read.confidence == pytest.approx(max(read.probabilities)) and sum(read.probabilities) == pytest.approx(1)


def test_three_corrections_read_the_fourth_alike_drawing(cnn):
    drawings = nines(4)
    assert [recognise_strokes(cnn, s, SIZE).digit for s in drawings] == [8, 8, 8, 8]
    memory = kept(cnn, drawings[:3], [9, 9, 9]).memory
    read = recognise_strokes(cnn, drawings[3], SIZE, memory=memory)
    assert read.digit == 9 and read.memory["alike"] == 3


def test_drawings_unlike_any_kept_keep_the_network_answer(cnn):
    rng = np.random.default_rng(5)
    others = [styled_digit(d, rng, SIZE) for d in (0, 1, 3, 4, 5, 6, 7) for _ in range(3)]
    memory = kept(cnn, nines(5), [9] * 5).memory
    far = 0
    for drawing in others:
        alone = recognise_strokes(cnn, drawing, SIZE).as_dict()
        read = recognise_strokes(cnn, drawing, SIZE, memory=memory).as_dict()
        distance = memory.distances(cnn.features_and_outputs(image(drawing))[0]).min()
        if distance >= memory.settings.width:
            far += 1
            assert read == alone  # bit for bit, no "memory" entry
        else:
            assert read["memory"]["weight"] > 0
    assert far >= len(others) // 2


def test_the_weight_grows_with_the_drawings_alike_and_is_deterministic(cnn):
    drawings = nines(6)
    features = cnn.features_and_outputs(np.concatenate([image(s) for s in drawings]))[0]
    p = np.full((1, 10), 0.1)
    settings = MemorySettings()
    weights = [Memory(features[:n], np.full(n, 9), settings).read(features[5:], p).weight[0] for n in range(1, 6)]
    assert all(b >= a for a, b in itertools.pairwise(weights)) and weights[-1] > weights[0]
    memory = Memory(features[:5], np.array([9, 9, 1, 9, 1]), settings)
    first = memory.read(features[5:], p)
    again = Memory(features[:5], np.array([9, 9, 1, 9, 1]), settings).read(features[5:], p)
    assert np.array_equal(first.probabilities, again.probabilities) and np.array_equal(first.weight, again.weight)
    # equal distances: the drawing kept first is the nearer (a stable order)
    twins = Memory(np.array([[1.0, 0.0], [1.0, 0.0]]), np.array([2, 4]), MemorySettings(neighbours=3))
    reading = blend(twins.distances(np.array([[1.0, 0.0]])), twins.labels, p, MemorySettings(neighbours=1))
    assert np.argmax(reading.probabilities[0]) == 2


def test_the_memory_follows_the_model_in_use(cnn):
    assert feature_kind(cnn) == "relu" and settings_for(cnn) == MemorySettings()
    c2 = load_model(ROOT / "weights" / "c2.json")
    assert feature_kind(c2) == "sigmoid" and settings_for(c2) is None
    memory = kept(cnn, nines(3), [9, 9, 9])
    before = memory.memory.units.copy()
    memory.use(c2)  # features a sigmoid makes: the network reads alone, the drawings stay kept
    assert len(memory) == 3 and len(memory.memory) == 0 and not memory.active
    memory.use(cnn)
    assert np.array_equal(memory.memory.units, before)
    memory.remove([1, 7])
    assert len(memory) == 2 and list(memory.memory.labels) == [9, 9]


def test_bad_input_is_one_sentence_and_loses_nothing(cnn):
    memory = kept(cnn, nines(2), [9, 9])
    units = memory.memory.units.copy()
    bad = [
        (lambda: memory.add([5], np.zeros((1, 784)), [10]), "kept labels must be whole numbers from 0 to 9"),
        (lambda: memory.add([5, 5], np.zeros((2, 784)), [1, 2]), "an id was given twice"),
        (lambda: memory.add([5], np.zeros((1, 783)), [1]), "one of each per drawing"),
        (lambda: memory.add([5.5], np.zeros((1, 784)), [1]), "id must be a whole number"),
        (lambda: memory.add([5], np.full((1, 784), np.nan), [1]), "must be finite numbers"),
        (lambda: memory.replace([5], np.zeros((1, 784)), [12]), "whole numbers from 0 to 9"),
        (lambda: Memory(np.zeros((2, 3)), np.array([1])), "one label per kept drawing"),
        (lambda: memory.memory.read(np.zeros((1, 3)), np.full((1, 10), 0.1)), "do not match"),
        (lambda: MemorySettings(width=0), "kernel width"),
        (lambda: MemorySettings(network_weight=-1), "network's weight"),
        (lambda: MemorySettings(neighbours=0), "neighbour count"),
    ]
    for call, message in bad:
        with pytest.raises(MemoryInputError, match=message) as error:
            call()
        assert str(error.value).count(". ") == 0
    assert len(memory) == 2 and np.array_equal(memory.memory.units, units)


def test_the_page_side_remembers_and_forgets(cnn, monkeypatch):
    monkeypatch.setattr(webapp, "_kept", KeptDrawings())
    monkeypatch.setattr(webapp, "_model", None)
    drawings = nines(4)
    samples = [Sample(9, tuple(tuple(map(tuple, s.tolist())) for s in d), (SIZE, SIZE)) for d in drawings]
    tiny = Sample(1, (((1.0, 1.0), (1.5, 1.0)),), (SIZE, SIZE))  # no digit: left out
    assert webapp.remember_only(dump_strokes([*samples[:3], tiny]), [1, 2, 3, 4]) == {
        "kept": 3,
        "size": 0,
        "active": False,
        "left_out": 1,
    }  # no model yet: the drawings wait for one
    info = webapp.load((ROOT / "weights" / "cnn.json").read_text(), "cnn.json")
    assert info["memory"] == {"kept": 3, "size": 3, "active": True, "left_out": 0}

    def read(strokes):
        points = np.concatenate(strokes).ravel()
        return webapp.predict_strokes(points, [len(s) for s in strokes], SIZE)

    assert read(drawings[3])["digit"] == 9 and "memory" in read(drawings[3])
    # a strokes file read at once, for parity checks: each drawing as the pad reads it (None: refused)
    read_back = webapp.read_file(dump_strokes([samples[3], tiny]))
    assert read_back[0] == read(drawings[3])["probabilities"] and read_back[1] is None
    with pytest.raises(ValueError, match="one id per drawing"):
        webapp.remember(dump_strokes(samples[3:]), [5, 6])
    with pytest.raises(StrokesFormatError):
        webapp.remember("not a strokes file", [5])
    assert webapp.memory_state()["size"] == 3  # nothing lost
    assert webapp.remember(dump_strokes(samples[3:]), [5])["size"] == 4
    assert webapp.forget([1, 2, 3, 5, 99])["size"] == 0
    assert read(drawings[3])["digit"] == 8 and "memory" not in read(drawings[3])
