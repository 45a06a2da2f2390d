"""The adapting worker's Python side (a second Web Worker, so the page keeps recognising meanwhile).

Called with JavaScript values through Pyodide, or with Python ones in CPython.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from digitnet.adapt import adapt, load_replay
from digitnet.modelfile import model_to_dict, parse_model
from digitnet.strokesfile import dump_strokes, parse_strokes, render_samples
from digitnet.webapp import as_array


def read_samples(text: str) -> dict[str, Any]:
    """A strokes file checked and normalised: ``{"text": the file as digitnet writes it, "images": [[784 bytes]]}``.

    Raises ``StrokesFormatError`` (one sentence) for a bad or foreign file.
    """
    samples = parse_strokes(text)
    images = np.rint(255 * render_samples(samples)).astype(np.uint8)
    return {"text": dump_strokes(samples), "images": [row.tolist() for row in images]}


def adapt_model(
    model_text: str, name: str, samples_text: str, replay: Any, seed: int, progress: Any = None
) -> dict[str, Any]:
    """``digitnet adapt`` in the browser: the adapted model file's text and the before → after report.

    ``progress(fraction, what)`` is a JavaScript function called as work advances.
    """
    network = parse_model(model_text, name=name)
    samples = parse_strokes(samples_text)
    data = load_replay(as_array(replay, np.uint8).tobytes())
    adapted, report = adapt(network, samples, data, seed=int(seed), progress=progress)
    adapted.metadata["adapted"]["base"] = name
    return {"model": json.dumps(model_to_dict(adapted)), "report": report.as_dict()}
