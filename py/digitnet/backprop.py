"""Backpropagation and mini-batch gradient descent (Nielsen ch. 1–3), for CPython training
and for adapting a model in the browser alike.

Each mini-batch is one matrix ``x (m, 784)``: the forward and backward passes
are a handful of matrix products per layer, never a loop over samples. Each
layer's own ``backward`` (``digitnet.layers``) does the per-layer work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from digitnet.costs import Cost
from digitnet.network import Network
from digitnet.optimisers import Optimiser


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
    normalisation on the mini-batch's statistics and dropout active when ``rng`` is given. It changes
    nothing: ``backprop`` moves the running averages.

    Returns the activations ``[a⁰, …, aᴸ]`` and, per layer, what its backward pass needs
    besides them (a dropout mask, a batch-norm cache, a convolution's patches) or None.
    """
    activations = [x]
    caches: list[Any] = []
    for layer in network.layers:
        out, cache = layer.train_forward(activations[-1], rng)
        activations.append(out)
        caches.append(cache)
    return activations, caches


def inference_forward(network: Network, x: np.ndarray) -> list[np.ndarray]:
    """The activations ``[a⁰ = x, …, aᴸ]`` of the inference pass (running statistics, no dropout)."""
    activations = [x]
    with np.errstate(over="ignore"):
        for layer in network.layers:
            activations.append(layer.forward(activations[-1]))
    return activations


