"""Adapting a trained model to one person's handwriting, in CPython and in the browser alike.

The person's labelled drawings (``digitnet.strokesfile``) are rendered as the page
renders them, plus randomly perturbed copies (pen width, affine map, elastic
distortion: ``digitnet.augment``). Only the network's *head* is fine-tuned: the
layers from its last weighted layer on (for the cnn: dense 256 → 10 and softmax).
Everything before it is frozen, so each image's features ``f = body(x)`` are
computed once, and the head is trained on them with Adam, every mini-batch a
quarter the person's copies and three quarters a fixed MNIST replay set, its weights pulled towards
the original ones (``λ/2 ‖W − W₀‖²``, "L2-SP") so that what MNIST taught stays.

Reported, before → after: accuracy on the person's drawings, *after* measured by
k-fold cross-validation (each fold's drawings are read by a head trained without
them, nor their copies), and on a separate MNIST holdout. The adapted model is
refused when the holdout accuracy drops by more than ``max_holdout_drop`` points.

Everything is computed in float64 from a seeded generator, so CPython (OpenBLAS)
and Pyodide (NumPy's own loops) give the same model to ~1e-12.
"""

from __future__ import annotations

import copy
import dataclasses
import io
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from digitnet.augment import Augmentation, StrokeAugmentation, augment, distort_strokes
from digitnet.backprop import apply_gradients, backprop, one_hot
from digitnet.costs import cost_named
from digitnet.errors import DigitnetError, InputError
from digitnet.network import Network
from digitnet.optimisers import Adam
from digitnet.preprocess import NoDigitError
from digitnet.strokes import normalise_strokes
from digitnet.strokesfile import Sample, labels_of, render_samples

MIN_SAMPLES = 10
#: The MNIST replay set's file (``load_replay``): ``weights/`` in CPython, ``data/`` in the site.
REPLAY_FILE = "replay.npz"
#: Images whose features are computed between two looks at the cancel flag (~0.4 s in Pyodide for the cnn).
CHUNK = 50


class AdaptationCancelledError(DigitnetError):
    """The person cancelled the adaptation; nothing was changed."""


@dataclass(frozen=True)
class AdaptSettings:
    """How the head is fine-tuned; the defaults fit 10–200 drawings in about 15 s of Pyodide."""

    copies: int = 3  # perturbed copies per drawing, besides the drawing itself
    pen: tuple[float, float] = (1.7, 3.2)  # pen width range of the copies, in 28×28 pixels (MNIST's ≈ 2.4)
    augmentation: Augmentation = field(
        default_factory=lambda: Augmentation(
            rotation_degrees=10.0, scale=0.1, shear=0.15, shift_pixels=1.5, elastic_pixels=0.8
        )
    )
    #: changes of each copy's strokes before it is rendered (None: the copies are of the drawing as drawn)
    strokes: StrokeAugmentation | None = None
    steps: int = 300
    batch: int = 64
    # of each mini-batch, and the rate: with the default cnn trained on drawn, thin, thick and noisy
    # digits, 0.75 and 0.003 cost its MNIST holdout 0.8–1.2 points (over the limit for some styles)
    replay_share: float = 0.9
    lr: float = 0.002
    l2sp: float = 0.05  # λ of the pull towards the original head weights, per mean-cost unit
    folds: int = 5
    replay: int = 500  # MNIST training images mixed in (at most those shipped)
    holdout: int = 500  # MNIST images checked before and after
    max_holdout_drop: float = 1.0  # percentage points


@dataclass
class AdaptReport:
    """Before → after figures (accuracies in %), and whether the adapted model may replace the old one."""

    samples: int
    person_before: float
    person_after: float
    holdout_before: float
    holdout_after: float
    accepted: bool
    reason: str
    seconds: float
    per_digit: dict[str, int]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Replay:
    """The MNIST images shipped for adapting: ``train (n, 784)`` replayed, ``holdout (h, 784)`` checked (uint8)."""

    train_images: np.ndarray
    train_labels: np.ndarray
    holdout_images: np.ndarray
    holdout_labels: np.ndarray


