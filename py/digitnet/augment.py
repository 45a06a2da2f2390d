"""On-the-fly data augmentation: random affine maps and elastic distortions of MNIST digits,
and the pixel-level changes people's drawings and pictures bring: flipped pixels, thinner and
thicker strokes, digits as the page renders them from strokes.

Each output pixel ``p`` samples the input at ``q = A(p − c) + c + t + d(p)``
(bilinear interpolation, zero outside): ``A`` combines a rotation, a scale and
a shear, ``t`` is a translation, ``c`` the image centre, and ``d`` a smooth
random displacement field, the elastic distortion of Simard, Steinkraus & Platt
(2003), here drawn on a coarse grid and interpolated so it is smooth. Everything
is vectorised over the batch and driven by the caller's seeded generator.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from digitnet.preprocess import resample_matrix

SIDE = 28
#: Images augmented at a time: a piece's float64 sampling points and weights (~12 MB each for
#: 1,000 images) stay in the cache and, under the C allocator's largest mmap threshold, are reused
#: rather than faulted in afresh; 50,000 images at once took over three times as long.
PIECE = 1000


@dataclass(frozen=True)
class Augmentation:
    """Ranges of the random transformations (uniform in ±range unless said otherwise)."""

    rotation_degrees: float = 12.0
    scale: float = 0.1  # factor in [1 − scale, 1 + scale]
    shear: float = 0.15
    shift_pixels: float = 2.0
    elastic_pixels: float = 1.2  # standard deviation of the displacement at the coarse grid's nodes
    elastic_grid: int = 4
    #: probabilities, per image, of: its version as drawn on the page (strokes traced from it and
    #: rendered; needs ``drawn`` copies), a thinner stroke (2×2 erosion), a thicker one (3×3
    #: dilation), and flipped pixels (each with probability 50/784 to 150/784, like the
    #: robustness suite's "noisy" set); the first three before the geometric distortion, the flips
    #: after it, so they stay single crisp pixels as in the suite instead of being smoothed by the sampling
    drawn: float = 0.0
    thin: float = 0.0
    thick: float = 0.0
    noise: float = 0.0

    @property
    def pixel_level(self) -> bool:
        return max(self.drawn, self.thin, self.thick, self.noise) > 0


def augment(
    images: np.ndarray,
    rng: np.random.Generator,
    settings: Augmentation = Augmentation(),
    geometric: bool = True,
    drawn: np.ndarray | None = None,
) -> np.ndarray:
    """Randomly changed copies of ``images (n, 784)``, float32 in [0, 1]: the stroke-level changes of
    ``settings`` (``drawn (n, 784)``: each image as the page renders it), then, when ``geometric``,
    the affine and elastic distortion, then the flipped pixels."""
    if len(images) > PIECE:
        pieces = [slice(start, start + PIECE) for start in range(0, len(images), PIECE)]
        return np.concatenate(
            [augment(images[s], rng, settings, geometric, None if drawn is None else drawn[s]) for s in pieces]
        )
    if settings.pixel_level:
        images = stroke_level(images, rng, settings, drawn)
    if geometric:
        images = distort(images, rng, settings)
    return flip_pixels(images, rng, settings.noise) if settings.noise > 0 else images


def distort(images: np.ndarray, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """``images (n, 784)`` under a random affine map and elastic field each, drawn from ``settings``."""
    n = len(images)
    angle = rng.uniform(-settings.rotation_degrees, settings.rotation_degrees, n)
    scale = rng.uniform(1 - settings.scale, 1 + settings.scale, n)
    shear = rng.uniform(-settings.shear, settings.shear, n)
    shift = rng.uniform(-settings.shift_pixels, settings.shift_pixels, (n, 2))
    field = elastic_field(n, rng, settings) if settings.elastic_pixels > 0 else None
    return transform(images, angle, scale, shear, shift, field)


def transform(
    images: np.ndarray,
    degrees: np.ndarray | float = 0.0,
    scale: np.ndarray | float = 1.0,
    shear: np.ndarray | float = 0.0,
    shift: np.ndarray | None = None,
    field: np.ndarray | None = None,
) -> np.ndarray:
    """``images (n, 784)`` rotated by ``degrees``, scaled, sheared and shifted ``(n, 2)`` (row, col)
    about the centre, then displaced by ``field (n, 28, 28, 2)``; one value or one per image."""
    n = len(images)
    angle = np.deg2rad(np.broadcast_to(degrees, n))
    scale, shear = np.broadcast_to(scale, n), np.broadcast_to(shear, n)
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    # inverse map, output → input coordinates (row, col): rotation·shear, divided by the scale
    a = np.stack([np.stack([cos, -sin + shear * cos], -1), np.stack([sin, cos + shear * sin], -1)], -2)
    rows, cols = np.mgrid[0:SIDE, 0:SIDE]
    centre = (SIDE - 1) / 2
    grid = np.stack([rows.ravel() - centre, cols.ravel() - centre], axis=-1).astype(np.float64)
    offset = np.zeros((n, 2)) if shift is None else shift
    source = grid @ a.transpose(0, 2, 1) + (centre - offset[:, None, :])
    if field is not None:
        source += field.reshape(n, SIDE * SIDE, 2)
    # the sampling in float32: positions within 28 pixels keep ~1e-6 px, and half the memory traffic
    return sample_bilinear(images.reshape(n, SIDE, SIDE).astype(np.float32), source.astype(np.float32))


def elastic_field(n: int, rng: np.random.Generator, settings: Augmentation) -> np.ndarray:
    """Smooth displacements ``(n, 28, 28, 2)``: Gaussian values on a coarse grid, interpolated."""
    coarse = rng.normal(0.0, settings.elastic_pixels, (n, settings.elastic_grid, settings.elastic_grid, 2))
    up = resample_matrix(settings.elastic_grid, SIDE)
    return (up @ coarse.transpose(0, 3, 1, 2) @ up.T).transpose(0, 2, 3, 1)


def sample_bilinear(images: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Values of ``images (n, 28, 28)`` at fractional ``source (n, p, 2)`` (row, col) points; 0 outside."""
    n = len(images)
    width = SIDE + 2
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    r = np.clip(source[..., 0] + 1, 0, SIDE)  # shifted into the padded frame and kept inside it
    c = np.clip(source[..., 1] + 1, 0, SIDE)
    floor_r, floor_c = np.floor(r), np.floor(c)
    fr, fc = r - floor_r, c - floor_c  # in the sampling points' own type (float − int would be float64)
    # each point's top-left neighbour as one index into all the padded images laid end to end: a
    # flat take gathers twice as fast as take_along_axis row by row
    index = floor_r.astype(np.intp) * width + floor_c.astype(np.intp)
    index += np.arange(0, n * width * width, width * width)[:, None]
    flat = padded.ravel()
    top = flat.take(index) * (1 - fc) + flat.take(index + 1) * fc
    bottom = flat.take(index + width) * (1 - fc) + flat.take(index + width + 1) * fc
    return top * (1 - fr) + bottom * fr


