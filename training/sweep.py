"""Seed sweeps: the same recipe trained with several seeds, to show how much a single run varies."""

from __future__ import annotations

import dataclasses
import json
import statistics
from pathlib import Path
from typing import Any

from digitnet.modelfile import load_model, write_atomic
from digitnet.training.mnist import Mnist
from digitnet.training.recipes import Recipe
from digitnet.training.train import output_paths, train_recipe

FIGURES = ("validation_accuracy", "test_accuracy", "peak_test_accuracy")


def sweep(recipe: Recipe, seeds: list[int], data: Mnist, out_dir: Path) -> dict[str, Any]:
    """Train ``recipe`` once per seed (runs already finished are read back) and summarise.

    Returns ``{"recipe", "seeds": [{seed, best_epoch, *FIGURES}], "summary": {figure: {mean, sd, min, max}}}``.
    """
    runs = []
    for seed in seeds:
        seeded = dataclasses.replace(recipe, seed=seed)
        run_dir = out_dir / f"{recipe.name}-seed{seed}"
        model_path = output_paths(run_dir, seeded)["model"]
        meta = load_model(model_path).metadata if model_path.exists() else {}
        if meta.get("settings", {}).get("seed") != seed:
            meta = train_recipe(seeded, data, run_dir).metadata
        runs.append({"seed": seed, "best_epoch": meta["best_epoch"], **{k: meta[k] for k in FIGURES}})
    summary = {key: spread([run[key] for run in runs]) for key in FIGURES}
    return {"recipe": recipe.name, "settings": recipe.settings(), "seeds": runs, "summary": summary}


def spread(values: list[float]) -> dict[str, float]:
    return {
        "mean": round(statistics.fmean(values), 3),
        "sd": round(statistics.stdev(values), 3) if len(values) > 1 else 0.0,
        "min": min(values),
        "max": max(values),
    }


def write_sweep(result: dict[str, Any], path: Path) -> None:
    write_atomic(path, json.dumps(result, indent=1).encode())
