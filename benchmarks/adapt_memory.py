"""The memory of kept drawings (``digitnet.memory``) on real writers: constants chosen and scored by writer.

For each of the 30 real writers ($DIGITNET_WRITERS): their first k drawings of each digit (k = 1, 3, 5,
as ``adapt_writers.py`` splits them) are kept in the memory, and their other drawings are read by the
network alone (before) and by the network with the memory (after), as the page reads them (with a pen
path reader, fused). The model adapted never saw the writer (``adapt_writers.models_for``): an MNIST-only
model as it is, a model trained on the writers through the fold model that was trained without them.

The memory's constants (kernel width h, the network's weight β, the neighbour count K) are chosen on a
grid by writer-level folds: chosen on writers 1–15 and reported on 16–30, and the reverse. The rule:
the largest mean after-accuracy over the choosing writers and the three k, among the constants whose
memory of any choosing writer's drawings costs at most ``HARM_LIMIT`` points of MNIST *validation*
accuracy (read by the model that writer's memory is read with). The grid holds β < 1 only, so that a
kept drawing redrawn the same way always gets its label, and K ≥ 3 only, so that the memory's weight
grows with the number of kept drawings alike. The constants the page ships (``MemorySettings()``) are
reported for every model too; for the first model they are the rule's choice on all 30 writers (checked),
so its figures with them are in-sample, the folds' are not. The harm check, reported, is on the MNIST
*test* set: its accuracy with the memory of k drawings per digit of each writer kept, against the
network alone. The same figures are also reported for a second MNIST-only model (default ``c2``) with the
shipped constants and with narrower kernels (``ALSO_WIDTHS``): its features are a sigmoid's, which the
page reads without the memory (``digitnet.memory.settings_for``), and they say why.

Each drawing's and MNIST image's features are computed once per model; the grid reads precomputed
distances.

Usage: ``python benchmarks/adapt_memory.py [--models cnn cnn-pen] [--also c2] [--writers DIR]``; figures go
to ``benchmarks/results/adapt_memory.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import itertools
import statistics
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from adapt_writers import models_for, split_first  # noqa: E402
from record import record  # noqa: E402

from digitnet.memory import Memory, MemorySettings, blend_nearest, nearest  # noqa: E402
from digitnet.network import Network, probabilities  # noqa: E402
from digitnet.training import writers as w  # noqa: E402
from digitnet.training.mnist import load_mnist  # noqa: E402

KS = (1, 3, 5)
HARM_LIMIT = 0.5  # points of MNIST accuracy a writer's memory may cost
GRID = {
    "width": (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5),
    "network_weight": (0.25, 0.5, 0.75, 0.9),
    "neighbours": (3, 5, 10),
}
#: Kernel widths the second model is also measured with (β and K as shipped).
ALSO_WIDTHS = (0.1, 0.05)
SETTINGS = [MemorySettings(h, b, k) for h, b, k in itertools.product(*GRID.values())]


@dataclass
class Read:
    """A set of images as one model reads them: features, the network's probabilities, labels, usable."""

    features: np.ndarray
    probs: np.ndarray
    labels: np.ndarray
    usable: np.ndarray

    def rows(self, index: np.ndarray) -> Read:
        return Read(self.features[index], self.probs[index], self.labels[index], self.usable[index])


def read(network: Network, images: np.ndarray, labels: np.ndarray, usable: np.ndarray | None = None) -> Read:
    """Features and the network's probabilities of ``images``, in one pass per chunk."""
    feats, probs = [], []
    for start in range(0, len(images), 500):
        f, out = network.features_and_outputs(images[start : start + 500])
        feats.append(f)
        probs.append(probabilities(out, network.output_kind))
    usable = np.ones(len(images), dtype=bool) if usable is None else usable
    return Read(np.concatenate(feats), np.concatenate(probs), np.asarray(labels), usable)


