"""Turn a drawing into the 28×28 image the network expects: MNIST's own normalisation.

MNIST digits were cropped to their ink, scaled to fit a 20×20 box keeping the
aspect ratio (with anti-aliasing), then placed in a 28×28 field so that their
centre of mass falls on pixel (14, 14). ``normalise`` does the same to any
grayscale drawing, so a digit drawn small, large or off-centre reaches the
network as MNIST-like input. Used by the web page and by ``digitnet predict``.
"""

from __future__ import annotations

import numpy as np

from digitnet.errors import DigitnetError, InputError

FIELD = 28
BOX = 20
CENTRE = 14.0
INK_LEVEL = 0.1
MIN_EXTENT = 0.03


class NoDigitError(DigitnetError, ValueError):
    """The drawing holds no digit (empty, or too little ink to be one)."""


def normalise(ink: np.ndarray) -> np.ndarray:
    """The 784 network inputs (float32 in [0, 1]) for ``ink (H, W)``: 0 = background, 1 = full ink.

    Raises ``NoDigitError`` for an empty or near-empty drawing, ``ValueError`` for
    input that is not a finite 2-D image.
    """
    ink = _checked_image(ink)
    rows, cols = _ink_box(ink)
    digit = ink[rows, cols]
    scale = BOX / max(digit.shape)
    height = max(1, round(digit.shape[0] * scale))
    width = max(1, round(digit.shape[1] * scale))
    boxed = resample(digit, height, width)
    return place_by_centre_of_mass(boxed).reshape(FIELD * FIELD)


def _checked_image(ink: np.ndarray) -> np.ndarray:
    ink = np.asarray(ink, dtype=np.float64)
    if ink.ndim != 2 or min(ink.shape) < 1:
        raise InputError(f"expected a 2-D grayscale image, got shape {ink.shape}")
    if not np.all(np.isfinite(ink)):
        raise InputError("the image holds NaN or infinite values")
    return np.clip(ink, 0.0, 1.0)


def _ink_box(ink: np.ndarray) -> tuple[slice, slice]:
    """Row and column slices of the inked bounding box; ``NoDigitError`` when there is too little ink."""
    inked = ink > INK_LEVEL
    rows = np.flatnonzero(inked.any(axis=1))
    cols = np.flatnonzero(inked.any(axis=0))
    if rows.size == 0:
        raise NoDigitError("the drawing is empty")
    extent = max(rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1)
    if extent < max(2, MIN_EXTENT * max(ink.shape)):
        raise NoDigitError("the drawing is too small to be a digit")
    return slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)


def resample(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """``image (H, W)`` resized to ``(height, width)`` with a triangle (bilinear) filter.

    When shrinking, the filter is widened by the shrink factor so that every
    source pixel contributes (anti-aliasing): ``out = R_h · image · R_wᵀ``.
    """
    return resample_matrix(image.shape[0], height) @ image @ resample_matrix(image.shape[1], width).T


def resample_matrix(n_in: int, n_out: int) -> np.ndarray:
    """``R (n_out, n_in)``: row i holds the normalised triangle-filter weights of output pixel i."""
    scale = n_out / n_in
    support = max(1.0, 1.0 / scale)
    centres = (np.arange(n_out) + 0.5) / scale
    distance = np.abs(np.arange(n_in) + 0.5 - centres[:, None]) / support
    weights = np.maximum(0.0, 1.0 - distance)
    return weights / weights.sum(axis=1, keepdims=True)


def place_by_centre_of_mass(boxed: np.ndarray) -> np.ndarray:
    """``boxed (h, w)`` (h, w ≤ 20) pasted in a 28×28 field with its centre of mass at (14, 14).

    The shift is rounded to whole pixels and limited so the box stays inside the field.
    """
    h, w = boxed.shape
    mass = boxed.sum()
    com_row = (boxed.sum(axis=1) @ np.arange(h)) / mass
    com_col = (boxed.sum(axis=0) @ np.arange(w)) / mass
    top = int(np.clip(round(CENTRE - com_row), 0, FIELD - h))
    left = int(np.clip(round(CENTRE - com_col), 0, FIELD - w))
    field = np.zeros((FIELD, FIELD), dtype=np.float32)
    field[top : top + h, left : left + w] = boxed
    return field
