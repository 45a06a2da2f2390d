"""Test sets of whole numbers, made from MNIST **test** digits only, and their scores.

- drawn numbers: 2–8 test digits traced into pen strokes (``tracing.py``), laid side by
  side with random gaps and slight overlaps, baseline drift and size changes, read by
  ``digitnet.numbers.recognise_number`` as the page reads a number;
- photos: test digits composed on synthetic paper (grey 0.3–0.95, light gradients,
  soft shadows, noise, blur), saved as JPEG (quality 50–95, with an EXIF orientation)
  or as 8- or 16-bit PNG, and read by ``digitnet.picture.read_number`` as
  ``digitnet predict`` and the page read a picture;
- blank sheets of paper in uneven light, where nothing should be read.

Every set is drawn from a fixed seed, so every model meets the same numbers. The same sets made
of MNIST **validation** digits (another seed) are where the number reading's thresholds are
chosen (``digitnet numbers --validation``); drawn numbers of **training** digits are what the
digit check learns from (``digit_check.py``).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

import numpy as np

from digitnet.network import Network
from digitnet.numbers import NumberReading, read_candidates, stroke_candidates
from digitnet.picture import prepare_picture, read_prepared
from digitnet.preprocess import resample
from digitnet.training.mnist import Split
from digitnet.training.tracing import trace_digit

SEED = 10
#: The seed of the sets made of validation digits.
VALIDATION_SEED = 110
#: EXIF orientation → the PIL transpose that stores an upright picture so that it shows upright.
STORED_AS = {3: "ROTATE_180", 6: "ROTATE_90", 8: "ROTATE_270"}


@dataclass
class DrawnNumber:
    """A number as pen strokes ``(k, 2)`` on a canvas whose larger side is ``canvas_size``;
    ``owners[i]``: which digit (0 = the first) stroke i belongs to."""

    label: str
    strokes: list[np.ndarray]
    canvas_size: float
    owners: list[int] = field(default_factory=list)


@dataclass
class Photo:
    """A picture file's bytes, the number it shows and how it was made."""

    label: str
    data: bytes
    kind: str


def pick_digits(digits: Split, rng: np.random.Generator, n: int) -> list[int]:
    """Indices of ``n`` random digits of ``digits``."""
    return [int(i) for i in rng.integers(0, len(digits), n)]


def drawn_numbers(digits: Split, count: int, lengths: range = range(2, 9), seed: int = SEED) -> list[DrawnNumber]:
    """``count`` numbers per length in ``lengths``: traced digits of ``digits``, each 60–100 px tall."""
    rng = np.random.default_rng(seed)
    out = []
    for length in lengths:
        made = 0
        while made < count:
            indices = pick_digits(digits, rng, length)
            traced = [trace_digit(digits.images[i]) for i in indices]
            if not all(traced_whole(t, digits.images[i]) for t, i in zip(traced, indices, strict=True)):
                continue
            out.append(lay_out(traced, "".join(str(digits.labels[i]) for i in indices), rng))
            made += 1
    return out


def drawn_sets(digits: Split, sizes: dict[str, int], seed: int) -> dict[str, list[DrawnNumber]]:
    """The drawn number sets: ``"drawn"``, ``sizes["drawn"]`` numbers of each length 2–8 (from ``seed``), and
    ``"drawn4"``, ``sizes["drawn4"]`` numbers of 4 digits (from ``seed + 3``)."""
    return {
        "drawn": drawn_numbers(digits, sizes["drawn"], seed=seed),
        "drawn4": drawn_numbers(digits, sizes["drawn4"], range(4, 5), seed=seed + 3),
    }


def traced_whole(strokes: list[np.ndarray], image: np.ndarray) -> bool:
    """Whether the tracing kept the digit: its strokes span 80 % of the ink's height and width.

    A faint or broken digit can trace into a few specks, which are no longer that digit.
    """
    if not strokes:
        return False
    points = np.concatenate(strokes)
    rows, cols = np.nonzero(image.reshape(28, 28) > 0.5)
    ink = np.array([cols.max() - cols.min() + 1, rows.max() - rows.min() + 1])
    return bool(np.all(np.ptp(points, axis=0) + 1 >= 0.8 * ink))


def lay_out(traced: list[list[np.ndarray]], label: str, rng: np.random.Generator) -> DrawnNumber:
    """Digits placed left to right: gap −8 %…45 % of the height, sizes ±15 %, baseline drift ±8 %."""
    base = rng.uniform(60, 100)
    cursor, baseline, strokes, owners = 20.0, 20.0, [], []
    for k, digit in enumerate(traced):
        size = base * rng.uniform(0.85, 1.15)
        scaled = [s / 20 * size for s in digit]
        left = min(float(s[:, 0].min()) for s in scaled)
        right = max(float(s[:, 0].max()) for s in scaled)
        baseline += rng.uniform(-0.08, 0.08) * base
        strokes += [s + np.array([cursor - left, baseline]) for s in scaled]
        owners += [k] * len(scaled)
        cursor += right - left + rng.uniform(-0.08, 0.45) * size
    points = np.concatenate(strokes)
    return DrawnNumber(label, strokes, float(max(points.max(axis=0) + 20)), owners)


