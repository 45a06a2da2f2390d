"""Building a fresh network: layer specs (``build_network``); the fully connected networks of Nielsen's book
(``build_mlp``, ``initial_weight``) live in ``digitnet.initialise``, shared with the page."""

from __future__ import annotations

import numpy as np

from digitnet.initialise import INITIALISATIONS, build_mlp, initial_weight
from digitnet.layers import ACTIVATIONS, BatchNorm, Conv2D, Dense, Dropout, Layer, MaxPool, PatchFeatures, Reshape
from digitnet.network import Network

__all__ = ["INITIALISATIONS", "RUST_NN_KERNELS", "build_mlp", "build_network", "initial_weight"]

#: The original Rust-NN's six hand-written 4×4 kernels: vertical line, horizontal line, the two
#: diagonals, two ring shapes.
RUST_NN_KERNELS = np.array(
    [
        [[-1, 1, 1, -1]] * 4,
        [[-1, -1, -1, -1], [1, 1, 1, 1], [1, 1, 1, 1], [-1, -1, -1, -1]],
        [[-1, 0, 0.5, 1], [0, 0.5, 1, 0.5], [0.5, 1, 0.5, 0], [1, 0.5, 0, -1]],
        [[1, 0.5, 0, -1], [0.5, 1, 0.5, 0], [0, 0.5, 1, 0.5], [-1, 0, 0.5, 1]],
        [[-1, 1, 1, -1], [1, -1, -1, 1], [1, -1, -1, 1], [-1, 1, 1, -1]],
        [[0.5, 1, 1, 0.5], [1, 0.5, 0.5, 1], [1, 0.5, 0.5, 1], [0.5, 1, 1, 0.5]],
    ],
    dtype=np.float32,
)


def build_network(architecture: tuple[tuple, ...], cost: str, init: str, rng: np.random.Generator) -> Network:
    """A network from layer specs: ``("reshape", *shape)``, ``("conv", filters, size, padding)``,
    ``("maxpool", size)``, ``("dense", n_out)``, ``("batchnorm",)``, ``("dropout", rate)``,
    ``("patch-features", learned)`` and activations by name.

    ``init`` "he": weights N(0, 2/fan_in) (the last layer's N(0, 1/fan_in)), biases 0;
    "default" or "large": Nielsen's, with N(0, 1) biases.
    """
    shape: tuple[int, ...] = (784,)
    layers: list[Layer] = []
    last = max(i for i, spec in enumerate(architecture) if spec[0] in ("conv", "dense"))

    def bias(n: int) -> np.ndarray:
        return np.zeros(n, np.float32) if init == "he" else rng.standard_normal(n, dtype=np.float32)

    for i, (kind, *args) in enumerate(architecture):
        weight_init = "default" if i == last and init == "he" else init
        if kind == "reshape":
            layer = Reshape(tuple(args))
        elif kind == "patch-features":
            layer = PatchFeatures(RUST_NN_KERNELS.copy(), learned=args[0])
        elif kind == "conv":
            filters, size, padding = args
            fan_in = shape[2] * size * size
            weight = initial_weight(fan_in, filters, weight_init, rng).reshape(filters, shape[2], size, size)
            layer = Conv2D(weight, bias(filters), 1, padding)
        elif kind == "maxpool":
            layer = MaxPool(args[0])
        elif kind == "dense":
            layer = Dense(initial_weight(shape[0], args[0], weight_init, rng), bias(args[0]))
        elif kind == "batchnorm":  # starts as the identity: γ = 1, β = 0, μ = 0, σ² = 1
            f = shape[-1]
            ones, zeros = np.ones(f, np.float32), np.zeros(f, np.float32)
            layer = BatchNorm(ones, zeros.copy(), zeros.copy(), ones.copy())
        elif kind == "dropout":
            layer = Dropout(args[0])
        else:
            layer = ACTIVATIONS[kind]()
        shape = layer.output_shape(shape)
        layers.append(layer)
    return Network(layers, cost)
