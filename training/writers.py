"""Real writers: people's pen strokes, one ``digitnet-strokes`` file per writer, for training and for
measuring a model on people it never saw.

The data is the training writers of UCI's "Pen-Based Recognition of Handwritten Digits"
(Alpaydin & Alimoglu, 1998; CC BY 4.0), 30 people, ``train-01`` … ``train-30``. Writers are
split into ``FOLDS`` folds of whole writers (fold k holds writers 6(k − 1) + 1 … 6k): a fold's
model is trained without that fold's writers and scored on them only, so every writer is scored
by a model that never saw them. Drawings are rendered by the page's own code
(``digitnet.strokes.normalise_strokes``, what ``recognise_strokes`` calls); a drawing the page
refuses counts as misread.
"""

from __future__ import annotations

import hashlib
import os
import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.augment import StrokeAugmentation, distort_strokes, stroke_pen
from digitnet.errors import DigitnetError, InputError
from digitnet.network import Network, probabilities
from digitnet.preprocess import NoDigitError
from digitnet.strokes import PEN, normalise_strokes
from digitnet.strokesfile import Sample, StrokesFormatError, parse_strokes

ENVIRONMENT = "DIGITNET_WRITERS"
SUFFIX = ".digitnet-strokes.json"
FOLDS = 5
#: Below this a writer counts as poorly read.
POOR = 95.0
CREDIT = (
    "UCI Pen-Based Recognition of Handwritten Digits (E. Alpaydin, F. Alimoglu, Bogazici University, 1998; "
    "UCI Machine Learning Repository #81), training writers, CC BY 4.0"
)


class WritersError(DigitnetError, RuntimeError):
    """The writers' strokes cannot be found or read; the message is one sentence."""


@dataclass(frozen=True)
class Writers:
    """Every writer's drawings, by writer id (the file's name without its suffix), in file order."""

    samples: dict[str, list[Sample]]
    sha256: dict[str, str]

    def ids(self) -> list[str]:
        return sorted(self.samples)

    def subset(self, ids: Iterable[str]) -> Writers:
        ids = sorted(ids)
        return Writers({w: self.samples[w] for w in ids}, {w: self.sha256[w] for w in ids})


def locate(directory: str | Path | None = None) -> Path:
    """The writers' folder: ``directory``, else ``$DIGITNET_WRITERS``; ``WritersError`` when neither is set."""
    chosen = directory or os.environ.get(ENVIRONMENT)
    if not chosen:
        raise WritersError(
            f"no real writers' strokes: pass --writers DIR or set {ENVIRONMENT} to a folder of "
            f"*{SUFFIX} files (e.g. ../shared/data/pendigits)"
        )
    path = Path(chosen)
    if not path.is_dir():
        raise WritersError(f"{path}: no such folder of real writers' strokes (set --writers or {ENVIRONMENT})")
    return path


def load_writers(directory: str | Path | None = None) -> Writers:
    """Every ``*.digitnet-strokes.json`` of the folder, checked against its ``SHA256SUMS`` when there is one."""
    folder = locate(directory)
    files = sorted(folder.glob(f"*{SUFFIX}"))
    if not files:
        raise WritersError(f"{folder} holds no *{SUFFIX} files")
    sums = _read_sums(folder / "SHA256SUMS")
    samples, digests = {}, {}
    for path in files:
        data = path.read_bytes()
        digest = hashlib.sha256(data).hexdigest()
        if path.name in sums and sums[path.name] != digest:
            raise WritersError(f"{path}: its sha256 differs from SHA256SUMS (a damaged or altered file)")
        try:
            samples[path.name[: -len(SUFFIX)]] = parse_strokes(data)
        except StrokesFormatError as e:
            raise WritersError(f"{path}: {e}") from None
        digests[path.name[: -len(SUFFIX)]] = digest
    return Writers(samples, digests)


