"""Reading a photo or a scan of a digit or of a number: file bytes → paper removed → digits.

1. Decode (Pillow, imported only here): EXIF orientation applied; 8- and 16-bit grey,
   palette, RGB, CMYK; alpha composited on white, or taken as the ink when the picture
   is a drawing on a clear sheet. Large pictures are reduced while decoding (JPEG's DCT
   scaling, then block means) to at most ``WORK_SIDE`` pixels a side.
2. Flatten: the paper's level is estimated on a coarse grid of blocks (a high percentile
   of each block, so ink is ignored), smoothed and interpolated; the ink is the
   reflectance contrast ``1 − gray / paper``, which removes grey or tinted paper, light
   gradients and soft shadows alike. Light ink on a dark board is read from the inverted
   picture: both readings are tried, and of those that find digits, the one with less
   ink in its digits wins (read the wrong way round, the sheet itself is the "digit").
3. Separate ink from paper with Otsu's threshold on the flattened image; a sheet
   whose two classes differ by less than ``MIN_CONTRAST`` holds no ink.
4. Connected ink components (8-connected) are grouped into digits by horizontal
   overlap, left to right; specks and marks much smaller than the digits are dropped.
5. Each digit's strokes are brought to MNIST's relative width, then normalised as
   MNIST's digits were (``digitnet.preprocess.normalise``).

Pure NumPy but for the decoding: the same code runs in CPython and in Pyodide.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.network import Network
from digitnet.numbers import DigitReading, NumberReading, recognise_batch
from digitnet.preprocess import NoDigitError, normalise, resample

#: Larger pictures are refused (a 12-megapixel photo is 4000 × 3000).
MAX_PIXELS = 25_000_000
#: The working image's longest side: enough for 12 digits across a photo.
WORK_SIDE = 1200
#: Paper estimate: blocks per image side, and the percentile taken as the paper in each block
#: (ink covers less than 7 % of a block: strokes are thin beside a block).
BLOCKS = 12
PAPER_PERCENTILE = 93
#: Paper darker than this shows no dark ink (read the other way round: light ink on a board).
MIN_PAPER = 0.2
#: Flattened ink classes closer than this, or than NOISE_RATIO times the paper's spread, are paper only.
MIN_CONTRAST = 0.2
NOISE_RATIO = 5.0
#: A group of components lower than this share of the tallest one is a speck, not a digit.
MIN_HEIGHT_SHARE = 0.4
#: ... and the tallest must be at least this share of the picture's shorter side.
MIN_DIGIT_SHARE = 0.03
#: A digit is at least this many pixels tall in the working image (or a quarter of a smaller
#: picture's height): MNIST's are 20. Lower marks are grain, or the ragged edge of a shadow.
MIN_DIGIT_PIXELS = 12
#: Ink touching two sides of the picture and wider than this share of it frames the sheet.
FRAME_SHARE = 0.6
#: Strokes wider than this share of their component's size make a blob (a sheet, a hole), not a digit.
BLOB_SHARE = 0.35
FILLED = 0.8
#: A digit's tallest component spans at least this share of its height.
MAIN_SHARE = 0.5
#: MNIST's strokes are about this share of the digit's larger side (2.5 px of 20).
STROKE_SHARE = 0.12


class PictureError(DigitnetError, ValueError):
    """A file that cannot be read as a picture."""


@dataclass
class Prepared:
    """A picture reduced to its digits: ``inputs (n, 784)`` and ``boxes`` in the picture's pixels."""

    inputs: np.ndarray = field(default_factory=lambda: np.zeros((0, 784), dtype=np.float32))
    boxes: list[tuple[float, float, float, float]] = field(default_factory=list)
    size: tuple[int, int] = (0, 0)
    reason: str = ""


def read_number(network: Network, data: bytes) -> NumberReading:
    """The number in the picture file ``data``; raises ``PictureError`` for a file that is no picture."""
    return read_prepared(network, prepare_picture(data))


def read_prepared(network: Network, prepared: Prepared) -> NumberReading:
    """The network's reading of the digits of a prepared picture."""
    if not prepared.boxes:
        return NumberReading(reason=prepared.reason)
    recognitions = recognise_batch(network, prepared.inputs)
    return NumberReading([DigitReading(r, box) for r, box in zip(recognitions, prepared.boxes, strict=True)])


