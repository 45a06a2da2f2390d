"""The ``digitnet`` command: train, evaluate, predict, info, results."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.modelfile import ModelFormatError, load_model
from digitnet.numbers import NumberReading
from digitnet.picture import PictureError, read_number
from digitnet.training.mnist import MnistError, Split, load_mnist
from digitnet.training.recipes import RECIPES, recipe_named
from digitnet.training.results import results_markdown
from digitnet.training.robustness import evaluate_suite, suite_sets, write_suite
from digitnet.training.sweep import sweep, write_sweep
from digitnet.training.train import CheckpointError, output_paths, recipe_data, train_recipe
from digitnet.web.serve import start_server, url_of
from digitnet.web.site import (
    DEFAULT_WEIGHTS,
    PYODIDE_CDN,
    SITE_BUDGET_WITHOUT_PYODIDE,
    SiteError,
    build_site,
    model_files,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except (MnistError, ModelFormatError, PictureError, CheckpointError, SiteError, ValueError, OSError) as e:
        print(f"digitnet: error: {e}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitnet", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    train = commands.add_parser("train", help="train a recipe, writing the best model and its history")
    train.add_argument("--recipe", required=True, choices=sorted(RECIPES))
    train.add_argument("--out", type=Path, default=Path("runs"), help="output directory (default: runs)")
    train.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    train.add_argument("--seed", type=int, help="override the recipe's random seed")
    train.add_argument("--augment", action="store_true", help="random affine + elastic copies every epoch")
    train.add_argument("--limit", type=int, help="train on the first N training images only (quick runs)")
    train.add_argument("--restart", action="store_true", help="ignore a checkpoint from an interrupted run")
    add_data_dir(train)
    train.set_defaults(run=run_train)

    seeds = commands.add_parser("sweep", help="train a recipe with several seeds and summarise the spread")
    seeds.add_argument("--recipe", required=True, choices=sorted(RECIPES))
    seeds.add_argument("--seeds", default="1-8", help="seeds as FIRST-LAST (default: 1-8)")
    seeds.add_argument("--out", type=Path, default=Path("runs/sweep"), help="folder for the runs")
    seeds.add_argument("--summary", type=Path, help="summary JSON (default: weights/RECIPE.seeds.json)")
    add_data_dir(seeds)
    seeds.set_defaults(run=run_sweep)

    evaluate = commands.add_parser("evaluate", help="accuracy and confusion matrix on the MNIST test split")
    evaluate.add_argument("model", type=Path, nargs="*", help="model file(s); with --suite, default: weights/*")
    evaluate.add_argument("--suite", action="store_true", help="every model on the robustness sets too")
    evaluate.add_argument("--write", type=Path, help="with --suite: save the figures as JSON")
    add_data_dir(evaluate)
    evaluate.set_defaults(run=run_evaluate)

    add_predict(commands)

    info = commands.add_parser("info", help="describe a model file")
    info.add_argument("model", type=Path)
    info.set_defaults(run=run_info)

    site = commands.add_parser("build-site", help="write the static web site (page, models, Pyodide) to a folder")
    site.add_argument("out", type=Path)
    add_site_options(site)
    site.set_defaults(run=run_build_site)

    serve = commands.add_parser("serve", help="build the site and serve it on 127.0.0.1")
    serve.add_argument("--out", type=Path, default=Path("site"), help="where to build the site (default: site)")
    serve.add_argument("--port", type=int, default=8000, help="port on 127.0.0.1 (default: 8000; 0: any free)")
    serve.add_argument("--verbose", action="store_true", help="log every request")
    add_site_options(serve)
    serve.set_defaults(run=run_serve)

    results = commands.add_parser("results", help="the results table of the models in a folder")
    results.add_argument("--weights", type=Path, default=Path("weights"))
    results.add_argument("--write", type=Path, help="write the table to this file instead of printing it")
    results.set_defaults(run=run_results)
    add_numbers(commands)
    return parser


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="folder with the MNIST files (default: $DIGITNET_DATA, else the user cache)"
    )


def add_site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pyodide-from",
        default=os.environ.get("DIGITNET_PYODIDE", PYODIDE_CDN),
        help="folder or URL holding the Pyodide 0.27.7 files (default: $DIGITNET_PYODIDE, else the Pyodide CDN)",
    )
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="folder of model files to ship")


def run_build_site(args: argparse.Namespace) -> int:
    summary = build_site(args.out, args.pyodide_from, args.weights)
    print(
        f"built {args.out}: {len(summary['models'])} models, default {summary['models'][0]['file']}; "
        f"{summary['without_pyodide'] / 1e6:.2f} MB without Pyodide (models {summary['models_bytes'] / 1e6:.2f} MB), "
        f"{summary['total'] / 1e6:.1f} MB in all"
    )
    if summary["without_pyodide"] > SITE_BUDGET_WITHOUT_PYODIDE:
        print(f"note: over the {SITE_BUDGET_WITHOUT_PYODIDE / 1e6:.0f} MB budget for the site without Pyodide")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    run_build_site(args)
    server = start_server(args.out, args.port, args.verbose)
    print(f"serving {args.out} at {url_of(server)}  (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0


def run_train(args: argparse.Namespace) -> int:
    recipe = recipe_named(args.recipe)
    if args.epochs is not None:
        recipe = dataclasses.replace(recipe, epochs=args.epochs)
    if args.seed is not None:
        recipe = dataclasses.replace(recipe, seed=args.seed)
    if args.augment:
        recipe = dataclasses.replace(recipe, augment=True)
    data = recipe_data(recipe, args.data_dir)
    if args.limit is not None:
        data.train = Split(data.train.images[: args.limit], data.train.labels[: args.limit])
    print(f"training {recipe.name}: {recipe.description}; {len(data.train):,} images, {recipe.epochs} epochs")
    try:
        best = train_recipe(
            recipe, data, args.out, restart=args.restart, on_epoch=print_epoch, progress=progress_bar(recipe.epochs)
        )
    except KeyboardInterrupt:
        checkpoint = output_paths(args.out, recipe)["checkpoint"]
        print(f"\ninterrupted; the last finished epoch is saved in {checkpoint}: run the same command to resume")
        return 130
    meta = best.metadata
    held_out = "test" if "test_accuracy" in meta else "training"
    print(
        f"best epoch {meta['best_epoch']} (on {meta['selected_on']}): {held_out} accuracy "
        f"{meta[f'{held_out}_accuracy']:.2f} %; model in {output_paths(args.out, recipe)['model']}"
    )
    return 0


def run_sweep(args: argparse.Namespace) -> int:
    recipe = recipe_named(args.recipe)
    first, _, last = args.seeds.partition("-")
    seeds = list(range(int(first), int(last or first) + 1))
    result = sweep(recipe, seeds, recipe_data(recipe, args.data_dir), args.out)
    summary = args.summary or Path("weights") / f"{recipe.name}.seeds.json"
    write_sweep(result, summary)
    for key, s in result["summary"].items():
        print(f"{key}: mean {s['mean']:.2f} %, sd {s['sd']:.2f}, min {s['min']:.2f} %, max {s['max']:.2f} %")
    print(f"wrote {summary}")
    return 0


def print_epoch(figures: dict[str, Any]) -> None:
    parts = [f"epoch {figures['epoch']:>3}"]
    for name in ("training", "validation", "test"):
        if f"{name}_accuracy" in figures:
            parts.append(f"{name} {figures[f'{name}_accuracy']:6.2f} %")
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


def run_evaluate(args: argparse.Namespace) -> int:
    if args.suite:
        return run_suite(args)
    if len(args.model) != 1:
        raise ValueError("evaluate takes one model file (or several with --suite)")
    model = args.model[0]
    network = load_model(model)
    test = load_mnist(args.data_dir).test
    predicted = network.predict(test.images)
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (test.labels, predicted), 1)
    correct = int(np.trace(confusion))
    print(f"{model}: {correct} / {len(test)} correct = {100 * correct / len(test):.2f} % on the MNIST test set")
    print("confusion matrix (rows: true digit, columns: predicted digit)")
    print("     " + "".join(f"{d:>6}" for d in range(10)))
    for digit, row in enumerate(confusion):
        print(f"{digit:>5}" + "".join(f"{v:>6}" for v in row))
    return 0


def run_suite(args: argparse.Namespace) -> int:
    paths = args.model or model_files(DEFAULT_WEIGHTS)
    networks = {path.stem: load_model(path) for path in paths}
    test = load_mnist(args.data_dir).test
    print(f"building the robustness sets from the {len(test):,} test images…", flush=True)
    sets = suite_sets(test)
    results = evaluate_suite(networks, test, sets)
    names = list(sets)
    print("model".ljust(16) + "".join(f"{name:>15}" for name in names))
    for model, figures in results.items():
        print(model.ljust(16) + "".join(f"{figures[name]:>14.2f}%" for name in names))
    if args.write:
        write_suite(results, args.write)
        print(f"wrote {args.write}")
    return 0


def add_predict(commands) -> None:
    predict = commands.add_parser(
        "predict", help="read the digit or the number in photos and scans (PNG, JPEG, ...)", description=PREDICT_HELP
    )
    predict.add_argument("images", type=Path, nargs="+", metavar="FILE", help="picture files")
    predict.add_argument("--model", type=Path, help=f"model file (default: {DEFAULT_MODEL})")
    predict.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    predict.set_defaults(run=run_predict)


DEFAULT_MODEL = DEFAULT_WEIGHTS / "cnn.json"
PREDICT_HELP = (
    "Read the digit or the number (up to 12 digits, left to right) in each picture: EXIF orientation, "
    "grey or tinted paper, uneven light and dark or light ink are handled. A first FILE ending in .json "
    "is taken as the model (the older form 'digitnet predict MODEL FILE...')."
)


def run_predict(args: argparse.Namespace) -> int:
    files = list(args.images)
    model = args.model
    if model is None and len(files) > 1 and files[0].suffix == ".json":
        model = files.pop(0)
    network = load_model(model or DEFAULT_MODEL)
    failed = 0
    for path in files:
        try:
            reading = read_number(network, path.read_bytes())
        except FileNotFoundError:
            reading = NumberReading(reason="no such file")
        except (PictureError, OSError) as e:
            reading = NumberReading(reason=str(e))
        failed += not reading.digits
        print_reading(str(path), reading, args.json)
    return 1 if failed else 0


def print_reading(name: str, reading: NumberReading, as_json: bool) -> None:
    """One line per file: the number and each digit's confidence, or why there is none."""
    if as_json:
        digits = []
        for d in reading.digits:
            plain = d.as_dict(image=False)
            digits.append({"digit": plain["digit"], "confidence": round(plain["confidence"], 4), "box": plain["box"]})
        out = {"file": name, "number": reading.number, "digits": digits}
        if not reading.digits:
            out["reason"] = reading.reason
        print(json.dumps(out, ensure_ascii=False), flush=True)
    elif not reading.digits:
        print(f"{name}: no prediction: {reading.reason}", file=sys.stderr)
    elif len(reading.digits) == 1:
        r = reading.digits[0].recognition
        hint = " (low confidence)" if r.low_confidence else ""
        print(
            f"{name}: {r.digit}  (confidence {100 * r.confidence:.1f} %{hint}, "
            f"probabilities {' '.join(f'{p:.2f}' for p in r.probabilities)})"
        )
    else:
        each = ", ".join(
            f"{d.recognition.digit} {100 * d.recognition.confidence:.1f} %"
            + (" (low confidence)" if d.recognition.low_confidence else "")
            for d in reading.digits
        )
        print(f"{name}: {reading.number}  ({len(reading.digits)} digits; confidence {each})")