def _read_sums(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    sums = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 2:
            sums[parts[1].lstrip("*")] = parts[0]
    return sums


def fold_of(writer: str, ids: list[str], folds: int = FOLDS) -> int:
    """The fold (1 … ``folds``) of ``writer`` among the sorted ``ids``: consecutive runs of equal size."""
    index = sorted(ids).index(writer)
    return index * folds // len(ids) + 1


def fold_writers(ids: list[str], fold: int, folds: int = FOLDS) -> list[str]:
    """The writers of ``fold`` (1 … ``folds``)."""
    if not 1 <= fold <= folds:
        raise InputError(f"the fold must be a whole number from 1 to {folds}, not {fold}")
    return [w for w in sorted(ids) if fold_of(w, ids, folds) == fold]


# ---------------------------------------------------------------- rendering


def render(samples: list[Sample]) -> tuple[np.ndarray, np.ndarray]:
    """The page's inputs ``(n, 784)`` float32 for ``samples`` and whether each is a digit at all ``(n,)``: a
    drawing the page refuses (``NoDigitError``) is a zero row, marked False."""
    images = np.zeros((len(samples), 784), dtype=np.float32)
    usable = np.ones(len(samples), dtype=bool)
    for i, sample in enumerate(samples):
        try:
            images[i] = sample.render()
        except NoDigitError:
            usable[i] = False
    return images, usable


def augmented_images(
    samples: list[Sample], rng: np.random.Generator, copies: int, settings: StrokeAugmentation
) -> tuple[np.ndarray, np.ndarray]:
    """``copies`` randomly changed renderings of each of ``samples`` (``distort_strokes``, a random pen):
    images ``(m, 784)`` float32 and labels ``(m,)``; a copy the page would refuse is left out."""
    images, labels = [], []
    for _ in range(copies):
        for sample in samples:
            strokes = distort_strokes(sample.arrays(), rng, settings)
            try:
                images.append(normalise_strokes(strokes, max(sample.canvas), stroke_pen(rng, settings, PEN)))
            except NoDigitError:
                continue
            labels.append(sample.label)
    return np.asarray(images, dtype=np.float32).reshape(-1, 784), np.asarray(labels, dtype=np.int64)


# ---------------------------------------------------------------- measuring


def predictions(network: Network, images: np.ndarray, usable: np.ndarray, batch: int = 500) -> np.ndarray:
    """The image network's answer for each rendered drawing (``recognise``'s argmax in float64); -1 where the
    page refused it."""
    answers = np.full(len(images), -1, dtype=np.int64)
    for start in range(0, len(images), batch):
        part = slice(start, start + batch)
        answers[part] = network.predict(images[part])
    answers[~usable] = -1
    return answers


def page_probabilities(network: Network, samples: list[Sample], batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """What the page (``recognise_strokes``) makes of each drawing, in batches: probabilities ``(n, 10)``, fused
    with the pen path reader's when the network has one, and whether the page read it at all ``(n,)``."""
    images, usable = render(samples)
    parts = [network.feedforward(images[start : start + batch]) for start in range(0, len(images), batch)]
    output = np.concatenate(parts) if parts else np.zeros((0, 10))
    result = probabilities(output, network.output_kind)
    if network.pen_path is not None:
        result = network.pen_path.fused(result, [s.arrays() for s in samples])
    return result, usable


def page_answers(network: Network, samples: list[Sample]) -> np.ndarray:
    """The page's digit for each drawing; -1 where it refused the drawing."""
    result, usable = page_probabilities(network, samples)
    return np.where(usable, result.argmax(axis=1), -1)


def per_writer_answers(network: Network, writers: Writers) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``{writer: (labels, page_probabilities…)}`` for each writer, refusing any writer the model was trained on."""
    seen = set(trained_on(network)) & set(writers.ids())
    if seen:
        raise InputError(f"the model was trained on writer(s) {', '.join(sorted(seen))}: it cannot be scored on them")
    return {
        writer: (
            np.array([s.label for s in writers.samples[writer]]),
            *page_probabilities(network, writers.samples[writer]),
        )
        for writer in writers.ids()
    }


def trained_on(network: Network) -> list[str]:
    """The writers a model learnt from, as its metadata says (none for an MNIST-only model)."""
    writers = network.metadata.get("writers")
    ids = writers.get("trained_on") if isinstance(writers, dict) else None
    return [w for w in ids if isinstance(w, str)] if isinstance(ids, list) else []


def per_writer_correct(network: Network, writers: Writers) -> dict[str, tuple[int, int]]:
    """``{writer: (correct, drawings)}`` for each writer, refusing any writer the model was trained on."""
    return {
        writer: (int(np.sum((result.argmax(axis=1) == labels) & usable)), len(labels))
        for writer, (labels, result, usable) in per_writer_answers(network, writers).items()
    }


def figures(counts: dict[str, tuple[int, int]]) -> dict[str, Any]:
    """The whole-set accuracy (%), the median and the worst writer, how many are under ``POOR``, and each
    writer's figure, from ``{writer: (correct, drawings)}``."""
    if not counts:
        raise InputError("no writers to measure")
    accuracy = {w: 100 * c / n for w, (c, n) in counts.items()}
    worst = min(accuracy, key=lambda w: (accuracy[w], w))
    correct = sum(c for c, _ in counts.values())
    total = sum(n for _, n in counts.values())
    return {
        "whole": round(100 * correct / total, 2),
        "correct": correct,
        "drawings": total,
        "writers": len(counts),
        "median": round(statistics.median(accuracy.values()), 2),
        "worst": round(accuracy[worst], 2),
        "worst_writer": worst,
        "under_95": sum(a < POOR for a in accuracy.values()),
        "per_writer": {w: list(counts[w]) for w in sorted(counts)},
    }


def held_out_figures(models: dict[int, Network], writers: Writers) -> dict[str, Any]:
    """The figures of fold models ``{fold: network}``, each scored on its own fold's writers only; every
    fold must be there (each writer scored once, by a model that never saw them)."""
    ids = writers.ids()
    missing = sorted(set(range(1, FOLDS + 1)) - set(models))
    if missing:
        raise InputError(f"fold model(s) {', '.join(map(str, missing))} missing: every writer must be scored")
    counts: dict[str, tuple[int, int]] = {}
    for fold, network in sorted(models.items()):
        counts |= per_writer_correct(network, writers.subset(fold_writers(ids, fold)))
    return figures(counts)


# ---------------------------------------------------------------- committed models


def fold_model_paths(model: Path, recipe: str) -> dict[int, Path]:
    """Where a model trained on writers keeps its fold models: ``folds/RECIPE-foldK.json`` beside it."""
    return {k: model.parent / "folds" / f"{recipe}-fold{k}.json" for k in range(1, FOLDS + 1)}


def model_figures(path: Path, network: Network, writers: Writers) -> dict[str, Any]:
    """A committed model's figures on real writers: an MNIST-only model scored on every writer; one trained
    on writers by its fold models (``fold_model_paths``), each on the writers it never saw."""
    if not trained_on(network):
        return {"scored_by": "the model itself, on every writer", **figures(per_writer_correct(network, writers))}
    recipe = str(network.metadata.get("recipe", path.stem))
    paths = fold_model_paths(path, recipe)
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise WritersError(
            f"{path} learnt from the writers, so its figure comes from its fold models, and {missing[0]} is missing"
        )
    from digitnet.modelfile import load_model

    models = {k: load_model(p) for k, p in paths.items()}
    return {"scored_by": f"its {FOLDS} fold models, each on its held-out writers", **held_out_figures(models, writers)}
