"""The digit gate: "not a digit" for drawings that are none, in one-digit and number mode; digits read as before;
the drawings of no digit it learns from; fitting it."""

import dataclasses

import numpy as np
import pytest

from digitnet import load_model
from digitnet.memory import KeptDrawings
from digitnet.numbers import recognise_number
from digitnet.recognise import recognise_strokes
from digitnet.strokes import normalise_strokes
from digitnet.training import digit_gate
from digitnet.training.digit_gate import FALSE_SHARE, fit_digit_gate, gate_inputs, rendered
from digitnet.training.mnist import Mnist, Split
from digitnet.training.nondigits import CANVAS, HELD_OUT_FONTS, KINDS, LETTERS, NonDigitsError, non_digit, non_digits

from .conftest import ROOT


@pytest.fixture(scope="module")
def default():
    return load_model(ROOT / "weights" / "cnn-pen.json").folded()


@pytest.fixture(scope="module")
def unseen():
    """Drawings of no digit from a seed and letter fonts the shipped gate never met, and the page's readings."""
    drawings, kinds = non_digits(60, 99, HELD_OUT_FONTS)
    return drawings, kinds


def flagged_letter(network, drawings, kinds):
    return next(
        d
        for d, k in zip(drawings, kinds, strict=True)
        if k == "letter" and recognise_strokes(network, d, CANVAS).not_digit
    )


def test_the_generator_is_seeded_and_leaves_out_what_could_be_a_digit():
    a, kinds = non_digits(12, 5)
    b, _ = non_digits(12, 5)
    assert all(np.array_equal(x, y) for p, q in zip(a, b, strict=True) for x, y in zip(p, q, strict=True))
    assert kinds[:4] == ["letter", "scribble", "letter", "spiral"] and set(kinds) == set(KINDS)
    assert not set(LETTERS) & set("OoQDIilJjSsZzBbGgq")
    every = np.concatenate([s for d in a for s in d])
    assert every.min() >= 0 and every.max() <= CANVAS
    with pytest.raises(NonDigitsError, match="there is no kind of non-digit called 'circle': the kinds are letter"):
        non_digit(np.random.default_rng(0), "circle")


def test_drawings_of_no_digit_read_not_a_digit_with_the_network_s_probabilities(default, unseen):
    drawings, _ = unseen
    read = [recognise_strokes(default, d, CANVAS) for d in drawings]
    answered = [r for r in read if r.digit is not None]
    assert np.mean([r.not_digit or r.low_confidence for r in answered]) >= 0.85
    plain = dataclasses.replace(default, digit_gate=None)
    for d, r in zip(drawings[:12], read[:12], strict=True):
        alone = recognise_strokes(plain, d, CANVAS)
        assert not alone.not_digit and alone.digit_like is None and (alone.digit is None) == (r.digit is None)
        if r.digit is not None:  # the gate only adds its answer: digit and probabilities are the network's
            assert alone.digit == r.digit and np.array_equal(alone.probabilities, r.probabilities)
            assert r.as_dict()["not_digit"] == r.not_digit and 0 <= r.as_dict()["digit_like"] <= 1


def test_real_digits_are_not_called_no_digit(default, writers):
    # (the shipped model learnt these writers; benchmarks/not_a_digit.py measures the fold models that did not)
    samples = [s for x in writers.ids() for s in writers.samples[x][::25]]
    read = [recognise_strokes(default, s.arrays(), max(s.canvas)) for s in samples]
    assert sum(r.not_digit for r in read) <= 1 and len(read) > 250


def test_the_batched_gate_gives_the_page_s_answers(default, unseen):
    drawings, _ = unseen
    images, usable = rendered(drawings)
    batched = default.digit_gate.probability(gate_inputs(default, images[usable])) < default.digit_gate.threshold
    page = [recognise_strokes(default, d, CANVAS).not_digit for d, u in zip(drawings, usable, strict=True) if u]
    assert list(batched) == page and 0 < sum(page) < len(page)


def test_kept_drawings_alike_overrule_the_gate(default, unseen):
    letter = flagged_letter(default, *unseen)
    kept = KeptDrawings()
    kept.use(default)
    kept.add([1], normalise_strokes(letter, CANVAS)[None], [4])  # the person says it is a 4
    again = recognise_strokes(default, letter, CANVAS, memory=kept.memory)
    assert again.digit == 4 and not again.not_digit and again.memory is not None


def test_number_mode_says_which_digit_is_none(default, writers, unseen):
    letter = flagged_letter(default, *unseen)
    three = next(s for s in writers.samples["train-01"] if s.label == 3)

    def placed(strokes, left):  # 200 units high, from x = left, on a 900 × 300 pad
        every = np.concatenate(strokes)
        low, high = every.min(axis=0), every.max(axis=0)
        scale = 200 / max(high - low)
        return [(s - low) * scale + [left, 50] for s in strokes]

    alone = recognise_number(default, placed(three.arrays(), 40) + placed(three.arrays(), 330), 900.0)
    assert alone.number == "33" and not alone.not_digit and alone.as_dict()["not_digit"] is False
    mixed = recognise_number(default, placed(three.arrays(), 40) + placed(letter, 360), 900.0)
    assert mixed.not_digit and mixed.as_dict()["not_digit"] is True
    assert not mixed.digits[0].recognition.not_digit and mixed.digits[0].recognition.digit == 3


def test_fitting_a_gate(monkeypatch, mnist_data):
    monkeypatch.setattr(digit_gate, "NEGATIVES", 1000)
    monkeypatch.setattr(digit_gate, "VALIDATION_NEGATIVES", 100)
    monkeypatch.setattr(digit_gate, "EPOCHS", 10)
    small = Mnist(
        Split(mnist_data.train.images[:1500], mnist_data.train.labels[:1500]),
        Split(mnist_data.validation.images[:800], mnist_data.validation.labels[:800]),
        None,
        {},
    )
    network = load_model(ROOT / "weights" / "c2.json")
    gate, summary = fit_digit_gate(network, small)
    validation = gate.probability(gate_inputs(network.folded(), small.validation.images))
    assert np.mean(validation < gate.threshold) <= FALSE_SHARE + 1 / 800
    assert summary["digits"] == 1500 and summary["writers_drawings"] == 0 and 900 <= summary["non_digits"] <= 1000
    # even this small gate calls many times more of the drawings of no digit no digit than of the digits
    assert summary["validation_non_digits_called_no_digit"] > 20 * 100 * FALSE_SHARE
    assert gate.n_features == network.features_and_outputs(small.validation.images[:1])[0].shape[1] + 10
