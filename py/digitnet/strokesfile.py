"""The ``digitnet-strokes`` file: a person's labelled drawings, as pen strokes (docs/strokes-format.md).

A sample is the strokes as drawn, ``[[[x, y], ...], ...]`` (y grows downward, any
units), the drawing area ``canvas = [w, h]`` in the same units and the digit it
shows; optionally the model that answered, its answer and the time it was kept.
Parsing is strict: the first problem found is reported in one sentence
(``StrokesFormatError``), naming the sample.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.preprocess import NoDigitError
from digitnet.strokes import PEN, normalise_strokes

FORMAT = "digitnet-strokes"
VERSION = 1
MAX_SAMPLES = 20_000
MAX_POINTS = 20_000  # per sample: a few seconds of a fast pointer, far more than a digit needs
MAX_TEXT = 64_000_000


class StrokesFormatError(DigitnetError, ValueError):
    """A strokes file that cannot be read; the message is one sentence for the person."""


@dataclass(frozen=True)
class Sample:
    """One labelled drawing: ``strokes`` are lists of ``(x, y)`` points in ``canvas``'s units."""

    label: int
    strokes: tuple[tuple[tuple[float, float], ...], ...]
    canvas: tuple[float, float]
    model: str | None = None
    answer: int | None = None
    time: str | None = None

    def key(self) -> str:
        """What makes two samples the same drawing: label, strokes and canvas (not when or who answered)."""
        return json.dumps([self.label, self.strokes, self.canvas])

    def to_entry(self) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "label": self.label,
            "strokes": [[list(p) for p in s] for s in self.strokes],
            "canvas": list(self.canvas),
        }
        for name in ("model", "answer", "time"):
            if getattr(self, name) is not None:
                entry[name] = getattr(self, name)
        return entry

    def arrays(self) -> list[np.ndarray]:
        """The strokes as float64 ``(k, 2)`` arrays."""
        return [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in self.strokes]

    def render(self, pen: float = PEN) -> np.ndarray:
        """The 784 network inputs (float64 in [0, 1]) the page computes for this drawing."""
        return normalise_strokes(self.arrays(), max(self.canvas), pen)


