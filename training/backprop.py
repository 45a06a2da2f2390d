"""Backward passes: for each layer, the gradient of the cost with respect to its
input and to its parameters, over a whole mini-batch at once.

Every function receives the layer's input ``x``, its output ``out`` and
``grad_out = ∂C/∂out`` (all ``(m, ...)``, one sample per row) and returns
``∂C/∂x``. Parameter gradients are returned alongside for layers that have
parameters.
"""

from __future__ import annotations

import numpy as np

from digitnet.layers import Dense, Layer, ReLU, Sigmoid, Softmax


def dense_backward(
    layer: Dense, x: np.ndarray, grad_out: np.ndarray, need_grad_x: bool = True
) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """``z = x·Wᵀ + b``: ``∂C/∂W = δᵀ·x (n_out, n_in)``, ``∂C/∂b = Σ_rows δ (n_out,)``, ``∂C/∂x = δ·W (m, n_in)``."""
    grads = {"weight": grad_out.T @ x, "bias": grad_out.sum(axis=0)}
    grad_x = grad_out @ layer.weight if need_grad_x else None
    return grad_x, grads


def sigmoid_backward(out: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    """``σ′(z) = σ(z)(1 − σ(z))``, so ``∂C/∂z = ∂C/∂a ⊙ a ⊙ (1 − a)``."""
    grad = 1 - out
    grad *= out
    grad *= grad_out
    return grad


def relu_backward(x: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    """``∂C/∂z = ∂C/∂a ⊙ [z > 0]``."""
    return grad_out * (x > 0)


def softmax_backward(out: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    """Softmax Jacobian times ``g = ∂C/∂a`` per row: ``∂C/∂z = a ⊙ (g − Σ_k g_k a_k)``."""
    return out * (grad_out - np.sum(grad_out * out, axis=1, keepdims=True))


def activation_backward(layer: Layer, x: np.ndarray, out: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    """``∂C/∂x`` through a parameter-free activation layer."""
    if isinstance(layer, Sigmoid):
        return sigmoid_backward(out, grad_out)
    if isinstance(layer, ReLU):
        return relu_backward(x, grad_out)
    if isinstance(layer, Softmax):
        return softmax_backward(out, grad_out)
    raise TypeError(f"no backward pass for layer {layer.kind!r}")