def prepare_picture(data: bytes) -> Prepared:
    """Decode, flatten, threshold and segment the picture file ``data`` into normalised digits."""
    gray, alpha, scale, size = decode(data)
    readings, reason = [], "no ink found in the picture"
    for ink in sheets(gray, alpha):
        try:
            mask = ink_mask(ink)
        except NoDigitError:
            continue
        reason = "no digit found in the picture"
        labels, boxes = components(mask)
        groups = digit_groups(boxes, mask.shape, stroke_widths(mask, labels, len(boxes)))
        if groups:
            readings.append((float(mask.mean()), ink, labels, boxes, groups))
    if not readings:
        return Prepared(size=size, reason=reason)
    # digits are strokes on a larger sheet: read the wrong way round, the paper is the ink
    _, ink, labels, boxes, groups = min(readings, key=lambda reading: reading[0])
    inputs, out_boxes = [], []
    for group in groups:
        top, left, bottom, right = group_box(boxes, group)
        own = np.isin(labels[top:bottom, left:right], [g + 1 for g in group])
        try:
            inputs.append(normalise(digit_ink(ink[top:bottom, left:right], own)))
        except NoDigitError:
            continue
        out_boxes.append((left * scale, top * scale, (right - left) * scale, (bottom - top) * scale))
    if not inputs:
        return Prepared(size=size, reason="no digit found in the picture")
    return Prepared(np.array(inputs), out_boxes, size)


# ---------------------------------------------------------------- decoding


