"""Experiment recipes: the networks of Nielsen's book and of the original Rust-NN project.

A recipe fixes everything a run depends on, so ``digitnet train --recipe NAME``
reproduces it; ``book`` and ``original`` hold the accuracies those sources
report, for the results table.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """Hyper-parameters of one training run (η = ``eta``, λ = ``lmbda``)."""

    name: str
    description: str
    sizes: tuple[int, ...]
    hidden: str
    output: str
    cost: str
    init: str
    eta: float
    lmbda: float
    batch_size: int
    epochs: int
    seed: int
    select_on: str = "validation"
    book: str = ""
    original: str = ""
    target: float | None = None

    def settings(self) -> dict[str, Any]:
        """Everything that determines the trained weights (a resumed run must match it)."""
        keep = ("sizes", "hidden", "output", "cost", "init", "eta", "lmbda", "batch_size", "epochs", "seed")
        d = asdict(self)
        return {k: (list(d[k]) if isinstance(d[k], tuple) else d[k]) for k in keep}


C1 = Recipe(
    name="c1",
    description="Nielsen ch. 1: sigmoid [784, 30, 10], quadratic cost, N(0, 1) weights",
    sizes=(784, 30, 10),
    hidden="sigmoid",
    output="sigmoid",
    cost="quadratic",
    init="large",
    eta=3.0,
    lmbda=0.0,
    batch_size=10,
    epochs=30,
    seed=1,
    book="95.42 % (peak, test)",
    original="95.42 % (peak, test)",
    target=95.0,
)

C2 = dataclasses.replace(
    C1,
    name="c2",
    description="Nielsen ch. 3: cross-entropy, L2 λ = 5.0, N(0, 1/n_in) weights",
    cost="cross-entropy",
    init="default",
    eta=0.5,
    lmbda=5.0,
    book="96.49 %",
    original="96–97 % (peak)",
    target=96.3,
)

C2_100 = dataclasses.replace(
    C2,
    name="c2-100",
    description="c2 with 100 hidden neurons",
    sizes=(784, 100, 10),
    book="97.92 % (validation)",
    original="—",
    target=97.8,
)

RECIPES: dict[str, Recipe] = {r.name: r for r in (C1, C2, C2_100)}


def recipe_named(name: str) -> Recipe:
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r} (known: {', '.join(RECIPES)})")
    return RECIPES[name]
