"""Mini-batch stochastic gradient descent with backpropagation (Nielsen ch. 1–3).

Each mini-batch is one matrix ``x (m, 784)``: the forward and backward passes
are a handful of matrix products per layer, never a loop over samples.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitnet.layers import BatchNorm, Conv2D, Dense, Dropout, Layer, PatchFeatures
from digitnet.network import Network
from digitnet.training.backprop import (
    activation_backward,
    batchnorm_backward,
    batchnorm_forward,
    conv_backward,
    dense_backward,
    dropout_forward,
    patch_features_backward,
)
from digitnet.training.costs import Cost
from digitnet.training.optimisers import SGD, Adam


def one_hot(labels: np.ndarray, n_classes: int = 10, dtype: type = np.float32) -> np.ndarray:
    """``labels (n,)`` → ``y (n, n_classes)`` with a single 1 per row."""
    y = np.zeros((len(labels), n_classes), dtype=dtype)
    y[np.arange(len(labels)), labels] = 1
    return y


def check_output(network: Network, cost: Cost) -> None:
    """Reject a cost that does not fit the network's output activation."""
    if network.output_kind not in cost.output_kinds:
        raise ValueError(
            f"cost {cost.name!r} needs a {' or '.join(cost.output_kinds)} output layer, not {network.output_kind!r}"
        )


def training_forward(
    network: Network, x: np.ndarray, rng: np.random.Generator | None = None
) -> tuple[list[np.ndarray], list[Any]]:
    """The forward pass as training runs it: ``a⁰ = x``, ``aˡ⁺¹ = layerˡ(aˡ)``, with batch
    normalisation on the mini-batch's statistics (moving the running averages) and dropout
    active when ``rng`` is given.

    Returns the activations ``[a⁰, …, aᴸ]`` and, per layer, what its backward pass needs
    besides them (a dropout mask, a batch-norm cache) or None.
    """
    activations = [x]
    caches: list[Any] = [None] * len(network.layers)
    for i, layer in enumerate(network.layers):
        if isinstance(layer, Dropout) and rng is not None:
            out, caches[i] = dropout_forward(layer, activations[-1], rng)
        elif isinstance(layer, BatchNorm):
            out, caches[i] = batchnorm_forward(layer, activations[-1])
        else:
            out = layer.forward(activations[-1])
        activations.append(out)
    return activations, caches


def backprop(
    network: Network,
    cost: Cost,
    x: np.ndarray,
    y: np.ndarray,
    scale: float = 1.0,
    rng: np.random.Generator | None = None,
) -> list[dict[str, np.ndarray]]:
    """Gradients of ``scale · C``, C summed over the mini-batch, one dict per layer (empty without
    trained parameters).

    Forward: ``training_forward``. Output error: ``δ = ∂C/∂z`` of the last activation
    (fused ``a − y`` where the cost allows it). Backward: each layer turns ``∂C/∂(its output)``
    into ``∂C/∂(its input)``; the input of the first layer with parameters needs none.
    """
    layers = network.layers
    activations, caches = training_forward(network, x, rng)
    a = activations[-1]
    if cost.fused_kind == network.output_kind:
        delta = a - y
    else:
        delta = activation_backward(layers[-1], activations[-2], a, cost.grad(a, y))
    if scale != 1:
        delta *= scale
    first = next(i for i, layer in enumerate(layers) if layer.params())
    grads: list[dict[str, np.ndarray]] = [{}] * len(layers)
    for i in range(len(layers) - 2, first - 1, -1):
        delta, grads[i] = layer_backward(layers[i], activations[i], activations[i + 1], delta, caches[i], i > first)
    return grads


def layer_backward(
    layer: Layer, x: np.ndarray, out: np.ndarray, delta: np.ndarray, cache: Any, need_grad_x: bool
) -> tuple[np.ndarray | None, dict[str, np.ndarray]]:
    """``∂C/∂x`` and the parameter gradients of one layer, from ``delta = ∂C/∂out``."""
    if isinstance(layer, Dense):
        return dense_backward(layer, x, delta, need_grad_x)
    if isinstance(layer, Conv2D):
        return conv_backward(layer, x, delta, need_grad_x)
    if isinstance(layer, PatchFeatures):
        return patch_features_backward(layer, x, delta, need_grad_x)
    if isinstance(layer, BatchNorm):
        return batchnorm_backward(layer, cache, delta)
    return activation_backward(layer, x, out, delta, cache), {}


def update_mini_batch(
    network: Network,
    cost: Cost,
    x: np.ndarray,
    y: np.ndarray,
    optimiser: SGD | Adam,
    rng: np.random.Generator | None = None,
) -> None:
    """One step of ``optimiser`` on the mini-batch ``x (m, 784)``, ``y (m, 10)``, in place.

    The optimiser's factor (η/m for SGD) is applied once, to the output error,
    before backpropagation.
    """
    grads = backprop(network, cost, x, y, scale=optimiser.gradient_scale(len(x)), rng=rng)
    params, flat, weights = [], [], []
    for layer, layer_grads in zip(network.layers, grads, strict=True):
        for key, g in layer_grads.items():
            params.append(layer.params()[key])
            flat.append(g)
            weights.append(key == "weight")
    optimiser.step(params, flat, weights)


def sgd_epoch(
    network: Network,
    cost: Cost,
    images: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    optimiser: SGD | Adam,
    rng: np.random.Generator,
    on_batch=None,
) -> None:
    """One pass over the training set in a fresh random order, one optimiser step per mini-batch."""
    n = len(images)
    order = rng.permutation(n)
    dropout = rng if any(isinstance(layer, Dropout) for layer in network.layers) else None
    with np.errstate(over="ignore"):
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            update_mini_batch(network, cost, images[batch], targets[batch], optimiser, dropout)
            if on_batch is not None:
                on_batch(len(batch))


def total_cost(network: Network, cost: Cost, images: np.ndarray, targets: np.ndarray, lmbda: float) -> float:
    """Mean cost over a data set plus the L2 term ``(λ / 2n) Σ w²`` (n = its size)."""
    n = len(images)
    value = sum(
        cost.value(network.feedforward(images[s : s + 10_000]), targets[s : s + 10_000]) for s in range(0, n, 10_000)
    )
    weights = sum(
        float(np.sum(layer.weight.astype(np.float64) ** 2))
        for layer in network.layers
        if isinstance(layer, Dense | Conv2D)
    )
    return value / n + 0.5 * lmbda / n * weights
