"""The web page's Python side, run by Pyodide in a Web Worker.

The worker calls these functions with JavaScript typed arrays (or, in CPython,
any sequences): one model is held at a time, and the memory of the person's kept
drawings (``digitnet.memory``), read with whichever model is held.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitnet.errors import InputError
from digitnet.inside import unit_images
from digitnet.memory import KeptDrawings
from digitnet.modelfile import parse_model
from digitnet.network import Network
from digitnet.numbers import recognise_number
from digitnet.picture import prepare_picture, read_prepared
from digitnet.preprocess import NoDigitError
from digitnet.recognise import recognise_strokes
from digitnet.strokesfile import parse_strokes

_model: Network | None = None
_kept = KeptDrawings()


def load(model_text: str, name: str) -> dict[str, Any]:
    """Parse and keep the model; describe it. Raises ``ModelFormatError`` for a bad file."""
    global _model
    # inference runs in float64: convert the weights once, not at every call, and merge each batch
    # normalisation into the layer before it (one pass less per prediction)
    network = parse_model(model_text, name=name)
    _model = network.folded()
    _kept.use(_model)  # the kept drawings' features, as this model makes them
    return {
        "name": name,
        "output_kind": _model.output_kind,
        "parameters": network.parameter_count(),  # as the file holds them, batch norms included
        "layers": [layer.kind for layer in network.layers],
        "recipe": _model.metadata.get("recipe", ""),
        "test_accuracy": _model.metadata.get("test_accuracy"),
        "memory": memory_state(),
    }


def predict_strokes(points: Any, lengths: Any, canvas_size: float, inside: bool = False) -> dict[str, Any]:
    """Recognise strokes sent as flat ``points`` ``[x0, y0, x1, y1, ...]`` and per-stroke point counts
    (``inside``: with what the Inside view shows, ``digitnet.inside.look_inside``)."""
    strokes = strokes_of(points, lengths)
    return recognise_strokes(current_model(), strokes, float(canvas_size), bool(inside), _kept.memory).as_dict()


def read_file(samples_text: str) -> list[list[float] | None]:
    """Each drawing of a ``digitnet-strokes`` file read as if drawn on the pad now (``predict_strokes``, with the
    memory): its probabilities, or None where the page refuses it. For parity checks."""
    out = []
    for sample in parse_strokes(str(samples_text)):
        reading = recognise_strokes(current_model(), sample.arrays(), max(sample.canvas), memory=_kept.memory)
        out.append(None if reading.digit is None else [float(p) for p in reading.probabilities])
    return out


def remember(samples_text: str, ids: Any) -> dict[str, Any]:
    """Add the drawings of a ``digitnet-strokes`` file, kept under ``ids`` (one per sample), to the memory.

    A drawing the page cannot read as a digit is left out. Raises ``StrokesFormatError`` or
    ``MemoryInputError`` (one sentence) for a bad file or ids, and then changes nothing.
    """
    keys, images, labels, left_out = _kept_drawings(samples_text, ids)
    _kept.add(keys, images, labels)
    return memory_state(left_out)


def remember_only(samples_text: str, ids: Any) -> dict[str, Any]:
    """Make the memory exactly the drawings of a ``digitnet-strokes`` file (as ``remember``): the page's kept
    drawings when it starts."""
    keys, images, labels, left_out = _kept_drawings(samples_text, ids)
    _kept.replace(keys, images, labels)
    return memory_state(left_out)


def forget(ids: Any) -> dict[str, Any]:
    """Take the drawings kept under ``ids`` out of the memory (ids it does not hold are ignored)."""
    _kept.remove(as_array(ids, np.float64).ravel().tolist())
    return memory_state()


def memory_state(left_out: int = 0) -> dict[str, Any]:
    """``kept``: drawings held; ``size``: those the current model reads with (0 while it reads without the
    memory); ``active``: whether it does; ``left_out``: drawings just refused as no digit."""
    return {"kept": len(_kept), "size": len(_kept.memory), "active": _kept.active, "left_out": left_out}


def _kept_drawings(samples_text: str, ids: Any) -> tuple[list[float], np.ndarray, list[int], int]:
    samples = parse_strokes(str(samples_text))
    keys = as_array(ids, np.float64).ravel().tolist()
    if len(keys) != len(samples):
        raise InputError(f"{len(keys)} ids were sent for {len(samples)} drawings: one id per drawing is needed")
    rows, images, labels = [], [], []
    for key, sample in zip(keys, samples, strict=True):
        try:
            images.append(sample.render())
        except NoDigitError:
            continue
        rows.append(key)
        labels.append(sample.label)
    return rows, np.array(images).reshape(-1, 784), labels, len(samples) - len(rows)


def inside_units() -> dict[str, Any] | None:
    """What each unit of the current model's first layer looks for (``digitnet.inside.unit_images``)."""
    return unit_images(current_model())


def strokes_of(points: Any, lengths: Any) -> list[np.ndarray]:
    """Strokes ``(k, 2)`` from flat ``points`` ``[x0, y0, x1, y1, ...]`` and per-stroke point counts."""
    flat = as_array(points, np.float64).ravel()
    counts = as_array(lengths, np.int64).ravel()
    if len(flat) % 2 or np.any(counts < 0):
        raise InputError("strokes must be sent as x, y pairs with stroke lengths of zero or more points")
    flat = flat.reshape(-1, 2)
    if counts.sum() != len(flat):
        raise InputError(f"stroke lengths add up to {counts.sum()} points, but {len(flat)} were sent")
    return np.split(flat, np.cumsum(counts)[:-1]) if len(counts) else []


def predict_number(points: Any, lengths: Any, canvas_size: float) -> dict[str, Any]:
    """Read the number written as strokes (sent as for ``predict_strokes``): digits, answers and boxes."""
    return recognise_number(current_model(), strokes_of(points, lengths), float(canvas_size)).as_dict()


def predict_picture(data: Any) -> dict[str, Any]:
    """Read the number in a picture file's bytes; ``size`` is the upright picture's ``[W, H]``.

    Raises ``PictureError`` (one sentence) for a file that is not a picture.
    """
    prepared = prepare_picture(bytes(as_array(data, np.uint8)))
    return {**read_prepared(current_model(), prepared).as_dict(), "size": list(prepared.size)}


def feedforward(images: Any) -> list[float]:
    """The current model's outputs for flat float32 ``images`` (n × 784), flattened: for parity checks."""
    x = as_array(images, np.float32).reshape(-1, 784)
    return [float(v) for v in current_model().feedforward(x).ravel()]


def current_model() -> Network:
    if _model is None:
        raise RuntimeError("no model is loaded")
    return _model


def as_array(values: Any, dtype: type) -> np.ndarray:
    """A NumPy array from a Python sequence, a buffer, or a Pyodide proxy of a JavaScript typed array."""
    if hasattr(values, "to_py"):
        values = values.to_py()
    return np.asarray(values, dtype=dtype)
