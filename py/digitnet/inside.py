"""Looking inside the network for one input: what every layer outputs, what the first
layer's units look for, and why the network gave its answer.

- **Panels.** The layers are grouped the way Nielsen draws a layer of neurons: from a layer
  with weights through what follows it (batch normalisation) to its activation function
  ``a = σ(z)``; a pooling layer (or c2_conv's patch features) is a panel of its own;
  reshapes and dropout (the identity at inference) join the next panel. Each panel shows the activations of its
  last layer: conv feature maps ``(h, w, c)`` as ``c`` grey images, vectors as a strip of cells.
- **Units.** When the first layer with weights reads the pixels directly and each of its units
  sees a square image (a dense layer on the 784 pixels, a convolution on the 28 × 28 × 1 image),
  each unit's incoming weights form a picture of what it looks for (784 → 28 × 28, a 5 × 5 × 1
  kernel → 5 × 5). Their activations on the input (a conv map's mean) let the page sort them.
- **Saliency.** ``∂z_w/∂x``, the gradient of the winner's weighted input ``z_w`` (Nielsen's
  ``zᴸ``, the output layer before its sigmoid or softmax: the class score of Simonyan et al. 2013),
  by backpropagation through the inference pass: how much a little more ink on each input pixel
  raises the network's score for its answer. For a sigmoid output ``∂a_w/∂x = σ′(z_w) ∂z_w/∂x``,
  the same picture scaled; for softmax, ``∂p_w/∂x`` would also count evidence against the other
  digits, and it fades to rounding noise (``p_w(1 − p_w)``) when the network is sure. The page
  also shows ``x ⊙ ∂z_w/∂x`` (input × gradient), which keeps only the pixels actually drawn.

Arrays are float32 and flat, so the worker hands them to JavaScript as typed arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import isqrt
from typing import Any

import numpy as np

from digitnet.backprop import inference_forward, input_gradient, one_hot
from digitnet.layers import ACTIVATIONS, Dropout, Layer, MaxPool, PatchFeatures, Reshape
from digitnet.network import N_PIXELS, Network

#: Layers after which a panel ends: activation functions, pooling, and the patch features of Rust-NN's c2_conv.
PANEL_ENDS = frozenset({*ACTIVATIONS, MaxPool.kind, PatchFeatures.kind})
#: Layers that change nothing at inference (a relabelling of the same numbers, dropout): not named.
SILENT = frozenset({Reshape.kind, Dropout.kind})


@dataclass(frozen=True)
class Panel:
    """Layers ``first … last`` (indices into ``network.layers``) shown as one picture of
    ``activations[last + 1]``."""

    first: int
    last: int
    title: str


def panels(network: Network) -> list[Panel]:
    """The network's layers grouped into panels (see the module's docstring)."""
    layers = network.layers
    groups: list[list[int]] = [[]]
    for i, layer in enumerate(layers):
        groups[-1].append(i)
        if layer.kind in PANEL_ENDS and i < len(layers) - 1:
            groups.append([])
    return [
        Panel(group[0], group[-1], " → ".join(label(layers[i]) for i in group if layers[i].kind not in SILENT))
        for group in groups
    ]


def label(layer: Layer) -> str:
    """How a panel's title names ``layer``: its class's ``label`` filled in from its ``config()`` (its ``kind``
    when it has none)."""
    text = (layer.label or layer.kind).format(**layer.config())
    return text + " + batch norm" if layer.folded_batchnorm else text


def panel_of(groups: list[Panel], layer: int) -> int:
    """The index of the panel that holds ``layer``."""
    return next(k for k, p in enumerate(groups) if p.first <= layer <= p.last)


def unit_layer(network: Network) -> int | None:
    """The index of the first layer with weights when it reads the pixels directly (only
    parameter-free layers before it) and each unit's weights form a square image; else None."""
    for i, layer in enumerate(network.layers):
        if layer.weighted:
            size = layer.params()["weight"][0].size
            side = isqrt(size)
            return i if side * side == size and size <= N_PIXELS else None
        if layer.params():
            return None
    return None


def unit_images(network: Network) -> dict[str, Any] | None:
    """What each unit of ``unit_layer`` looks for: its incoming weights ``(units, side²)`` as float32,
    ``side``, and the panel (index into ``panels``) whose activations are these units'. None when
    the network has no such layer."""
    index = unit_layer(network)
    if index is None:
        return None
    weight = network.layers[index].params()["weight"]
    side = isqrt(weight[0].size)
    return {
        "layer": index,
        "panel": panel_of(panels(network), index),
        "units": len(weight),
        "side": side,
        "weights": weight.reshape(len(weight), -1).astype(np.float32).ravel(),
    }


def look_inside(network: Network, x: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    """One input ``x (784,)``: the network's output ``(10,)`` and what the page shows of it.

    The description holds, per panel, ``title``, ``shape`` (per-sample output shape) and
    ``values`` — feature maps ``(h, w, c)`` channel by channel (``(c, h, w)`` flattened, so each map
    is contiguous), vectors as they are; ``unit_activation`` (one per unit of ``unit_images``,
    a conv map's mean) when there are such units; ``winner`` and ``saliency`` ``(784,)``, ``∂z_winner/∂x``.
    """
    x = np.asarray(x, dtype=np.float64).reshape(1, -1)
    activations = inference_forward(network, x)
    output = activations[-1][0]
    winner = int(np.argmax(output))
    score = score_layer(network)
    grad_score = one_hot(np.array([winner]), len(output), np.float64)
    saliency = input_gradient(network, x, grad_score, activations, last=score)
    groups = panels(network)
    shown = []
    for panel in groups:
        a = activations[panel.last + 1][0]
        values = a.transpose(2, 0, 1) if a.ndim == 3 else a
        shown.append({"title": panel.title, "shape": list(a.shape), "values": flat32(values)})
    inside: dict[str, Any] = {"panels": shown, "winner": winner, "saliency": flat32(saliency[0])}
    units = unit_layer(network)
    if units is not None:
        a = activations[groups[panel_of(groups, units)].last + 1][0]
        inside["unit_activation"] = flat32(a.reshape(-1, a.shape[-1]).mean(axis=0) if a.ndim == 3 else a)
    return output, inside


def score_layer(network: Network) -> int:
    """The index of the layer whose output is the class scores ``z`` (the last but one when the
    network ends with an activation function)."""
    return len(network.layers) - (2 if network.output_kind in ACTIVATIONS else 1)


def flat32(values: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype=np.float32).ravel()
