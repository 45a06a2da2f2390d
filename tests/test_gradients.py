"""Finite-difference checks of every backward pass and every cost's output error."""

import numpy as np
import pytest

from digitnet.backprop import backprop, input_gradient, one_hot, training_forward
from digitnet.costs import COSTS, cost_named
from digitnet.layers import BatchNorm, Conv2D, Dense, Dropout, MaxPool, ReLU, Reshape, Sigmoid, Softmax
from digitnet.network import Network

EPS = 1e-6


def numerical_grad(f, x: np.ndarray) -> np.ndarray:
    """Central differences of the scalar ``f()`` with respect to every entry of ``x`` (changed in place)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        saved = x[i]
        x[i] = saved + EPS
        plus = f()
        x[i] = saved - EPS
        minus = f()
        x[i] = saved
        grad[i] = (plus - minus) / (2 * EPS)
    return grad


def assert_close(analytic: np.ndarray, numeric: np.ndarray) -> None:
    scale = np.maximum(1.0, np.abs(numeric))
    assert np.max(np.abs(analytic - numeric) / scale) < 1e-6, (analytic, numeric)


def assert_backprop_matches_finite_differences(network, cost, x, y) -> None:
    """Every parameter gradient of ``backprop`` against central differences of the summed cost."""

    def total():  # the training-time forward pass: batch norm on the batch's own statistics
        return cost.value(training_forward(network, x)[0][-1], y)

    grads = backprop(network, cost, x, y)
    for layer, layer_grads in zip(network.layers, grads, strict=True):
        trained = set(layer.params()) - set(getattr(layer, "statistics", ()))  # batch norm's running averages
        if not getattr(layer, "learned", True):
            trained = set()
        assert set(layer_grads) == trained, layer.kind
        for key, grad in layer_grads.items():
            assert_close(grad, numerical_grad(total, layer.params()[key]))


def assert_layer_backward_matches(layer, x: np.ndarray, g: np.ndarray, training: bool = False) -> tuple:
    """``layer.backward`` with ``g = ∂C/∂y`` against central differences of ``C = Σ g ⊙ y``, in ``x`` and in
    every parameter it returns a gradient for; ``training``: through ``train_forward`` (batch statistics,
    its cache) instead of ``forward``. Returns ``(∂C/∂x, parameter gradients)``."""

    def output():
        return layer.train_forward(x, None)[0] if training else layer.forward(x)

    def cost():
        return float(np.sum(g * output()))

    out, cache = layer.train_forward(x, None) if training else (layer.forward(x), None)
    grad_x, grads = layer.backward(x, out, g, cache)
    assert grad_x.shape == x.shape
    assert_close(grad_x, numerical_grad(cost, x))
    for key, grad in grads.items():
        assert_close(grad, numerical_grad(cost, getattr(layer, key)))
    return grad_x, grads


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_dense_backward_matches_finite_differences(rng):
    layer = Dense(rng.standard_normal((4, 6)), rng.standard_normal(4))
    x = rng.standard_normal((5, 6))
    g = rng.standard_normal((5, 4))  # ∂C/∂z for the scalar C = Σ g ⊙ z
    _, grads = assert_layer_backward_matches(layer, x, g)
    assert set(grads) == {"weight", "bias"}


@pytest.mark.parametrize("layer", [Sigmoid(), ReLU(), Softmax()], ids=lambda layer: layer.kind)
def test_activation_backward_matches_finite_differences(layer, rng):
    x = rng.standard_normal((5, 7)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU away from its kink
    g = rng.standard_normal((5, 7))
    _, grads = assert_layer_backward_matches(layer, x, g)
    assert grads == {}


@pytest.mark.parametrize(
    ("cost_name", "output"),
    [(name, kind) for name, cost in COSTS.items() for kind in cost.output_kinds],
)
def test_cost_gradient_through_whole_network(cost_name, output, rng):
    """``backprop`` of a 2-hidden-layer net equals finite differences of the summed cost."""
    layers = [
        Dense(rng.standard_normal((6, 8)) * 0.5, rng.standard_normal(6)),
        ReLU(),
        Dense(rng.standard_normal((5, 6)) * 0.5, rng.standard_normal(5)),
        Sigmoid(),
        Dense(rng.standard_normal((10, 5)) * 0.5, rng.standard_normal(10)),
        Sigmoid() if output == "sigmoid" else Softmax(),
    ]
    network = Network(layers, cost_name)
    cost = cost_named(cost_name)
    x = rng.random((4, 8))
    y = one_hot(np.array([3, 0, 9, 3]), dtype=np.float64)
    assert_backprop_matches_finite_differences(network, cost, x, y)


def test_scaled_backprop_is_scaled_gradient(rng):
    layers = [Dense(rng.standard_normal((10, 8)), rng.standard_normal(10)), Sigmoid()]
    network = Network(layers, "quadratic")
    x, y = rng.random((3, 8)), one_hot(np.array([1, 2, 3]), dtype=np.float64)
    plain = backprop(network, cost_named("quadratic"), x, y)
    scaled = backprop(network, cost_named("quadratic"), x, y, scale=0.25)
    np.testing.assert_allclose(scaled[0]["weight"], 0.25 * plain[0]["weight"])
    np.testing.assert_allclose(scaled[0]["bias"], 0.25 * plain[0]["bias"])


def test_a_network_without_parameters_is_refused_in_one_sentence(rng):
    network = Network([Reshape((10,)), Softmax()], "log-likelihood")
    x, y = rng.random((3, 10)), one_hot(np.array([1, 2, 3]), dtype=np.float64)
    with pytest.raises(ValueError, match="no parameters to train"):
        backprop(network, cost_named("log-likelihood"), x, y)


def test_conv_backward_matches_finite_differences(rng):
    for stride, padding in [(1, 0), (1, 2), (2, 1)]:
        layer = Conv2D(rng.standard_normal((3, 2, 3, 3)), rng.standard_normal(3), stride, padding)
        x = rng.standard_normal((2, 7, 6, 2))
        g = rng.standard_normal(layer.forward(x).shape)
        grad_x, grads = assert_layer_backward_matches(layer, x, g, training=True)  # the patches as cache
        assert set(grads) == {"weight", "bias"}
        assert np.array_equal(layer.backward(x, layer.forward(x), g, None)[0], grad_x)  # patches recomputed alike


@pytest.mark.parametrize("layer", [MaxPool(2), MaxPool(3), Reshape((-1,)), Dropout(0.3)], ids=lambda layer: layer.kind)
def test_shape_layers_backward_matches_finite_differences(layer, rng):
    x = rng.permutation(2 * 7 * 7 * 3).reshape(2, 7, 7, 3) / 10.0  # distinct values: no ties in a pooling window
    g = rng.standard_normal(layer.forward(x).shape)
    assert_layer_backward_matches(layer, x, g)


def test_dropout_mask_is_used_both_ways(rng):
    layer = Dropout(0.5)
    x = np.ones((200, 50))
    y, mask = layer.train_forward(x, rng)
    assert set(np.unique(mask)) == {0.0, 2.0} and 0.4 < np.mean(mask == 0) < 0.6
    assert np.array_equal(y, x * mask)
    g = rng.standard_normal(x.shape)
    assert np.array_equal(layer.backward(x, y, g, mask)[0], g * mask)
    assert layer.train_forward(x, None) == (x, None)  # no generator: inference behaviour


def test_cnn_gradient_through_whole_network(rng):
    """``backprop`` of a small conv net (reshape, conv, ReLU, pool, dense, softmax) against finite differences."""
    layers = [
        Reshape((6, 6, 1)),
        Conv2D(rng.standard_normal((2, 1, 3, 3)) * 0.5, rng.standard_normal(2) * 0.1, 1, 1),
        ReLU(),
        MaxPool(2),
        Reshape((-1,)),
        Dense(rng.standard_normal((10, 18)) * 0.5, rng.standard_normal(10) * 0.1),
        Softmax(),
    ]
    network = Network(layers, "log-likelihood")
    cost = cost_named("log-likelihood")
    x = rng.random((3, 36))
    y = one_hot(np.array([1, 4, 9]), dtype=np.float64)
    assert_backprop_matches_finite_differences(network, cost, x, y)


def batchnorm_layer(rng, features: int) -> BatchNorm:
    gamma, beta = 1 + 0.3 * rng.standard_normal(features), 0.3 * rng.standard_normal(features)
    return BatchNorm(gamma, beta, np.zeros(features), np.ones(features))


@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 5, 4)], ids=["dense", "conv"])
def test_batchnorm_backward_matches_finite_differences(shape, rng):
    """Through the batch statistics: every input moves the mean and variance of its feature."""
    layer = batchnorm_layer(rng, shape[-1])
    x = rng.standard_normal(shape) * 2 + 1
    g = rng.standard_normal(shape)
    _, grads = assert_layer_backward_matches(layer, x, g, training=True)
    assert set(grads) == {"gamma", "beta"}


def test_batchnorm_normalises_the_batch_and_tracks_running_statistics(rng):
    layer = batchnorm_layer(rng, 3)
    layer.gamma[:], layer.beta[:] = 1, 0
    x = rng.standard_normal((500, 3)) * np.array([1.0, 4.0, 0.5]) + np.array([2.0, -1.0, 0.0])
    start = layer.mean.copy()
    out, cache = layer.train_forward(x, None)
    np.testing.assert_array_equal(layer.mean, start)  # the training pass itself changes nothing
    for _ in range(200):  # the running averages forget their start as 0.9^200
        layer.track(cache)
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.std(axis=0), 1, atol=1e-4)
    np.testing.assert_allclose(layer.mean, x.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(layer.variance, x.var(axis=0, ddof=1), rtol=1e-6)
    # at inference the running statistics stand in for the batch's (σ² unbiased: within m/(m−1))
    np.testing.assert_allclose(layer.forward(x), out, rtol=2e-3)


def test_batchnorm_cnn_gradient_through_whole_network(rng):
    """Conv → batch norm → ReLU → pool → dense → batch norm → ReLU → dense → softmax against finite differences."""
    layers = [
        Reshape((6, 6, 1)),
        Conv2D(rng.standard_normal((2, 1, 3, 3)) * 0.5, rng.standard_normal(2) * 0.1, 1, 1),
        batchnorm_layer(rng, 2),
        ReLU(),
        MaxPool(2),
        Reshape((-1,)),
        Dense(rng.standard_normal((5, 18)) * 0.5, rng.standard_normal(5) * 0.1),
        batchnorm_layer(rng, 5),
        ReLU(),
        Dense(rng.standard_normal((10, 5)) * 0.5, rng.standard_normal(10) * 0.1),
        Softmax(),
    ]
    network = Network(layers, "log-likelihood")
    x = rng.random((4, 36))
    y = one_hot(np.array([1, 4, 9, 4]), dtype=np.float64)
    assert_backprop_matches_finite_differences(network, cost_named("log-likelihood"), x, y)


@pytest.mark.parametrize("shape", [(6, 4), (2, 3, 5, 4)], ids=["dense", "conv"])
def test_batchnorm_inference_backward_matches_finite_differences(shape, rng):
    """At inference the running statistics are constants: the layer is an affine map per feature."""
    layer = batchnorm_layer(rng, shape[-1])
    layer.mean[:], layer.variance[:] = rng.standard_normal(shape[-1]), rng.random(shape[-1]) + 0.5
    x = rng.standard_normal(shape)
    g = rng.standard_normal(shape)
    _, grads = assert_layer_backward_matches(layer, x, g)
    assert set(grads) == {"gamma", "beta"}


def test_saliency_equals_finite_differences_of_the_winning_output(rng):
    """``input_gradient`` with a one-hot on the winner: ∂a_winner/∂x of the inference pass, through
    conv, batch norm (running statistics), ReLU, pooling, dense and softmax; relative error ≤ 1e-4."""
    layers = [
        Reshape((28, 28, 1)),
        Conv2D(rng.standard_normal((3, 1, 5, 5)) * 0.3, rng.standard_normal(3) * 0.1, 1, 0),
        BatchNorm(1 + 0.2 * rng.standard_normal(3), 0.1 * rng.standard_normal(3), rng.random(3), rng.random(3) + 0.5),
        ReLU(),
        MaxPool(2),
        Reshape((-1,)),
        Dense(rng.standard_normal((10, 432)) * 0.05, rng.standard_normal(10) * 0.1),
        Softmax(),
    ]
    network = Network(layers, "log-likelihood")
    x = rng.random((2, 784))
    winners = network.predict(x)
    saliency = input_gradient(network, x, one_hot(winners, dtype=np.float64))
    assert saliency.shape == x.shape

    def winner_outputs():
        return float(np.sum(network.feedforward(x)[np.arange(2), winners]))

    numeric = numerical_grad(winner_outputs, x)
    assert np.max(np.abs(saliency - numeric)) <= 1e-4 * np.max(np.abs(numeric))


def test_folding_batchnorm_keeps_the_function(rng):
    """Each batch norm after a conv or dense layer merged into it: the same outputs, fewer layers,
    and the original network untouched."""
    from digitnet.modelfile import load_model

    from .conftest import ROOT

    network = load_model(ROOT / "weights" / "cnn.json")
    before = [p.copy() for layer in network.layers for p in layer.params().values()]
    folded = network.folded()
    assert [layer.kind for layer in folded.layers].count("batchnorm") == 0
    assert len(folded.layers) == len(network.layers) - 3
    x = rng.random((50, 784))
    np.testing.assert_allclose(folded.feedforward(x), network.feedforward(x), rtol=0, atol=1e-12)
    after = [p for layer in network.layers for p in layer.params().values()]
    assert all(np.array_equal(a, b) and a.dtype == np.float32 for a, b in zip(before, after, strict=True))


@pytest.mark.parametrize("name", ["cnn.json", "c2_conv-learned.json", "c1.json"])
def test_products_by_einsum_where_numpy_has_no_blas(name, rng, monkeypatch):
    """Pyodide's path (``NO_BLAS``: products with long rows by einsum) gives CPython's outputs."""
    from digitnet import kernels
    from digitnet.modelfile import load_model

    from .conftest import ROOT

    network = load_model(ROOT / "weights" / name).folded()
    x = rng.random((30, 784))
    with_blas = network.feedforward(x)
    calls, einsum = [], np.einsum
    monkeypatch.setattr(kernels, "NO_BLAS", True)
    monkeypatch.setattr(kernels.np, "einsum", lambda *a, **k: calls.append(a[0]) or einsum(*a, **k))
    np.testing.assert_allclose(network.feedforward(x), with_blas, rtol=0, atol=1e-12)
    assert calls and set(calls) == {"...k,jk->...j"}