def load_replay(data: bytes) -> Replay:
    """The replay set from the bytes of ``replay.npz`` (uint8 images, labels)."""
    with np.load(io.BytesIO(data)) as z:
        return Replay(z["train_images"], z["train_labels"], z["holdout_images"], z["holdout_labels"])


Progress = Callable[[float, str], Any]
Cancelled = Callable[[], bool]


def adapt(
    network: Network,
    samples: list[Sample],
    replay: Replay,
    seed: int = 0,
    settings: AdaptSettings = AdaptSettings(),
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> tuple[Network, AdaptReport]:
    """Fine-tune a float64 copy of ``network``'s head on ``samples``; return it and the before → after report.

    ``progress(fraction, what)`` is called as work advances; ``cancelled()`` is polled
    between steps and, when true, stops with ``AdaptationCancelledError``. ``network`` is
    never modified. The steps: the images (``adapting_images``), their features through the frozen body
    (``features``), the cross-validated figure (``cross_validated``), the final head (``train_head``), and the
    adapted model with its report (``adapted_model``).
    """
    started = time.perf_counter()
    if len(samples) < MIN_SAMPLES:
        raise InputError(f"adapting needs at least {MIN_SAMPLES} labelled drawings; there are {len(samples)}")
    report_progress = progress or (lambda fraction, what: None)
    check = _cancel_check(cancelled)
    rng = np.random.default_rng(seed)
    net = float64_copy(network)
    start = net.head_start()
    body, head = net.layers[:start], Network(net.layers[start:], net.cost)
    cost = cost_named(net.cost)

    report_progress(0.0, "rendering your drawings")
    images = adapting_images(samples, replay, rng, settings)
    check()
    # every image's features, in one list so progress is even: the originals, their copies, replay, holdout
    parts = [images.originals, images.copies, images.replay, images.holdout]
    total, done = sum(len(p) for p in parts), 0

    def on_chunk(n: int) -> None:
        nonlocal done
        done += n
        check()
        report_progress(0.05 + 0.8 * done / total, "reading the images")

    f = Features(*(features(body, p, on_chunk) for p in parts))
    original = [{k: v.copy() for k, v in layer.params().items()} for layer in head.layers]

    def train(x: np.ndarray, y: np.ndarray) -> Network:
        return train_head(head, original, cost, x, y, f.replay, images.replay_targets, rng, settings, check)

    folds = min(settings.folds, len(samples))

    def on_fold(k: int) -> None:
        report_progress(0.85 + 0.15 * k / (folds + 1), "checking on held-back drawings")

    correct = cross_validated(train, f, images, folds, rng, on_fold)
    final = train(np.concatenate([f.originals, f.copies]), np.concatenate([images.labels, images.copy_labels]))
    report_progress(1.0, "done")
    return adapted_model(network, body, head, final, f, images, correct, seed, settings, started)


@dataclass(frozen=True)
class AdaptingImages:
    """The images adapting reads (float64 in [0, 1]): the person's drawings and their labels, ``copies`` perturbed
    copies of each (sample-major), the MNIST replay set with one-hot targets, and the MNIST holdout."""

    originals: np.ndarray
    labels: np.ndarray
    copies: np.ndarray
    copy_labels: np.ndarray
    copy_owner: np.ndarray
    replay: np.ndarray
    replay_targets: np.ndarray
    holdout: np.ndarray
    holdout_labels: np.ndarray


@dataclass(frozen=True)
class Features:
    """The frozen body's features of each of ``AdaptingImages``' image sets."""

    originals: np.ndarray
    copies: np.ndarray
    replay: np.ndarray
    holdout: np.ndarray


def adapting_images(
    samples: list[Sample], replay: Replay, rng: np.random.Generator, settings: AdaptSettings
) -> AdaptingImages:
    """The drawings rendered as the page renders them, their perturbed copies (``perturbed_copies``), and the
    first ``settings.replay`` and ``settings.holdout`` images of the replay set."""
    labels = labels_of(samples)
    return AdaptingImages(
        originals=render_samples(samples),
        labels=labels,
        copies=perturbed_copies(samples, rng, settings),
        copy_labels=np.repeat(labels, settings.copies),
        copy_owner=np.repeat(np.arange(len(samples)), settings.copies),
        replay=replay.train_images[: settings.replay].astype(np.float64) / 255,
        replay_targets=one_hot(replay.train_labels[: settings.replay].astype(np.int64), dtype=np.float64),
        holdout=replay.holdout_images[: settings.holdout].astype(np.float64) / 255,
        holdout_labels=replay.holdout_labels[: settings.holdout].astype(np.int64),
    )


def cross_validated(
    train: Callable[[np.ndarray, np.ndarray], Network],
    f: Features,
    images: AdaptingImages,
    folds: int,
    rng: np.random.Generator,
    on_fold: Callable[[int], Any],
) -> int:
    """How many of the person's drawings a head trained without them (nor their copies) reads right, over
    ``folds`` folds of the drawings."""
    fold_of = rng.permutation(len(images.labels)) % folds
    correct = 0
    for k in range(folds):
        keep, own, held = fold_of[images.copy_owner] != k, fold_of != k, fold_of == k
        trained = train(
            np.concatenate([f.originals[own], f.copies[keep]]),
            np.concatenate([images.labels[own], images.copy_labels[keep]]),
        )
        correct += int(np.sum(trained.predict(f.originals[held]) == images.labels[held]))
        on_fold(k + 1)
    return correct


def adapted_model(
    network: Network,
    body: list,
    head: Network,
    final: Network,
    f: Features,
    images: AdaptingImages,
    correct: int,
    seed: int,
    settings: AdaptSettings,
    started: float,
) -> tuple[Network, AdaptReport]:
    """The adapted network (``network``'s body, the ``final`` head) and the report of ``head`` → ``final``."""
    person_before = _accuracy(head, f.originals, images.labels)
    holdout_before = _accuracy(head, f.holdout, images.holdout_labels)
    holdout_after = _accuracy(final, f.holdout, images.holdout_labels)
    drop = holdout_before - holdout_after
    accepted = drop <= settings.max_holdout_drop
    reason = (
        ""
        if accepted
        else f"the adapted model reads {drop:.1f} points fewer MNIST holdout digits (at most "
        f"{settings.max_holdout_drop:g} allowed), so the old model is kept"
    )
    n = len(images.labels)
    # the original's accuracy figures describe the original: keep them under "adapted", not as the model's own
    metadata = {k: v for k, v in network.metadata.items() if not k.endswith("accuracy")}
    # the digit check reads the body's features, which adapting leaves as they were, and the outputs, which the
    # retrained head gives: it was fitted on the original's outputs, so it is kept as the closest there is;
    # so are the pen path reader (it reads no image) and the digit gate (it reads the features and outputs too)
    adapted = dataclasses.replace(network, layers=[*body, *final.layers], cost=head.cost, metadata=metadata)
    report = AdaptReport(
        samples=n,
        person_before=person_before,
        person_after=100.0 * correct / n,
        holdout_before=holdout_before,
        holdout_after=holdout_after,
        accepted=accepted,
        reason=reason,
        seconds=time.perf_counter() - started,
        per_digit={str(d): int(np.sum(images.labels == d)) for d in range(10)},
    )
    adapted.metadata["adapted"] = {
        "from": network.metadata.get("recipe") or network.metadata.get("name", ""),
        "samples": n,
        "seed": seed,
        "person_before": round(person_before, 2),
        "person_after": round(report.person_after, 2),
        "holdout_before": round(holdout_before, 2),
        "holdout_after": round(holdout_after, 2),
        "original_test_accuracy": network.metadata.get("test_accuracy"),
    }
    return adapted, report


def float64_copy(network: Network) -> Network:
    """A deep copy of ``network`` whose parameters are float64."""
    net = copy.deepcopy(network)
    for layer in net.layers:
        for key, value in layer.params().items():
            setattr(layer, key, value.astype(np.float64))
    return net


def perturbed_copies(samples: list[Sample], rng: np.random.Generator, settings: AdaptSettings) -> np.ndarray:
    """``copies`` random variants ``(n·copies, 784)`` of each drawing, sample-major: its strokes changed (with
    ``settings.strokes``), rendered with a random pen width, then randomly rotated, scaled, sheared, shifted and
    elastically distorted."""
    pens = rng.uniform(*settings.pen, (len(samples), settings.copies))
    rendered = np.zeros((len(samples) * settings.copies, 784))
    for i, sample in enumerate(samples):
        for j, pen in enumerate(pens[i]):
            rendered[i * settings.copies + j] = _copy(sample, float(pen), rng, settings.strokes)
    return augment(rendered, rng, settings.augmentation).astype(np.float64)


def _copy(sample: Sample, pen: float, rng: np.random.Generator, strokes: StrokeAugmentation | None) -> np.ndarray:
    """``sample`` rendered with ``pen``, its strokes first changed by ``strokes``; a change that leaves no digit
    to render (a mark too small) gives the drawing as drawn."""
    if strokes is not None:
        try:
            return normalise_strokes(distort_strokes(sample.arrays(), rng, strokes), max(sample.canvas), pen)
        except NoDigitError:
            pass
    return sample.render(pen)  # the originals rendered: no error


def features(layers: list, x: np.ndarray, on_chunk: Callable[[int], Any] | None = None) -> np.ndarray:
    """``x (n, 784)`` through the frozen ``layers`` (inference pass), ``CHUNK`` images at a time."""
    out = []
    with np.errstate(over="ignore"):
        for start in range(0, max(len(x), 1), CHUNK):  # an empty x still gives features (0, d)
            a = x[start : start + CHUNK]
            for layer in layers:
                a = layer.forward(a)
            out.append(a)
            if on_chunk is not None:
                on_chunk(len(a))
    return np.concatenate(out)


def train_head(
    head: Network,
    original: list[dict[str, np.ndarray]],
    cost: Any,
    x: np.ndarray,
    y: np.ndarray,
    replay_x: np.ndarray,
    replay_t: np.ndarray,
    rng: np.random.Generator,
    settings: AdaptSettings,
    check: Callable[[], None],
) -> Network:
    """A copy of ``head`` (starting from the ``original`` parameters) trained with Adam on features ``x``, ``y``.

    Each step's mini-batch draws ``replay_share`` of its images from the replay features ``replay_x``
    (targets ``replay_t (r, 10)``) and the rest from the person's (with replacement); the gradient
    of the mean cost gets ``λ (W − W₀)`` added for every weight.
    """
    net = copy.deepcopy(head)
    for layer, params in zip(net.layers, original, strict=True):
        for key, value in params.items():
            setattr(layer, key, value.copy())
    optimiser = Adam(settings.lr)
    theirs_n = round(settings.batch * settings.replay_share) if len(replay_x) else 0
    mine_n = settings.batch - theirs_n
    with np.errstate(over="ignore"):
        for step in range(settings.steps):
            if step % 20 == 0:
                check()
            mine = rng.integers(0, len(x), mine_n)
            theirs = rng.integers(0, len(replay_x), theirs_n)
            batch_x = np.concatenate([x[mine], replay_x[theirs]])
            batch_y = np.concatenate([one_hot(y[mine], dtype=np.float64), replay_t[theirs]])
            grads = backprop(net, cost, batch_x, batch_y, scale=optimiser.gradient_scale(len(batch_x)))
            for layer, layer_grads, params in zip(net.layers, grads, original, strict=True):
                if "weight" in layer_grads:
                    layer_grads["weight"] = layer_grads["weight"] + settings.l2sp * (layer.weight - params["weight"])
            apply_gradients(net, grads, optimiser)
    return net


def _accuracy(net: Network, x: np.ndarray, labels: np.ndarray) -> float:
    return 100.0 * net.accuracy(x, labels) / max(1, len(labels))


def _cancel_check(cancelled: Cancelled | None) -> Callable[[], None]:
    def check() -> None:
        if cancelled is not None and cancelled():
            raise AdaptationCancelledError("adapting was cancelled; the model is unchanged")

    return check
