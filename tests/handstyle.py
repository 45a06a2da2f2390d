"""One person's handwriting, as pen strokes: a consistent style unlike MNIST's, for adaptation tests.

Slashed 0s, flagged 1s (a long up-stroke), Z-shaped crossed 2s, flat-topped 3s,
open 4s, 6s with a straight stem, 5s with a detached top bar, crossed 7s, 8s of
two offset loops and 9s with a curled tail. Each digit is a template of polylines
in the unit square (y down), drawn with a random slant, size, place and a smooth
wobble, like a person writing the same way every time.
"""

from __future__ import annotations

import itertools

import numpy as np


def arc(cx: float, cy: float, rx: float, ry: float, start: float, end: float, n: int = 24) -> list[tuple[float, float]]:
    """Points of an ellipse arc, angles in degrees, 0 = right, 90 = down (y grows downward)."""
    t = np.deg2rad(np.linspace(start, end, n))
    return [(cx + rx * np.cos(a), cy + ry * np.sin(a)) for a in t]


TEMPLATES: dict[int, list[list[tuple[float, float]]]] = {
    0: [arc(0.5, 0.5, 0.3, 0.45, -90, 275, 40), [(0.78, 0.12), (0.22, 0.88)]],
    1: [[(0.0, 0.38), (0.7, 0.0), (0.66, 0.98)]],
    2: [[(0.1, 0.08), (0.9, 0.05), (0.12, 0.95), (0.92, 0.92)], [(0.3, 0.5), (0.75, 0.5)]],
    3: [[(0.15, 0.05), (0.85, 0.05), (0.45, 0.42), *arc(0.48, 0.7, 0.33, 0.27, 270, 500, 20)]],
    4: [[(0.2, 0.0), (0.12, 0.55), (0.95, 0.5)], [(0.75, 0.1), (0.5, 0.98)]],
    5: [[(0.28, 0.08), (0.22, 0.45), *arc(0.5, 0.68, 0.3, 0.27, 230, 480, 20)], [(0.35, 0.05), (0.95, 0.02)]],
    6: [[(0.22, 0.0), (0.2, 0.72), *arc(0.5, 0.72, 0.3, 0.26, 180, 540, 36)]],
    7: [[(0.12, 0.06), (0.88, 0.06), (0.4, 0.98)], [(0.3, 0.52), (0.85, 0.52)]],
    8: [arc(0.6, 0.25, 0.2, 0.22, 0, 360, 26), arc(0.4, 0.74, 0.3, 0.25, 0, 360, 26)],
    9: [[*arc(0.5, 0.3, 0.3, 0.25, 0, 360, 28), (0.8, 0.3), (0.8, 0.72), *arc(0.5, 0.72, 0.3, 0.26, 0, 230, 16)]],
}


def smooth_noise(rng: np.random.Generator, n: int, scale: float) -> np.ndarray:
    """``(n, 2)`` slowly varying offsets: a few random sines along the stroke."""
    t = np.linspace(0, 1, n)[:, None]
    freq = rng.uniform(0.5, 2.0, (1, 2))
    phase = rng.uniform(0, 2 * np.pi, (1, 2))
    return scale * np.sin(2 * np.pi * freq * t + phase)


def densify(points: np.ndarray, spacing: float) -> np.ndarray:
    """``points (k, 2)`` with extra points on each segment, about ``spacing`` apart (a pointer's samples)."""
    out = [points[:1]]
    for a, b in itertools.pairwise(points):
        steps = max(1, int(np.ceil(np.linalg.norm(b - a) / spacing)))
        out.append(a + (b - a) * (np.arange(1, steps + 1)[:, None] / steps))
    return np.concatenate(out)


def styled_digit(digit: int, rng: np.random.Generator, size: float = 280.0) -> list[np.ndarray]:
    """Strokes ``(k, 2)`` in CSS pixels of a ``size`` square pad: ``digit`` in this person's style."""
    height = rng.uniform(0.45, 0.7) * size
    width = height * rng.uniform(0.55, 0.7)
    slant = rng.uniform(0.05, 0.2)  # a right-leaning hand
    left = rng.uniform(0.1 * size, size - width - 0.1 * size)
    top = rng.uniform(0.08 * size, size - height - 0.08 * size)
    strokes = []
    for template in TEMPLATES[digit]:
        unit = np.array(template, dtype=np.float64)
        unit = unit + smooth_noise(rng, len(unit), 0.025)
        x = left + width * (unit[:, 0] + slant * (1 - unit[:, 1]))
        y = top + height * unit[:, 1]
        strokes.append(densify(np.stack([x, y], axis=1), spacing=14.0))
    return strokes


def styled_set(n: int, seed: int, size: float = 280.0) -> tuple[list[list[np.ndarray]], list[int]]:
    """``n`` styled digits (each digit ``n/10`` times, shuffled) and their labels."""
    rng = np.random.default_rng(seed)
    labels = [int(d) for d in rng.permutation(np.arange(n) % 10)]
    return [styled_digit(d, rng, size) for d in labels], labels