def backprop(
    network: Network,
    cost: Cost,
    x: np.ndarray,
    y: np.ndarray,
    scale: float = 1.0,
    rng: np.random.Generator | None = None,
    parts: int = 1,
    run: Callable[..., Iterable[Any]] = map,
) -> list[dict[str, np.ndarray]]:
    """Gradients of ``scale · C``, C summed over the mini-batch, one dict per layer (empty without
    trained parameters); the running statistics of batch normalisation move (``Layer.track``).

    ``parts > 1``: the mini-batch is computed as that many consecutive parts of (nearly) equal
    size, at least 2 images each (a smaller mini-batch makes fewer parts), and their gradients
    summed. For every layer but batch normalisation this is the same sum; batch normalisation takes
    each part's own statistics (so-called ghost batches), and its running averages move once per
    part, in order. The parts are independent: ``run`` maps ``part_gradients`` over them (a thread
    pool's ``map`` computes them at once, under the caller's ``np.errstate``; the answer is the
    same). Each part then draws its dropout masks from a generator of its own, seeded from ``rng``
    (which so moves on by one draw per part, dropout or not).
    """
    parts = max(1, min(parts, len(x) // 2))
    if parts == 1:  # the usual case, without the bookkeeping of parts
        grads, caches = part_gradients(network, cost, x, y, scale, rng)
        track(network, caches)
        return grads
    bounds = [len(x) * k // parts for k in range(parts + 1)]
    pieces = [slice(bounds[k], bounds[k + 1]) for k in range(parts)]
    rngs = [None] * parts if rng is None else [np.random.default_rng(s) for s in rng.integers(1 << 62, size=parts)]
    errors = np.geterr()  # NumPy's error settings belong to a thread: the workers take the caller's

    def one_part(piece: slice, part_rng: np.random.Generator | None) -> tuple[list[dict[str, np.ndarray]], list]:
        with np.errstate(**errors):
            return part_gradients(network, cost, x[piece], y[piece], scale, part_rng)

    results = list(run(one_part, pieces, rngs))
    for _, caches in results:
        track(network, caches)
    grads = results[0][0]
    for other, _ in results[1:]:
        for layer_grads, more in zip(grads, other, strict=True):
            for key, g in more.items():
                layer_grads[key] += g
    return grads


def track(network: Network, caches: list[Any]) -> None:
    """Each layer's ``track`` of its cache from a training pass; a layer without one (None) has nothing to track."""
    for layer, cache in zip(network.layers, caches, strict=True):
        if cache is not None:
            layer.track(cache)


def part_gradients(
    network: Network,
    cost: Cost,
    x: np.ndarray,
    y: np.ndarray,
    scale: float = 1.0,
    rng: np.random.Generator | None = None,
) -> tuple[list[dict[str, np.ndarray]], list[Any]]:
    """``backprop``'s work on one batch, changing no layer: the gradients, and the caches of the
    training pass (for ``Layer.track``).

    Forward: ``training_forward``. Output error: ``δ = ∂C/∂z`` of the last activation
    (fused ``a − y`` where the cost allows it). Backward: each layer from the one before
    the output activation down to the first layer with parameters, each turning
    ``∂C/∂(its output)`` into ``∂C/∂(its input)`` and its parameter gradients (the first layer
    with parameters skips its input gradient: nobody needs it).
    """
    layers = network.layers
    activations, caches = training_forward(network, x, rng)
    a = activations[-1]
    if cost.fused_kind == network.output_kind:
        delta = a - y
    else:
        delta = layers[-1].backward(activations[-2], a, cost.grad(a, y), caches[-1])[0]
    if scale != 1:
        delta *= scale
    first = 0  # the first layer with parameters: below it no gradient is needed
    while first < len(layers) and not layers[first].param_names:  # (a loop, not next(): a c1 step is ~40 µs)
        first += 1
    if first == len(layers):
        raise ValueError("the network has no parameters to train")
    grads: list[dict[str, np.ndarray]] = [{} for _ in layers]
    for i in range(len(layers) - 2, first - 1, -1):
        delta, grads[i] = layers[i].backward(activations[i], activations[i + 1], delta, caches[i], i > first)
    return grads, caches


def input_gradient(
    network: Network,
    x: np.ndarray,
    grad_output: np.ndarray,
    activations: list[np.ndarray] | None = None,
    last: int | None = None,
) -> np.ndarray:
    """``∂(Σ grad_output ⊙ a)/∂x`` through the inference pass, ``x (n, 784)``, ``grad_output (n, 10)``.

    With ``grad_output`` one-hot on the winning digit this is the saliency map: how much
    each input pixel moves the winner's output. Each layer's ``input_backward``: no parameter
    gradients, which nobody needs here. ``activations``: ``inference_forward(network, x)``
    when the caller has it already (it is then not computed again). ``last``: the layer whose
    output ``grad_output`` weighs (default: the network's last layer).
    """
    if activations is None:
        activations = inference_forward(network, x)
    grad = grad_output
    for i in range(len(network.layers) - 1 if last is None else last, -1, -1):
        grad = network.layers[i].input_backward(activations[i], activations[i + 1], grad)
    return grad


def apply_gradients(
    network: Network, grads: list[dict[str, np.ndarray]], optimiser: Optimiser, rates: list[float] | None = None
) -> None:
    """One ``optimiser`` step of the network's parameters, in place, from per-layer gradients.

    ``rates`` (one per layer) multiply each layer's gradients: with SGD, a learning rate of
    ``rate · η`` for that layer's parameters.
    """
    if rates is not None:
        grads = [
            {key: g * g.dtype.type(rate) for key, g in layer_grads.items()} if rate != 1.0 else layer_grads
            for layer_grads, rate in zip(grads, rates, strict=True)
        ]
    optimiser.step(network.layers, grads)


def update_mini_batch(
    network: Network,
    cost: Cost,
    x: np.ndarray,
    y: np.ndarray,
    optimiser: Optimiser,
    rng: np.random.Generator | None = None,
    rates: list[float] | None = None,
    parts: int = 1,
    run: Callable[..., Iterable[Any]] = map,
) -> None:
    """One step of ``optimiser`` on the mini-batch ``x (m, 784)``, ``y (m, 10)``, in place.

    The optimiser's factor (η/m for SGD) is applied once, to the output error,
    before backpropagation; ``rates``: per-layer factors (``apply_gradients``); ``parts``, ``run``:
    the mini-batch computed in parts (``backprop``).
    """
    grads = backprop(network, cost, x, y, scale=optimiser.gradient_scale(len(x)), rng=rng, parts=parts, run=run)
    apply_gradients(network, grads, optimiser, rates)


def sgd_epoch(
    network: Network,
    cost: Cost,
    images: np.ndarray,
    targets: np.ndarray,
    batch_size: int,
    optimiser: Optimiser,
    rng: np.random.Generator,
    on_batch: Callable[[int], Any] | None = None,
    rates: list[float] | None = None,
    parts: int = 1,
    run: Callable[..., Iterable[Any]] = map,
) -> None:
    """One pass over the training set in a fresh random order, one optimiser step per mini-batch.

    ``on_batch(m)`` is called after each step; dropout layers draw their masks from ``rng`` (with
    ``parts``, from generators seeded from it); ``rates``: per-layer factors of the gradients
    (``apply_gradients``); ``parts``, ``run``: each mini-batch computed in parts (``backprop``).
    """
    n = len(images)
    order = rng.permutation(n)
    with np.errstate(over="ignore"):
        for start in range(0, n, batch_size):
            batch = order[start : start + batch_size]
            # ndarray.take gathers the rows in about half the time of indexing with an array (1.0 against 1.7 µs
            # for 10 images), which builds NumPy's general fancy-indexing machinery on every call
            x, y = images.take(batch, axis=0), targets.take(batch, axis=0)
            update_mini_batch(network, cost, x, y, optimiser, rng=rng, rates=rates, parts=parts, run=run)
            if on_batch is not None:
                on_batch(len(batch))


def total_cost(network: Network, cost: Cost, images: np.ndarray, targets: np.ndarray, l2: float) -> float:
    """Mean cost over a data set plus the L2 term ``(λ / 2n) Σ w²`` (n = its size, λ = ``l2``)."""
    n = len(images)
    value = sum(cost.value(network.feedforward(images[s : s + 1000]), targets[s : s + 1000]) for s in range(0, n, 1000))
    weights = sum(
        float(np.sum(layer.params()["weight"].astype(np.float64) ** 2)) for layer in network.layers if layer.weighted
    )
    return value / n + 0.5 * l2 / n * weights
