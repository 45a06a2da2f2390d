"""Fitting a model's pen path reader (``digitnet.penpath``) on real writers, and measuring what it adds.

``digitnet fit-pen-path MODEL`` trains the reader on the writers the model itself learnt from (its
metadata's ``writers.trained_on``; never on others), each epoch on their drawings and
``COPIES`` fresh ``distort_strokes`` copies of each, and writes it into the model file.
``digitnet pen-order`` scores each fold model of a recipe on its held-out writers three ways: the
image alone, the pen path alone and the two fused (what the page does), and writes
``weights/pen-order.md`` and ``weights/pen-order.results.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.augment import StrokeAugmentation, distort_strokes
from digitnet.backprop import apply_gradients, backprop, one_hot
from digitnet.costs import cost_named
from digitnet.errors import InputError
from digitnet.modelfile import load_model, save_model
from digitnet.network import Network
from digitnet.optimisers import Adam
from digitnet.penpath import PER_POINT, PenPath, fuse, pen_paths
from digitnet.strokesfile import Sample
from digitnet.training import writers as writers_data
from digitnet.training.arguments import add_writers_dir, stored_dtype
from digitnet.training.initialisation import build_mlp
from digitnet.training.paths import WEIGHTS

POINTS = 32
HIDDEN = 128
EPOCHS = 20
COPIES = 4
BATCH = 64
LEARNING_RATE = 1e-3
RESULTS = WEIGHTS / "pen-order"
#: The fusion weights ``w`` tried (``digitnet.penpath.fuse``).
WEIGHT_GRID = tuple(round(0.1 * k, 1) for k in range(11))
#: How ``pen-order`` reads each drawing: the weight given to the pen path (None: the path alone).
READERS: dict[str, float | str | None] = {"image": 0.0, "pen path": None, "product (w = 1)": 1.0, "fused": "nested"}
#: One writer's reading: fold, labels, image and path probabilities, whether the page read each drawing.
Reading = tuple[int, np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def add_pen_path_commands(commands: argparse._SubParsersAction) -> None:
    fit = commands.add_parser(
        "fit-pen-path", help="fit a model's pen path reader on the real writers it learnt from (written into it)"
    )
    fit.add_argument("model", type=Path, help="a model trained on real writers; the reader is written into it")
    fit.add_argument("--out", type=Path, help="write the model with its reader here instead")
    fit.add_argument("--seed", type=int, help="random seed (default: the model's recipe seed, as training fits it)")
    add_writers_dir(fit)
    fit.set_defaults(run=run_fit)

    order = commands.add_parser("pen-order", help="fold models on held-out writers: image, pen path, and fused")
    order.add_argument("--recipe", default="cnn-pen", help="whose fold models (weights/folds/RECIPE-foldK.json)")
    add_writers_dir(order)
    order.add_argument("--write", type=Path, help=f"write the tables here (e.g. {RESULTS}), .md and .results.json")
    order.add_argument(
        "--set-weights",
        action="store_true",
        help="first write each fold model's fusion weight (chosen on the other folds) and the shipped model's",
    )
    order.set_defaults(run=run_pen_order)


def paths(samples: list[Sample], rng: np.random.Generator | None = None, points: int = POINTS) -> np.ndarray:
    """The pen path of each sample, of a fresh ``distort_strokes`` copy of it when ``rng`` is given."""
    settings = StrokeAugmentation()
    return pen_paths([distort_strokes(s.arrays(), rng, settings) if rng else s.arrays() for s in samples], points)


def rng_of(seed: int) -> np.random.Generator:
    return np.random.default_rng([seed, 7])


def fit_pen_path(samples: list[Sample], seed: int) -> tuple[PenPath, dict[str, Any]]:
    """A pen path reader trained on ``samples``, and what it was trained on (for the model's metadata)."""
    if not samples:
        raise InputError("no drawings to fit a pen path reader on")
    rng = rng_of(seed)
    network = build_mlp([POINTS * PER_POINT, HIDDEN, 10], "relu", "softmax", "he", "log-likelihood", rng)
    cost, optimiser = cost_named(network.cost), Adam(LEARNING_RATE)
    labels = np.array([s.label for s in samples])
    plain = paths(samples)
    for _ in range(EPOCHS):
        x = np.concatenate([plain, *(paths(samples, rng) for _ in range(COPIES))])
        y = one_hot(np.tile(labels, COPIES + 1), dtype=np.float64)
        order = rng.permutation(len(x))
        for start in range(0, len(x), BATCH):
            batch = order[start : start + BATCH]
            grads = backprop(network, cost, x[batch], y[batch], optimiser.gradient_scale(len(batch)))
            apply_gradients(network, grads, optimiser)
    summary = {"drawings": len(samples), "epochs": EPOCHS, "copies": COPIES, "points": POINTS, "seed": seed}
    return PenPath(network.layers), summary


def fitted(network: Network, writers: writers_data.Writers, seed: int) -> Network:
    """``network`` with a pen path reader fitted on the writers it learnt from (and only those)."""
    learnt = writers_data.trained_on(network)
    if not learnt:
        raise InputError("the model learnt from no real writers: its pen path reader would have nothing to learn from")
    missing = sorted(set(learnt) - set(writers.ids()))
    if missing:
        raise writers_data.WritersError(f"the model learnt from writer {missing[0]}, who is not in the writers' folder")
    reader, summary = fit_pen_path([s for w in learnt for s in writers.samples[w]], seed)
    return dataclasses.replace(network, pen_path=reader, metadata={**network.metadata, "pen_path": summary})


def recipe_seed(network: Network) -> int:
    """The seed of the recipe the model was trained with (1 when its metadata names none)."""
    settings = network.metadata.get("settings")
    seed = settings.get("seed") if isinstance(settings, dict) else None
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else 1


def run_fit(args: argparse.Namespace) -> int:
    network = load_model(args.model)
    writers = writers_data.load_writers(args.writers)
    began = time.perf_counter()
    network = fitted(network, writers, recipe_seed(network) if args.seed is None else args.seed)
    out = args.out or args.model
    save_model(network, out, stored_dtype(args.model))
    print(
        f"fitted the pen path reader on {network.metadata['pen_path']['drawings']:,} drawings in "
        f"{time.perf_counter() - began:.0f} s; wrote {out}"
    )
    return 0


# ---------------------------------------------------------------- the fusion's weight and the experiment


def held_out_readings(recipe: str, writers: writers_data.Writers) -> dict[str, Reading]:
    """Each writer read by the fold model that never saw them: ``{writer: (fold, labels, image, path, usable)}``,
    the image network's and the pen path reader's probabilities kept apart."""
    readings = {}
    for fold, path in writers_data.fold_model_paths(WEIGHTS / f"{recipe}.json", recipe).items():
        model = load_model(path)
        if model.pen_path is None:
            raise InputError(f"{path} has no pen path reader: run digitnet fit-pen-path on it first")
        held = writers.subset(writers_data.fold_writers(writers.ids(), fold))
        image_only = dataclasses.replace(model, pen_path=None)
        for writer, (labels, image, usable) in writers_data.per_writer_answers(image_only, held).items():
            path_probabilities = model.pen_path.probabilities(
                paths(writers.samples[writer], points=model.pen_path.points)
            )
            readings[writer] = (fold, labels, image, path_probabilities, usable)
    return readings


def correct(reading: Reading, weight: float | None) -> int:
    """How many of a writer's drawings are read right: by the image (``weight`` 0), the fusion with ``weight``,
    or the pen path alone (None)."""
    _, labels, image, path, usable = reading
    answers = path.argmax(axis=1) if weight is None else fuse(image, path, weight).argmax(axis=1)
    return int(np.sum((answers == labels) & usable))


def choose_weight(readings: dict[str, Reading], folds: set[int]) -> float:
    """The grid's weight reading most drawings of the writers of ``folds`` right (ties: the smaller)."""
    scored = [r for r in readings.values() if r[0] in folds]
    return max(WEIGHT_GRID, key=lambda w: (sum(correct(r, w) for r in scored), -w))


def nested_weights(readings: dict[str, Reading]) -> dict[int, float]:
    """Fold k's weight chosen on the other folds' writers only, so no writer's figure comes from a weight
    chosen on them."""
    folds = set(range(1, writers_data.FOLDS + 1))
    return {k: choose_weight(readings, folds - {k}) for k in sorted(folds)}


def set_weights(recipe: str, readings: dict[str, Reading]) -> dict[str, float]:
    """Write each fold model's nested weight into it, and into ``weights/RECIPE.json`` (trained on all the
    writers) the weight chosen on all five folds' held-out ``readings``; return what was written where."""
    written = {}
    targets = {**writers_data.fold_model_paths(WEIGHTS / f"{recipe}.json", recipe), 0: WEIGHTS / f"{recipe}.json"}
    weights = {**nested_weights(readings), 0: choose_weight(readings, set(range(1, writers_data.FOLDS + 1)))}
    for fold, path in targets.items():
        if not path.is_file():
            continue
        model = load_model(path)
        if model.pen_path is None:
            raise InputError(f"{path} has no pen path reader: run digitnet fit-pen-path on it first")
        chosen_on = "every fold's" if fold == 0 else f"the other folds' (not fold {fold})"
        reader = dataclasses.replace(model.pen_path, weight=weights[fold])
        summary = {**model.metadata.get("pen_path", {}), "weight_chosen_on": f"{chosen_on} held-out writers"}
        model = dataclasses.replace(model, pen_path=reader, metadata={**model.metadata, "pen_path": summary})
        save_model(model, path, stored_dtype(path))
        written[str(path)] = weights[fold]
    return written


def pen_order(recipe: str, readings: dict[str, Reading]) -> dict[str, Any]:
    """Every writer read by their fold model (``held_out_readings``) four ways (``READERS``): image, pen path,
    the plain product and the fusion with the fold's nested weight."""
    weights = nested_weights(readings)
    per_writer = {
        writer: {"drawings": len(r[1]), "fold": r[0]}
        | {name: correct(r, weights[r[0]] if weight == "nested" else weight) for name, weight in READERS.items()}
        for writer, r in readings.items()
    }
    summary = {
        reader: {
            k: v
            for k, v in writers_data.figures({w: (c[reader], c["drawings"]) for w, c in per_writer.items()}).items()
            if k != "per_writer"
        }
        for reader in READERS
    }
    return {
        "fold_models": f"weights/folds/{recipe}-foldK.json",
        "nested_weights": weights,
        "summary": summary,
        "per_writer": per_writer,
    }


def markdown(result: dict[str, Any]) -> str:
    weights = ", ".join(f"fold {k}: {w:g}" for k, w in result["nested_weights"].items())
    lines = [
        "# The pen's order and direction beside the image",
        "",
        f"Generated by `digitnet pen-order`: each fold model (`{result['fold_models']}`) on its held-out",
        "writers, read by its image network alone, by its pen path reader alone (fitted on the same fold's",
        "training writers), by the plain product of the two, and by the product with the path's weight `w`",
        "(`p ∝ p_image · q^w`) chosen for each fold on the other four folds' writers only, as the page fuses",
        f"them ({weights}).",
        "",
        "| reader | all digits | median writer | worst writer | under 95 % |",
        "|---|---|---|---|---|",
    ]
    for reader, f in result["summary"].items():
        lines.append(
            f"| {reader} | {f['whole']:.2f} % | {f['median']:.2f} % | {f['worst']:.2f} % ({f['worst_writer']}) "
            f"| {f['under_95']} of {f['writers']} |"
        )
    return "\n".join([*lines, ""])


def run_pen_order(args: argparse.Namespace) -> int:
    # the readings keep the image's and the path's probabilities apart: setting the weights leaves them as they are
    readings = held_out_readings(args.recipe, writers_data.load_writers(args.writers))
    if args.set_weights:
        for path, weight in set_weights(args.recipe, readings).items():
            print(f"{path}: the pen path's weight is {weight:g}")
    result = pen_order(args.recipe, readings)
    print(markdown(result))
    if args.write:
        args.write.with_suffix(".results.json").write_text(json.dumps(result, indent=1) + "\n")
        args.write.with_suffix(".md").write_text(markdown(result))
        print(f"wrote {args.write}.md and .results.json")
    return 0
