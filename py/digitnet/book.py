"""The book, live: Nielsen's networks trained from scratch, in the page or in CPython, with the same result.

Two set-ups, the recipes ``c1`` and ``c2`` of ``digitnet.training.recipes``:

- **c1** (ch. 1): ``[784, 30, 10]`` sigmoid neurons, quadratic cost ``C = ½ Σ ‖a − y‖²``, weights
  N(0, 1), η = 3.0, no L2 term;
- **c2** (ch. 3): the same network with the cross-entropy cost ``C = −Σ [y ln a + (1 − y) ln(1 − a)]``,
  weights N(0, 1/n_in), η = 0.5 and L2 with λ = 5.0.

Biases are N(0, 1); the hidden size, η, λ, the mini-batch size m, the epochs and the number n of training
images can be changed within ``LIMITS``, and the cost and the weights' initialisation to the other
set-up's (``CHOICES``): c1 with N(0, 1/n_in) weights is ch. 3's cure for the slow start of saturated
sigmoid neurons, which a reader can watch. A run does what ``digitnet train`` does for those recipes, on a
subset of MNIST (``BookData``): a generator seeded with the seed draws the weights and biases
(``build_mlp``, as the recipes draw them), then, every epoch, a fresh order of the n images
(``rng.permutation(n)``) and one SGD step per mini-batch in that order (``update_mini_batch``:
``w → (1 − ηλ/n) w − (η/m) Σ ∇C``, ``b → b − (η/m) Σ ∇C``), as ``sgd_epoch``; ``BookRun.advance``
only lets that loop stop after any mini-batch and go on later, which the page needs to pause and
to stay responsive. The parameters are float64 (drawn as float32, as the recipes draw them, then
widened) and the images are read as training reads them (float32 in [0, 1]), so Pyodide and
CPython, which sum the products in different orders, agree to rounding.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

import digitnet
from digitnet.backprop import one_hot, total_cost, update_mini_batch
from digitnet.costs import cost_named
from digitnet.errors import DigitnetError
from digitnet.initialise import build_mlp
from digitnet.modelfile import model_to_dict
from digitnet.network import N_PIXELS, Network
from digitnet.optimisers import SGD

#: The MNIST subset the page trains on, beside the models (``digitnet book-data`` writes it).
BOOK_DATA_FILE = "book-mnist.npz"
#: Its arrays, all uint8: images ``(n, 784)`` (ink = 255) and their digits ``(n,)``.
BOOK_ARRAYS = ("train_images", "train_labels", "validation_images", "validation_labels")
#: Misread validation digits reported after each epoch (the first ones, in the validation set's order).
MISREAD_SHOWN = 16


class SettingsError(DigitnetError, ValueError):
    """A setting out of its bounds, or not a number; the message is one sentence naming it."""


class BookDataError(DigitnetError, ValueError):
    """The MNIST subset is corrupt, altered or not one; the message is one sentence saying so."""


@dataclass(frozen=True)
class Limit:
    """The bounds of one setting, as the page names it."""

    label: str
    low: float
    high: float
    whole: bool


@dataclass(frozen=True)
class Choice:
    """A setting that is one of a few options, as the page names it and them (value → what it is), and how a
    description names the one chosen (``phrase``, with ``{}`` for it)."""

    label: str
    options: dict[str, str]
    phrase: str


#: The settings that are one of the set-ups' options: the cost and the weights' initialisation.
CHOICES: dict[str, Choice] = {
    "cost": Choice("the cost", {"quadratic": "quadratic", "cross-entropy": "cross-entropy"}, "the {} cost"),
    "init": Choice("the weight initialisation", {"large": "N(0, 1)", "default": "N(0, 1/n_in)"}, "{} weights"),
}

#: What may be changed, and within which bounds (inclusive).
LIMITS: dict[str, Limit] = {
    "hidden": Limit("the number of hidden neurons", 1, 200, True),
    "eta": Limit("the learning rate η", 0.001, 100.0, False),
    "l2": Limit("the L2 parameter λ", 0.0, 100.0, False),
    "batch_size": Limit("the mini-batch size", 1, 1000, True),
    "epochs": Limit("the number of epochs", 1, 100, True),
    "train_size": Limit("the number of training images", 10, 10_000, True),
    "seed": Limit("the seed", 0, 2**32 - 1, True),
}


@dataclass(frozen=True)
class BookSettings:
    """One run: the set-up's fixed choices (cost, initialisation) and the settings of ``LIMITS``."""

    setup: str
    description: str
    cost: str
    init: str
    hidden: int
    eta: float
    l2: float
    batch_size: int
    epochs: int
    train_size: int
    seed: int

    @property
    def sizes(self) -> list[int]:
        return [N_PIXELS, self.hidden, 10]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def described(self) -> str:
        """The set-up's description, and which of its ``CHOICES`` were changed to what."""
        base = SETUPS[self.setup]
        changed = [
            choice.phrase.format(choice.options[getattr(self, name)])
            for name, choice in CHOICES.items()
            if getattr(self, name) != getattr(base, name)
        ]
        return f"{self.description}; here with {' and '.join(changed)}" if changed else self.description


