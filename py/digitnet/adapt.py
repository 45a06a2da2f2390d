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

from digitnet.augment import Augmentation, augment
from digitnet.backprop import apply_gradients, backprop, one_hot
from digitnet.costs import cost_named
from digitnet.network import Network
from digitnet.optimisers import Adam
from digitnet.strokesfile import Sample, labels_of, render_samples

MIN_SAMPLES = 10
#: Images whose features are computed between two looks at the cancel flag (~0.4 s in Pyodide for the cnn).
CHUNK = 50


class AdaptationCancelledError(Exception):
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
    never modified.
    """
    started = time.perf_counter()
    if len(samples) < MIN_SAMPLES:
        raise ValueError(f"adapting needs at least {MIN_SAMPLES} labelled drawings; there are {len(samples)}")
    report_progress = progress or (lambda fraction, what: None)
    check = _cancel_check(cancelled)
    rng = np.random.default_rng(seed)
    net = float64_copy(network)
    start = net.head_start()
    body, head = net.layers[:start], Network(net.layers[start:], net.cost)
    cost = cost_named(net.cost)

    report_progress(0.0, "rendering your drawings")
    labels = labels_of(samples)
    originals = render_samples(samples)
    copies = perturbed_copies(samples, rng, settings)
    replay_x = replay.train_images[: settings.replay].astype(np.float64) / 255
    replay_y = replay.train_labels[: settings.replay].astype(np.int64)
    holdout_x = replay.holdout_images[: settings.holdout].astype(np.float64) / 255
    holdout_y = replay.holdout_labels[: settings.holdout].astype(np.int64)
    check()

    # every image's features, in one list so progress is even: the originals, their copies, replay, holdout
    parts = [originals, copies, replay_x, holdout_x]
    total = sum(len(p) for p in parts)
    done = 0

    def on_chunk(n: int) -> None:
        nonlocal done
        done += n
        check()
        report_progress(0.05 + 0.8 * done / total, "reading the images")

    f_orig, f_copies, f_replay, f_holdout = (features(body, p, on_chunk) for p in parts)
    copy_labels = np.repeat(labels, settings.copies)
    copy_owner = np.repeat(np.arange(len(samples)), settings.copies)

    replay_t = one_hot(replay_y, dtype=np.float64)
    person_before = _accuracy(head, f_orig, labels)
    holdout_before = _accuracy(head, f_holdout, holdout_y)
    original = [{k: v.copy() for k, v in layer.params().items()} for layer in head.layers]

    folds = min(settings.folds, len(samples))
    fold_of = rng.permutation(len(samples)) % folds
    trainings = folds + 1
    correct = 0
    for k in range(folds):
        keep = fold_of[copy_owner] != k
        own = fold_of != k
        x = np.concatenate([f_orig[own], f_copies[keep]])
        y = np.concatenate([labels[own], copy_labels[keep]])
        trained = train_head(head, original, cost, x, y, f_replay, replay_t, rng, settings, check)
        held = fold_of == k
        correct += int(np.sum(trained.predict(f_orig[held]) == labels[held]))
        report_progress(0.85 + 0.15 * (k + 1) / trainings, "checking on held-back drawings")
    x = np.concatenate([f_orig, f_copies])
    y = np.concatenate([labels, copy_labels])
    final = train_head(head, original, cost, x, y, f_replay, replay_t, rng, settings, check)
    holdout_after = _accuracy(final, f_holdout, holdout_y)
    report_progress(1.0, "done")

    drop = holdout_before - holdout_after
    accepted = drop <= settings.max_holdout_drop
    reason = (
        ""
        if accepted
        else f"the adapted model reads {drop:.1f} points fewer MNIST holdout digits (at most "
        f"{settings.max_holdout_drop:g} allowed), so the old model is kept"
    )
    # the original's accuracy figures describe the original: keep them under "adapted", not as the model's own
    metadata = {k: v for k, v in network.metadata.items() if not k.endswith("accuracy")}
    # the digit check reads the body's features, which adapting leaves as they were, and the outputs, which the
    # retrained head gives: it was fitted on the original's outputs, so it is kept as the closest there is
    # so are the pen path reader (it reads no image) and the digit gate (it reads the features and outputs too)
    adapted = dataclasses.replace(network, layers=[*body, *final.layers], cost=net.cost, metadata=metadata)
    report = AdaptReport(
        samples=len(samples),
        person_before=person_before,
        person_after=100.0 * correct / len(samples),
        holdout_before=holdout_before,
        holdout_after=holdout_after,
        accepted=accepted,
        reason=reason,
        seconds=time.perf_counter() - started,
        per_digit={str(d): int(np.sum(labels == d)) for d in range(10)},
    )
    adapted.metadata.update(
        {
            "adapted": {
                "from": network.metadata.get("recipe") or network.metadata.get("name", ""),
                "samples": len(samples),
                "seed": seed,
                "person_before": round(person_before, 2),
                "person_after": round(report.person_after, 2),
                "holdout_before": round(holdout_before, 2),
                "holdout_after": round(holdout_after, 2),
                "original_test_accuracy": network.metadata.get("test_accuracy"),
            }
        }
    )
    return adapted, report


def float64_copy(network: Network) -> Network:
    """A deep copy of ``network`` whose parameters are float64."""
    net = copy.deepcopy(network)
    for layer in net.layers:
        for key, value in layer.params().items():
            setattr(layer, key, value.astype(np.float64))
    return net


def perturbed_copies(samples: list[Sample], rng: np.random.Generator, settings: AdaptSettings) -> np.ndarray:
    """``copies`` random variants ``(n·copies, 784)`` of each drawing, sample-major: rendered with a random
    pen width, then randomly rotated, scaled, sheared, shifted and elastically distorted."""
    pens = rng.uniform(*settings.pen, (len(samples), settings.copies))
    rendered = np.zeros((len(samples) * settings.copies, 784))
    for i, sample in enumerate(samples):
        for j, pen in enumerate(pens[i]):
            rendered[i * settings.copies + j] = sample.render(float(pen))  # the originals rendered: no error
    return augment(rendered, rng, settings.augmentation).astype(np.float64)


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
