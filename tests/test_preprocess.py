"""MNIST normalisation of drawings: crop, fit 20×20, centre of mass at (14, 14)."""

import numpy as np
import pytest

from digitnet import load_model
from digitnet.preprocess import BOX, NoDigitError, normalise, resample_matrix

from .conftest import ROOT


def draw_large(digit: np.ndarray, factor: int, top: int, left: int, canvas: int = 400) -> np.ndarray:
    """A 28×28 ``digit`` enlarged ``factor`` times, placed at (top, left) on a blank square canvas."""
    big = np.kron(digit.reshape(28, 28), np.ones((factor, factor)))
    sheet = np.zeros((canvas, canvas))
    sheet[top : top + big.shape[0], left : left + big.shape[1]] = big
    return sheet


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    rows, cols = np.indices(image.shape)
    return float((rows * image).sum() / image.sum()), float((cols * image).sum() / image.sum())


def test_output_is_mnist_shaped(mnist_data):
    for digit in mnist_data.test.images[:50]:
        x = normalise(draw_large(digit, 7, 190, 13))
        assert x.shape == (784,) and x.dtype == np.float32
        image = x.reshape(28, 28)
        assert 0 <= image.min() and image.max() <= 1
        inked = np.argwhere(image > 0.1)
        extent = inked.max(axis=0) - inked.min(axis=0) + 1
        assert extent.max() <= BOX + 1
        row, col = centre_of_mass(image)
        assert abs(row - 14) <= 0.5 and abs(col - 14) <= 0.5


def test_drawn_digits_look_like_the_originals(mnist_data):
    """A test digit enlarged and moved to a corner comes back close to the MNIST original."""
    correlations = []
    for digit in mnist_data.test.images[:100]:
        x = normalise(draw_large(digit, 9, 0, 400 - 9 * 28))
        correlations.append(np.corrcoef(x, digit)[0, 1])
    assert np.median(correlations) > 0.9


def test_recognised_wherever_and_however_large_they_are_drawn(mnist_data):
    network = load_model(ROOT / "weights" / "c2-100.json")
    rng = np.random.default_rng(0)
    images, labels = mnist_data.test.images[:500], mnist_data.test.labels[:500]
    inputs = []
    for digit in images:
        factor = int(rng.integers(2, 13))
        size = 28 * factor
        top, left = rng.integers(0, 400 - size + 1, size=2)
        inputs.append(normalise(draw_large(digit, factor, top, left)))
    accuracy = np.mean(network.predict(np.array(inputs)) == labels)
    assert accuracy >= 0.95


def test_empty_and_near_empty_drawings_are_no_digit():
    with pytest.raises(NoDigitError, match="empty"):
        normalise(np.zeros((300, 300)))
    dot = np.zeros((300, 300))
    dot[100:103, 200:203] = 1
    with pytest.raises(NoDigitError, match="too small"):
        normalise(dot)
    faint = np.full((300, 300), 0.05)
    with pytest.raises(NoDigitError):
        normalise(faint)


def test_bad_input_is_refused_clearly():
    with pytest.raises(ValueError, match="2-D grayscale"):
        normalise(np.zeros((3, 30, 30)))
    with pytest.raises(ValueError, match="2-D grayscale"):
        normalise(np.zeros((0, 5)))
    sheet = np.zeros((50, 50))
    sheet[10:40, 20:25] = 1
    sheet[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        normalise(sheet)


def test_resampling_keeps_mass_and_anti_aliases():
    for n_in, n_out in [(400, 20), (7, 20), (20, 20), (1, 20), (33, 5)]:
        r = resample_matrix(n_in, n_out)
        assert r.shape == (n_out, n_in)
        np.testing.assert_allclose(r.sum(axis=1), 1)
    # shrinking 10×: every source pixel contributes to some output pixel (no aliasing gaps)
    assert np.all(resample_matrix(200, 20).sum(axis=0) > 0)
