"""The memory of kept drawings (``digitnet.memory``) on real writers: constants chosen and scored by writer.

For each of the 30 real writers ($DIGITNET_WRITERS): their first k drawings of each digit (k = 1, 3, 5,
as ``adapt_writers.py`` splits them) are kept in the memory, and their other drawings are read by the
network alone (before) and by the network with the memory (after). The model never saw the writers:
an MNIST-only model (default ``weights/cnn.json``).

The memory's constants (kernel width h, the network's weight β, the neighbour count K) are chosen on a
grid by writer-level folds: chosen on writers 1–15 and reported on 16–30, and the reverse. The rule:
the largest mean after-accuracy over the choosing writers and the three k, among the constants whose
memory of any choosing writer's drawings costs at most ``HARM_LIMIT`` points of MNIST *validation*
accuracy. The grid holds β < 1 only, so that a kept drawing redrawn the same way always gets its label,
and K ≥ 3 only, so that the memory's weight grows with the number of kept drawings alike. The constants
the page ships are chosen by the same rule on all 30 writers; their figures on those writers are
in-sample, the folds' are not. The harm check, reported, is on the MNIST *test* set: its accuracy with
the memory of k drawings per digit of each writer kept, against the network alone. The same figures
are also reported for a second MNIST-only model (default ``weights/c2.json``) with the shipped constants
and with narrower kernels (``ALSO_WIDTHS``): its features are a sigmoid's, which the page reads without
the memory (``digitnet.memory.settings_for``), and they say why.

Each drawing's and MNIST image's features are computed once; the grid reads precomputed distances.

Usage: ``python benchmarks/adapt_memory.py [--model M] [--also M2] [--writers DIR]``; figures go to
``benchmarks/results/adapt_memory.json`` and ``.md``.
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

from adapt_writers import split_first  # noqa: E402
from record import record  # noqa: E402

from digitnet import load_model  # noqa: E402
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
    """One writer with k drawings per digit kept: the memory, the drawings scored and their nearest kept ones."""

    writer: str
    k: int
    memory: Memory
    scored: Read
    scored_nearest: tuple[np.ndarray, np.ndarray]

    def mnist_nearest(self, images: Read) -> tuple[np.ndarray, tuple[np.ndarray, np.ndarray]]:
        """The MNIST images a memory of the grid could change (a kept drawing within the widest kernel) and
        their nearest kept drawings."""
        d = self.memory.distances(images.features)
        rows = np.flatnonzero(d.min(axis=1) < max(GRID["width"])) if d.shape[1] else np.zeros(0, dtype=np.int64)
        return rows, nearest(d[rows], self.memory.labels, max(GRID["neighbours"]))


def cases(reading: dict[str, Read], writers: w.Writers) -> list[Case]:
    out = []
    for writer, k in itertools.product(writers.ids(), KS):
        samples = writers.samples[writer]
        taught, _ = split_first(samples, k)
        chosen = {id(s) for s in taught}
        kept_mask = np.array([id(s) in chosen for s in samples])
        everything = reading[writer]
        kept = everything.rows(kept_mask & everything.usable)  # a drawing the page refuses cannot be kept
        memory = Memory(kept.features, kept.labels)
        scored = everything.rows(~kept_mask)
        near = nearest(memory.distances(scored.features), memory.labels, max(GRID["neighbours"]))
        out.append(Case(writer, k, memory, scored, near))
    return out


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


def choose(chosen_on: list[Case], validation: Read) -> tuple[MemorySettings, dict]:
    """The grid's best constants on ``chosen_on`` (module docstring), with the figures that chose them:
    ``{"mean_before", "mean_after", "worst_validation_drop", "grid": every grid point's figures}``."""
    grid = [s for s in SETTINGS if s.network_weight < 1]
    scores, drops = np.zeros((len(chosen_on), len(grid))), np.zeros((len(chosen_on), len(grid)))
    for i, case in enumerate(chosen_on):
        near = case.mnist_nearest(validation)
        for j, settings in enumerate(grid):
            scores[i, j] = score(case, settings)
            drops[i, j] = mnist_drop(validation, near, settings)
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


def report(scored_on: list[Case], test: Read, settings: MemorySettings) -> list[dict]:
    """Per k: the median writer before → after, the worst three, the writers made worse, the MNIST test harm."""
    base = 100 * float(np.mean(np.argmax(test.probs, axis=1) == test.labels))
    out = []
    for k in KS:
        rows = {}
        for c in (c for c in scored_on if c.k == k):
            drop = mnist_drop(test, c.mnist_nearest(test), settings)
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
                "mnist_test": round(base, 2),
                "mnist_test_worst_drop": max(drops),
                "mnist_test_median_drop": statistics.median(drops),
                "per_writer": rows,
            }
        )
    return out


def model_cases(network: Network, writers: w.Writers, mnist) -> tuple[list[Case], Read, Read]:
    reading = {}
    for writer in writers.ids():
        samples = writers.samples[writer]
        images, usable = w.render(samples)
        drawn = read(network, images, np.array([s.label for s in samples]), usable)
        if network.pen_path is not None:  # the page's probabilities: fused with the pen path reader's
            drawn.probs = w.page_probabilities(network, samples)[0]
        reading[writer] = drawn
    validation = read(network, mnist.validation.images, mnist.validation.labels)
    test = read(network, mnist.test.images, mnist.test.labels)
    return cases(reading, writers), validation, test


def signed(points: float) -> str:
    """``points`` with its sign, a true minus for a loss."""
    return f"{points:+.2f}".replace("-", "−")


