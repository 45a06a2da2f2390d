"""Building a fresh network: layer specs (``build_network``); the fully connected networks of Nielsen's book
(``build_mlp``, ``initial_weight``) live in ``digitnet.initialise``, shared with the page."""

from __future__ import annotations

import numpy as np

from digitnet.initialise import INITIALISATIONS, Initialisation, build_mlp, initial_weight
from digitnet.layers import LAYERS, RUST_NN_KERNELS, Layer
from digitnet.network import N_PIXELS, Network

__all__ = ["INITIALISATIONS", "RUST_NN_KERNELS", "build_mlp", "build_network", "initial_weight"]


def build_network(architecture: tuple[tuple, ...], cost: str, init: str, rng: np.random.Generator) -> Network:
    """A network from layer specs ``(kind, *args)``, each made by the ``initial`` of the layer of that kind
    (``digitnet.layers.LAYERS``): ``("reshape", *shape)``, ``("conv2d", filters, size, padding)``,
    ``("maxpool", size)``, ``("dense", n_out)``, ``("batchnorm",)``, ``("dropout", rate)``,
    ``("patch-features", learned)`` and the activations ``("relu",)``, ``("sigmoid",)``, ``("softmax",)``.

    ``init`` "he": weights N(0, 2/fan_in) (the last layer's N(0, 1/fan_in)), biases 0;
    "default" or "large": Nielsen's, with N(0, 1) biases.
    """
    unknown = [kind for kind, *_ in architecture if kind not in LAYERS]
    if unknown:
        raise ValueError(f"unknown layer kind {unknown[0]!r} in the architecture (known: {', '.join(LAYERS)})")
    last = max(i for i, (kind, *_) in enumerate(architecture) if LAYERS[kind].weighted)
    shape: tuple[int, ...] = (N_PIXELS,)
    layers: list[Layer] = []
    for i, (kind, *args) in enumerate(architecture):
        weight_init = "default" if i == last and init == "he" else init
        layer = LAYERS[kind].initial(shape, tuple(args), Initialisation(weight_init, rng, zero_bias=init == "he"))
        shape = layer.output_shape(shape)
        layers.append(layer)
    return Network(layers, cost)
