"""The book's ``network.py`` algorithm, faithfully: one backpropagation per training example.

Each example is a column vector ``x (784, 1)``; a mini-batch's gradients are
the sum of per-example gradients, accumulated in Python lists, then applied as
``w → w − (η/m) Σ ∇w``. Float64, as NumPy's default. This is the baseline the
vectorised trainer is measured against; it is not used for training.
"""

from __future__ import annotations

import numpy as np


def sigmoid(z: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-z))


def sigmoid_prime(z: np.ndarray) -> np.ndarray:
    return sigmoid(z) * (1 - sigmoid(z))


class PerSampleNetwork:
    """Sigmoid network with quadratic cost; ``weights[l] (n_out, n_in)``, ``biases[l] (n_out, 1)``."""

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray]) -> None:
        self.weights = [w.astype(np.float64) for w in weights]
        self.biases = [b.astype(np.float64).reshape(-1, 1) for b in biases]

    def feedforward(self, a: np.ndarray) -> np.ndarray:
        for b, w in zip(self.biases, self.weights, strict=True):
            a = sigmoid(np.dot(w, a) + b)
        return a

    def sgd_epoch(
        self, examples: list[tuple[np.ndarray, np.ndarray]], order: np.ndarray, batch_size: int, eta: float
    ) -> None:
        """One epoch over ``examples`` (see ``as_examples``) in the given order."""
        examples = [examples[i] for i in order]
        for k in range(0, len(examples), batch_size):
            self.update_mini_batch(examples[k : k + batch_size], eta)

    def update_mini_batch(self, mini_batch: list[tuple[np.ndarray, np.ndarray]], eta: float) -> None:
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        for x, y in mini_batch:
            delta_nabla_b, delta_nabla_w = self.backprop(x, y)
            nabla_b = [nb + dnb for nb, dnb in zip(nabla_b, delta_nabla_b, strict=True)]
            nabla_w = [nw + dnw for nw, dnw in zip(nabla_w, delta_nabla_w, strict=True)]
        self.weights = [w - (eta / len(mini_batch)) * nw for w, nw in zip(self.weights, nabla_w, strict=True)]
        self.biases = [b - (eta / len(mini_batch)) * nb for b, nb in zip(self.biases, nabla_b, strict=True)]

    def backprop(self, x: np.ndarray, y: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Gradients of ``½‖a − y‖²`` for one example, layer by layer."""
        nabla_b = [np.zeros(b.shape) for b in self.biases]
        nabla_w = [np.zeros(w.shape) for w in self.weights]
        activation = x
        activations = [x]
        zs = []
        for b, w in zip(self.biases, self.weights, strict=True):
            z = np.dot(w, activation) + b
            zs.append(z)
            activation = sigmoid(z)
            activations.append(activation)
        delta = (activations[-1] - y) * sigmoid_prime(zs[-1])
        nabla_b[-1] = delta
        nabla_w[-1] = np.dot(delta, activations[-2].transpose())
        for layer in range(2, len(self.weights) + 1):
            delta = np.dot(self.weights[-layer + 1].transpose(), delta) * sigmoid_prime(zs[-layer])
            nabla_b[-layer] = delta
            nabla_w[-layer] = np.dot(delta, activations[-layer - 1].transpose())
        return nabla_b, nabla_w

    def accuracy(self, images: np.ndarray, labels: np.ndarray) -> int:
        return sum(
            int(np.argmax(self.feedforward(x.reshape(784, 1)))) == y for x, y in zip(images, labels, strict=True)
        )


def as_examples(images: np.ndarray, labels: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The book's data layout: a list of ``(x (784, 1), y (10, 1))`` column-vector pairs.

    As in the book's loader, ``x`` keeps the data's float32 while the network is float64.
    """
    return [(x.reshape(784, 1), unit_vector(y)) for x, y in zip(images, labels, strict=True)]


def unit_vector(digit: int) -> np.ndarray:
    e = np.zeros((10, 1))
    e[digit] = 1.0
    return e
