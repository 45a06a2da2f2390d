"""A memory of the person's kept drawings, read beside the network: a correction works at once.

Each kept drawing ``i`` is remembered by its features (the input of the network's last weighted
layer, ``Network.head_start``: the body's output that adapting also reads) as a unit vector
``mᵢ = fᵢ / ‖fᵢ‖`` (0 for ``fᵢ = 0``), with its label ``yᵢ``. A new drawing with features ``f``
(``u = f / ‖f‖``) and the network's probabilities ``p (10,)`` is read as

- ``dᵢ = 1 − u·mᵢ``, the cosine distance to kept drawing ``i``, in [0, 2];
- ``kᵢ = (1 − dᵢ / h)₊²`` for the ``K`` nearest kept drawings (ties: the one kept first), 0 for the
  others: a kernel of width ``h`` that is exactly 0 from ``dᵢ ≥ h`` on;
- ``E = Σᵢ kᵢ``, how many kept drawings are alike, each weighed by how alike (``0 ≤ E ≤ K``);
- ``p' = (β·p + Σᵢ kᵢ·e(yᵢ)) / (β + E) = (1 − α)·p + α·q`` with ``α = E / (β + E)`` and the memory's
  vote ``q = Σᵢ kᵢ·e(yᵢ) / E`` (``e(y)`` the one-hot vector of ``y``).

The network's answer counts as ``β`` kept drawings alike: the memory's weight ``α`` grows with the
number of kept drawings close to this one, and is exactly 0 for a drawing that no kept drawing is
within ``h`` of, whose probabilities stay the network's (``p' = p``, as for an empty memory). A
kept drawing redrawn the same way (``d = 0``, ``k = 1``) with no other kept drawing alike gets
``p'_y = (β·p_y + 1) / (β + 1)`` against ``p'_c = β·p_c / (β + 1)`` for every other digit ``c``: its
label wins whatever the network said, as long as ``β < 1``.

``h``, ``β`` and ``K`` (``MemorySettings``) were chosen for features a ReLU makes (the cnn's) on real
writers held out by writer (``benchmarks/adapt_memory.py``, figures in
``benchmarks/results/adapt_memory.md``). Features a sigmoid makes lie closer together: with these
constants the memory costs such a network several points of MNIST accuracy (the same figures), and no
constants were chosen for them, so a network whose features are not a ReLU's reads without the memory
(``settings_for``). Everything is float64 and the neighbours are ordered by a stable sort, so the reading
is deterministic.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from digitnet.errors import DigitnetError
from digitnet.network import N_CLASSES, N_PIXELS, Network

#: Images whose features are computed in one pass (bounds the convolutions' working memory).
CHUNK = 50


class MemoryInputError(DigitnetError, ValueError):
    """Input the memory of kept drawings cannot take; the message is one sentence."""


@dataclass(frozen=True)
class MemorySettings:
    """The memory's kernel width ``h`` (cosine distance), the network's weight ``β`` (in kept drawings
    alike) and the neighbour count ``K``."""

    width: float = 0.3
    network_weight: float = 0.5
    neighbours: int = 5

    def __post_init__(self) -> None:
        if not (isinstance(self.width, int | float) and 0 < self.width <= 2):
            raise MemoryInputError(f"the memory's kernel width must be a number in (0, 2], not {self.width!r}")
        if not (isinstance(self.network_weight, int | float) and 0 < self.network_weight < np.inf):
            raise MemoryInputError(f"the network's weight must be a positive number, not {self.network_weight!r}")
        if not (isinstance(self.neighbours, int) and not isinstance(self.neighbours, bool) and self.neighbours >= 1):
            raise MemoryInputError(f"the neighbour count must be a whole number of 1 or more, not {self.neighbours!r}")


@dataclass(frozen=True)
class MemoryReading:
    """The blended probabilities ``p' (m, 10)``, the memory's weight ``α (m,)`` and how many kept drawings
    were alike (``kᵢ > 0``) ``(m,)``, one row per drawing read."""

    probabilities: np.ndarray
    weight: np.ndarray
    alike: np.ndarray


def unit_rows(features: np.ndarray) -> np.ndarray:
    """``features (n, d)`` divided by their row norms, float64; a zero row stays zero."""
    f = np.asarray(features, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", f, f))
    return f / np.where(norms > 0, norms, 1.0)[:, None]


def nearest(distances: np.ndarray, labels: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The distances ``(m, k')`` and labels ``(m, k')`` of the ``k' = min(k, n)`` nearest of ``n`` kept
    drawings, nearest first (a stable sort: of equal distances, the one kept first), from the distances
    ``(m, n)`` of ``m`` drawings to them and their ``labels (n,)``."""
    order = np.argsort(distances, axis=1, kind="stable")[:, : min(k, distances.shape[1])]
    return np.take_along_axis(distances, order, axis=1), np.asarray(labels)[order]


