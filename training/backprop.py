"""Backward passes: for each layer, the gradient of the cost with respect to its
input and to its parameters, over a whole mini-batch at once.

Every function receives the layer's input ``x``, its output ``out`` and
``grad_out = ∂C/∂out`` (all ``(m, ...)``, one sample per row) and returns
``∂C/∂x``. Parameter gradients are returned alongside for layers that have
parameters.
"""

from __future__ import annotations

import numpy as np

from digitnet.layers import (
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Layer,
    MaxPool,
    PatchFeatures,
    ReLU,
    Reshape,
    Sigmoid,
    Softmax,
    im2col,
    windows,
)


def dense_backward(
    layer: Dense, x: np.ndarray, grad_out: np.ndarray, need_grad_x: bool = True
) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """``z = x·Wᵀ + b``: ``∂C/∂W = δᵀ·x (n_out, n_in)``, ``∂C/∂b = Σ_rows δ (n_out,)``, ``∂C/∂x = δ·W (m, n_in)``."""
    grads = {"weight": grad_out.T @ x, "bias": grad_out.sum(axis=0)}
    grad_x = grad_out @ layer.weight if need_grad_x else None
    return grad_x, grads


def conv_backward(
    layer: Conv2D, x: np.ndarray, grad_out: np.ndarray, need_grad_x: bool = True
) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """With ``G = ∂C/∂z`` as ``(n·h'·w', f)`` and the patches as ``P (n·h'·w', c·k²)``:
    ``∂C/∂W = Gᵀ·P``, ``∂C/∂b = Σ_rows G``, and ``∂C/∂x`` adds each row of ``G·W`` back
    onto the patch it came from (col2im)."""
    f, c, k, _ = layer.weight.shape
    columns, (n, oh, ow) = im2col(x, k, layer.stride, layer.padding)
    g = grad_out.reshape(-1, f)
    grads = {"weight": (g.T @ columns).reshape(layer.weight.shape), "bias": g.sum(axis=0)}
    if not need_grad_x:
        return None, grads
    grad_patches = (g @ layer.weight.reshape(f, -1)).reshape(n, oh, ow, c, k, k)
    p, s = layer.padding, layer.stride
    grad_x = np.zeros((n, x.shape[1] + 2 * p, x.shape[2] + 2 * p, c), dtype=grad_out.dtype)
    for i in range(k):
        for j in range(k):
            grad_x[:, i : i + s * oh : s, j : j + s * ow : s, :] += grad_patches[..., i, j]
    return grad_x[:, p : p + x.shape[1], p : p + x.shape[2], :], grads


def patch_features_backward(
    layer: PatchFeatures, x: np.ndarray, grad_out: np.ndarray, need_grad_x: bool = True
) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """``F = P·Kᵀ``: ``∂C/∂K = Σ_n Gᵀ·P`` (zero when the kernels are fixed); ``∂C/∂x`` is the pixels'
    own gradient plus ``G·K`` put back on the patches."""
    k, size, _ = layer.kernels.shape
    n_features = layer.n_out - x.shape[1]
    g = grad_out[:, :n_features].reshape(len(x), k, -1)  # (n, k, patches)
    patches = layer.patches(x)
    grads = {}
    if layer.learned:
        grads["kernels"] = np.einsum("nkp,npj->kj", g, patches).reshape(layer.kernels.shape)
    if not need_grad_x:
        return None, grads
    m = layer.side // size
    back = (g.transpose(0, 2, 1) @ layer.kernels.reshape(k, -1)).reshape(len(x), m, m, size, size)
    return grad_out[:, n_features:] + back.transpose(0, 1, 3, 2, 4).reshape(x.shape), grads


