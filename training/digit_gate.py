"""Fitting a network's digit gate (``digitnet.digitcheck.DigitGate``): is a drawing a digit at all?

Digits are the MNIST **training** split's images and, for a model trained on real writers, the
drawings of the writers it learnt from (rendered as the page renders them); drawings that are no digit
are generated (``training.nondigits``: letters of the training fonts, scribbles, spirals, lines,
hatching, shapes). The gate is the digit check's small network (``digit_check.fit_check``) on the
network's features and log-probabilities. Its threshold is chosen on the MNIST **validation** split:
the largest that calls at most ``FALSE_SHARE`` of its digits no digit. The held-out fonts, the test
split and the writers the model never saw only measure it (``benchmarks/not_a_digit.py``).

``digitnet fit-digit-gate MODEL`` writes the gate into the model file; a recipe with ``digit_gate``
fits it after training.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.digitcheck import DigitGate, gate_features
from digitnet.modelfile import load_model, save_model
from digitnet.network import Network, probabilities
from digitnet.strokesfile import Sample
from digitnet.training import writers as writers_data
from digitnet.training.arguments import add_data_dir, add_writers_dir, stored_dtype
from digitnet.training.digit_check import fit_check
from digitnet.training.mnist import Mnist, load_mnist
from digitnet.training.nondigits import CANVAS, Strokes, non_digits

SEED = 2024
#: Generated drawings the gate learns from, and those its validation figures are measured on.
NEGATIVES = 20_000
VALIDATION_NEGATIVES = 5_000
HIDDEN = 16
EPOCHS = 20
#: The share of the MNIST validation digits the chosen threshold may call no digit.
FALSE_SHARE = 0.0025
CHUNK = 500


def rendered(drawings: list[Strokes]) -> tuple[np.ndarray, np.ndarray]:
    """The page's images ``(n, 784)`` of strokes drawn on the generator's canvas, and which the page reads at
    all ``(n,)`` (a mark too small to be a digit it refuses before any network sees it)."""
    samples = [Sample(0, tuple(tuple(map(tuple, s.tolist())) for s in d), (CANVAS, CANVAS)) for d in drawings]
    return writers_data.render(samples)


def gate_inputs(network: Network, images: np.ndarray) -> np.ndarray:
    """What a digit gate reads of each of ``images (n, 784)``: ``[h, log p]`` (``gate_features``)."""
    parts = []
    for start in range(0, len(images), CHUNK):
        hidden, output = network.features_and_outputs(np.asarray(images[start : start + CHUNK], dtype=np.float64))
        parts.append(gate_features(hidden, probabilities(output, network.output_kind)))
    return np.concatenate(parts) if parts else np.zeros((0, 0))


def writers_images(network: Network, writers: writers_data.Writers | None) -> np.ndarray:
    """The page's images of the drawings of the writers ``network`` learnt from (none for an MNIST-only one)."""
    learnt = writers_data.trained_on(network)
    if not learnt:
        return np.zeros((0, 784), dtype=np.float32)
    if writers is None:
        raise writers_data.WritersError("the model learnt from real writers: their drawings are needed to fit its gate")
    images, usable = writers_data.render([s for w in learnt for s in writers.samples[w]])
    return images[usable]


def fit_digit_gate(
    network: Network, mnist: Mnist, writers: writers_data.Writers | None = None, seed: int = SEED
) -> tuple[DigitGate, dict[str, Any]]:
    """The digit gate of ``network`` (module docstring), and a summary for the model's metadata."""
    reader = network.folded()  # as the page reads
    digits = np.concatenate([mnist.train.images, writers_images(network, writers)])
    negatives = rendered(non_digits(NEGATIVES, seed)[0])
    x = np.concatenate([gate_inputs(reader, digits), gate_inputs(reader, negatives[0][negatives[1]])])
    y = np.concatenate([np.ones(len(digits)), np.zeros(int(negatives[1].sum()))])
    check = fit_check(x, y, seed, EPOCHS, HIDDEN)
    validation = check.probability(gate_inputs(reader, mnist.validation.images))
    threshold = float(np.quantile(validation, FALSE_SHARE))
    held, usable = rendered(non_digits(VALIDATION_NEGATIVES, seed + 1)[0])
    caught = check.probability(gate_inputs(reader, held[usable])) < threshold
    summary = {
        "digits": len(digits),
        "writers_drawings": len(digits) - len(mnist.train.images),
        "non_digits": int(negatives[1].sum()),
        "hidden": HIDDEN,
        "epochs": EPOCHS,
        "seed": seed,
        "threshold": round(threshold, 6),
        "validation_digits_called_no_digit": round(100 * float(np.mean(validation < threshold)), 2),
        "validation_non_digits_called_no_digit": round(100 * float(np.mean(caught)), 2),
    }
    return DigitGate(check.layers, threshold), summary


def fitted_gate(network: Network, mnist: Mnist, writers: writers_data.Writers | None, seed: int = SEED) -> Network:
    """``network`` with its digit gate fitted (``fit_digit_gate``), the summary under its metadata's "digit_gate"."""
    gate, summary = fit_digit_gate(network, mnist, writers, seed)
    return dataclasses.replace(network, digit_gate=gate, metadata={**network.metadata, "digit_gate": summary})


def add_digit_gate_commands(commands: argparse._SubParsersAction) -> None:
    fit = commands.add_parser(
        "fit-digit-gate", help='fit a model\'s digit gate, which says "not a digit" (written into the model)'
    )
    fit.add_argument("model", type=Path, help="the model file; the gate is written into it")
    fit.add_argument("--out", type=Path, help="write the model with its gate here instead")
    add_data_dir(fit)
    add_writers_dir(fit)
    fit.set_defaults(run=run_fit)


def run_fit(args: argparse.Namespace) -> int:
    network = load_model(args.model)
    writers = writers_data.load_writers(args.writers) if writers_data.trained_on(network) else None
    began = time.perf_counter()
    network = fitted_gate(network, load_mnist(args.data_dir), writers)
    out = args.out or args.model
    save_model(network, out, stored_dtype(args.model))
    summary = network.metadata["digit_gate"]
    print(
        f"fitted the digit gate on {summary['digits']:,} digits and {summary['non_digits']:,} drawings of no digit "
        f"in {time.perf_counter() - began:.0f} s (threshold {summary['threshold']:.4f}: "
        f"{summary['validation_digits_called_no_digit']:.2f} % of MNIST validation digits and "
        f"{summary['validation_non_digits_called_no_digit']:.2f} % of validation non-digits called no digit); "
        f"wrote {out}"
    )
    return 0
