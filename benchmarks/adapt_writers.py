"""Adapting to real writers: the page's fine-tune (``digitnet.adapt.adapt``) measured on people.

For each of the 30 real writers ($DIGITNET_WRITERS): their first k drawings of each digit are taught,
their other drawings scored as the page reads them (``writers.page_answers``: with a pen path reader,
fused) before and after, with the MNIST holdout checked as the page checks it. The model adapted never
saw the writer: an MNIST-only model is adapted as it is; for a model trained on the writers, each
writer's fold model (``weights/folds/NAME-foldK.json``), trained without them. Per model and k: the
median writer, the worst three, the writers made worse, the MNIST holdout's drop, and whether the page
would have kept the adapted model.

Usage: ``python benchmarks/adapt_writers.py [--models cnn cnn-pen] [--k 1 3 5] [--writers DIR]``; figures go
to ``benchmarks/results/adapt_writers.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from record import record  # noqa: E402

from digitnet import load_model  # noqa: E402
from digitnet.adapt import adapt, load_replay  # noqa: E402
from digitnet.network import Network  # noqa: E402
from digitnet.strokesfile import Sample  # noqa: E402
from digitnet.training import writers as w  # noqa: E402


def split_first(samples: list[Sample], k: int) -> tuple[list[Sample], list[Sample]]:
    """The first ``k`` drawings of each digit (taught) and the others (scored), in file order."""
    taught, scored, seen = [], [], dict.fromkeys(range(10), 0)
    for sample in samples:
        if seen[sample.label] < k:
            seen[sample.label] += 1
            taught.append(sample)
        else:
            scored.append(sample)
    return taught, scored


def accuracy(network: Network, samples: list[Sample]) -> float:
    labels = np.array([s.label for s in samples])
    return 100 * float(np.mean(w.page_answers(network, samples) == labels))


def models_for(name: str, writers: w.Writers) -> dict[str, Network]:
    """The model each writer is adapted from: ``weights/NAME.json`` if it never saw the writers, else the
    writer's fold model."""
    path = ROOT / "weights" / f"{name}.json"
    network = load_model(path)
    if not w.trained_on(network):
        return dict.fromkeys(writers.ids(), network)
    folds = {k: load_model(p) for k, p in w.fold_model_paths(path, name).items()}
    ids = writers.ids()
    chosen = {x: folds[w.fold_of(x, ids)] for x in ids}
    for x, model in chosen.items():
        if x in w.trained_on(model):
            raise SystemExit(f"the fold model for {x} learnt from them: adapt a model that never saw the writer")
    return chosen


def measure(models: dict[str, Network], writers: w.Writers, replay, k: int) -> dict:
    rows = {}
    for writer in writers.ids():
        network = models[writer]
        taught, scored = split_first(writers.samples[writer], k)
        started = time.perf_counter()
        adapted, report = adapt(network, taught, replay, seed=0)
        kept = adapted if report.accepted else network
        rows[writer] = {
            "before": round(accuracy(network, scored), 2),
            "after": round(accuracy(kept, scored), 2),
            "after_if_forced": round(accuracy(adapted, scored), 2),
            "holdout_drop": round(report.holdout_before - report.holdout_after, 2),
            "accepted": report.accepted,
            "seconds": round(time.perf_counter() - started, 2),
        }
        print(f"k={k} {writer}: {rows[writer]}", flush=True)
    after = [r["after"] for r in rows.values()]
    worst = sorted(rows, key=lambda x: rows[x]["after"])[:3]
    return {
        "k": k,
        "median_before": statistics.median(r["before"] for r in rows.values()),
        "median_after": statistics.median(after),
        "worst_three": {x: [rows[x]["before"], rows[x]["after"]] for x in worst},
        "made_worse": sum(r["after"] < r["before"] for r in rows.values()),
        "largest_holdout_drop": max(r["holdout_drop"] for r in rows.values()),
        "refused": sum(not r["accepted"] for r in rows.values()),
        "writers": rows,
    }


def markdown(results: list[dict]) -> str:
    lines = [
        "# Adapting to real writers",
        "",
        "`python benchmarks/adapt_writers.py`: each model adapted by the page's fine-tune to each of the 30 real "
        "writers' first k drawings of each digit, scored on their other drawings (before → after; a model the "
        "MNIST holdout check refuses is not kept, as in the page). A model trained on the writers is adapted "
        "through its fold models, each writer from the one that never saw them.",
        "",
        "| model | k | median writer | worst three (before → after) | writers made worse | refused "
        "| largest MNIST holdout drop |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        worst = ", ".join(f"{x} {b:.1f} → {a:.1f}" for x, (b, a) in r["worst_three"].items())
        lines.append(
            f"| `{r['model']}` | {r['k']} | {r['median_before']:.2f} → {r['median_after']:.2f} % | {worst} "
            f"| {r['made_worse']} | {r['refused']} | {r['largest_holdout_drop']:.1f} points |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["cnn", "cnn-pen"], help="committed models' names")
    parser.add_argument("--k", type=int, nargs="+", default=[1, 3, 5])
    parser.add_argument("--writers", type=Path)
    args = parser.parse_args()
    writers = w.load_writers(args.writers)
    replay = load_replay((ROOT / "weights" / "replay.npz").read_bytes())
    results = []
    for name in args.models:
        models = models_for(name, writers)
        results += [{"model": name, **measure(models, writers, replay, k)} for k in args.k]
    record("adapt_writers", {"models": args.models, "results": results}, markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
