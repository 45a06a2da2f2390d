"""A feed-forward network: a list of layers applied in order, plus what it was trained for."""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from digitnet.digitcheck import DigitCheck, DigitGate
from digitnet.layers import BatchNorm, Layer, Sigmoid, Softmax
from digitnet.penpath import PenPath

N_CLASSES = 10
N_PIXELS = 784


@dataclass
class Network:
    """``layers`` map ``x (n, 784)`` pixels in [0, 1] to ``a (n, 10)`` outputs.

    ``cost`` names the cost the network was trained with ("quadratic",
    "cross-entropy" or "log-likelihood"); ``metadata`` is free-form (recipe,
    accuracy, dataset checksums, ...); ``digit_check``, when fitted, tells the
    number reader whether a candidate image is one whole digit (``digitnet.digitcheck``); ``pen_path``,
    when fitted, reads the order and direction of drawn strokes beside the image (``digitnet.penpath``);
    ``digit_gate``, when fitted, tells whether a drawing is a digit at all (``digitnet.digitcheck``).
    """

    layers: list[Layer]
    cost: str = "cross-entropy"
    metadata: dict[str, Any] = field(default_factory=dict)
    digit_check: DigitCheck | None = None
    pen_path: PenPath | None = None
    digit_gate: DigitGate | None = None

    @property
    def output_kind(self) -> str:
        """ "softmax" when the outputs are probabilities, else the last layer's kind."""
        return self.layers[-1].kind

    def feedforward(self, x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """Outputs ``a (n, 10)`` for inputs ``x (n, 784)``; a single image ``(784,)`` gives ``(10,)``.

        Computed in float64 whatever the weights' dtype, so that NumPy with
        OpenBLAS (CPython) and NumPy's own loops (Pyodide) agree to ~1e-15
        despite summing in different orders. ``dtype=np.float32`` with float32
        weights (``folded(np.float32)``) halves the time where that agreement does
        not matter: watching a training run.
        """
        x = np.asarray(x, dtype=dtype)
        single = x.ndim == 1
        a = x[None, :] if single else x
        with np.errstate(over="ignore"):
            for layer in self.layers:
                a = layer.forward(a)
        return a[0] if single else a

    def head_start(self) -> int:
        """Index of the last layer with a ``weight``: its input is the network's features, what the
        layers before it make of the image (adapting retrains it and what follows)."""
        return max(i for i, layer in enumerate(self.layers) if layer.weighted)

    def features_and_outputs(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The features (the input of layer ``head_start``, one row per image) and the outputs ``(n, 10)`` of
        ``x (n, 784)``, in one float64 pass (as ``feedforward``)."""
        a = np.asarray(x, dtype=np.float64)
        start, features = self.head_start(), a
        with np.errstate(over="ignore"):
            for i, layer in enumerate(self.layers):
                if i == start:
                    features = a
                a = layer.forward(a)
        return features.reshape(len(features), int(np.prod(features.shape[1:]))), a  # (0, d) for no image

    def predict(self, x: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """The digit with the largest output, for each row of ``x (n, 784)``: shape ``(n,)``."""
        return np.argmax(self.feedforward(x, dtype), axis=-1)

    def accuracy(self, images: np.ndarray, labels: np.ndarray, batch: int = 250, dtype: type = np.float64) -> int:
        """How many of ``images (n, 784)`` are classified as ``labels (n,)`` (computed in ``dtype``)."""
        correct = 0
        for start in range(0, len(images), batch):
            stop = start + batch
            correct += int(np.sum(self.predict(images[start:stop], dtype) == labels[start:stop]))
        return correct

    def parameter_count(self) -> int:
        return sum(p.size for layer in self.layers for p in layer.params().values())

    def folded(self, dtype: type = np.float64) -> Network:
        """The same function with each batch normalisation merged into the layer before it
        (``y = (x·Wᵀ + b)·s + t`` is one dense or convolution layer): one pass less per
        inference. Batch norms that follow no such layer stay. Parameters are ``dtype``."""
        layers: list[Layer] = []
        for layer in self.layers:
            if isinstance(layer, BatchNorm) and layers:
                scale, shift = (v.astype(np.float64) for v in layer.scale_shift())
                merged = layers[-1].absorb(scale, shift)
                if merged is not None:
                    merged.folded_batchnorm = True
                    layers[-1] = merged
                    continue
            layers.append(layer)
        layers = [copy.copy(layer) for layer in layers]  # copies in dtype: self keeps its own parameters
        for layer in layers:
            for key, value in layer.params().items():
                setattr(layer, key, value.astype(dtype))
        return dataclasses.replace(self, layers=layers)


def probabilities(output: np.ndarray, output_kind: str) -> np.ndarray:
    """Outputs as a distribution over the 10 digits, ``(..., 10)``.

    Softmax outputs already are one; sigmoid outputs are independent in (0, 1)
    and are divided by their sum.
    """
    if output_kind == Softmax.kind:
        return output
    return output / output.sum(axis=-1, keepdims=True)


def confidence(output: np.ndarray, output_kind: str) -> np.ndarray:
    """How sure the network is of its answer, in [0, 1], for outputs ``(..., 10)``.

    Softmax nets: the winner's probability. Sigmoid nets: the original
    project's figure, the winner's output minus the mean of the other nine.
    """
    winner = output.max(axis=-1)
    if output_kind == Sigmoid.kind:
        others = (output.sum(axis=-1) - winner) / (N_CLASSES - 1)
        return winner - others
    return probabilities(output, output_kind).max(axis=-1)
