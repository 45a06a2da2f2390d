"""Mini-batch stochastic gradient descent with backpropagation (Nielsen ch. 1–3).

Each mini-batch is one matrix ``x (m, 784)``: the forward and backward passes
are a handful of matrix products per layer, never a loop over samples.
"""

from __future__ import annotations

import numpy as np

from digitnet.layers import Dense
from digitnet.network import Network
from digitnet.training.backprop import activation_backward, dense_backward
from digitnet.training.costs import Cost


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


def backprop(
    network: Network, cost: Cost, x: np.ndarray, y: np.ndarray, scale: float = 1.0
) -> list[dict[str, np.ndarray]]:
    """Gradients of ``scale · C``, C summed over the mini-batch, one dict per layer (empty for activations).

    Forward: ``a⁰ = x``, ``aˡ⁺¹ = layerˡ(aˡ)``. Output error: ``δ = ∂C/∂z`` of
    the last activation (fused ``a − y`` where the cost allows it). Backward:
    each layer turns ``∂C/∂(its output)`` into ``∂C/∂(its input)``.
    """
    layers = network.layers
    activations = [x]
    for layer in layers:
        activations.append(layer.forward(activations[-1]))
    a = activations[-1]
    if cost.fused_kind == network.output_kind:
        delta = a - y
    else:
        delta = activation_backward(layers[-1], activations[-2], a, cost.grad(a, y))
    if scale != 1:
        delta *= scale
    grads: list[dict[str, np.ndarray]] = [{}] * len(layers)
    for i in range(len(layers) - 2, -1, -1):
        layer = layers[i]
        if isinstance(layer, Dense):
            delta, grads[i] = dense_backward(layer, activations[i], delta, need_grad_x=i > 0)
        else:
            delta = activation_backward(layer, activations[i], activations[i + 1], delta)
    return grads


def update_mini_batch(
    network: Network, cost: Cost, x: np.ndarray, y: np.ndarray, eta: float, lmbda: float, n: int
) -> None:
    """One SGD step on the mini-batch ``x (m, 784)``, ``y (m, 10)``, in place.

    ``w → (1 − ηλ/n) w − (η/m) ∂C/∂w`` and ``b → b − (η/m) ∂C/∂b``: L2 weight
    decay in Nielsen's form, ``n`` being the size of the whole training set.
    The factor η/m is applied once, to the output error, before backpropagation.
    """
    step = eta / len(x)
    decay = 1 - eta * lmbda / n
    for layer, grads in zip(network.layers, backprop(network, cost, x, y, scale=step), strict=True):
        if not grads:
            continue
        if decay != 1:
            layer.weight *= decay
        layer.weight -= grads["weight"]
        layer.bias -= grads["bias"]


def sgd_epoch(
    network: Network,
    cost: Cost,
    images: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    eta: float,
    lmbda: float,
    rng: np.random.Generator,
    on_batch=None,
) -> None:
    """One pass over the training set in a fresh random order, one SGD step per mini-batch."""
    n = len(images)
    order = rng.permutation(n)
    with np.errstate(over="ignore"):
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            update_mini_batch(network, cost, images[batch], targets[batch], eta, lmbda, n)
            if on_batch is not None:
                on_batch(len(batch))


def total_cost(network: Network, cost: Cost, images: np.ndarray, targets: np.ndarray, lmbda: float) -> float:
    """Mean cost over a data set plus the L2 term ``(λ / 2n) Σ w²`` (n = its size)."""
    n = len(images)
    value = sum(
        cost.value(network.feedforward(images[s : s + 10_000]), targets[s : s + 10_000]) for s in range(0, n, 10_000)
    )
    weights = sum(
        float(np.sum(layer.weight.astype(np.float64) ** 2)) for layer in network.layers if isinstance(layer, Dense)
    )
    return value / n + 0.5 * lmbda / n * weights