def stroke_level(
    images: np.ndarray, rng: np.random.Generator, settings: Augmentation, drawn: np.ndarray | None = None
) -> np.ndarray:
    """``images (n, 784)`` with the stroke-level changes of ``settings`` (drawn copies, thinner and
    thicker strokes), each drawn per image; the flipped pixels are ``flip_pixels``."""
    out = images.astype(np.float32, copy=True)
    n = len(out)
    if settings.drawn > 0:
        if drawn is None or drawn.shape != images.shape:
            raise ValueError("the 'drawn' augmentation needs the drawn copy of every image")
        pick = rng.random(n) < settings.drawn
        out[pick] = drawn[pick]
    for probability, pairwise, size in ((settings.thin, np.minimum, 2), (settings.thick, np.maximum, 3)):
        if probability > 0:
            pick = np.flatnonzero(rng.random(n) < probability)
            out[pick] = morphology(out[pick], pairwise, size)
    return out


def flip_pixels(images: np.ndarray, rng: np.random.Generator, probability: float) -> np.ndarray:
    """``images (n, 784)`` where each image, with ``probability``, has every pixel flipped (> 0.5 → 0,
    else → 1) with a chance drawn uniformly from 50/784 to 150/784: the suite's "noisy" flips."""
    out = images.astype(np.float32, copy=True)
    pick = np.flatnonzero(rng.random(len(out)) < probability)
    rate = rng.uniform(50, 150, len(pick)) / (SIDE * SIDE)
    flips = rng.random((len(pick), SIDE * SIDE), dtype=np.float32) < rate[:, None]
    chosen = out[pick]
    out[pick] = np.where(flips, (chosen <= 0.5).astype(np.float32), chosen)
    return out


def morphology(images: np.ndarray, pairwise: np.ufunc, size: int) -> np.ndarray:
    """Grey dilation (``np.maximum``) or erosion (``np.minimum``) of ``images (n, 784)`` over
    ``size × size`` windows (zero outside the image), window ``(i, j)`` reaching ``(size − 1) // 2``
    pixels up and left. Separable: over each window's rows, then its columns, each pass one
    elementwise ``pairwise`` of shifted views per offset (many times faster than a reduction
    over a sliding-window view)."""
    square = images.reshape(-1, SIDE, SIDE).astype(np.float32)
    before, after = (size - 1) // 2, size // 2
    padded = np.pad(square, ((0, 0), (before, after), (before, after)))
    rows = padded[:, 0:SIDE].copy()
    for i in range(1, size):
        pairwise(rows, padded[:, i : i + SIDE], out=rows)
    out = rows[:, :, 0:SIDE].copy()
    for j in range(1, size):
        pairwise(out, rows[:, :, j : j + SIDE], out=out)
    return out.reshape(len(images), -1)


