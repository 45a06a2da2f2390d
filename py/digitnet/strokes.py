"""Render pen strokes straight into an MNIST-style 28×28 image.

A drawing made of strokes is rendered at the digit's final scale: its points are
fitted into the 20×20 box and drawn with a pen as wide as MNIST's strokes,
whatever the size of the drawing and the width of the pen on screen. So a digit
drawn small with a thick pen and one drawn large with a thin pen reach the
network alike. The rendered box is then placed by its centre of mass, as in
``digitnet.preprocess``.
"""

from __future__ import annotations

import numpy as np

from digitnet.errors import InputError
from digitnet.preprocess import BOX, MIN_EXTENT, NoDigitError, place_by_centre_of_mass

#: Pen width in pixels of the 28×28 image, about that of MNIST's digits.
PEN = 2.4
#: Far more than a hand draws (a fast pointer sends ~100 points a second), and few enough that
#: rendering stays within a few MB and milliseconds: more is refused.
MAX_POINTS = 100_000
#: Canvas coordinates beyond this are not a drawing (and their differences would overflow).
MAX_COORDINATE = 1e9
#: Segments measured at a time: bounds ``segment_distance``'s memory to ~(22·22) × 1000 × 2 floats.
SEGMENTS_AT_A_TIME = 1000


def normalise_strokes(strokes: list[np.ndarray], canvas_size: float, pen: float = PEN) -> np.ndarray:
    """The 784 network inputs for ``strokes``, each ``(k, 2)`` points ``(x, y)`` on a canvas.

    ``canvas_size`` is the canvas's larger side, in the points' units: a drawing
    much smaller than it is a stray mark, not a digit (``NoDigitError``).
    """
    if not (np.isfinite(canvas_size) and canvas_size > 0):
        raise InputError(f"the canvas size must be a positive number, got {canvas_size}")
    strokes = checked_strokes(strokes)
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    extent = float((high - low).max())
    if extent < MIN_EXTENT * canvas_size or extent == 0:
        raise NoDigitError("the drawing is too small to be a digit")
    scale = (BOX - pen) / extent
    width, height = np.ceil((high - low) * scale + pen).astype(int)
    fitted = [simplify((s - low) * scale + pen / 2) for s in strokes]
    return place_by_centre_of_mass(render(fitted, height, width, pen)).reshape(-1)


def checked_strokes(strokes: list[np.ndarray]) -> list[np.ndarray]:
    """``strokes`` as float64 ``(k, 2)`` arrays, refusing empty, misshapen, non-finite, far-off or
    too many points."""
    checked = [np.asarray(s, dtype=np.float64) for s in strokes]
    checked = [s for s in checked if s.size]
    if not checked:
        raise NoDigitError("the drawing is empty")
    for s in checked:
        if s.ndim != 2 or s.shape[1] != 2:
            raise InputError(f"a stroke must be a (k, 2) array of points, got shape {s.shape}")
        if not np.all(np.isfinite(s)):
            raise InputError("a stroke holds NaN or infinite coordinates")
        if np.abs(s).max() > MAX_COORDINATE:
            raise InputError(f"a stroke has coordinates beyond ±{MAX_COORDINATE:g}, far off any canvas")
    if sum(len(s) for s in checked) > MAX_POINTS:
        raise InputError(f"the drawing has more than {MAX_POINTS:,} points")
    return checked


def simplify(stroke: np.ndarray, spacing: float = 0.5) -> np.ndarray:
    """``stroke (k, 2)`` keeping its ends and about one point per ``spacing`` of arc length.

    At the 28×28 scale, points closer than half a pixel change nothing visible
    but cost time: a fast pointer sends hundreds of them.
    """
    if len(stroke) <= 2:
        return stroke
    arc = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(stroke, axis=0), axis=1))])
    bucket = np.floor(arc / spacing)
    keep = np.concatenate([[True], bucket[1:] != bucket[:-1]])
    keep[-1] = True
    return stroke[keep]


def render(strokes: list[np.ndarray], height: int, width: int, pen: float) -> np.ndarray:
    """Anti-aliased ink ``(height, width)`` of round-capped polylines of width ``pen``.

    Each pixel's ink is ``clip(pen/2 − d + ½, 0, 1)``, ``d`` being the distance
    from the pixel's centre to the nearest segment: 1 inside the stroke, a
    one-pixel ramp at its edge.
    """
    starts = np.concatenate([s[:-1] if len(s) > 1 else s for s in strokes])
    ends = np.concatenate([s[1:] if len(s) > 1 else s for s in strokes])
    rows, cols = np.mgrid[0:height, 0:width]
    centres = np.stack([cols.ravel() + 0.5, rows.ravel() + 0.5], axis=1)
    distance = segment_distance(centres, starts, ends)
    ink = np.clip(pen / 2 - distance + 0.5, 0.0, 1.0)
    return ink.reshape(height, width)


def segment_distance(points: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Distance from each of ``points (n, 2)`` to the nearest segment ``starts[i] → ends[i]`` (s, 2): ``(n,)``.

    The nearest point of segment i is ``starts[i] + t · direction[i]``, with
    t = clip(offset · direction / |direction|², 0, 1). Computed on x and y apart, as ``(n, s)``
    arrays: several times faster than ``(n, s, 2)`` ones, with the very same values; and over
    ``SEGMENTS_AT_A_TIME`` segments at a time, so memory does not grow with the drawing.
    """
    if len(starts) > SEGMENTS_AT_A_TIME:
        return np.min(
            [
                segment_distance(points, starts[i : i + SEGMENTS_AT_A_TIME], ends[i : i + SEGMENTS_AT_A_TIME])
                for i in range(0, len(starts), SEGMENTS_AT_A_TIME)
            ],
            axis=0,
        )
    px, py = points[:, :1], points[:, 1:]
    sx, sy = starts[:, 0], starts[:, 1]
    dx, dy = ends[:, 0] - sx, ends[:, 1] - sy
    length2 = np.maximum(dx**2 + dy**2, 1e-12)
    t = np.clip(((px - sx) * dx + (py - sy) * dy) / length2, 0.0, 1.0)
    return np.sqrt(np.min((px - (sx + t * dx)) ** 2 + (py - (sy + t * dy)) ** 2, axis=1))