def decode(data: bytes) -> tuple[np.ndarray, np.ndarray | None, float, tuple[int, int]]:
    """``(gray (h, w), alpha (h, w) or None, scale, (W, H))``: the upright picture in [0, 1], reduced.

    ``scale`` is the size of a working pixel in the picture's pixels; ``(W, H)`` the
    upright picture's size.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        image = Image.open(io.BytesIO(bytes(data)))
        width, height = image.size
        if width * height > MAX_PIXELS:
            raise PictureError(f"{width}×{height} pixels is too large (at most {MAX_PIXELS:,} pixels)")
        if width == 0 or height == 0:
            raise PictureError("the image is empty")
        factor = max(1, -(-max(width, height) // WORK_SIDE))
        if image.format == "JPEG" and factor > 1:
            image.draft(image.mode, (-(-width // factor), -(-height // factor)))
        image = ImageOps.exif_transpose(image)
        size = image.size
        gray, alpha = pixels(image)
    except PictureError:
        raise
    except UnidentifiedImageError:
        raise PictureError("not an image file that can be read (PNG, JPEG, GIF, BMP, TIFF, WebP)") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as e:
        raise PictureError(f"unreadable image ({e})") from None
    factor = max(1, -(-max(gray.shape) // WORK_SIDE))
    gray = block_mean(gray, factor)
    alpha = block_mean(alpha, factor) if alpha is not None else None
    return gray, alpha, size[0] / gray.shape[1], size


def pixels(image) -> tuple[np.ndarray, np.ndarray | None]:
    """A PIL image as ``gray`` and ``alpha`` float32 arrays in [0, 1] (alpha None when opaque).

    16-bit and 32-bit grey keep their full range (converting them to 8-bit clips).
    """
    if image.mode.startswith("I;16") or image.mode in ("I", "F"):
        values = np.asarray(image).astype(np.float32)
        top = 65535.0 if image.mode != "F" else 1.0
        return values / max(top, float(values.max())), None
    if image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info:
        rgba = np.asarray(image.convert("RGBA"))
        gray = rgba[..., :3].astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255
        return gray, rgba[..., 3].astype(np.float32) / 255
    return np.asarray(image.convert("L")).astype(np.float32) / 255, None


def block_mean(image: np.ndarray, factor: int) -> np.ndarray:
    """``image (H, W)`` reduced ``factor`` times by averaging ``factor × factor`` blocks (edges cropped)."""
    if factor == 1:
        return image
    h, w = image.shape[0] // factor, image.shape[1] // factor
    out = np.zeros((h, w), dtype=np.float32)
    for dr in range(factor):  # row by row of the block: no (h, f, w, f) float copy of a large picture
        out += image[dr : h * factor : factor, : w * factor].reshape(h, w, factor).sum(axis=2, dtype=np.float32)
    return out / (factor * factor)


# ---------------------------------------------------------------- paper and ink


def sheets(gray: np.ndarray, alpha: np.ndarray | None) -> list[np.ndarray]:
    """The possible readings of the picture as ``ink (H, W)`` in [0, 1], paper removed.

    A picture whose border is transparent is a drawing on a clear sheet: its opacity is
    the ink. Otherwise it is composited on white and read both ways: dark ink on light
    paper, and light ink on a dark board (the picture inverted).
    """
    if alpha is not None and np.median(border(alpha)) < 0.5:
        return [np.clip(alpha, 0, 1)]
    if alpha is not None:
        gray = gray * alpha + (1 - alpha)
    return [flatten(gray), flatten(1 - gray)]


def flatten(gray: np.ndarray) -> np.ndarray:
    """``ink (H, W)`` in [0, 1] of dark ink on light paper, the paper removed: ``1 − gray / paper``.

    ``paper`` is a high percentile of each block of a coarse grid (ink is a minority of
    a block), smoothed and interpolated. Each block keeps its own level: taking the
    brightest of its neighbours' instead carried the lit side's level across a shadow's
    edge, where the shadowed paper then read as a band of ink (and, on blank sheets, as
    digits at up to 1.0).
    """
    level = smooth3(np.percentile(block_grid(gray), PAPER_PERCENTILE, axis=2))
    paper = resample(level, *gray.shape)
    contrast = 1 - gray / np.maximum(paper, MIN_PAPER)
    return np.where(paper > MIN_PAPER, np.clip(contrast, 0, 1), 0).astype(np.float32)  # no ink seen on black


def block_grid(image: np.ndarray) -> np.ndarray:
    """``(gh, gw, b²)``: the pixels of ``image`` in about ``BLOCKS`` square blocks per side."""
    side = max(4, max(image.shape) // BLOCKS)
    gh, gw = max(1, image.shape[0] // side), max(1, image.shape[1] // side)
    bh, bw = image.shape[0] // gh, image.shape[1] // gw
    blocks = image[: gh * bh, : gw * bw].reshape(gh, bh, gw, bw).transpose(0, 2, 1, 3)
    return blocks.reshape(gh, gw, bh * bw)


def smooth3(grid: np.ndarray) -> np.ndarray:
    """Mean of ``grid (h, w)`` over 3 × 3 neighbourhoods."""
    padded = np.pad(grid, 1, mode="edge")
    h, w = grid.shape
    return np.mean([padded[r : r + h, c : c + w] for r in range(3) for c in range(3)], axis=0)


def border(image: np.ndarray) -> np.ndarray:
    """The pixels of the outermost rows and columns of ``image (H, W)``, as one vector."""
    return np.concatenate([image[0], image[-1], image[:, 0], image[:, -1]])


def otsu(values: np.ndarray, bins: int = 256) -> tuple[float, float, float]:
    """Otsu's threshold of ``values`` in [0, 1], and the means of the classes below and above it.

    The threshold maximises the between-class variance ω₀ω₁(μ₀ − μ₁)².
    """
    counts, edges = np.histogram(values, bins=bins, range=(0, 1))
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(counts)[:-1].astype(np.float64)
    w1 = counts.sum() - w0
    m0 = np.cumsum(counts * centres)[:-1] / np.maximum(w0, 1)
    m1 = (np.sum(counts * centres) - np.cumsum(counts * centres)[:-1]) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    k = int(np.argmax(between))
    return float(edges[k + 1]), float(m0[k]), float(m1[k])


def ink_mask(ink: np.ndarray) -> np.ndarray:
    """The ink pixels: above Otsu's threshold; ``NoDigitError`` when the sheet holds no ink.

    Ink differs from paper by ``MIN_CONTRAST`` and by ``NOISE_RATIO`` times the spread of
    the paper class: a noisy sheet's grain is no ink.
    """
    threshold, paper, inked = otsu(ink)
    grain = float(np.std(ink[ink <= threshold])) if inked - paper >= MIN_CONTRAST else 0.0
    if inked - paper < max(MIN_CONTRAST, NOISE_RATIO * grain):
        raise NoDigitError("no ink found in the picture")
    return ink > max(threshold, 0.1)


# ---------------------------------------------------------------- components and digits


def components(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-connected components of ``mask (H, W)``: labels ``(H, W)`` (0 = background, k + 1 = component k)
    and boxes ``(n, 5)`` of ``top, left, bottom, right, pixels``.

    Runs of ink in each row are joined to the overlapping runs of the row below;
    the run graph's components come from min-label propagation with pointer jumping.
    """
    h, w = mask.shape
    padded = np.zeros((h, w + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    change = np.diff(padded, axis=1)
    starts_r, starts_c = np.nonzero(change == 1)
    ends_c = np.nonzero(change == -1)[1]  # exclusive column ends, in the same row-major order
    n = len(starts_r)
    if n == 0:
        return np.zeros((h, w), dtype=np.int32), np.zeros((0, 5), dtype=np.int64)
    # run b (row r + 1) touches run a (row r) when a.start ≤ b.end and b.start ≤ a.end (8-connected)
    key_start = starts_r * (w + 2) + starts_c
    key_end = starts_r * (w + 2) + ends_c
    below_lo = np.searchsorted(key_end, (starts_r - 1) * (w + 2) + starts_c, side="left")
    below_hi = np.searchsorted(key_start, (starts_r - 1) * (w + 2) + ends_c, side="right")
    counts = np.maximum(below_hi - below_lo, 0)
    b = np.repeat(np.arange(n), counts)
    a = np.repeat(below_lo, counts) + np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    same_row = starts_r[a] == starts_r[b] - 1
    a, b = a[same_row], b[same_row]
    label = np.arange(n)
    while True:
        before = label.copy()
        np.minimum.at(label, a, label[b])
        np.minimum.at(label, b, label[a])
        label = label[label]
        if np.array_equal(label, before):
            break
    roots, compact = np.unique(label, return_inverse=True)
    labels = np.zeros((h, w), dtype=np.int32)
    lengths = ends_c - starts_c
    run_rows = np.repeat(starts_r, lengths)
    offsets = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    run_cols = offsets + np.repeat(starts_c, lengths)
    labels[run_rows, run_cols] = np.repeat(compact + 1, lengths)
    k = len(roots)
    boxes = np.zeros((k, 5), dtype=np.int64)
    boxes[:, 0] = np.full(k, h)
    boxes[:, 1] = np.full(k, w)
    np.minimum.at(boxes[:, 0], compact, starts_r)
    np.minimum.at(boxes[:, 1], compact, starts_c)
    np.maximum.at(boxes[:, 2], compact, starts_r + 1)
    np.maximum.at(boxes[:, 3], compact, ends_c)
    np.add.at(boxes[:, 4], compact, lengths)
    return labels, boxes


def stroke_widths(mask: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """``(count,)``: each component's stroke width in pixels, 2 · area / boundary length.

    A stroke of length L and width w has area L·w and about 2L boundary pixels.
    """
    edge = mask & ~erode(mask)
    area = np.bincount(labels[mask], minlength=count + 1)[1:]
    boundary = np.bincount(labels[edge], minlength=count + 1)[1:]
    return 2 * area / np.maximum(boundary, 1)


def digit_groups(boxes: np.ndarray, shape: tuple[int, int], widths: np.ndarray) -> list[list[int]]:
    """Components grouped into digits, left to right.

    Components whose column ranges overlap by half of the narrower one (or whose centres
    fall in each other's range) are one digit; groups lower than ``MIN_HEIGHT_SHARE`` of
    the tallest or than ``MIN_DIGIT_PIXELS`` (a quarter of a smaller picture's height) are
    specks, and a tallest group under ``MIN_DIGIT_SHARE`` of the picture's shorter side is
    noise. A component along a side of the picture (nearly as wide or as tall as it), or
    touching two sides and wider than ``FRAME_SHARE`` of the picture, is no digit: the table
    around the sheet, the sheet's edge, a hard shadow. A component whose strokes (``widths``)
    are wider than ``BLOB_SHARE`` of its size, or that fills ``FILLED`` of its box without being
    a thin bar (a 1), is a blob, not written strokes; components smaller than specks are
    dropped, and a group whose tallest component is under ``MAIN_SHARE`` of its height is noise.
    """
    if len(boxes) == 0:
        return []
    height, width = shape
    tall, wide = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    sides = (boxes[:, 0] == 0).astype(int) + (boxes[:, 1] == 0) + (boxes[:, 2] == height) + (boxes[:, 3] == width)
    # a digit cropped tight touches one side; a table or the sheet's edge runs along it, or into a corner
    along = (sides >= 1) & ((wide > 0.9 * width) | (tall > 0.9 * height))
    frame = along | ((sides >= 2) & (wide > FRAME_SHARE * width))
    filled = (boxes[:, 4] > FILLED * tall * wide) & (np.minimum(tall, wide) > 0.3 * np.maximum(tall, wide))
    blob = (widths > BLOB_SHARE * np.maximum(tall, wide)) | filled
    candidates = ~frame & ~blob
    if not candidates.any():
        return []
    least = max(3.0, 0.02 * boxes[candidates, 4].max(), 0.1 * (MIN_DIGIT_SHARE * min(shape)) ** 2)
    groups = [[int(i)] for i in np.flatnonzero((boxes[:, 4] >= least) & candidates)]
    while True:
        spans = [group_box(boxes, g) for g in groups]
        pair = next(
            (
                (a, b)
                for a in range(len(groups))
                for b in range(a + 1, len(groups))
                if columns_overlap(spans[a], spans[b])
            ),
            None,
        )
        if pair is None:
            break
        groups[pair[0]] += groups.pop(pair[1])
    if not groups:
        return []
    spans = [group_box(boxes, g) for g in groups]
    heights = np.array([s[2] - s[0] for s in spans])
    # a digit has a main stroke: specks of noise stacked in a column are not one
    main = np.array([max(tall[g]) for g in groups]) >= MAIN_SHARE * heights
    heights = np.where(main, heights, 0)
    tallest = heights.max()
    if tallest < MIN_DIGIT_SHARE * min(shape):
        return []
    least = max(MIN_HEIGHT_SHARE * tallest, min(MIN_DIGIT_PIXELS, height / 4), 1)
    kept = [k for k in range(len(groups)) if heights[k] >= least]
    return [groups[k] for k in sorted(kept, key=lambda k: spans[k][1])]


def group_box(boxes: np.ndarray, group: list[int]) -> tuple[int, int, int, int]:
    """``(top, left, bottom, right)`` around the components ``group``."""
    chosen = boxes[group]
    return (
        int(chosen[:, 0].min()),
        int(chosen[:, 1].min()),
        int(chosen[:, 2].max()),
        int(chosen[:, 3].max()),
    )


def columns_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether boxes ``a`` and ``b`` overlap in columns by half the narrower, or one's centre is in the other."""
    inter = min(a[3], b[3]) - max(a[1], b[1])
    narrower = min(a[3] - a[1], b[3] - b[1])
    centre_a, centre_b = (a[1] + a[3]) / 2, (b[1] + b[3]) / 2
    return inter >= 0.5 * narrower or a[1] <= centre_b <= a[3] or b[1] <= centre_a <= b[3]


def digit_ink(ink: np.ndarray, own: np.ndarray) -> np.ndarray:
    """One digit's ink ``(h, w)``: its components only, full strength, strokes widened to MNIST's share.

    Stroke width ≈ 2 · area / boundary length (both edges of a stroke of length L give 2L);
    strokes thinner than ``STROKE_SHARE`` of the digit's larger side are dilated.
    """
    inside = own & ~erode(own)
    width = 2 * own.sum() / max(inside.sum(), 1)
    level = np.percentile(ink[own], 75) if own.any() else 1.0
    digit = np.clip(ink / max(level, 1e-3), 0, 1) * dilate(own, 1)
    radius = round((STROKE_SHARE * max(own.shape) - width) / 2)
    if radius > 0:
        digit = np.pad(digit, radius)
        digit = grey_dilate(digit, radius)
    return digit


def erode(mask: np.ndarray) -> np.ndarray:
    """``mask`` eroded by a 3 × 3 square."""
    return ~dilate(~mask, 1)


def dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """``mask`` dilated by a ``(2r + 1)`` square."""
    return grey_dilate(mask.astype(np.float32), radius) > 0


def grey_dilate(image: np.ndarray, radius: int) -> np.ndarray:
    """Maximum of ``image (h, w)`` over ``(2r + 1)²`` squares, separably (rows, then columns)."""
    h, w = image.shape
    padded = np.pad(image, ((0, 0), (radius, radius)))
    rows = np.max([padded[:, k : k + w] for k in range(2 * radius + 1)], axis=0)
    padded = np.pad(rows, ((radius, radius), (0, 0)))
    return np.max([padded[k : k + h] for k in range(2 * radius + 1)], axis=0)
