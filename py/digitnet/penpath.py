"""The pen path: what the order and direction of the strokes say, beside the image.

An image keeps where the ink is and throws away how it was written. The pen path keeps that:
the ink resampled to ``points`` points equally spaced along its length (strokes in their drawn
order), each point described by

    s_j = [x_j, y_j, dx_j, dy_j, b_j]

- ``(x_j, y_j)`` — the point, centred on the drawing's box and divided by half its longer side
  (so in [−1, 1], the aspect kept);
- ``(dx_j, dy_j)`` — the unit direction to the next point (0 for the last);
- ``b_j`` — 1 where a new stroke begins, else 0.

A small network of our layers reads the path, ``s (points · 5,)`` → ``q (10,)`` (dense, ReLU,
dense, softmax), and its answer is fused with the image network's as a weighted product of experts,

    p_fused ∝ p_image · q^w,   0 ≤ w ≤ 1,

so either reader can overrule what the other finds unlikely, the path less so the smaller ``w``
(chosen on writers held out by writer: ``training/pen_order.py``). A drawn digit is read so; pictures,
which have no path, and the digits of a number are read by the image alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitnet.layers import Dense, Layer

#: Values per resampled point: x, y, dx, dy and the new-stroke flag.
PER_POINT = 5
#: A probability is at least this in the product: one reader's 0 must not silence the other's certainty.
FLOOR = 1e-12


def pen_path(strokes: list[np.ndarray], points: int) -> np.ndarray:
    """The path ``(points · PER_POINT,)`` float64 of ``strokes``, each ``(k, 2)`` finite points ``(x, y)``."""
    strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]
    out = np.zeros((points, PER_POINT))
    if not strokes:
        return out.ravel()
    every = np.concatenate(strokes)
    low, high = every.min(axis=0), every.max(axis=0)
    centre, half = (low + high) / 2, max(float((high - low).max()), 1e-9) / 2
    pieces = [(s - centre) / half for s in strokes]
    along = [np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(s, axis=0).T))]) for s in pieces]
    ink = np.array([a[-1] for a in along])
    if ink.sum() <= 1e-9:  # dots only: the points themselves, in their order
        out[:, :2] = (every[np.linspace(0, len(every) - 1, points).round().astype(int)] - centre) / half
        return out.ravel()
    starts = np.concatenate([[0.0], np.cumsum(ink)])
    where = np.linspace(0.0, starts[-1], points)
    stroke = np.clip(np.searchsorted(starts, where, side="right") - 1, 0, len(pieces) - 1)
    for k in np.unique(stroke):
        at = stroke == k
        local = np.minimum(where[at] - starts[k], along[k][-1])
        if ink[k] > 0:
            out[at, 0] = np.interp(local, along[k], pieces[k][:, 0])
            out[at, 1] = np.interp(local, along[k], pieces[k][:, 1])
        else:
            out[at, :2] = pieces[k][0]
    step = np.diff(out[:, :2], axis=0)
    norm = np.hypot(step[:, 0], step[:, 1])[:, None]
    out[:-1, 2:4] = np.where(norm > 1e-9, step / np.maximum(norm, 1e-9), 0.0)
    out[1:, 4] = stroke[1:] != stroke[:-1]
    return out.ravel()


def pen_paths(drawings: list[list[np.ndarray]], points: int) -> np.ndarray:
    """``s (n, points · PER_POINT)``: the ``pen_path`` of each drawing (a list of strokes)."""
    return np.array([pen_path(d, points) for d in drawings]).reshape(len(drawings), points * PER_POINT)


@dataclass
class PenPath:
    """``q = layers(s)``: a path ``s (n, points · PER_POINT)`` (``pen_path``) → probabilities ``q (n, 10)``;
    the first layer is dense, the last a softmax (e.g. dense 160 → 128, ReLU, dense 128 → 10, softmax);
    ``weight`` is ``w`` of the fusion."""

    layers: list[Layer]
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not (self.layers and isinstance(self.layers[0], Dense)) or self.layers[0].n_in % PER_POINT:
            raise ValueError(f"a pen path reader starts with a dense layer of a multiple of {PER_POINT} inputs")

    @property
    def points(self) -> int:
        return self.layers[0].n_in // PER_POINT

    def probabilities(self, paths: np.ndarray) -> np.ndarray:
        """``q (n, 10)`` for ``paths (n, points · PER_POINT)``, computed in float64."""
        a = np.asarray(paths, dtype=np.float64)
        with np.errstate(over="ignore"):
            for layer in self.layers:
                a = layer.forward(a)
        return a

    def fused(self, image: np.ndarray, drawings: list[list[np.ndarray]]) -> np.ndarray:
        """The image's probabilities ``(n, 10)`` fused with this reader's for the same ``drawings``."""
        return fuse(image, self.probabilities(pen_paths(drawings, self.points)), self.weight)


def fuse(image: np.ndarray, path: np.ndarray, weight: float = 1.0) -> np.ndarray:
    """``p_fused ∝ p_image · q^w`` row by row, for probabilities ``(n, 10)`` (or one row ``(10,)``)."""
    logs = np.log(np.maximum(image, FLOOR)) + weight * np.log(np.maximum(path, FLOOR))
    product = np.exp(logs - logs.max(axis=-1, keepdims=True))
    return product / product.sum(axis=-1, keepdims=True)