@dataclass
class Case:
    """One writer with k drawings per digit kept: the memory, the drawings scored and their nearest kept ones,
    and MNIST's validation and test sets read by the same model."""

    writer: str
    k: int
    memory: Memory
    scored: Read
    scored_nearest: tuple[np.ndarray, np.ndarray]
    validation: Read
    test: Read

    def mnist_nearest(self, images: Read) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The MNIST images a memory of the grid could change (a kept drawing within the widest kernel) and
        their nearest kept drawings."""
        d = self.memory.distances(images.features)
        rows = np.flatnonzero(d.min(axis=1) < max(GRID["width"])) if d.shape[1] else np.zeros(0, dtype=np.int64)
        return rows, nearest(d[rows], self.memory.labels, max(GRID["neighbours"]))


def cases(models: dict[str, Network], writers: w.Writers, mnist) -> list[Case]:
    """Every writer and k, each writer read by ``models[writer]`` as the page reads with it (folded)."""
    out = []
    for network in {id(n): n for n in models.values()}.values():
        folded = network.folded()  # the page reads with the folded network (``webapp.load``)
        validation = read(folded, mnist.validation.images, mnist.validation.labels)
        test = read(folded, mnist.test.images, mnist.test.labels)
        for writer in (x for x in writers.ids() if models[x] is network):
            samples = writers.samples[writer]
            images, usable = w.render(samples)
            everything = read(folded, images, np.array([s.label for s in samples]), usable)
            if folded.pen_path is not None:  # the page's probabilities: fused with the pen path reader's
                everything.probs = w.page_probabilities(folded, samples)[0]
            for k in KS:
                chosen = {id(s) for s in split_first(samples, k)[0]}
                kept_mask = np.array([id(s) in chosen for s in samples])
                kept = everything.rows(kept_mask & everything.usable)  # a drawing the page refuses cannot be kept
                memory = Memory(kept.features, kept.labels)
                scored = everything.rows(~kept_mask)
                near = nearest(memory.distances(scored.features), memory.labels, max(GRID["neighbours"]))
                out.append(Case(writer, k, memory, scored, near, validation, test))
    return sorted(out, key=lambda c: (writers.ids().index(c.writer), c.k))


def answers(probs: np.ndarray, usable: np.ndarray) -> np.ndarray:
    a = np.argmax(probs, axis=1)
    a[~usable] = -1
    return a


def score(case: Case, settings: MemorySettings | None) -> float:
    """The writer's scored drawings read right, in % (``None``: the network alone)."""
    probs = case.scored.probs
    if settings is not None:
        probs = blend_nearest(*case.scored_nearest, probs, settings).probabilities
    return 100 * float(np.mean(answers(probs, case.scored.usable) == case.scored.labels))


def mnist_drop(images: Read, near: tuple[np.ndarray, tuple[np.ndarray, np.ndarray]], settings: MemorySettings) -> float:
    """Points of accuracy on MNIST ``images`` lost with a memory whose nearest kept drawings are ``near``."""
    rows, (d, y) = near
    near_enough = d[:, 0] < settings.width  # the others keep the network's answer exactly
    rows, d, y = rows[near_enough], d[near_enough], y[near_enough]
    part = images.rows(rows)
    after = blend_nearest(d, y, part.probs, settings).probabilities
    before_right = np.argmax(part.probs, axis=1) == part.labels
    after_right = np.argmax(after, axis=1) == part.labels
    return 100 * float(before_right.sum() - after_right.sum()) / len(images.labels)


def choose(chosen_on: list[Case]) -> tuple[MemorySettings, dict]:
    """The grid's best constants on ``chosen_on`` (module docstring), with the figures that chose them:
    ``{"mean_before", "mean_after", "worst_validation_drop", "grid": every grid point's figures}``."""
    grid = [s for s in SETTINGS if s.network_weight < 1]
    scores, drops = np.zeros((len(chosen_on), len(grid))), np.zeros((len(chosen_on), len(grid)))
    for i, case in enumerate(chosen_on):
        near = case.mnist_nearest(case.validation)
        for j, settings in enumerate(grid):
            scores[i, j] = score(case, settings)
            drops[i, j] = mnist_drop(case.validation, near, settings)
    mean_after, harm = scores.mean(axis=0), drops.max(axis=0)
    table = [
        {**asdict(s), "mean_after": round(float(a), 3), "worst_validation_drop": round(float(h), 2)}
        for s, a, h in zip(grid, mean_after, harm, strict=True)
    ]
    # admissible first, then the largest mean accuracy, then the least harm; the first in grid order of equals
    best = max(range(len(grid)), key=lambda j: (harm[j] <= HARM_LIMIT, round(mean_after[j], 6), -harm[j], -j))
    mean_before = round(statistics.fmean(score(c, None) for c in chosen_on), 3)
    row = {k: table[best][k] for k in ("mean_after", "worst_validation_drop")}
    return grid[best], {"mean_before": mean_before, **row, "grid": table}


