"""The Train panel's Python side (a Web Worker of its own, so the page keeps recognising meanwhile): one
of the book's set-ups trained from scratch by ``digitnet.book``, a few mini-batches per call.

Called with JavaScript values through Pyodide, or with Python ones in CPython. Arrays go back flat
(float32 weights, uint8 images), which Pyodide hands to JavaScript as typed arrays.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

from digitnet.book import BookData, BookRun, book_settings, read_book_data
from digitnet.inside import unit_images
from digitnet.modelfile import model_to_dict
from digitnet.webapp import as_array

_data: BookData | None = None
_run: BookRun | None = None


def load_data(data: Any, sha256: str) -> dict[str, int]:
    """Check and keep the MNIST subset (the bytes of its file and the sha256 the site lists for it); its sizes.

    Raises ``BookDataError`` (one sentence) for a file that is not the one listed.
    """
    global _data
    _data = read_book_data(as_array(data, np.uint8).tobytes(), str(sha256))
    return _data.sizes()


def has_data() -> bool:
    return _data is not None


def start(request: str) -> dict[str, Any]:
    """A new run from ``{"setup": "c1" or "c2", "values": {setting: value}}`` (JSON): its settings and the
    network before any step. Raises ``SettingsError`` (one sentence) for a setting out of bounds."""
    global _run
    if _data is None:
        raise RuntimeError("the MNIST subset is not loaded yet")
    asked = json.loads(str(request))
    settings = book_settings(str(asked.get("setup")), asked.get("values") or {})
    _run = BookRun(settings, _data)
    return {"settings": settings.as_dict(), "batches_per_epoch": _run.batches_per_epoch, **progress(None)}


def advance(batches: int) -> dict[str, Any]:
    """Up to ``batches`` more SGD steps (``BookRun.advance``); where the run is, and, when an epoch ended,
    its figures and the validation digits the network now misreads."""
    figures = current().advance(int(batches))
    return progress(figures)


def progress(figures: dict[str, Any] | None) -> dict[str, Any]:
    run = current()
    units = unit_images(run.network)
    report: dict[str, Any] = {
        "epoch": run.epoch,
        "epochs": run.settings.epochs,
        "batches_done": run.batches_done,
        "batches_per_epoch": run.batches_per_epoch,
        "finished": run.finished,
        "units": units["units"] if units else 0,
        "weights": units["weights"] if units else np.zeros(0, np.float32),
    }
    if figures is not None:
        report["figures"] = figures
        report["misread"] = run.misread()
    return report


def finish() -> dict[str, Any]:
    """The network as it is now, as a model file's text, and what it was trained with and reached."""
    run = current()
    network = run.model()
    report = {
        "setup": run.settings.setup,
        "epochs": len(run.history),
        "batches_done": run.batches_done,
        "validation_accuracy": network.metadata["validation_accuracy"],
        "settings": run.settings.as_dict(),
        "history": run.history,
    }
    return {"model": json.dumps(model_to_dict(network)), "report": report}


def parameters() -> np.ndarray:
    """Every parameter of the network now, as one float64 vector (``BookRun.parameters``)."""
    return current().parameters()


def current() -> BookRun:
    if _run is None:
        raise RuntimeError("no run has been started")
    return _run
