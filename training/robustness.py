"""The robustness suite: every model measured on transformed copies of the MNIST test set.

Sets: the plain test set; the original Rust-NN's shifted, noisy, and shifted-and-noisy
copies; rotated ±15°; scaled 0.7× and 1.2×; thick and thin strokes (grey dilation and
erosion); and "drawn", the test digits traced into pen strokes, drawn at a random size
and place on a 400-pixel canvas and put through the web page's own preprocessing.
All copies are drawn from a fixed seed, so every model meets the same images.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from digitnet.augment import morphology, transform
from digitnet.network import Network
from digitnet.preprocess import NoDigitError
from digitnet.strokes import normalise_strokes
from digitnet.training import tracing
from digitnet.training.batches import correct_in_batches
from digitnet.training.mnist import Split
from digitnet.training.randomise import add_noise, shift
from digitnet.training.tracing import trace_digit

SEED = 7
CANVAS = 400.0


def suite_sets(test: Split) -> Iterator[tuple[str, np.ndarray]]:
    """The suite's image sets ``(n, 784)``, all labelled like ``test``, one at a time (the next one is
    made when the previous one is done with, so only one set is held)."""
    rng = np.random.default_rng(SEED)
    x = test.images
    signs = np.where(np.arange(len(x)) % 2, 15.0, -15.0)
    yield "mnist", x
    yield "shifted", shift(x, rng)
    yield "noisy", add_noise(x, rng)
    yield "shifted+noisy", add_noise(shift(x, rng), rng)
    yield "rotated ±15°", chunked(lambda s: transform(x[s], degrees=signs[s]), len(x))
    yield "scaled 0.7×", chunked(lambda s: transform(x[s], scale=0.7), len(x))
    yield "scaled 1.2×", chunked(lambda s: transform(x[s], scale=1.2), len(x))
    yield "thick", morphology(x, np.maximum, 3)
    yield "thin", morphology(x, np.minimum, 2)
    yield "drawn", drawn(x, rng)


def chunked(make: Callable[[slice], np.ndarray], n: int, size: int = 1000) -> np.ndarray:
    """``make(s)`` for consecutive slices ``s`` of ``range(n)``, ``size`` long, concatenated: a transform's
    float64 intermediates (sampling points, weights) then take ~60 MB instead of ~800 MB for 10,000 images."""
    return np.concatenate([make(slice(start, start + size)) for start in range(0, n, size)])


def drawn(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each digit traced into strokes, drawn 60–360 px tall somewhere on the canvas, normalised as the page does."""
    out = np.zeros_like(images)
    for i, image in enumerate(images):
        strokes = trace_digit(image)
        size = rng.uniform(60, 360)
        corner = rng.uniform(0, CANVAS - size, 2)
        try:
            out[i] = normalise_strokes([s / 28 * size + corner for s in strokes], CANVAS)
        except NoDigitError:
            pass  # nothing traceable: an empty image, counted as a miss unless the net says otherwise
    return out


def drawn_copies(images: np.ndarray, cache: Path | None = None) -> np.ndarray:
    """``drawn(images)`` with a fixed seed, kept in ``cache`` (the user cache by default) under the
    images' sha256 and the tracing's version: tracing 50,000 digits takes minutes, and every run of a
    recipe wants the same copies."""
    import hashlib
    import os

    digest = hashlib.sha256(np.ascontiguousarray(images, dtype=np.float32).tobytes()).hexdigest()[:16]
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    path = (cache or base / "digitnet" / "drawn") / f"{digest}-t{tracing.VERSION}.npy"
    if path.exists():
        return np.load(path)
    copies = drawn(images, np.random.default_rng(SEED + 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    for older in path.parent.glob(f"{digest}*.npy"):  # the same images traced by an earlier version
        older.unlink(missing_ok=True)
    np.save(path, copies)
    return copies


def evaluate_suite(
    networks: dict[str, Network], test: Split, sets: Iterable[tuple[str, np.ndarray]]
) -> dict[str, dict]:
    """Accuracy in % of each network on each set: ``{model: {set: accuracy}}``, set by set, in batches."""
    results: dict[str, dict] = {name: {} for name in networks}
    for key, images in sets:
        for name, network in networks.items():
            results[name][key] = round(100 * correct_in_batches(network, images, test.labels) / len(test), 2)
    return results


def write_suite(results: dict[str, dict], path: Path) -> None:
    from digitnet.modelfile import write_atomic

    write_atomic(path, (json.dumps(results, indent=1, ensure_ascii=False) + "\n").encode())