def markdown(model: str, also: str, result: dict) -> str:
    def rows(figures: list[dict]) -> list[str]:
        out = []
        for r in figures:
            worst = ", ".join(f"{x} {b:.1f} → {a:.1f}" for x, (b, a) in r["worst_three"].items())
            worse = ", ".join(r["made_worse"]) or "none"
            out.append(
                f"| {r['k']} | {r['median_before']:.2f} → {r['median_after']:.2f} % "
                f"| {r['mean_before']:.2f} → {r['mean_after']:.2f} % | {worst} | {worse} | {r['made_better']} "
                f"| {r['mnist_test']:.2f} %; {signed(-r['mnist_test_worst_drop'])}, "
                f"{signed(-r['mnist_test_median_drop'])} |"
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
        f"`python benchmarks/adapt_memory.py`: `{model}` (MNIST-only) reading each real writer's drawings, alone "
        "(before) and blended with a memory of that writer's first k drawings of each digit (after; the kept "
        "drawings are not scored). The memory's constants are chosen on half the writers and scored on the other "
        f"half; a choice may cost at most {HARM_LIMIT} points of MNIST validation accuracy for any choosing "
        "writer's memory. Harm check: MNIST test accuracy with each scored writer's memory kept. The same splits "
        "as `adapt_writers.md` (the fine-tune behind the Adapt button).",
        "",
    ]
    for fold in result["folds"]:
        s, choice = fold["settings"], fold["choice"]
        lines += [
            f"## Chosen on {fold['chosen_on']}, scored on {fold['scored_on']}",
            "",
            f"Chosen: h = {s['width']}, β = {s['network_weight']}, K = {s['neighbours']} (mean accuracy of the "
            f"choosing writers' scored drawings {choice['mean_before']:.2f} → {choice['mean_after']:.2f} "
            f"%, worst MNIST validation drop {choice['worst_validation_drop']:.2f} points).",
            "",
            *head,
            *rows(fold["figures"]),
            "",
        ]
    s = result["shipped"]["settings"]
    lines += [
        "## The shipped constants (chosen on all 30 writers: in-sample)",
        "",
        f"h = {s['width']}, β = {s['network_weight']}, K = {s['neighbours']}"
        + ("" if result["shipped"]["are_the_defaults"] else " (**not** `MemorySettings()`'s defaults)")
        + ".",
        "",
        *head,
        *rows(result["shipped"]["figures"]),
        "",
        f"### The same constants with `{also}` (MNIST-only; features a sigmoid makes)",
        "",
        "The page reads such a model without the memory (`digitnet.memory.settings_for`): these figures are why.",
        "",
        *head,
        *rows(result["also"]["figures"]),
        "",
        "Narrower kernels (β and K as shipped):",
        "",
        "| h | k | mean writer | MNIST test: change with a writer's memory, worst and median (points) |",
        "|---|---|---|---|",
        *(
            f"| {n['settings']['width']} | {r['k']} | {r['mean_before']:.2f} → {r['mean_after']:.2f} % "
            f"| {signed(-r['mnist_test_worst_drop'])}, {signed(-r['mnist_test_median_drop'])} |"
            for n in result["also"]["narrower"]
            for r in n["figures"]
        ),
        "",
        f"{result['seconds']:.0f} s in all.",
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=ROOT / "weights" / "cnn.json")
    parser.add_argument("--also", type=Path, default=ROOT / "weights" / "c2.json")
    parser.add_argument("--writers", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    writers = w.load_writers(args.writers)
    mnist = load_mnist()
    networks = [load_model(p) for p in (args.model, args.also)]
    for path, network in zip((args.model, args.also), networks, strict=True):
        if set(w.trained_on(network)) & set(writers.ids()):
            raise SystemExit(f"{path} learnt from these writers: measure a model that never saw them")
    # the page reads with the folded network (``webapp.load``)
    everyone, validation, test = model_cases(networks[0].folded(), writers, mnist)
    print(f"features computed ({time.perf_counter() - started:.0f} s)", flush=True)
    ids = writers.ids()
    halves = [ids[: len(ids) // 2], ids[len(ids) // 2 :]]
    folds = []
    for chosen_ids, scored_ids in (halves, halves[::-1]):
        settings, choice = choose([c for c in everyone if c.writer in chosen_ids], validation)
        grid = choice.pop("grid")
        folds.append(
            {
                "chosen_on": f"{chosen_ids[0]}–{chosen_ids[-1]}",
                "scored_on": f"{scored_ids[0]}–{scored_ids[-1]}",
                "settings": asdict(settings),
                "choice": choice,
                "grid": grid,
                "figures": report([c for c in everyone if c.writer in scored_ids], test, settings),
            }
        )
        print(f"chosen on {folds[-1]['chosen_on']}: {settings}", flush=True)
    shipped, _ = choose(everyone, validation)
    also_cases, _, also_test = model_cases(networks[1].folded(), writers, mnist)
    result = {
        "model": args.model.name,
        "also_model": args.also.name,
        "harm_limit": HARM_LIMIT,
        "grid": {k: list(v) for k, v in GRID.items()},
        "folds": folds,
        "shipped": {
            "settings": asdict(shipped),
            "are_the_defaults": shipped == MemorySettings(),
            "figures": report(everyone, test, shipped),
        },
        "also": {
            "settings": asdict(shipped),
            "figures": report(also_cases, also_test, shipped),
            "narrower": [
                {"settings": asdict(narrow), "figures": report(also_cases, also_test, narrow)}
                for narrow in (replace(shipped, width=h) for h in ALSO_WIDTHS)
            ],
        },
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    record("adapt_memory", result, markdown(args.model.name, args.also.name, result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
