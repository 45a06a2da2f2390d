"""Fresh fully connected networks with Nielsen's weight initialisations, for CPython training
(``digitnet.training.initialisation``) and for training in the page (``digitnet.book``) alike."""

from __future__ import annotations

import itertools

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


def build_mlp(sizes: list[int], hidden: str, output: str, init: str, cost: str, rng: np.random.Generator) -> Network:
    """A network ``sizes[0] → … → sizes[-1]`` of Dense layers, each followed by an activation.

    Biases are N(0, 1) as in the book; ``hidden`` and ``output`` name the activations.
    """
    layers: list[Layer] = []
    for i, (n_in, n_out) in enumerate(itertools.pairwise(sizes)):
        weight = initial_weight(n_in, n_out, init, rng)
        bias = rng.standard_normal(n_out, dtype=np.float32)
        layers += [Dense(weight, bias), ACTIVATIONS[output if i == len(sizes) - 2 else hidden]()]
    return Network(layers, cost)