def blend_nearest(
    distances: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, settings: MemorySettings
) -> MemoryReading:
    """The reading (module docstring) of ``m`` drawings from the distances ``(m, j)`` and labels ``(m, j)``
    of their nearest kept drawings (``nearest``; the first ``K`` are used) and the network's
    ``probabilities (m, 10)``."""
    p = np.asarray(probabilities, dtype=np.float64)
    m = len(p)
    d = distances[:, : settings.neighbours]
    y = labels[:, : settings.neighbours]
    kernel = np.maximum(0.0, 1.0 - d / settings.width) ** 2
    cells = (np.arange(m)[:, None] * N_CLASSES + y).ravel().astype(np.intp)  # bincount's index: 32 bits in Pyodide
    votes = np.bincount(cells, weights=kernel.ravel(), minlength=m * N_CLASSES).reshape(m, N_CLASSES)
    mass = kernel.sum(axis=1)
    beta = float(settings.network_weight)
    blended = (beta * p + votes) / (beta + mass)[:, None]
    # rows no kept drawing is alike keep the network's values exactly (not merely to rounding)
    untouched = mass == 0
    blended[untouched] = p[untouched]
    return MemoryReading(blended, mass / (beta + mass), np.sum(kernel > 0, axis=1))


def blend(
    distances: np.ndarray, labels: np.ndarray, probabilities: np.ndarray, settings: MemorySettings
) -> MemoryReading:
    """The reading (module docstring) of ``m`` drawings from their cosine distances ``(m, n)`` to the ``n``
    kept drawings, whose labels are ``labels (n,)``, and the network's ``probabilities (m, 10)``."""
    return blend_nearest(*nearest(distances, labels, settings.neighbours), probabilities, settings)


class Memory:
    """The kept drawings' unit features ``(n, d)`` and labels ``(n,)``, read as the module docstring says."""

    def __init__(self, features: np.ndarray, labels: np.ndarray, settings: MemorySettings | None = None) -> None:
        f = np.asarray(features, dtype=np.float64)
        y = np.asarray(labels)
        if f.ndim != 2:
            raise MemoryInputError(f"kept features must be one row per drawing (2-D), not of shape {f.shape}")
        if y.shape != (len(f),):
            raise MemoryInputError(f"there must be one label per kept drawing: {len(f)} drawings, {y.size} labels")
        if not np.all(np.isfinite(f)):
            raise MemoryInputError("kept features must be finite numbers")
        if y.size and not (np.issubdtype(y.dtype, np.integer) and y.min() >= 0 and y.max() < N_CLASSES):
            raise MemoryInputError("kept labels must be whole numbers from 0 to 9")
        self.units = unit_rows(f)
        self.labels = y.astype(np.int64)
        self.settings = settings or MemorySettings()

    def __len__(self) -> int:
        return len(self.labels)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Cosine distances ``(m, n)`` of drawings' ``features (m, d)`` to the kept drawings."""
        f = np.asarray(features, dtype=np.float64)
        if f.ndim != 2 or (len(self) and f.shape[1] != self.units.shape[1]):
            raise MemoryInputError(
                f"features of shape {f.shape} do not match the kept drawings' {self.units.shape[1:]} features"
            )
        return 1.0 - unit_rows(f) @ self.units.T

    def read(self, features: np.ndarray, probabilities: np.ndarray) -> MemoryReading:
        """The blended reading of drawings' ``features (m, d)`` and the network's ``probabilities (m, 10)``."""
        p = np.asarray(probabilities, dtype=np.float64)
        if p.ndim != 2 or p.shape != (len(features), N_CLASSES):
            raise MemoryInputError(f"probabilities must be (drawings, 10), not of shape {p.shape}")
        if not len(self):
            return MemoryReading(p.copy(), np.zeros(len(p)), np.zeros(len(p), dtype=np.int64))
        return blend(self.distances(features), self.labels, p, self.settings)


def features_of(network: Network, images: np.ndarray) -> np.ndarray:
    """The features ``(n, d)`` (``Network.features_and_outputs``) of ``images (n, 784)``, ``CHUNK`` at a time."""
    x = np.asarray(images, dtype=np.float64).reshape(-1, N_PIXELS)
    parts = [network.features_and_outputs(x[s : s + CHUNK])[0] for s in range(0, max(len(x), 1), CHUNK)]
    return np.concatenate(parts)


#: The memory's constants by the layer that makes a network's features; a kind not here reads without it.
SETTINGS_BY_FEATURES = {"relu": MemorySettings()}
#: Layers that pass features on unchanged at inference (looked through to the layer that made them).
PASS_THROUGH = ("dropout", "reshape")