#: The book's set-ups, with the recipes' values (tests/test_book_train.py checks they agree).
SETUPS: dict[str, BookSettings] = {
    "c1": BookSettings(
        "c1",
        "Nielsen ch. 1: sigmoid [784, 30, 10], quadratic cost, N(0, 1) weights",
        "quadratic",
        "large",
        hidden=30,
        eta=3.0,
        l2=0.0,
        batch_size=10,
        epochs=30,
        train_size=10_000,
        seed=1,
    ),
    "c2": BookSettings(
        "c2",
        "Nielsen ch. 3: sigmoid [784, 30, 10], cross-entropy, L2 λ = 5.0, N(0, 1/n_in) weights",
        "cross-entropy",
        "default",
        hidden=30,
        eta=0.5,
        l2=5.0,
        batch_size=10,
        epochs=30,
        train_size=10_000,
        seed=1,
    ),
}


def book_settings(setup: str, values: Mapping[str, Any] | None = None) -> BookSettings:
    """The set-up ``setup`` with ``values`` (numbers, or the page's texts) in place of its defaults.

    Raises ``SettingsError`` for an unknown set-up, an unknown setting, a value out of ``LIMITS`` or not
    among ``CHOICES``.
    """
    if setup not in SETUPS:
        raise SettingsError(f"there is no set-up {setup!r}: the book's are {' and '.join(SETUPS)}")
    values = dict(values or {})
    unknown = sorted(set(values) - set(LIMITS) - set(CHOICES))
    if unknown:
        raise SettingsError(f"{unknown[0]!r} is not a setting (the settings are {', '.join([*LIMITS, *CHOICES])})")
    return dataclasses.replace(SETUPS[setup], **{name: checked(name, value) for name, value in values.items()})


def checked(name: str, value: Any) -> int | float | str:
    """``value`` as setting ``name`` takes it: one of its ``Choice``'s options, or a whole number or a finite
    number within its ``Limit``."""
    if name in CHOICES:
        choice = CHOICES[name]
        if isinstance(value, str) and value.strip() in choice.options:
            return value.strip()
        options = " or ".join(
            option + (f" ({what})" if what != option else "") for option, what in choice.options.items()
        )
        raise SettingsError(f"{choice.label} must be {options}, not {_shown(value)}")
    limit = LIMITS[name]
    kind = "a whole number" if limit.whole else "a number"
    bounds = f"{kind} from {_figure(limit.low)} to {_figure(limit.high)}"
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        number = math.nan
    fits = math.isfinite(number) and (not limit.whole or number == int(number)) and limit.low <= number <= limit.high
    if isinstance(value, bool) or not fits:
        raise SettingsError(f"{limit.label} must be {bounds}, not {_shown(value)}")
    return int(number) if limit.whole else number


def _figure(value: float) -> str:
    return f"{int(value):,}" if value == int(value) else f"{value:g}"


def _shown(value: Any) -> str:
    """How a refused value is quoted: a number as it is, anything else in quotes, an empty text as nothing."""
    text = (value.strip() if isinstance(value, str) else str(value))[:20]
    if not text:
        return "nothing"
    return text if _is_number(text) else repr(text)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return bool(text)


# ---------------------------------------------------------------- the data