def report(scored_on: list[Case], settings: MemorySettings) -> list[dict]:
    """Per k: the median writer before → after, the worst three, the writers made worse, the MNIST test harm
    (the network alone's MNIST test accuracy: the lowest and highest of the models the writers are read by)."""
    bases = {id(c.test): 100 * float(np.mean(np.argmax(c.test.probs, axis=1) == c.test.labels)) for c in scored_on}
    out = []
    for k in KS:
        rows = {}
        for c in (c for c in scored_on if c.k == k):
            drop = mnist_drop(c.test, c.mnist_nearest(c.test), settings)
            rows[c.writer] = {
                "before": round(score(c, None), 2),
                "after": round(score(c, settings), 2),
                "mnist_test_drop": round(drop, 2),
            }
        worst = sorted(rows, key=lambda x: (rows[x]["after"], x))[:3]
        drops = [r["mnist_test_drop"] for r in rows.values()]
        out.append(
            {
                "k": k,
                "writers": len(rows),
                "median_before": statistics.median(r["before"] for r in rows.values()),
                "median_after": statistics.median(r["after"] for r in rows.values()),
                "mean_before": round(statistics.fmean(r["before"] for r in rows.values()), 2),
                "mean_after": round(statistics.fmean(r["after"] for r in rows.values()), 2),
                "worst_three": {x: [rows[x]["before"], rows[x]["after"]] for x in worst},
                "made_worse": sorted(x for x, r in rows.items() if r["after"] < r["before"]),
                "made_better": sum(r["after"] > r["before"] for r in rows.values()),
                "mnist_test": [round(min(bases.values()), 2), round(max(bases.values()), 2)],
                "mnist_test_worst_drop": max(drops),
                "mnist_test_median_drop": statistics.median(drops),
                "per_writer": rows,
            }
        )
    return out


def signed(points: float) -> str:
    """``points`` with its sign, a true minus for a loss."""
    return f"{points:+.2f}".replace("-", "−")


def markdown(result: dict) -> str:
    def rows(figures: list[dict]) -> list[str]:
        out = []
        for r in figures:
            worst = ", ".join(f"{x} {b:.1f} → {a:.1f}" for x, (b, a) in r["worst_three"].items())
            worse = ", ".join(r["made_worse"]) or "none"
            low, high = r["mnist_test"]
            base = f"{low:.2f}" if low == high else f"{low:.2f}–{high:.2f}"
            out.append(
                f"| {r['k']} | {r['median_before']:.2f} → {r['median_after']:.2f} % "
                f"| {r['mean_before']:.2f} → {r['mean_after']:.2f} % | {worst} | {worse} | {r['made_better']} "
                f"| {base} %; {signed(-r['mnist_test_worst_drop'])}, {signed(-r['mnist_test_median_drop'])} |"
            )
        return out

    head = [
        "| k | median writer | mean writer | worst three (before → after) | made worse | made better "
        "| MNIST test: network alone; change with a writer's memory, worst and median (points) |",
        "|---|---|---|---|---|---|---|",
    ]
    lines = [
        "# The memory of kept drawings, on real writers",
        "",
        "`python benchmarks/adapt_memory.py`: each model reading each real writer's drawings as the page does, "
        "alone (before) and blended with a memory of that writer's first k drawings of each digit (after; the "
        "kept drawings are not scored). No writer is read by a model that learnt from them: a model trained on "
        "the writers is measured through its fold models. The memory's constants are chosen on half the writers "
        f"and scored on the other half; a choice may cost at most {result['harm_limit']} points of MNIST "
        "validation accuracy for any choosing writer's memory. Harm check: MNIST test accuracy with each scored "
        "writer's memory kept. The same splits as `adapt_writers.md` (the fine-tune behind the Adapt button).",
        "",
    ]
    shipped = result["shipped_settings"]
    for model in result["models"]:
        through = "through its five fold models" if model["folds_of_writers"] else "MNIST-only"
        lines += [f"## `{model['model']}` ({through})", ""]
        for fold in model["folds"]:
            s, choice = fold["settings"], fold["choice"]
            lines += [
                f"### Chosen on {fold['chosen_on']}, scored on {fold['scored_on']}",
                "",
                f"Chosen: h = {s['width']}, β = {s['network_weight']}, K = {s['neighbours']} (mean accuracy of the "
                f"choosing writers' scored drawings {choice['mean_before']:.2f} → {choice['mean_after']:.2f} "
                f"%, worst MNIST validation drop {choice['worst_validation_drop']:.2f} points).",
                "",
                *head,
                *rows(fold["figures"]),
                "",
            ]
        own = model["chosen_on_all"]
        lines += [
            "### The shipped constants, on all 30 writers",
            "",
            f"h = {shipped['width']}, β = {shipped['network_weight']}, K = {shipped['neighbours']}; the rule on all "
            f"30 writers would choose h = {own['width']}, β = {own['network_weight']}, K = {own['neighbours']} for "
            "this model" + (" (the same: these figures are in-sample)." if own == shipped else "."),
            "",
            *head,
            *rows(model["shipped"]),
            "",
        ]
    also = result["also"]
    lines += [
        f"## `{also['model']}` (MNIST-only; features a sigmoid makes), with the shipped constants",
        "",
        "The page reads such a model without the memory (`digitnet.memory.settings_for`): these figures are why.",
        "",
        *head,
        *rows(also["figures"]),
        "",
        "Narrower kernels (β and K as shipped):",
        "",
        "| h | k | mean writer | MNIST test: change with a writer's memory, worst and median (points) |",
        "|---|---|---|---|",
        *(
            f"| {n['settings']['width']} | {r['k']} | {r['mean_before']:.2f} → {r['mean_after']:.2f} % "
            f"| {signed(-r['mnist_test_worst_drop'])}, {signed(-r['mnist_test_median_drop'])} |"
            for n in also["narrower"]
            for r in n["figures"]
        ),
        "",
        f"{result['seconds']:.0f} s in all.",
    ]
    return "\n".join(lines) + "\n"


