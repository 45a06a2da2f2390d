"""Finite-difference checks of every backward pass and every cost's output error."""

import numpy as np
import pytest

from digitnet.layers import Dense, ReLU, Sigmoid, Softmax
from digitnet.network import Network
from digitnet.training.backprop import activation_backward, dense_backward
from digitnet.training.costs import COSTS, cost_named
from digitnet.training.sgd import backprop, one_hot

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


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def test_dense_backward_matches_finite_differences(rng):
    layer = Dense(rng.standard_normal((4, 6)), rng.standard_normal(4))
    x = rng.standard_normal((5, 6))
    g = rng.standard_normal((5, 4))  # ∂C/∂z for the scalar C = Σ g ⊙ z

    def cost():
        return float(np.sum(g * layer.forward(x)))

    grad_x, grads = dense_backward(layer, x, g)
    assert_close(grad_x, numerical_grad(cost, x))
    assert_close(grads["weight"], numerical_grad(cost, layer.weight))
    assert_close(grads["bias"], numerical_grad(cost, layer.bias))


@pytest.mark.parametrize("layer", [Sigmoid(), ReLU(), Softmax()], ids=lambda layer: layer.kind)
def test_activation_backward_matches_finite_differences(layer, rng):
    x = rng.standard_normal((5, 7)) * 3
    x[np.abs(x) < 1e-3] = 0.5  # keep ReLU away from its kink
    g = rng.standard_normal((5, 7))

    def cost():
        return float(np.sum(g * layer.forward(x)))

    analytic = activation_backward(layer, x, layer.forward(x), g)
    assert_close(analytic, numerical_grad(cost, x))


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

    def total():
        return cost.value(network.feedforward(x), y)

    grads = backprop(network, cost, x, y)
    for layer, layer_grads in zip(layers, grads, strict=True):
        for key, param in layer.params().items():
            assert_close(layer_grads[key], numerical_grad(total, param))


def test_scaled_backprop_is_scaled_gradient(rng):
    layers = [Dense(rng.standard_normal((10, 8)), rng.standard_normal(10)), Sigmoid()]
    network = Network(layers, "quadratic")
    x, y = rng.random((3, 8)), one_hot(np.array([1, 2, 3]), dtype=np.float64)
    plain = backprop(network, cost_named("quadratic"), x, y)
    scaled = backprop(network, cost_named("quadratic"), x, y, scale=0.25)
    np.testing.assert_allclose(scaled[0]["weight"], 0.25 * plain[0]["weight"])
    np.testing.assert_allclose(scaled[0]["bias"], 0.25 * plain[0]["bias"])
