"""The digit check: its features, its fit, and how the number reader weighs it."""

import numpy as np
import pytest

from digitnet import load_model
from digitnet.digitcheck import GEOMETRY, LOG_FLOOR, DigitCheck, check_features, span_geometry
from digitnet.layers import Dense
from digitnet.numbers import Candidates, best_split, stroke_candidates
from digitnet.training import digit_check, number_sets
from digitnet.training.cli import main
from digitnet.training.digit_check import HIDDEN, candidate_labels, fit_check, fit_digit_check, standardised_input
from digitnet.training.number_sets import DrawnNumber

from .conftest import ROOT


def test_geometry_and_features():
    g = span_geometry((0.0, 0.0, 30.0, 60.0), 80.0, 8.0, 2)
    assert np.allclose(g, [np.log(0.5), np.log(0.75), 0.1, 2])
    line = span_geometry((5.0, 0.0, 0.0, 70.0), 70.0, 0.0, 1)  # a vertical stroke: width 0, clamped
    assert np.isfinite(line).all() and line[0] == pytest.approx(-np.log(20))
    f = check_features(np.ones((2, 3, 1)), np.array([[1.0] + [0.0] * 9] * 2), np.zeros((2, GEOMETRY)))
    assert f.shape == (2, 3 + 10 + GEOMETRY) and f[0, 3] == 0 and f[0, 4] == pytest.approx(LOG_FLOOR)


def test_the_check_learns_a_rule_no_line_separates_on_features_of_any_scale():
    """Inside a ring or not, on features with very different scales and offsets: a straight line cannot
    tell them apart, the trained check (with the standardisation folded into it) reads the raw features."""
    rng = np.random.default_rng(0)
    u = rng.uniform(-1, 1, (6000, 2))
    y = (np.hypot(u[:, 0], u[:, 1]) < 0.6).astype(float)
    x = np.column_stack([u[:, 0] * 100 + 300, u[:, 1] * 0.01 - 2, rng.standard_normal(len(u))])
    check = fit_check(x, y, seed=1, epochs=30)
    assert check.n_features == 3 and check.layers[0].weight.shape == (HIDDEN, 3)
    q = check.probability(x)
    assert np.mean((q > 0.5) == (y > 0.5)) > 0.93


def test_a_constant_feature_gets_no_huge_weight():
    """A feature that never varies keeps its scale: divided by its spread, its folded weight would pass
    float16's range and the model shipped to the page would not load."""
    rng = np.random.default_rng(3)
    x = np.column_stack([rng.standard_normal(2000), np.full(2000, 2.5)])
    check = fit_check(x, (x[:, 0] > 0).astype(float), seed=1, epochs=5)
    assert np.abs(check.layers[0].weight[:, 1]).max() < 100


def test_folding_the_standardisation_is_exact():
    rng = np.random.default_rng(2)
    layer = Dense(rng.standard_normal((4, 3)).astype(np.float32), rng.standard_normal(4).astype(np.float32))
    mean, scale = np.array([5.0, -1.0, 0.5]), np.array([2.0, 0.1, 30.0])
    x = rng.standard_normal((7, 3)) * scale + mean
    assert np.allclose(standardised_input(layer, mean, scale).forward(x), layer.forward((x - mean) / scale), atol=1e-4)


def test_candidates_are_labelled_whole_or_not():
    """A 4 in two strokes beside a 1: the whole 4 and the 1 are digits; the 4's bar, the 4's stem with
    the 1, and everything together are not."""
    four = [np.array([[30.0, 10], [10, 60], [50, 60]]), np.array([[40.0, 20], [40, 100]])]
    one = [np.array([[75.0, 12], [72, 100]])]
    number = DrawnNumber("41", [*four, *one], 200.0, owners=[0, 0, 1])
    found = Candidates(
        number.strokes, 200.0, atoms=[[0], [1], [2]], spans=[(0, 1), (0, 2), (1, 2), (1, 3), (2, 3), (0, 3)]
    )
    assert candidate_labels(number, found).tolist() == [0, 1, 0, 0, 1, 0]


def test_the_check_decides_between_groupings():
    """Two halves read at 0.5 each, or one digit read at 0.9: the network alone merges them; a check
    sure the merged image is no digit keeps them apart."""
    found = Candidates([], 100.0, atoms=[[0], [1]], spans=[(0, 1), (1, 2), (0, 2)], penalties=[0.0, 0.0, 0.0])
    assert best_split(found, [0.5, 0.5, 0.9]) == [(0, 2)]
    assert best_split(found, [0.5, 0.5, 0.9], np.array([0.9, 0.9, 0.01])) == [(0, 1), (1, 2)]
    assert best_split(found, [0.5, 0.5, 0.9], np.array([0.9, 0.9, 0.9])) == [(0, 2)]


def test_the_committed_cnn_has_a_check_that_fits_it(mnist_data):
    cnn = load_model(ROOT / "weights" / "cnn.json")
    assert isinstance(cnn.digit_check, DigitCheck) and cnn.metadata["digit_check"]["candidates"] > 50_000
    found = stroke_candidates([np.array([[30.0, 10], [10, 60], [50, 60]]), np.array([[40.0, 20], [40, 100]])], 200.0)
    features, outputs = cnn.features_and_outputs(found.inputs)
    assert features.shape == (len(found.spans), 256)
    assert np.allclose(outputs, cnn.feedforward(found.inputs))


def test_fitting_on_a_few_training_numbers(mnist_data):
    cnn = load_model(ROOT / "weights" / "cnn.json")
    check, summary = fit_digit_check(cnn, mnist_data.train, counts={"drawn": 2, "drawn4": 15}, seed=5)
    assert summary["numbers"] == 2 * 7 + 15 and summary["candidates"] > summary["numbers"] * 2
    assert 0.2 < summary["whole_digit_share"] < 0.8
    assert summary["training_accuracy"] > 85 and check.n_features == 256 + 10 + GEOMETRY


def test_fit_digit_check_command(tmp_path, capsys, monkeypatch, data_dir):
    monkeypatch.setattr(digit_check, "COUNTS", {"drawn": 1, "drawn4": 10})
    monkeypatch.setattr(number_sets, "SIZES", {"drawn": 2, "drawn4": 10})
    model = tmp_path / "c1.json"
    model.write_bytes((ROOT / "weights" / "c1.json").read_bytes())
    assert (
        main(["fit-digit-check", str(model), "--out", str(tmp_path / "checked.json"), "--data-dir", str(data_dir)]) == 0
    )
    out = capsys.readouterr().out
    assert "fitted on" in out and "validation numbers with the check: 2–8 digits" in out
    checked, plain = load_model(tmp_path / "checked.json"), load_model(model)
    assert plain.digit_check is None  # --out: the model file itself is left as it was
    assert checked.digit_check.n_features == 30 + 10 + GEOMETRY  # c1's 30 hidden neurons
    assert checked.metadata["digit_check"]["numbers"] == 17
    assert main(["info", str(tmp_path / "checked.json")]) == 0
    n = 30 + 10 + GEOMETRY
    assert (
        f"digit check: reads {n} values; dense → relu → dense → sigmoid; {(n + 1) * HIDDEN + HIDDEN + 1:,} parameters"
        in (capsys.readouterr().out)
    )