# ---------------------------------------------------------------- strokes


@dataclass(frozen=True)
class StrokeAugmentation:
    """Ranges of the random changes of a drawing made of pen strokes, before it is rendered.

    The whole drawing is slanted (``x += shear·y``), stretched in width by ``exp(±aspect)``
    and rotated, about its box's centre; each point moves by Gaussian jitter of up to
    ``jitter`` of the drawing's extent; with ``smooth``, each stroke's corners are cut
    (Chaikin's scheme, the dense and round strokes of a fast pointer), else with ``sparse``
    every second point is dropped (a slow tablet); a stroke shorter than ``short`` of the
    drawing's ink is dropped with probability ``drop``, and with ``add`` a short tick is drawn
    at a random stroke's end; the pen is ``PEN·U(pen_low, pen_high)`` wide.
    """

    rotation_degrees: float = 8.0
    shear: float = 0.25
    aspect: float = 0.2
    jitter: float = 0.01
    smooth: float = 0.4
    sparse: float = 0.2
    short: float = 0.15
    drop: float = 0.3
    add: float = 0.05
    pen_low: float = 0.75
    pen_high: float = 1.4


def distort_strokes(
    strokes: list[np.ndarray], rng: np.random.Generator, settings: StrokeAugmentation = StrokeAugmentation()
) -> list[np.ndarray]:
    """A randomly changed copy of ``strokes``, each ``(k, 2)`` points ``(x, y)``, as ``settings`` says."""
    strokes = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes if len(s)]
    points = np.concatenate(strokes)
    low, high = points.min(axis=0), points.max(axis=0)
    centre, extent = (low + high) / 2, max(float((high - low).max()), 1e-9)
    if len(strokes) > 1 and settings.drop > 0:
        lengths = np.array([_arc_length(s) for s in strokes])
        dropped = (lengths < settings.short * lengths.sum()) & (rng.random(len(strokes)) < settings.drop)
        if not dropped.all():
            strokes = [s for s, gone in zip(strokes, dropped, strict=True) if not gone]
    if rng.random() < settings.add:
        end = strokes[rng.integers(len(strokes))][-1]
        direction = rng.normal(size=2)
        tick = end + np.outer([0.3, 1.0], direction / (np.linalg.norm(direction) + 1e-12)) * 0.08 * extent
        strokes = [*strokes, tick]
    angle = np.deg2rad(rng.uniform(-settings.rotation_degrees, settings.rotation_degrees))
    cos, sin = np.cos(angle), np.sin(angle)
    stretch = np.exp(rng.uniform(-settings.aspect, settings.aspect))
    shear = rng.uniform(-settings.shear, settings.shear)
    # row vectors: p ↦ p·Mᵀ with M = rotation · shear · stretch
    m = np.array([[cos, -sin], [sin, cos]]) @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([stretch, 1.0])
    sigma = rng.uniform(0, settings.jitter) * extent
    smooth = rng.random() < settings.smooth
    sparse = not smooth and rng.random() < settings.sparse
    out = []
    for s in strokes:
        s = (s - centre) @ m.T + centre
        if sigma > 0:
            s = s + rng.normal(0.0, sigma, s.shape)
        if smooth:
            s = _cut_corners(_cut_corners(s))
        elif sparse and len(s) > 4:
            s = np.concatenate([s[:-1:2], s[-1:]])
        out.append(s)
    return out


def stroke_pen(rng: np.random.Generator, settings: StrokeAugmentation, pen: float) -> float:
    """A random pen width for one augmented drawing: ``pen·U(pen_low, pen_high)``."""
    return pen * rng.uniform(settings.pen_low, settings.pen_high)


def _arc_length(stroke: np.ndarray) -> float:
    return float(np.linalg.norm(np.diff(stroke, axis=0), axis=1).sum())


def _cut_corners(stroke: np.ndarray) -> np.ndarray:
    """One step of Chaikin's corner cutting, ends kept: each segment gives its ¼ and ¾ points."""
    if len(stroke) < 3:
        return stroke
    a, b = stroke[:-1], stroke[1:]
    inner = np.stack([0.75 * a + 0.25 * b, 0.25 * a + 0.75 * b], axis=1).reshape(-1, 2)
    return np.concatenate([stroke[:1], inner[1:-1], stroke[-1:]])