def batchnorm_forward(
    layer: BatchNorm, x: np.ndarray, momentum: float = 0.9
) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
    """Training-time batch normalisation with the mini-batch's own statistics over all axes but the last:
    ``x̂ = (x − μ_B) / √(σ²_B + ε)``, ``y = γ x̂ + β``.

    Also moves the running averages: ``μ → momentum·μ + (1 − momentum)·μ_B``, and the same
    for ``σ²`` with the unbiased ``σ²_B``. Returns ``y`` and the cache ``(x̂, 1/√(σ²_B + ε))``.
    """
    axes = tuple(range(x.ndim - 1))
    count = x.size // x.shape[-1]
    mean = x.mean(axis=axes)
    centred = x - mean
    variance = np.mean(centred * centred, axis=axes)
    inv_std = 1 / np.sqrt(variance + layer.epsilon)
    x_hat = centred
    x_hat *= inv_std
    layer.mean *= momentum
    layer.mean += (1 - momentum) * mean
    layer.variance *= momentum
    layer.variance += (1 - momentum) * variance * (count / max(count - 1, 1))
    return x_hat * layer.gamma + layer.beta, (x_hat, inv_std)


def batchnorm_backward(
    layer: BatchNorm, cache: tuple[np.ndarray, np.ndarray], grad_out: np.ndarray
) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """With ``g = ∂C/∂y`` and m values per feature: ``∂C/∂γ = Σ g ⊙ x̂``, ``∂C/∂β = Σ g`` and
    ``∂C/∂x = γ/(m √(σ²_B + ε)) · (m g − ∂C/∂β − x̂ ⊙ ∂C/∂γ)`` (the batch statistics depend on x)."""
    x_hat, inv_std = cache
    axes = tuple(range(grad_out.ndim - 1))
    count = grad_out.size // grad_out.shape[-1]
    grad_gamma = np.sum(grad_out * x_hat, axis=axes)
    grad_beta = grad_out.sum(axis=axes)
    grad_x = grad_out * count
    grad_x -= grad_beta
    grad_x -= x_hat * grad_gamma
    grad_x *= layer.gamma * inv_std / count
    return grad_x, {"gamma": grad_gamma, "beta": grad_beta}


def maxpool_backward(layer: MaxPool, x: np.ndarray, out: np.ndarray, grad_out: np.ndarray) -> np.ndarray:
    """Each window's gradient goes to the input that was its maximum (to every one, on a tie)."""
    blocks = windows(x, layer.size)
    winners = blocks == out[:, :, None, :, None, :]
    grad_blocks = winners * grad_out[:, :, None, :, None, :]
    grad_x = np.zeros_like(x, dtype=grad_out.dtype)
    h, w = blocks.shape[1] * layer.size, blocks.shape[3] * layer.size
    grad_x[:, :h, :w] = grad_blocks.reshape(len(x), h, w, x.shape[3])
    return grad_x


def dropout_forward(layer: Dropout, x: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Training-time dropout: ``y = x ⊙ mask``, ``mask`` holding 0 (probability ``rate``) or ``1/(1 − rate)``."""
    keep = 1 - layer.rate
    mask = (rng.random(x.shape, dtype=np.float32) < keep).astype(x.dtype) / x.dtype.type(keep)
    return x * mask, mask


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


def activation_backward(
    layer: Layer, x: np.ndarray, out: np.ndarray, grad_out: np.ndarray, cache: np.ndarray | None = None
) -> np.ndarray:
    """``∂C/∂x`` through a parameter-free layer (``cache``: the dropout mask used going forward)."""
    if isinstance(layer, Sigmoid):
        return sigmoid_backward(out, grad_out)
    if isinstance(layer, ReLU):
        return relu_backward(x, grad_out)
    if isinstance(layer, Softmax):
        return softmax_backward(out, grad_out)
    if isinstance(layer, MaxPool):
        return maxpool_backward(layer, x, out, grad_out)
    if isinstance(layer, Reshape):
        return grad_out.reshape(x.shape)
    if isinstance(layer, Dropout):
        return grad_out if cache is None else grad_out * cache
    raise TypeError(f"no backward pass for layer {layer.kind!r}")
