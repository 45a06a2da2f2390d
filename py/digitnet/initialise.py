"""Fresh networks with Nielsen's weight initialisations, for CPython training (``digitnet.training.initialisation``)
and for training in the page (``digitnet.book``) alike: the draws a layer's ``initial`` takes its tensors from, and
the book's fully connected networks."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

from digitnet.layers import ACTIVATIONS, Dense, Layer
from digitnet.network import Network

INITIALISATIONS = ("large", "default", "he")


def initial_weight(n_in: int, n_out: int, init: str, rng: np.random.Generator) -> np.ndarray:
    """``W (n_out, n_in)``: "large" draws N(0, 1) (ch. 1); "default" N(0, 1/n_in) (ch. 3);
    "he" N(0, 2/n_in), for layers followed by ReLU (He et al. 2015)."""
    if init not in INITIALISATIONS:
        raise ValueError(f"unknown initialisation {init!r} (known: {', '.join(INITIALISATIONS)})")
    weight = rng.standard_normal((n_out, n_in), dtype=np.float32)
    if init != "large":
        weight *= np.float32(np.sqrt((2.0 if init == "he" else 1.0) / n_in))
    return weight


@dataclass(frozen=True)
class Initialisation:
    """The tensors of fresh layers (``Layer.initial``), drawn from ``rng``: weights by ``initial_weight`` under
    ``init``, biases N(0, 1) as in the book or, with ``zero_bias``, zeros."""

    init: str
    rng: np.random.Generator
    zero_bias: bool = False

    def weight(self, n_in: int, n_out: int) -> np.ndarray:
        return initial_weight(n_in, n_out, self.init, self.rng)

    def bias(self, n: int) -> np.ndarray:
        return np.zeros(n, np.float32) if self.zero_bias else self.rng.standard_normal(n, dtype=np.float32)


def build_mlp(sizes: list[int], hidden: str, output: str, init: str, cost: str, rng: np.random.Generator) -> Network:
    """A network ``sizes[0] → … → sizes[-1]`` of Dense layers, each followed by an activation.

    Biases are N(0, 1) as in the book; ``hidden`` and ``output`` name the activations.
    """
    draws = Initialisation(init, rng)
    layers: list[Layer] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        layers += [Dense.initial((n_in,), (n_out,), draws), ACTIVATIONS[output if i == len(sizes) - 2 else hidden]()]
    return Network(layers, cost)