def measure_model(name: str, writers: w.Writers, mnist) -> dict:
    """The half-and-half choices and the shipped constants' figures for the committed model ``name``."""
    models = models_for(name, writers)
    everyone = cases(models, writers, mnist)
    ids = writers.ids()
    halves = [ids[: len(ids) // 2], ids[len(ids) // 2 :]]
    folds = []
    for chosen_ids, scored_ids in (halves, halves[::-1]):
        settings, choice = choose([c for c in everyone if c.writer in chosen_ids])
        grid = choice.pop("grid")
        folds.append(
            {
                "chosen_on": f"{chosen_ids[0]}–{chosen_ids[-1]}",
                "scored_on": f"{scored_ids[0]}–{scored_ids[-1]}",
                "settings": asdict(settings),
                "choice": choice,
                "grid": grid,
                "figures": report([c for c in everyone if c.writer in scored_ids], settings),
            }
        )
        print(f"{name}, chosen on {folds[-1]['chosen_on']}: {settings}", flush=True)
    own, _ = choose(everyone)
    return {
        "model": name,
        "folds_of_writers": len({id(n) for n in models.values()}) > 1,
        "folds": folds,
        "chosen_on_all": asdict(own),
        "shipped": report(everyone, MemorySettings()),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "cnn-pen"], help="committed models' names")
    parser.add_argument("--also", default="c2", help="an MNIST-only model whose features a sigmoid makes")
    parser.add_argument("--writers", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    writers = w.load_writers(args.writers)
    mnist = load_mnist()
    measured = [measure_model(name, writers, mnist) for name in args.models]
    if measured[0]["chosen_on_all"] != asdict(MemorySettings()):
        print(f"note: on all writers the rule chooses {measured[0]['chosen_on_all']} for {args.models[0]}", flush=True)
    also_cases = cases(models_for(args.also, writers), writers, mnist)
    shipped = MemorySettings()
    result = {
        "harm_limit": HARM_LIMIT,
        "grid": {k: list(v) for k, v in GRID.items()},
        "shipped_settings": asdict(shipped),
        "models": measured,
        "also": {
            "model": args.also,
            "figures": report(also_cases, shipped),
            "narrower": [
                {"settings": asdict(narrow), "figures": report(also_cases, narrow)}
                for narrow in (replace(shipped, width=h) for h in ALSO_WIDTHS)
            ],
        },
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    record("adapt_memory", result, markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