# ---------------------------------------------------------------- photos


def number_ink(digits: Split, indices: list[int], rng: np.random.Generator, height: int) -> np.ndarray:
    """Ink ``(H, W)`` of the digits ``indices`` side by side, each enlarged to about ``height`` pixels."""
    pieces = []
    for i in indices:
        size = int(height * 28 / 20 * rng.uniform(0.9, 1.1))
        digit = resample(digits.images[i].reshape(28, 28).astype(np.float64), size, size)
        cols = np.flatnonzero(digit.max(axis=0) > 0.05)
        digit = digit[:, cols[0] : cols[-1] + 1] if cols.size else digit
        top = int(rng.uniform(-0.06, 0.06) * height) + height
        column = np.zeros((int(height * 1.6) + 2 * height, digit.shape[1]))
        column[top : top + size] = digit
        gap = np.zeros((column.shape[0], int(rng.uniform(0.12, 0.5) * height)))
        pieces += [column, gap]
    ink = np.concatenate(pieces[:-1], axis=1)
    rows = np.flatnonzero(ink.max(axis=1) > 0.05)
    return ink[rows[0] : rows[-1] + 1]


def paper(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Reflected light ``(H, W)``: grey 0.3–0.95 paper lit by a linear gradient and a soft shadow."""
    h, w = shape
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    level = rng.uniform(0.3, 0.95)
    angle = rng.uniform(0, 2 * np.pi)
    light = 1 + rng.uniform(0, 0.35) * ((x - 0.5) * np.cos(angle) + (y - 0.5) * np.sin(angle))
    edge = rng.uniform(0.2, 0.8) + 0.3 * (y - 0.5) * rng.uniform(-1, 1)
    shadow = 1 - rng.uniform(0, 0.4) / (1 + np.exp(-(x - edge) / rng.uniform(0.03, 0.12)))
    return level * light * shadow


def tint(gray: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """RGB ``(H, W, 3)`` of ``gray`` tinted toward a random pale colour."""
    colour = 1 - rng.uniform(0, 0.25, 3)
    return gray[..., None] * colour / colour.max()


def synthetic_photo(digits: Split, rng: np.random.Generator, length: int, blank: bool = False) -> Photo:
    """A picture of ``length`` digits of ``digits`` (or of nothing) on synthetic paper, in a random file format."""
    from PIL import Image

    indices = pick_digits(digits, rng, length)
    label = "" if blank else "".join(str(digits.labels[i]) for i in indices)
    height = int(rng.uniform(40, 110))
    ink = number_ink(digits, indices, rng, height)
    margin = rng.integers(30, 120, 4)
    sheet = np.zeros((ink.shape[0] + margin[0] + margin[1], ink.shape[1] + margin[2] + margin[3]))
    if not blank:
        sheet[margin[0] : margin[0] + ink.shape[0], margin[2] : margin[2] + ink.shape[1]] = ink
    light = paper(sheet.shape, rng)
    dark_ink = rng.random() < 0.8
    reflect = light * (1 - 0.85 * sheet) if dark_ink else light * 0.25 + (1 - light * 0.25) * 0.9 * sheet
    blur = rng.uniform(0, 1.2)
    if blur > 0.3:
        reflect = box_blur(reflect, blur)
    reflect = np.clip(reflect + rng.normal(0, rng.uniform(0.005, 0.03), reflect.shape), 0, 1)
    kind = rng.choice(["jpeg", "jpeg", "png8", "png16"])
    buffer = io.BytesIO()
    if kind == "png16":
        Image.fromarray((reflect * 65535).astype(np.uint16)).save(buffer, "PNG")
    else:
        image = Image.fromarray((tint(reflect, rng) * 255).astype(np.uint8), "RGB")
        orientation = int(rng.choice([1, 3, 6, 8])) if kind == "jpeg" else 1
        if orientation in STORED_AS:
            image = image.transpose(getattr(Image.Transpose, STORED_AS[orientation]))
        exif = Image.Exif()
        exif[0x0112] = orientation
        if kind == "jpeg":
            image.save(buffer, "JPEG", quality=int(rng.integers(50, 96)), exif=exif)
            kind = f"jpeg, EXIF orientation {orientation}"
        else:
            image.save(buffer, "PNG")
    return Photo(label, buffer.getvalue(), str(kind))


def box_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """``image`` smoothed by a separable triangle filter of about ``sigma`` pixels."""
    radius = max(1, round(sigma * 1.5))
    kernel = np.convolve(np.ones(radius + 1), np.ones(radius + 1))
    kernel /= kernel.sum()
    padded = np.pad(image, radius * 2, mode="edge")
    smooth = np.apply_along_axis(np.convolve, 0, padded, kernel, "same")
    smooth = np.apply_along_axis(np.convolve, 1, smooth, kernel, "same")
    return smooth[radius * 2 : -radius * 2, radius * 2 : -radius * 2]


def photos(digits: Split, count: int, seed: int = SEED) -> list[Photo]:
    """``count`` pictures of numbers of 1–6 digits of ``digits``."""
    rng = np.random.default_rng(seed + 1)
    return [synthetic_photo(digits, rng, int(rng.integers(1, 7))) for _ in range(count)]


def blank_sheets(digits: Split, count: int, seed: int = SEED) -> list[Photo]:
    """``count`` pictures of blank paper in uneven light, shadows, noise and blur."""
    rng = np.random.default_rng(seed + 2)
    return [synthetic_photo(digits, rng, 4, blank=True) for _ in range(count)]


# ---------------------------------------------------------------- scores


def score(readings: list[NumberReading], labels: list[str]) -> dict[str, float]:
    """Digit accuracy (over numbers split into the right count of digits), whole-number accuracy (%),
    segmentation errors (numbers split into the wrong count of digits) and the highest confidence."""
    digits = right = whole = wrong_split = 0
    for reading, label in zip(readings, labels, strict=True):
        whole += reading.number == label
        if len(reading.digits) != len(label):
            wrong_split += 1
            continue
        digits += len(label)
        right += sum(a == b for a, b in zip(reading.number, label, strict=True))
    top = max((d.recognition.confidence for r in readings for d in r.digits), default=0.0)
    return {
        "numbers": len(labels),
        "digit_accuracy": round(100 * right / max(digits, 1), 2),
        "number_accuracy": round(100 * whole / max(len(labels), 1), 2),
        "segmentation_errors": wrong_split,
        "max_confidence": round(top, 4),
    }


def evaluate_drawn(networks: dict[str, Network], numbers: list[DrawnNumber]) -> dict[str, list[NumberReading]]:
    """Each drawing's candidates made once (model-independent), then read by every network."""
    found = [stroke_candidates(n.strokes, n.canvas_size) for n in numbers]
    return {name: [read_candidates(network, f) for f in found] for name, network in networks.items()}


def evaluate_photos(networks: dict[str, Network], pictures: list[Photo]) -> dict[str, list[NumberReading]]:
    """Each picture prepared once (model-independent), then read by every network."""
    prepared = [prepare_picture(p.data) for p in pictures]
    return {name: [read_prepared(network, p) for p in prepared] for name, network in networks.items()}


# ---------------------------------------------------------------- the results table

#: Set sizes of the results table: drawn numbers per length 2–8, 4-digit numbers, photos, blank sheets.
#: A share near 95 % measured on n numbers has a standard error of √(0.95 · 0.05 / n): 1.5 points
#: for 200 numbers, 0.7 for 1000, so the 4-digit target is measured on 1000.
SIZES = {"drawn": 100, "drawn4": 1000, "photos": 150, "blank": 30}
TARGETS = {"drawn4_number": 96.0, "photo_digit": 97.0, "blank_confidence": 0.9}

HEADER = """# Numbers: drawn and photographed

Generated by `{command}` from MNIST **{digits}** digits only
(`training/number_sets.py`, fixed seed, so every model meets the same numbers):

- *drawn*: numbers of 2–8 digits ({drawn} of each length), and {drawn4} numbers of 4 digits, made of
  {digits} digits traced into pen strokes, laid side by side with random gaps and slight
  overlaps (−8 % to 45 % of a digit's height), baseline drift (±8 %) and sizes ±15 %; read as
  the page reads a number (`digitnet.numbers`);
- *photos*: {photos} pictures of 1–6 {digits} digits on synthetic paper (grey 0.3–0.95, tinted, light
  gradients, soft shadows, noise, blur; dark ink, or light ink on a dark board), saved as
  JPEG (quality 50–95, EXIF orientation 1, 3, 6 or 8) or as 8- or 16-bit PNG; read as
  `digitnet predict` and the page read a picture (`digitnet.picture`);
- *blank*: {blank} pictures of blank paper in the same uneven light.

A share near the 4-digit target measured on {drawn4} numbers is known to about ±{margin:.1f} points
(two standard errors).

"digits" is the share of digits read right among the numbers split into the right number of
digits; "numbers" the share of numbers read entirely right; "split errors" counts apart the
numbers split into too many or too few digits. For blank sheets: how many were read as
holding a digit, and the highest confidence of any answer.

"""


def results(
    networks: dict[str, Network], digits: Split, sizes: dict[str, int] = SIZES, seed: int = SEED
) -> dict[str, dict]:
    """Every network's figures on every set made of ``digits``: ``{model: {set: score}}``."""
    out = drawn_results(networks, digits, sizes, seed)
    pictures, blank = photos(digits, sizes["photos"], seed), blank_sheets(digits, sizes["blank"], seed)
    sets = {
        "photos": (evaluate_photos(networks, pictures), [p.label for p in pictures]),
        "blank": (evaluate_photos(networks, blank), [p.label for p in blank]),
    }
    for key, (readings, labels) in sets.items():
        for name in networks:
            out[name][key] = score(readings[name], labels)
    return out


def drawn_results(
    networks: dict[str, Network], digits: Split, sizes: dict[str, int] = SIZES, seed: int = SEED
) -> dict[str, dict]:
    """Every network's figures on the drawn sets made of ``digits`` (``drawn_sets``): ``{model: {set: score}}``,
    the 2–8-digit set also by length (``"drawn_by_length"``)."""
    out: dict[str, dict] = {name: {} for name in networks}
    for key, numbers in drawn_sets(digits, sizes, seed).items():
        readings, labels = evaluate_drawn(networks, numbers), [n.label for n in numbers]
        for name in networks:
            out[name][key] = score(readings[name], labels)
            if key == "drawn":
                out[name]["drawn_by_length"] = {
                    length: score(
                        [r for r, label in zip(readings[name], labels, strict=True) if len(label) == length],
                        [label for label in labels if len(label) == length],
                    )
                    for length in sorted({len(label) for label in labels})
                }
    return out


def results_markdown(
    figures: dict[str, dict], sizes: dict[str, int] = SIZES, default: str | None = None, validation: bool = False
) -> str:
    """The results table of ``results`` figures, with the default model's targets (the page's default model
    unless ``default`` names another)."""
    from digitnet.training.results import DEFAULT_MODEL

    default = default or DEFAULT_MODEL
    command = "digitnet numbers --validation" if validation else "digitnet numbers --write weights/numbers.md"
    share = TARGETS["drawn4_number"] / 100
    margin = 2 * 100 * (share * (1 - share) / sizes["drawn4"]) ** 0.5  # two standard errors, in points
    lines = [HEADER.format(**sizes, command=command, digits="validation" if validation else "test", margin=margin)]
    lines.append(
        "| model | drawn: digits | numbers | split errors | 4 digits: numbers | split errors "
        "| photos: digits | numbers | split errors | blank: read | max confidence |"
    )
    lines.append("|---|" + "---:|" * 10)
    for name, f in sorted(figures.items(), key=lambda item: -item[1]["drawn4"]["number_accuracy"]):
        d, d4, p, b = f["drawn"], f["drawn4"], f["photos"], f["blank"]
        lines.append(
            f"| {name} | {d['digit_accuracy']:.2f} % | {d['number_accuracy']:.1f} % | {d['segmentation_errors']} "
            f"| {d4['number_accuracy']:.1f} % | {d4['segmentation_errors']} "
            f"| {p['digit_accuracy']:.2f} % | {p['number_accuracy']:.1f} % | {p['segmentation_errors']} "
            f"| {b['numbers'] - b['number_accuracy'] * b['numbers'] / 100:.0f} of {b['numbers']} "
            f"| {b['max_confidence']:.2f} |"
        )
    if default in figures:
        f = figures[default]
        lines.append(f"\n## The default model, {default}, by number length (drawn)\n")
        lines.append("| digits | numbers | digits right | numbers right | split errors |")
        lines.append("|---:|---:|---:|---:|---:|")
        for length, s in f["drawn_by_length"].items():
            lines.append(
                f"| {length} | {s['numbers']} | {s['digit_accuracy']:.2f} % | {s['number_accuracy']:.1f} % "
                f"| {s['segmentation_errors']} |"
            )
        met = {
            "drawn 4-digit numbers all right": (f["drawn4"]["number_accuracy"], TARGETS["drawn4_number"], "≥", "%"),
            "digits in synthetic photos right": (f["photos"]["digit_accuracy"], TARGETS["photo_digit"], "≥", "%"),
            "highest confidence on a blank sheet": (f["blank"]["max_confidence"], TARGETS["blank_confidence"], "≤", ""),
        }
        lines.append("\n## Targets (default model)\n")
        lines.append("| target | measured | goal | met |")
        lines.append("|---|---:|---:|---|")
        for what, (value, goal, sense, unit) in met.items():
            ok = value >= goal if sense == "≥" else value <= goal
            lines.append(
                f"| {what} | {value:g}{unit and ' ' + unit} | {sense} {goal:g}{unit and ' ' + unit} "
                f"| {'yes' if ok else 'no'} |"
            )
    return "\n".join(lines) + "\n"
