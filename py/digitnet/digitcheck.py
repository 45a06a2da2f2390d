"""The digit check: how likely a candidate image of a number is one whole digit; and the digit gate:
how likely a drawing is a digit at all.

Reading a number, the recogniser chooses between groupings of the strokes. Its confidence
alone is a poor judge of them: a network trained on single digits reads two neighbours
squeezed into one image, or one stroke of a 4, confidently as some digit. The digit check is
a small network of our layers trained for that question on candidates of numbers made of MNIST
training digits (``training/digit_check.py``):

    q = layers(f),   f = [h, log p, g]   (the last layer a sigmoid)

- ``h`` — the network's features: the input of its last layer with weights (``Network.head_start``),
  ``(n_hidden,)``;
- ``log p`` — the log of its 10 output probabilities (at least ``LOG_FLOOR``);
- ``g`` — the candidate's geometry (``span_geometry``): its aspect, its height against the digits',
  the widest gap its parts bridge and how many sure groups it joins.

``f`` has ``n_hidden + 10 + GEOMETRY`` values (the first layer's inputs); ``q`` is the probability
that the candidate is exactly the strokes of one digit (not part of one, not parts of two).

The digit gate (``DigitGate``) is a network of the same shape on ``f = [h, log p]`` (``gate_features``)
alone, trained on digits against generated drawings that are no digit (letters, scribbles, spirals,
lines, hatching, shapes: ``training/digit_gate.py``): ``g`` is the probability that the drawing is a
digit, and below the gate's ``threshold`` the page answers "not a digit".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitnet.layers import Dense, Layer

#: Features of a candidate's geometry (``span_geometry``).
GEOMETRY = 4
#: ``log p`` is at least this: a probability of 0 would make a feature of −∞.
LOG_FLOOR = float(np.log(1e-6))
#: Ratios are clamped to [1 / RATIO_RANGE, RATIO_RANGE] before their log, a bridged gap to RATIO_RANGE
#: heights: a stroke that is a perfectly vertical line has a width of 0.
RATIO_RANGE = 20.0


def span_geometry(box: tuple[float, float, float, float], height: float, bridge: float, joined: int) -> np.ndarray:
    """``g`` for a candidate with box ``(x, y, w, h)`` among digits of ``height``, whose parts leave gaps of at
    most ``bridge`` between them, made of ``joined`` sure groups:
    ``[log(w / h), log(h / height), bridge / height, joined]``, ratios clamped (``RATIO_RANGE``)."""
    _, _, w, h = box
    low, high = 1 / RATIO_RANGE, RATIO_RANGE
    aspect = np.clip(w / max(h, 1e-9), low, high)
    share = np.clip(h / max(height, 1e-9), low, high)
    return np.array([np.log(aspect), np.log(share), min(bridge / max(height, 1e-9), high), joined], dtype=np.float64)


def gate_features(hidden: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """``f (n, n_hidden + 10)`` from ``hidden (n, n_hidden)`` and ``probabilities (n, 10)``: ``[h, log p]``."""
    logs = np.log(np.maximum(probabilities, np.exp(LOG_FLOOR)))
    flat = hidden.reshape(len(hidden), int(np.prod(hidden.shape[1:])))  # (0, d) for no candidate
    return np.concatenate([flat, logs], axis=1).astype(np.float64)


def check_features(hidden: np.ndarray, probabilities: np.ndarray, shapes: np.ndarray) -> np.ndarray:
    """``f (n, n_hidden + 10 + GEOMETRY)`` from ``hidden (n, n_hidden)``, ``probabilities (n, 10)`` and
    the candidates' ``span_geometry`` rows ``shapes (n, GEOMETRY)``."""
    return np.concatenate([gate_features(hidden, probabilities), shapes], axis=1)


@dataclass
class DigitCheck:
    """``q = layers(f)``: ``f (n, n_features)`` from ``check_features`` → ``q (n,)``; the first layer is
    dense, the last a sigmoid of one output (e.g. dense 270 → 16, ReLU, dense 16 → 1, sigmoid)."""

    layers: list[Layer]

    def __post_init__(self) -> None:
        if not (self.layers and isinstance(self.layers[0], Dense)):
            raise ValueError("a digit check starts with a dense layer")

    @property
    def n_features(self) -> int:
        return self.layers[0].n_in

    def probability(self, features: np.ndarray) -> np.ndarray:
        """``q (n,)`` for ``features (n, n_features)``, computed in float64."""
        a = np.asarray(features, dtype=np.float64)
        with np.errstate(over="ignore"):  # σ of a large negative input: e^(−z) overflows to inf, σ = 0
            for layer in self.layers:
                a = layer.forward(a)
        return a.reshape(len(a))


@dataclass
class DigitGate(DigitCheck):
    """``g = layers([h, log p])`` (``gate_features``) → ``g (n,)``, the probability that a drawing is a digit
    at all; the page answers "not a digit" where ``g < threshold``."""

    threshold: float = 0.5

    def digit_like(self, hidden: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """``g (n,)`` for the network's features ``hidden (n, n_hidden)`` and probabilities ``(n, 10)``; a NaN
        (only from absurd weights) counts as no digit."""
        return np.nan_to_num(self.probability(gate_features(hidden, probabilities)), nan=0.0)
