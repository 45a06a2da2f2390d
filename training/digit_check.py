"""Fitting a network's digit check (``digitnet.digitcheck``) on numbers made of MNIST **training** digits.

Numbers are drawn as the number sets draw them (``number_sets.drawn_numbers``: traced digits
laid side by side), from the training digits only. Every candidate digit of every number
(``digitnet.numbers.stroke_candidates``) is an example: 1 when it is exactly the strokes of one
digit, 0 when it is part of a digit or holds parts of two. The check is a small network of our
own layers trained on them by our own backpropagation (``fit_check``).

The features (network features, output log-probabilities and geometry together; the geometry or
the outputs alone, or a logistic regression on all of them, did less well), the check's size and
training and ``numbers.CHECK_WEIGHT`` were chosen on 1,700 numbers made of validation digits
(16 or 32 hidden neurons, 10 or 20 epochs, weights 0.3–1 all did about as well). On the validation
number sets of ``digitnet numbers --validation``, the committed cnn reads 96.6 % of the 4-digit
numbers right with its check against 94.6 % without (split errors 4 against 19), and 95.6 % of the
2–8-digit numbers against 94.3 % (6 against 18).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from digitnet.backprop import sgd_epoch
from digitnet.costs import cost_named
from digitnet.digitcheck import DigitCheck
from digitnet.layers import Dense, ReLU, Sigmoid
from digitnet.network import Network
from digitnet.numbers import Candidates, check_inputs, stroke_candidates
from digitnet.optimisers import Adam
from digitnet.training.initialisation import initial_weight
from digitnet.training.mnist import Split
from digitnet.training.number_sets import DrawnNumber, drawn_sets

#: The numbers' seed (``number_sets.drawn_sets``: the 4-digit numbers from SEED + 3).
SEED = 1777
#: Numbers of each length 2–8, and 4-digit numbers besides: about 60,000 candidates.
COUNTS = {"drawn": 300, "drawn4": 4000}
#: The check's hidden neurons, and how it is trained (``fit_check``).
HIDDEN = 16
EPOCHS = 20
BATCH = 128
RATE = 1e-3
WEIGHT_DECAY = 1e-4


def candidate_labels(number: DrawnNumber, found: Candidates) -> np.ndarray:
    """For each of ``found.spans``: 1.0 when its strokes are exactly one digit's of ``number``, else 0.0."""
    owners = np.asarray(number.owners)
    if len(owners) != len(found.strokes):
        raise ValueError(f"{len(owners)} stroke owners for {len(found.strokes)} strokes: an empty stroke was dropped")
    sizes = np.bincount(owners, minlength=len(number.label))
    labels = []
    for span in found.spans:
        members = owners[[i for a in range(*span) for i in found.atoms[a]]]
        whole = np.all(members == members[0]) and len(members) == sizes[members[0]]
        labels.append(1.0 if whole else 0.0)
    return np.array(labels)


def check_examples(
    network: Network, numbers: list[DrawnNumber], progress: Callable[[int], Any] | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The features ``(N, n_features)`` and labels ``(N,)`` of every candidate of ``numbers``."""
    features, labels = [], []
    for k, number in enumerate(numbers):
        found = stroke_candidates(number.strokes, number.canvas_size)
        if found.spans:
            features.append(check_inputs(network, found)[1])
            labels.append(candidate_labels(number, found))
        if progress is not None:
            progress(k + 1)
    return np.concatenate(features), np.concatenate(labels)


def fit_check(x: np.ndarray, y: np.ndarray, seed: int = SEED, epochs: int = EPOCHS, hidden: int = HIDDEN) -> DigitCheck:
    """A ``DigitCheck`` of our own layers trained on ``x (N, n_features)``, ``y (N,)`` in {0, 1}:
    dense n → ``hidden``, ReLU, dense ``hidden`` → 1, sigmoid; cross-entropy, Adam (``RATE``, decoupled
    weight decay ``WEIGHT_DECAY``), mini-batches of ``BATCH``, ``epochs`` passes.

    It learns on standardised features ``z = (x − μ) / s``; ``standardised_input`` then folds that into
    the first layer, so the check reads ``x`` itself.
    """
    rng = np.random.default_rng(seed)
    # a feature that hardly varies (a dead unit, a digit the network never gives a chance) keeps its scale:
    # dividing by its tiny spread would blow its weight past float16's range once folded
    spread = x.std(axis=0)
    mean, scale = x.mean(axis=0), np.where(spread > 1e-3, spread + 1e-6, 1.0)
    n = x.shape[1]
    layers = [
        Dense(initial_weight(n, hidden, "he", rng), np.zeros(hidden, np.float32)),
        ReLU(),
        Dense(initial_weight(hidden, 1, "default", rng), np.zeros(1, np.float32)),
        Sigmoid(),
    ]
    network = Network(layers, "cross-entropy")
    cost, optimiser = cost_named("cross-entropy"), Adam(RATE, weight_decay=WEIGHT_DECAY)
    z = ((x - mean) / scale).astype(np.float32)
    targets = y.astype(np.float32).reshape(-1, 1)
    for _ in range(epochs):
        sgd_epoch(network, cost, z, targets, BATCH, optimiser, rng)
    layers[0] = standardised_input(layers[0], mean, scale)
    return DigitCheck(layers)


def standardised_input(layer: Dense, mean: np.ndarray, scale: np.ndarray) -> Dense:
    """The dense layer that gives for ``x`` what ``layer`` gives for ``(x − mean) / scale``:
    ``((x − μ) / s) · Wᵀ + b = x · (W / s)ᵀ + (b − W · (μ / s))``."""
    weight = layer.weight.astype(np.float64)
    return Dense((weight / scale).astype(np.float32), (layer.bias - weight @ (mean / scale)).astype(np.float32))


def fit_digit_check(
    network: Network,
    digits: Split,
    counts: dict[str, int] = COUNTS,
    seed: int = SEED,
    progress: Callable[[int], Any] | None = None,
) -> tuple[DigitCheck, dict[str, Any]]:
    """The digit check of ``network`` fitted on numbers made of ``digits`` (the training split), and a
    summary for the model's metadata: how many numbers and candidates, the share of whole digits among
    them and the share the check classifies right."""
    numbers = [n for numbers in drawn_sets(digits, counts, seed).values() for n in numbers]
    x, y = check_examples(network, numbers, progress)
    check = fit_check(x, y, seed)
    right = np.mean((check.probability(x) > 0.5) == (y > 0.5))
    summary = {
        "numbers": len(numbers),
        "candidates": len(y),
        "whole_digit_share": round(float(np.mean(y)), 4),
        "training_accuracy": round(100 * float(right), 2),
        "hidden": HIDDEN,
        "epochs": EPOCHS,
        "seed": seed,
    }
    return check, summary
