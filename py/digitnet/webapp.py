"""The web page's Python side, run by Pyodide in a Web Worker.

The worker calls these functions with JavaScript typed arrays (or, in CPython,
any sequences): one model is held at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from digitnet.inside import unit_images
from digitnet.modelfile import parse_model
from digitnet.network import Network
from digitnet.numbers import recognise_number
from digitnet.picture import prepare_picture, read_prepared
from digitnet.recognise import recognise_strokes

_model: Network | None = None


def load(model_text: str, name: str) -> dict[str, Any]:
    """Parse and keep the model; describe it. Raises ``ModelFormatError`` for a bad file."""
    global _model
    # inference runs in float64: convert the weights once, not at every call, and merge each batch
    # normalisation into the layer before it (one pass less per prediction)
    network = parse_model(model_text, name=name)
    _model = network.folded()
    return {
        "name": name,
        "output_kind": _model.output_kind,
        "parameters": network.parameter_count(),  # as the file holds them, batch norms included
        "layers": [layer.kind for layer in network.layers],
        "recipe": _model.metadata.get("recipe", ""),
        "test_accuracy": _model.metadata.get("test_accuracy"),
    }


def predict_strokes(points: Any, lengths: Any, canvas_size: float, inside: bool = False) -> dict[str, Any]:
    """Recognise strokes sent as flat ``points`` ``[x0, y0, x1, y1, ...]`` and per-stroke point counts
    (``inside``: with what the Inside view shows, ``digitnet.inside.look_inside``)."""
    strokes = strokes_of(points, lengths)
    return recognise_strokes(current_model(), strokes, float(canvas_size), bool(inside)).as_dict()


def inside_units() -> dict[str, Any] | None:
    """What each unit of the current model's first layer looks for (``digitnet.inside.unit_images``)."""
    return unit_images(current_model())


def strokes_of(points: Any, lengths: Any) -> list[np.ndarray]:
    """Strokes ``(k, 2)`` from flat ``points`` ``[x0, y0, x1, y1, ...]`` and per-stroke point counts."""
    flat = as_array(points, np.float64).ravel()
    counts = as_array(lengths, np.int64).ravel()
    if len(flat) % 2 or np.any(counts < 0):
        raise ValueError("strokes must be sent as x, y pairs with stroke lengths of zero or more points")
    flat = flat.reshape(-1, 2)
    if counts.sum() != len(flat):
        raise ValueError(f"stroke lengths add up to {counts.sum()} points, but {len(flat)} were sent")
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