def feature_kind(network: Network) -> str:
    """The kind of the layer that makes ``network``'s features (the last before its head, dropout and reshape
    looked through); "" when the head reads the image itself."""
    for layer in reversed(network.layers[: network.head_start()]):
        if layer.kind not in PASS_THROUGH:
            return layer.kind
    return ""


def settings_for(network: Network) -> MemorySettings | None:
    """The memory's constants for ``network``'s features, or None when it reads without the memory."""
    return SETTINGS_BY_FEATURES.get(feature_kind(network))


class KeptDrawings:
    """The page's memory: kept drawings' images and labels by id, and their ``Memory`` for the network in use
    (recomputed when the network changes, extended when a drawing is kept). The memory is empty, and the
    network reads alone, while no network is in use or the one in use has no ``settings_for`` its features."""

    def __init__(self) -> None:
        self.images: dict[int, np.ndarray] = {}
        self.labels: dict[int, int] = {}
        self.network: Network | None = None
        self.settings: MemorySettings | None = None
        self._features: dict[int, np.ndarray] = {}
        self.memory = _empty()

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def active(self) -> bool:
        """Whether the network in use reads with the memory."""
        return self.settings is not None

    def use(self, network: Network | None) -> None:
        """Read with ``network`` from now on: every kept drawing's features are computed anew."""
        self.settings = None if network is None else settings_for(network)
        self.network = network if self.settings is not None else None
        self._features = {}
        self._compute(list(self.images))

    def add(self, ids: Iterable[int], images: np.ndarray, labels: Iterable[int]) -> None:
        """Keep drawings ``images (n, 784)`` with their ``labels`` under ``ids`` (an id kept before is replaced).

        Checked first: nothing changes when any of them is refused (``MemoryInputError``).
        """
        ids, x, y = _checked(ids, images, labels)
        for i, image, label in zip(ids, x, y, strict=True):
            self.images[i], self.labels[i] = image, label
            self._features.pop(i, None)
        self._compute(ids)

    def remove(self, ids: Iterable[int]) -> None:
        """Forget the drawings kept under ``ids`` (ids not kept are ignored)."""
        for i in _ids(ids):
            self.images.pop(i, None)
            self.labels.pop(i, None)
            self._features.pop(i, None)
        self._rebuild()

    def replace(self, ids: Iterable[int], images: np.ndarray, labels: Iterable[int]) -> None:
        """Keep exactly these drawings (``add`` after forgetting all); nothing changes when they are refused."""
        checked = _checked(ids, images, labels)
        self.images, self.labels, self._features = {}, {}, {}
        self.add(*checked)

    def _compute(self, ids: list[int]) -> None:
        if self.network is not None and ids:
            f = features_of(self.network, np.stack([self.images[i] for i in ids]))
            self._features.update(zip(ids, f, strict=True))
        self._rebuild()

    def _rebuild(self) -> None:
        order = [i for i in self.labels if i in self._features]
        if self.settings is None or not order:
            self.memory = _empty(self.settings)
            return
        features = np.stack([self._features[i] for i in order])
        self.memory = Memory(features, np.array([self.labels[i] for i in order]), self.settings)


def _empty(settings: MemorySettings | None = None) -> Memory:
    return Memory(np.zeros((0, 0)), np.zeros(0, dtype=np.int64), settings)


def _ids(ids: Iterable[int]) -> list[int]:
    out = []
    for i in ids:
        if isinstance(i, bool) or not float(i).is_integer():
            raise MemoryInputError(f"a kept drawing's id must be a whole number, not {i!r}")
        out.append(int(i))
    return out


def _checked(ids: Iterable[int], images: np.ndarray, labels: Iterable[int]) -> tuple[list[int], np.ndarray, list[int]]:
    keys = _ids(ids)
    x = np.asarray(images, dtype=np.float64)
    y = [int(v) for v in labels]
    if not (len(keys) == len(y) and x.size == len(keys) * N_PIXELS):
        raise MemoryInputError(
            f"{len(keys)} ids, {x.size / N_PIXELS:g} images of 784 pixels and {len(y)} labels: one of each per drawing"
        )
    x = x.reshape(len(keys), N_PIXELS)
    if len(set(keys)) != len(keys):
        raise MemoryInputError("each kept drawing needs its own id; an id was given twice")
    if any(not 0 <= v < N_CLASSES for v in y):
        raise MemoryInputError("kept labels must be whole numbers from 0 to 9")
    if not np.all(np.isfinite(x)):
        raise MemoryInputError("kept images must be finite numbers")
    return keys, x, y