def parse_strokes(text: str | bytes) -> list[Sample]:
    """The samples of a ``digitnet-strokes`` file; ``StrokesFormatError`` for anything else."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError:
            raise StrokesFormatError("this is not a digitnet strokes file: it is not UTF-8 text") from None
    if len(text) > MAX_TEXT:
        raise StrokesFormatError(f"the file is too large ({len(text):,} characters; at most {MAX_TEXT:,})")
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except (json.JSONDecodeError, ValueError, RecursionError) as e:
        raise StrokesFormatError(f"this is not a digitnet strokes file: it is not valid JSON ({_reason(e)})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        found = doc.get("format") if isinstance(doc, dict) else None
        what = f"its format is {_short(found)}" if found is not None else 'it has no "format": "digitnet-strokes"'
        raise StrokesFormatError(f"this is not a digitnet strokes file: {what}")
    version = doc.get("version")
    if type(version) is not int or version != VERSION:
        raise StrokesFormatError(
            f"strokes file version {_short(version)} is not supported (this digitnet reads version {VERSION})"
        )
    samples = doc.get("samples")
    if not isinstance(samples, list):
        raise StrokesFormatError('the strokes file has no "samples" list')
    if len(samples) > MAX_SAMPLES:
        raise StrokesFormatError(f"the strokes file holds {len(samples):,} samples; at most {MAX_SAMPLES:,} are read")
    return [_parse_sample(entry, i + 1) for i, entry in enumerate(samples)]


def dump_strokes(samples: list[Sample]) -> str:
    """The ``digitnet-strokes`` file of ``samples`` (JSON text, one sample per line)."""
    lines = ",\n".join(json.dumps(s.to_entry(), separators=(",", ":")) for s in samples)
    return f'{{"format": "{FORMAT}", "version": {VERSION}, "samples": [\n{lines}\n]}}\n'


def merge_samples(kept: list[Sample], incoming: list[Sample]) -> tuple[list[Sample], int, int]:
    """``kept`` followed by the samples of ``incoming`` not already there: ``(merged, added, skipped)``."""
    seen = {s.key() for s in kept}
    merged = list(kept)
    for sample in incoming:
        key = sample.key()
        if key not in seen:
            seen.add(key)
            merged.append(sample)
    added = len(merged) - len(kept)
    return merged, added, len(incoming) - added


def render_samples(samples: list[Sample], pen: float = PEN) -> np.ndarray:
    """The network inputs ``(n, 784)`` float64 of ``samples``; a drawing too small to be a digit is refused
    by naming it."""
    images = np.zeros((len(samples), 784))
    for i, sample in enumerate(samples):
        try:
            images[i] = sample.render(pen)
        except NoDigitError as e:
            raise StrokesFormatError(f"sample {i + 1}: {e}") from None
    return images


def labels_of(samples: list[Sample]) -> np.ndarray:
    return np.array([s.label for s in samples], dtype=np.int64)


# ---------------------------------------------------------------- validation


def _parse_sample(entry: Any, number: int) -> Sample:
    where = f"sample {number}"
    if not isinstance(entry, dict):
        raise StrokesFormatError(f"{where} is not an object with a label, strokes and a canvas")
    label = entry.get("label")
    if not _is_digit(label):
        raise StrokesFormatError(f"{where}: the label must be a whole number from 0 to 9, not {_short(label)}")
    canvas = entry.get("canvas")
    if not (isinstance(canvas, list) and len(canvas) == 2 and all(_is_number(v) and 0 < v < 1e9 for v in canvas)):
        raise StrokesFormatError(
            f"{where}: the canvas must be [width, height], two positive numbers, not {_short(canvas)}"
        )
    strokes = entry.get("strokes")
    if not isinstance(strokes, list) or not strokes:
        raise StrokesFormatError(f"{where}: the strokes must be a non-empty list of strokes")
    total = 0
    parsed = []
    for k, stroke in enumerate(strokes, 1):
        if not isinstance(stroke, list) or not stroke:
            raise StrokesFormatError(f"{where}, stroke {k}: a stroke must be a non-empty list of [x, y] points")
        total += len(stroke)
        if total > MAX_POINTS:
            raise StrokesFormatError(f"{where} has more than {MAX_POINTS:,} points")
        for point in stroke:
            if not (isinstance(point, list) and len(point) == 2 and all(_is_number(v) and abs(v) < 1e9 for v in point)):
                raise StrokesFormatError(
                    f"{where}, stroke {k}: a point must be [x, y], two numbers, not {_short(point)}"
                )
        parsed.append(tuple((float(x), float(y)) for x, y in stroke))
    model, answer, time = entry.get("model"), entry.get("answer"), entry.get("time")
    if model is not None and not (isinstance(model, str) and len(model) <= 200):
        raise StrokesFormatError(f"{where}: the model must be a name (text), not {_short(model)}")
    if answer is not None and not _is_digit(answer):
        raise StrokesFormatError(f"{where}: the answer must be a digit from 0 to 9 or absent, not {_short(answer)}")
    if time is not None and not (isinstance(time, str) and len(time) <= 64):
        raise StrokesFormatError(f"{where}: the time must be text (ISO 8601), not {_short(time)}")
    return Sample(label, tuple(parsed), (float(canvas[0]), float(canvas[1])), model, answer, time)


def _is_digit(value: Any) -> bool:
    return type(value) is int and 0 <= value <= 9


def _is_number(value: Any) -> bool:
    return type(value) in (int, float) and math.isfinite(value)


def _no_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a number JSON allows")


def _reason(error: Exception) -> str:
    return error.msg if isinstance(error, json.JSONDecodeError) else str(error) or type(error).__name__


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 40 else text[:37] + "..."