@dataclass(frozen=True)
class BookData:
    """The MNIST subset: uint8 images ``(n, 784)`` and labels ``(n,)`` for training and for validation;
    ``sha256``: the file's."""

    train_images: np.ndarray
    train_labels: np.ndarray
    validation_images: np.ndarray
    validation_labels: np.ndarray
    sha256: str

    def sizes(self) -> dict[str, int]:
        return {"train": len(self.train_labels), "validation": len(self.validation_labels)}


def read_book_data(data: bytes, sha256: str | None = None) -> BookData:
    """The subset stored in ``data`` (a ``.npz`` of ``BOOK_ARRAYS``), refused with a ``BookDataError`` unless
    its sha256 is ``sha256`` (when given) and its arrays are uint8 images of 784 pixels with digits 0–9."""
    actual = hashlib.sha256(data).hexdigest()
    if sha256 is not None and actual != sha256:
        raise BookDataError(
            f"the MNIST subset's sha256 is {actual[:16]}…, not the {sha256[:16]}… the site lists: "
            "the file is corrupt or altered, reload the page to fetch it again"
        )
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in BOOK_ARRAYS}
    except Exception as e:  # a damaged archive fails in zipfile, zlib or NumPy's reader, each in its own way
        raise BookDataError(f"the MNIST subset is not an archive of {', '.join(BOOK_ARRAYS)} ({e})") from None
    for split in ("train", "validation"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.dtype != np.uint8 or labels.dtype != np.uint8:
            raise BookDataError(f"the MNIST subset's {split} arrays must be uint8, not {images.dtype}/{labels.dtype}")
        if images.ndim != 2 or images.shape[1] != N_PIXELS or labels.shape != (len(images),) or not len(images):
            raise BookDataError(
                f"the MNIST subset's {split} images {images.shape} do not fit its labels {labels.shape}: "
                f"one row of {N_PIXELS} pixels per label is needed"
            )
        if labels.max() > 9:
            raise BookDataError(f"the MNIST subset's {split} labels must be digits 0–9, not {int(labels.max())}")
    return BookData(**arrays, sha256=actual)


def as_float(images: np.ndarray) -> np.ndarray:
    """``uint8 (n, 784)`` → ``float32 (n, 784)`` in [0, 1], as CPython training reads MNIST."""
    return np.divide(images, np.float32(255), dtype=np.float32)


# ---------------------------------------------------------------- a run


class BookRun:
    """A run of ``settings`` on ``data``'s first ``train_size`` training images, one mini-batch at a time.

    ``advance(k)`` takes up to ``k`` SGD steps of the current epoch (starting the next epoch when none
    is under way) and, when that ends an epoch, returns its figures (``evaluate``); ``finished`` once
    ``settings.epochs`` epochs are done. ``train_epoch()`` is one whole epoch.
    """

    def __init__(self, settings: BookSettings, data: BookData) -> None:
        n = settings.train_size
        if n > len(data.train_labels):
            limit = LIMITS["train_size"]
            raise SettingsError(
                f"{limit.label} must be a whole number from {_figure(limit.low)} to "
                f"{len(data.train_labels):,} (the images there are), not {n:,}"
            )
        self.settings, self.data = settings, data
        self.images = as_float(data.train_images[:n])
        self.labels = data.train_labels[:n].astype(np.int64)
        self.targets = one_hot(self.labels, dtype=np.float64)
        self.validation = as_float(data.validation_images)
        self.validation_labels = data.validation_labels.astype(np.int64)
        self.rng = np.random.default_rng(settings.seed)
        drawn = build_mlp(settings.sizes, "sigmoid", "sigmoid", settings.init, settings.cost, self.rng)
        self.network = widened(drawn)
        self.cost = cost_named(settings.cost)
        self.optimiser = SGD(settings.eta, settings.l2, n)
        self.order: np.ndarray | None = None
        self.position = 0  # images of the current epoch done
        self.history: list[dict[str, Any]] = []

    @property
    def batches_per_epoch(self) -> int:
        return -(-self.settings.train_size // self.settings.batch_size)

    @property
    def epoch(self) -> int:
        """The epoch under way (or the last one done, between epochs), from 1."""
        return len(self.history) + (self.order is not None)

    @property
    def batches_done(self) -> int:
        """Mini-batches done in the epoch under way."""
        return -(-self.position // self.settings.batch_size) if self.order is not None else 0

    @property
    def finished(self) -> bool:
        return len(self.history) >= self.settings.epochs

    def advance(self, batches: int) -> dict[str, Any] | None:
        """Up to ``batches`` SGD steps, in ``sgd_epoch``'s order; the epoch's figures when it ended here."""
        if self.finished:
            return None
        n, m = self.settings.train_size, self.settings.batch_size
        if self.order is None:
            self.order = self.rng.permutation(n)
            self.position = 0
        with np.errstate(over="ignore"):
            for _ in range(max(1, int(batches))):
                batch = self.order[self.position : self.position + m]
                x, y = self.images.take(batch, axis=0), self.targets.take(batch, axis=0)
                update_mini_batch(self.network, self.cost, x, y, self.optimiser, rng=self.rng)
                self.position += len(batch)
                if self.position >= n:
                    break
        if self.position < n:
            return None
        self.order = None
        figures = {"epoch": len(self.history) + 1, **self.evaluate()}
        self.history.append(figures)
        return figures

    def train_epoch(self) -> dict[str, Any]:
        """One whole epoch from where the run is (the rest of the epoch under way); its figures."""
        if self.finished:
            raise SettingsError(f"the run has done its {self.settings.epochs} epochs already")
        while (figures := self.advance(self.batches_per_epoch)) is None:
            pass
        return figures

    def evaluate(self) -> dict[str, Any]:
        """The network now: ``training_cost`` ``C/n + (λ/2n) Σ w²`` over the training images (``total_cost``)
        and how many validation images it reads right (float64)."""
        cost = total_cost(self.network, self.cost, self.images, self.targets, self.settings.l2)
        correct = self.network.accuracy(self.validation, self.validation_labels)
        return {
            "training_cost": cost,
            "validation_correct": correct,
            "validation_accuracy": 100 * correct / len(self.validation_labels),
        }

    def misread(self, limit: int = MISREAD_SHOWN) -> dict[str, Any]:
        """The first ``limit`` validation digits the network misreads: ``images`` (flat uint8, 784 each),
        ``labels`` and ``answers``; ``count``, how many it misreads in all, of ``validation``."""
        answers = self.network.predict(self.validation)
        wrong = np.flatnonzero(answers != self.validation_labels)
        shown = wrong[:limit]
        return {
            "count": len(wrong),
            "validation": len(self.validation_labels),
            "images": np.ascontiguousarray(self.data.validation_images[shown]).ravel(),
            "labels": self.validation_labels[shown].tolist(),
            "answers": answers[shown].tolist(),
        }

    def parameters(self) -> np.ndarray:
        """Every parameter, layer by layer (``W`` then ``b``), as one float64 vector."""
        return np.concatenate([p.ravel() for layer in self.network.layers for p in layer.params().values()])

    def model(self) -> Network:
        """The network now, with what it is and how it was trained as its metadata."""
        settings = self.settings
        # stopped within an epoch, the network is no longer the one its last epoch's figures describe
        last = self.history[-1] if self.history and self.order is None else self.evaluate()
        network = Network(self.network.layers, settings.cost)
        network.metadata = {
            "recipe": settings.setup,
            "description": f"{settings.described()}; trained here on {settings.train_size:,} MNIST images",
            "settings": settings.as_dict(),
            "epochs": len(self.history),
            "stopped_after_batches": self.batches_done,
            "validation_accuracy": round(last["validation_accuracy"], 2),
            "validation_size": len(self.validation_labels),
            "history": self.history,
            "dataset_sha256": {BOOK_DATA_FILE: self.data.sha256},
            "digitnet_version": digitnet.__version__,
        }
        return network

    def model_text(self) -> str:
        """``model()`` as a model file (float32 tensors)."""
        return json.dumps(model_to_dict(self.model()))


def widened(network: Network) -> Network:
    """``network`` with its parameters converted to float64 (the same values)."""
    for layer in network.layers:
        for name, value in layer.params().items():
            setattr(layer, name, value.astype(np.float64))
    return network
