"""The commands that train: ``train`` (a recipe, resumable), ``sweep`` (over seeds) and ``plot`` (learning curves)."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from digitnet.errors import InputError
from digitnet.training.arguments import MAX_EPOCHS, MAX_SEED, add_data_dir, add_writers_dir, integer_in, seed_range
from digitnet.training.cli_adapt import with_extra_samples
from digitnet.training.mnist import Split
from digitnet.training.paths import WEIGHTS
from digitnet.training.plot import plot_histories
from digitnet.training.recipes import RECIPES, TRIALS, recipe_named
from digitnet.training.sweep import sweep, write_sweep
from digitnet.training.train import output_paths, recipe_data, train_recipe
from digitnet.training.writers import FOLDS, load_writers


def add_training_commands(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser("train", help="train a recipe, writing the best model and its history")
    train.add_argument("--recipe", required=True, choices=sorted(RECIPES | TRIALS))
    train.add_argument("--out", type=Path, default=Path("runs"), help="output directory (default: runs)")
    train.add_argument(
        "--epochs",
        type=integer_in(1, MAX_EPOCHS),
        help="override the recipe's number of epochs; more than a finished run's extends it from its checkpoint "
        "(a cosine schedule then follows the new total from the next epoch on)",
    )
    train.add_argument("--seed", type=integer_in(0, MAX_SEED), help="override the recipe's random seed")
    train.add_argument("--augment", action="store_true", help="random affine + elastic copies every epoch")
    train.add_argument("--limit", type=integer_in(1), help="train on the first N training images only (quick runs)")
    train.add_argument("--restart", action="store_true", help="start over, ignoring (and replacing) the checkpoint")
    train.add_argument("--plot", action="store_true", help="draw the learning curves at the end (NAME.curves.svg)")
    train.add_argument("--extra", type=Path, help="a digitnet-strokes file whose drawings join the training set")
    train.add_argument(
        "--fold",
        type=integer_in(1, FOLDS),
        help=f"with a recipe that learns from real writers: hold out fold K of {FOLDS} (files NAME-foldK.*)",
    )
    add_writers_dir(train)
    add_data_dir(train)
    train.set_defaults(run=run_train)

    seeds = commands.add_parser("sweep", help="train a recipe with several seeds and summarise the spread")
    seeds.add_argument("--recipe", required=True, choices=sorted(RECIPES))
    seeds.add_argument("--seeds", type=seed_range, default="1-8", help="seeds as FIRST-LAST (default: 1-8)")
    seeds.add_argument("--out", type=Path, default=Path("runs/sweep"), help="folder for the runs")
    seeds.add_argument("--summary", type=Path, help="summary JSON (default: weights/RECIPE.seeds.json)")
    add_data_dir(seeds)
    seeds.set_defaults(run=run_sweep)

    plot = commands.add_parser("plot", help="learning curves (accuracy and cost per epoch) of training histories")
    plot.add_argument("histories", type=Path, nargs="+", metavar="RUN.history.json")
    plot.add_argument("--out", type=Path, required=True, help="figure file: .png, .svg or .pdf")
    plot.add_argument("--title", help="a title above the figure")
    plot.set_defaults(run=run_plot)


def run_train(args: argparse.Namespace) -> int:
    recipe = recipe_named(args.recipe)
    if args.epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=args.epochs)
    if args.seed is not None:
        recipe = dataclasses.replace(recipe, seed=args.seed)
    if args.augment:
        recipe = dataclasses.replace(recipe, augment=True)
    if args.fold is not None:
        if not recipe.writers:
            raise InputError(f"--fold holds out real writers, and recipe {recipe.name} does not learn from any")
        recipe = dataclasses.replace(recipe, held_out=args.fold)
    writers = load_writers(args.writers) if recipe.writers else None
    data = recipe_data(recipe, args.data_dir)
    if args.limit is not None:
        data.train = Split(data.train.images[: args.limit], data.train.labels[: args.limit])
    if args.extra is not None:
        data.train = with_extra_samples(data.train, args.extra)
    print(f"training {recipe.name}: {recipe.description}; {len(data.train):,} images, {recipe.epochs} epochs")
    checkpoint = output_paths(args.out, recipe)["checkpoint"]

    def on_resume(done: int) -> None:
        if done == recipe.epochs:
            print(f"the run already has its {done} epochs ({checkpoint}); a larger --epochs extends it")
        else:
            print(f"resuming from epoch {done} of {recipe.epochs} ({checkpoint}; --restart starts over)", flush=True)

    try:
        best = train_recipe(
            recipe,
            data,
            args.out,
            restart=args.restart,
            on_epoch=print_epoch,
            progress=progress_bar(recipe.epochs),
            on_resume=on_resume,
            writers=writers,
        )
    except KeyboardInterrupt:
        print(f"\ninterrupted; the last finished epoch is saved in {checkpoint}: run the same command to resume")
        return 130
    meta = best.metadata
    held_out = "test" if "test_accuracy" in meta else "training"
    print(
        f"best epoch {meta['best_epoch']} (on {meta['selected_on']}): {held_out} accuracy "
        f"{meta[f'{held_out}_accuracy']:.2f} %; model in {output_paths(args.out, recipe)['model']}"
    )
    if args.plot:
        history = output_paths(args.out, recipe)["history"]
        return write_curves([history], history.with_name(f"{recipe.run_name}.curves.svg"), recipe.run_name)
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    recipe = recipe_named(args.recipe)
    result = sweep(recipe, args.seeds, recipe_data(recipe, args.data_dir), args.out)
    summary = args.summary or WEIGHTS / f"{recipe.name}.seeds.json"
    write_sweep(result, summary)
    for key, s in result["summary"].items():
        print(f"{key}: mean {s['mean']:.2f} %, sd {s['sd']:.2f}, min {s['min']:.2f} %, max {s['max']:.2f} %")
    print(f"wrote {summary}")
    return 0


def print_epoch(figures: dict[str, Any]) -> None:
    parts = [f"epoch {figures['epoch']:>3}"]
    for name in ("training", "validation", "test", "held_out_writers"):
        if f"{name}_accuracy" in figures:
            parts.append(f"{name.replace('_', ' ')} {figures[f'{name}_accuracy']:6.2f} %")
    if "training_cost" in figures:
        parts.append(f"cost {figures['training_cost']:.4f}")
    parts.append(f"{figures['seconds']:.2f} s")
    print("  ".join(parts), flush=True)


def progress_bar(epochs: int):
    """A per-epoch factory of tqdm progress callbacks (silent when output is not a terminal)."""
    from tqdm import tqdm

    def start(epoch: int, n: int):
        bar = tqdm(
            total=n,
            desc=f"epoch {epoch}/{epochs}",
            unit="img",
            leave=False,
            disable=None,
            mininterval=0.25,
            unit_scale=True,
        )
        if bar.disable:
            return None
        done = [0]

        def on_batch(m: int) -> None:
            done[0] += m
            if done[0] >= n:
                bar.close()
            else:
                bar.update(m)

        return on_batch

    return start


def run_plot(args: argparse.Namespace) -> int:
    return write_curves(args.histories, args.out, args.title)


def write_curves(histories: Sequence[Path], out: Path, title: str | None = None) -> int:
    """Draw the histories' learning curves into ``out``; a missing Matplotlib is one line, not a traceback."""
    curves = plot_histories(histories, out, title)  # a missing Matplotlib: PlotError, one line
    print(f"wrote {out}: {len(curves)} curves from {len(histories)} run(s)")
    return 0


def write_committed_curves(weights: Path, folder: Path) -> int:
    """Beside the results table: every committed run's curves in one figure (``curves.svg``) and
    each run's own (``curves/NAME.svg``), as the table links them."""
    histories = sorted(weights.glob("*.history.json"))
    status = write_curves(histories, folder / "curves.svg", "All committed runs")
    for history in histories:
        name = history.name.removesuffix(".history.json")
        status = max(status, write_curves([history], folder / "curves" / f"{name}.svg", name))
    return status
