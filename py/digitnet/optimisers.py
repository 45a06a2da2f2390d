"""Update rules: how a mini-batch's gradients change the parameters.

Every optimiser's ``step`` gets the network's layers and, per layer, the gradients of the
cost *summed* over the mini-batch, pre-multiplied by ``gradient_scale(m)``, by parameter
name (``backprop``'s answer). Apart from plain SGD (no momentum, no L2), which subtracts each
gradient where it is, they see the parameters as one list of arrays (``flatten``; ``weights``
flags which are weights, decayed by L2, rather than biases): the order of their state.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from digitnet.layers import Layer

Gradients = list[dict[str, np.ndarray]]


def flatten(layers: list[Layer], grads: Gradients) -> tuple[list[np.ndarray], list[np.ndarray], list[bool]]:
    """The parameters that have gradients, their gradients and whether each is a weight, layer by layer: the
    order of an optimiser's state."""
    params, flat, weights = [], [], []
    for layer, layer_grads in zip(layers, grads, strict=True):
        for key, g in layer_grads.items():
            params.append(getattr(layer, key))
            flat.append(g)
            weights.append(key == "weight")
    return params, flat, weights


class SGD:
    """Nielsen's mini-batch SGD with L2 and optional momentum μ.

    ``v → μ v − (η/m) Σ∇C − (ηλ/n) w``, ``w → w + v`` (λ = ``l2``; for μ = 0:
    ``w → (1 − ηλ/n) w − (η/m) Σ∇C``); biases are not decayed.
    """

    def __init__(self, eta: float, l2: float, n: int, momentum: float = 0.0) -> None:
        self.lr, self.l2, self.n, self.momentum = eta, l2, n, momentum
        self.velocity: list[np.ndarray] = []

    def gradient_scale(self, m: int) -> float:
        return self.lr / m

    def step(self, layers: list[Layer], layer_grads: Gradients) -> None:
        decay = self.lr * self.l2 / self.n
        if self.momentum == 0 and not decay:
            # Nielsen's ch. 1 and 2 nets: nothing but the step, one pass per tensor, taken straight from each
            # layer's gradients (building the flat lists cost more than the small steps themselves)
            for layer, named in zip(layers, layer_grads, strict=True):
                for key, g in named.items():
                    p = getattr(layer, key)
                    p -= g
            return
        params, grads, weights = flatten(layers, layer_grads)
        if self.momentum == 0:
            for p, g, is_weight in zip(params, grads, weights, strict=True):
                if is_weight:
                    p *= 1 - decay
                p -= g
            return
        if not self.velocity:
            self.velocity = [np.zeros_like(p) for p in params]
        for p, g, v, is_weight in zip(params, grads, self.velocity, weights, strict=True):
            v *= self.momentum
            v -= g
            if is_weight and decay:
                v -= decay * p
            p += v

    def state(self) -> list[np.ndarray]:
        return self.velocity

    def load_state(self, arrays: list[np.ndarray]) -> None:
        self.velocity = arrays


class Adam:
    """Adam (Kingma & Ba 2015) with decoupled weight decay on weights (AdamW).

    ``m → β₁m + (1 − β₁)g``, ``v → β₂v + (1 − β₂)g²``,
    ``w → w − lr · m̂ / (√v̂ + ε) − lr · weight_decay · w``, with ``g`` the mean gradient.
    """

    def __init__(
        self, lr: float, weight_decay: float = 0.0, beta1: float = 0.9, beta2: float = 0.999, eps: float = 1e-8
    ) -> None:
        self.lr, self.weight_decay, self.beta1, self.beta2, self.eps = lr, weight_decay, beta1, beta2, eps
        self.t = 0
        self.moments: list[np.ndarray] = []

    def gradient_scale(self, m: int) -> float:
        return 1.0 / m

    def step(self, layers: list[Layer], layer_grads: Gradients) -> None:
        params, grads, weights = flatten(layers, layer_grads)
        if not self.moments:
            self.moments = [np.zeros_like(p) for p in params] + [np.zeros_like(p) for p in params]
        self.t += 1
        k = len(params)
        correction = math.sqrt(1 - self.beta2**self.t) / (1 - self.beta1**self.t)
        for p, g, m, v, is_weight in zip(params, grads, self.moments[:k], self.moments[k:], weights, strict=True):
            m *= self.beta1
            m += (1 - self.beta1) * g
            v *= self.beta2
            v += (1 - self.beta2) * g * g
            if is_weight and self.weight_decay:
                p *= 1 - self.lr * self.weight_decay
            p -= (self.lr * correction) * m / (np.sqrt(v) + self.eps)

    def state(self) -> list[np.ndarray]:
        return [*self.moments, np.array(self.t)]

    def load_state(self, arrays: list[np.ndarray]) -> None:
        self.moments, self.t = list(arrays[:-1]), int(arrays[-1])


def cosine_rate(base: float, epoch: int, epochs: int, warmup: int = 0, floor: float = 0.01) -> float:
    """Learning rate of ``epoch`` (1-based): linear warm-up, then cosine decay from ``base`` to ``floor·base``."""
    if epoch <= warmup:
        return base * epoch / (warmup + 1)
    progress = (epoch - 1 - warmup) / max(1, epochs - 1 - warmup)
    return base * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))


Optimiser = SGD | Adam