def run_info(args: argparse.Namespace) -> int:
    network = load_model(args.model)
    print(f"{args.model}")
    print(f"  cost: {network.cost}; output: {network.output_kind}; {network.parameter_count():,} parameters")
    for i, layer in enumerate(network.layers):
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in layer.params().items())
        print(f"  layer {i}: {layer.kind}" + (f" ({shapes})" if shapes else ""))
    for key, value in network.metadata.items():
        print(f"  {key}: {value}")
    return 0


def run_results(args: argparse.Namespace) -> int:
    text = results_markdown(args.weights)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        print(f"wrote {args.write}")
    else:
        print(text, end="")
    return 0


def add_numbers(commands) -> None:
    numbers = commands.add_parser(
        "numbers", help="every model on drawn numbers, photos and blank sheets made from MNIST test digits"
    )
    numbers.add_argument("model", type=Path, nargs="*", help="model file(s) (default: the models in weights/)")
    numbers.add_argument("--write", type=Path, help="write the table here (e.g. weights/numbers.md) and JSON beside it")
    add_data_dir(numbers)
    numbers.set_defaults(run=run_numbers)


def run_numbers(args: argparse.Namespace) -> int:
    from digitnet.training import number_sets

    paths = args.model or model_files(DEFAULT_WEIGHTS)
    networks = {path.stem: load_model(path) for path in paths}
    print(f"reading generated numbers with {len(networks)} model(s)…", flush=True)
    figures = number_sets.results(networks, load_mnist(args.data_dir).test)
    text = number_sets.results_markdown(figures)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        args.write.with_suffix(".results.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.write} and {args.write.with_suffix('.results.json')}")
    else:
        print(text, end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
