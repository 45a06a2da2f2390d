"""Cost functions ``C(a, y)`` summed over a mini-batch, and the output error ``δ = ∂C/∂z``.

``a (m, 10)`` are the network's outputs, ``y (m, 10)`` the one-hot targets,
``z`` the input of the output activation. Gradients are of the *sum* over the
batch; the SGD step divides by the batch size, as in Nielsen's book.
"""

from __future__ import annotations

import numpy as np


class QuadraticCost:
    """``C = ½ Σ ‖a − y‖²`` (Nielsen ch. 1); ``∂C/∂a = a − y``."""

    name = "quadratic"
    output_kinds = ("sigmoid", "softmax")
    fused_kind = None

    @staticmethod
    def value(a: np.ndarray, y: np.ndarray) -> float:
        return 0.5 * float(np.sum((a - y) ** 2))

    @staticmethod
    def grad(a: np.ndarray, y: np.ndarray) -> np.ndarray:
        return a - y


class CrossEntropyCost:
    """``C = −Σ [y ln a + (1 − y) ln(1 − a)]`` (Nielsen ch. 3).

    With sigmoid outputs the σ′ factor cancels: ``δ = ∂C/∂z = a − y``.
    """

    name = "cross-entropy"
    output_kinds = ("sigmoid",)
    fused_kind = "sigmoid"

    @staticmethod
    def value(a: np.ndarray, y: np.ndarray) -> float:
        with np.errstate(divide="ignore", invalid="ignore"):
            terms = -y * np.log(a) - (1 - y) * np.log(1 - a)
        return float(np.sum(np.nan_to_num(terms)))

    @staticmethod
    def grad(a: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (a - y) / (a * (1 - a))


class LogLikelihoodCost:
    """``C = −Σ ln a_y``, the log-likelihood of the right digit under softmax outputs.

    With softmax outputs: ``δ = ∂C/∂z = a − y``.
    """

    name = "log-likelihood"
    output_kinds = ("softmax",)
    fused_kind = "softmax"

    @staticmethod
    def value(a: np.ndarray, y: np.ndarray) -> float:
        with np.errstate(divide="ignore"):
            return float(-np.sum(y * np.log(np.maximum(a, 1e-300))))

    @staticmethod
    def grad(a: np.ndarray, y: np.ndarray) -> np.ndarray:
        return -y / a


Cost = QuadraticCost | CrossEntropyCost | LogLikelihoodCost

COSTS: dict[str, type] = {c.name: c for c in (QuadraticCost, CrossEntropyCost, LogLikelihoodCost)}


def cost_named(name: str) -> Cost:
    if name not in COSTS:
        raise ValueError(f"unknown cost {name!r} (known: {', '.join(COSTS)})")
    return COSTS[name]()
