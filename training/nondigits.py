"""Drawings that are no digit, generated as pen strokes on a 280 × 280 canvas: letters of Hershey's
stroke fonts, scribbles, spirals, lines, hatching and shapes. They are the digit gate's negatives
(``digitnet.digitcheck.DigitGate``, fitted by ``training/digit_gate.py``).

What could be a digit is left out: letters such as O, I, l, S, Z, B, G, g, q, b (``LETTERS`` holds the
others), circles and ellipses (a 0), lines within 45° of upright (a 1). The letters of ``TRAIN_FONTS``
train the gate, those of ``HELD_OUT_FONTS`` only measure it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from digitnet.errors import DigitnetError

CANVAS = 280.0
KINDS = ("letter", "scribble", "spiral", "line", "hatching", "shape")
#: Letters no one would take for a digit (both cases).
LETTERS = "ACEFHKMNPRUVWXacefhkmnpruvwx"
TRAIN_FONTS = ("futural", "scripts", "greek")
HELD_OUT_FONTS = ("rowmans", "cursive")
SHAPES = (
    "triangle",
    "square",
    "pentagon",
    "star",
    "cross",
    "plus",
    "heart",
    "arrow",
    "tick",
    "zigzag",
    "wave",
    "house",
)

Strokes = list[np.ndarray]


class NonDigitsError(DigitnetError, RuntimeError):
    """The non-digit drawings cannot be made; the message is one sentence."""


def _fonts() -> object:
    try:
        from HersheyFonts import HersheyFonts
    except ImportError:
        raise NonDigitsError("the letters need the Hershey-Fonts package: pip install 'digitnet[train]'") from None
    return HersheyFonts()


_GLYPHS: dict[tuple[str, str], Strokes] = {}


def glyph(font: str, letter: str) -> Strokes:
    """The strokes of ``letter`` in Hershey ``font``, y downwards, about 100 units high."""
    key = (font, letter)
    if key not in _GLYPHS:
        fonts = _fonts()
        fonts.load_default_font(font)
        fonts.normalize_rendering(100)
        _GLYPHS[key] = [np.array(s, dtype=np.float64) * [1, -1] for s in fonts.strokes_for_text(letter)]
    return [s.copy() for s in _GLYPHS[key]]


def densified(stroke: np.ndarray, step: float = 4.0) -> np.ndarray:
    """``stroke`` with points every ``step`` units or closer along each segment (so jitter bends it)."""
    if len(stroke) < 2:
        return stroke
    out = [stroke[:1]]
    for a, b in itertools.pairwise(stroke):
        n = max(1, int(np.ceil(np.linalg.norm(b - a) / step)))
        out.append(a + (b - a) * (np.arange(1, n + 1) / n)[:, None])
    return np.concatenate(out)


def placed(strokes: Strokes, rng: np.random.Generator, rotate: float = 20.0, jitter: float = 1.5) -> Strokes:
    """``strokes`` randomly rotated, sheared, stretched and jittered, then fitted into the canvas at a random
    size (40–85 % of it) and place."""
    angle = np.radians(rng.uniform(-rotate, rotate))
    c, s = np.cos(angle), np.sin(angle)
    shear = rng.uniform(-0.3, 0.3)
    stretch = np.exp(rng.uniform(-0.3, 0.3))
    matrix = np.array([[c, -s], [s, c]]) @ np.array([[stretch, shear], [0, 1 / stretch]])
    moved = []
    for stroke in strokes:
        points = densified(stroke) @ matrix.T
        wobble = np.cumsum(rng.normal(0, jitter * 0.3, points.shape), axis=0)  # a hand's slow drift
        moved.append(points + wobble - wobble.mean(axis=0) + rng.normal(0, jitter * 0.2, points.shape))
    every = np.concatenate(moved)
    low, high = every.min(axis=0), every.max(axis=0)
    size = CANVAS * rng.uniform(0.4, 0.85)
    scale = size / max(float(np.max(high - low)), 1e-9)
    offset = rng.uniform(0, CANVAS - scale * (high - low))
    return [(p - low) * scale + offset for p in moved]


def letter(rng: np.random.Generator, fonts: tuple[str, ...]) -> Strokes:
    return placed(glyph(str(rng.choice(fonts)), str(rng.choice(list(LETTERS)))), rng)


def scribble(rng: np.random.Generator) -> Strokes:
    strokes = []
    for _ in range(int(rng.integers(1, 3))):
        n = int(rng.integers(40, 120))
        heading = np.cumsum(rng.normal(0, 0.7, n)) + rng.uniform(0, 2 * np.pi)
        steps = rng.uniform(4, 10) * np.stack([np.cos(heading), np.sin(heading)], axis=1)
        strokes.append(np.cumsum(steps, axis=0) + rng.uniform(-40, 40, 2))
    return placed(strokes, rng, rotate=0, jitter=0.5)


def spiral(rng: np.random.Generator) -> Strokes:
    turns = rng.uniform(1.8, 4.0)
    theta = np.linspace(0, 2 * np.pi * turns, int(60 * turns)) * rng.choice([-1, 1])
    radius = np.linspace(rng.uniform(2, 10), 100, len(theta))
    points = np.stack([radius * np.cos(theta), radius * np.sin(theta) * rng.uniform(0.6, 1.0)], axis=1)
    return placed([points[:: int(rng.choice([1, -1]))]], rng, rotate=180)


def line(rng: np.random.Generator) -> Strokes:
    angle = np.radians(rng.uniform(-45, 45))
    end = 100 * np.array([np.cos(angle), np.sin(angle)])
    strokes = [np.stack([-end, end])[:: int(rng.choice([1, -1]))]]
    return placed(strokes, rng, rotate=0)


def hatching(rng: np.random.Generator) -> Strokes:
    def parallel(angle: float, n: int) -> Strokes:
        along = np.array([np.cos(angle), np.sin(angle)])
        across = np.array([-along[1], along[0]])
        spacing = 200 / n
        return [
            np.stack([(i - n / 2) * spacing * across - 90 * along, (i - n / 2) * spacing * across + 90 * along])
            for i in range(n)
        ]

    angle = rng.uniform(0, np.pi)
    strokes = parallel(angle, int(rng.integers(3, 8)))
    if rng.random() < 0.5:  # cross-hatching
        strokes += parallel(angle + rng.uniform(np.pi / 4, 3 * np.pi / 4), int(rng.integers(3, 8)))
    return placed(strokes, rng, rotate=0)


def _polygon(corners: int, radius: float = 100.0, inner: float | None = None) -> np.ndarray:
    count = corners * (2 if inner else 1)
    theta = -np.pi / 2 + np.arange(count + 1) * 2 * np.pi / count
    r = np.where(np.arange(count + 1) % 2, inner or radius, radius) if inner else np.full(count + 1, radius)
    return np.stack([r * np.cos(theta), r * np.sin(theta)], axis=1)


def shape(rng: np.random.Generator) -> Strokes:
    kind = str(rng.choice(SHAPES))
    t = np.linspace(0, 1, 60)
    make: dict[str, Callable[[], Strokes]] = {
        "triangle": lambda: [_polygon(3)],
        "square": lambda: [_polygon(4)],
        "pentagon": lambda: [_polygon(5)],
        "star": lambda: [_polygon(5, 100, rng.uniform(30, 50))],
        "cross": lambda: [np.array([[-100, -100], [100, 100]]), np.array([[100, -100], [-100, 100]])],
        "plus": lambda: [np.array([[-100, 0], [100, 0]]), np.array([[0, -100], [0, 100]])],
        "heart": lambda: [
            np.stack(
                [
                    16 * np.sin(2 * np.pi * t) ** 3,
                    -(13 * np.cos(2 * np.pi * t) - 5 * np.cos(4 * np.pi * t) - 2 * np.cos(6 * np.pi * t)),
                ],
                axis=1,
            )
        ],
        "arrow": lambda: [np.array([[-100, 0], [100, 0]]), np.array([[50, -50], [100, 0], [50, 50]])],
        "tick": lambda: [np.array([[-100, 0], [-30, 70], [100, -100]])],
        "zigzag": lambda: [np.stack([np.linspace(-100, 100, 7), 40 * (np.arange(7) % 2 * 2 - 1)], axis=1)],
        "wave": lambda: [np.stack([200 * t - 100, 40 * np.sin(2 * np.pi * rng.uniform(1.5, 3) * t)], axis=1)],
        "house": lambda: [np.array([[-80, 100], [-80, 0], [0, -90], [80, 0], [80, 100], [-80, 100], [80, 0]])],
    }
    return placed(make[kind](), rng)


def non_digit(rng: np.random.Generator, kind: str, fonts: tuple[str, ...] = TRAIN_FONTS) -> Strokes:
    """One drawing of ``kind`` (one of ``KINDS``): strokes ``(k, 2)`` on the canvas."""
    if kind == "letter":
        return letter(rng, fonts)
    makers = {"scribble": scribble, "spiral": spiral, "line": line, "hatching": hatching, "shape": shape}
    if kind not in makers:
        raise NonDigitsError(f"there is no kind of non-digit called {kind!r}: the kinds are {', '.join(KINDS)}")
    return makers[kind](rng)


def non_digits(n: int, seed: int, fonts: tuple[str, ...] = TRAIN_FONTS) -> tuple[list[Strokes], list[str]]:
    """``n`` drawings, the kinds in turn (a letter every other drawing), and the kind of each."""
    rng = np.random.default_rng(seed)
    order = [k for pair in zip(["letter"] * 5, KINDS[1:], strict=True) for k in pair]
    kinds = [order[i % len(order)] for i in range(n)]
    return [non_digit(rng, kind, fonts) for kind in kinds], kinds
