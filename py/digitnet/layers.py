"""Layers of a feed-forward network: the forward pass only (inference).

Every layer maps a mini-batch ``x`` of shape ``(n, ...)`` to ``y`` of shape
``(n, ...)``: one sample per row, so a whole batch is one matrix product.
Backward passes live with the training code (``digitnet.training.backprop``).
"""

from __future__ import annotations

import numpy as np


class Dense:
    """Fully connected layer: ``z = x · Wᵀ + b``.

    Shapes: ``x (n, n_in)``, ``W (n_out, n_in)`` (Nielsen's orientation: row j
    holds the weights into neuron j), ``b (n_out,)``, ``z (n, n_out)``.
    """

    kind = "dense"

    def __init__(self, weight: np.ndarray, bias: np.ndarray) -> None:
        self.weight = weight
        self.bias = bias

    @property
    def n_in(self) -> int:
        return self.weight.shape[1]

    @property
    def n_out(self) -> int:
        return self.weight.shape[0]

    def params(self) -> dict[str, np.ndarray]:
        return {"weight": self.weight, "bias": self.bias}

    def forward(self, x: np.ndarray) -> np.ndarray:
        z = x @ self.weight.T
        z += self.bias
        return z


class Sigmoid:
    """Logistic activation: ``σ(z) = 1 / (1 + e^(−z))``, elementwise, any shape."""

    kind = "sigmoid"

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, z: np.ndarray) -> np.ndarray:
        return sigmoid(z)


class ReLU:
    """Rectified linear activation: ``max(0, z)``, elementwise, any shape."""

    kind = "relu"

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, z: np.ndarray) -> np.ndarray:
        return np.maximum(z, 0)


class Softmax:
    """Softmax over each row: ``a_j = e^(z_j) / Σ_k e^(z_k)``; ``z, a (n, k)``."""

    kind = "softmax"

    def params(self) -> dict[str, np.ndarray]:
        return {}

    def forward(self, z: np.ndarray) -> np.ndarray:
        e = np.exp(z - z.max(axis=1, keepdims=True))
        e /= e.sum(axis=1, keepdims=True)
        return e


Layer = Dense | Sigmoid | ReLU | Softmax

ACTIVATIONS: dict[str, type] = {"sigmoid": Sigmoid, "relu": ReLU, "softmax": Softmax}


def sigmoid(z: np.ndarray) -> np.ndarray:
    """``σ(z) = 1 / (1 + e^(−z))`` computed in one new array.

    ``e^(−z)`` overflows to ``inf`` for ``z ≪ 0``, which gives the correct limit
    ``σ = 0``: callers run it under ``np.errstate(over="ignore")`` for that reason.
    """
    a = np.negative(z)
    np.exp(a, out=a)
    a += 1
    np.reciprocal(a, out=a)
    return a
