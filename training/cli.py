"""digitnet: train and measure the digit networks; build and serve the page."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.modelfile import ModelFormatError, load_model, write_atomic
from digitnet.numbers import NumberReading
from digitnet.picture import PictureError, read_number
from digitnet.strokesfile import labels_of
from digitnet.training.adapting import add_adapt_commands, read_samples, with_extra_samples
from digitnet.training.allocator import keep_freed_memory
from digitnet.training.batches import predict_in_batches
from digitnet.training.book import add_book_commands
from digitnet.training.digit_gate import add_digit_gate_commands
from digitnet.training.mnist import MnistError, Split, load_mnist, load_test
from digitnet.training.onnx_format import add_onnx_commands
from digitnet.training.pen_order import add_pen_path_commands
from digitnet.training.plot import PlotError, plot_histories
from digitnet.training.recipes import RECIPES, TRIALS, recipe_named
from digitnet.training.results import results_markdown
from digitnet.training.robustness import evaluate_suite, suite_sets, write_suite
from digitnet.training.sweep import sweep, write_sweep
from digitnet.training.train import CheckpointError, output_paths, recipe_data, train_recipe
from digitnet.training.writers import ENVIRONMENT as WRITERS_ENVIRONMENT
from digitnet.training.writers import FOLDS, WritersError, load_writers, model_figures, page_answers, trained_on
from digitnet.web.serve import start_server, url_of
from digitnet.web.site import (
    DEFAULT_WEIGHTS,
    PYODIDE_CDN,
    SITE_BUDGET_WITHOUT_PYODIDE,
    SNAPSHOT_CHOICES,
    SiteError,
    build_site,
    model_files,
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    keep_freed_memory()  # training and evaluation churn through large temporaries (allocator.py)
    try:
        return args.run(args)
    except BrokenPipeError:  # the reader went away (`digitnet info ... | head`): nothing is left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except KeyboardInterrupt:  # Ctrl-C where a command has no interruption of its own to report
        print("\ndigitnet: interrupted", file=sys.stderr)
        return 130
    except (
        MnistError,
        WritersError,
        ModelFormatError,
        PictureError,
        CheckpointError,
        SiteError,
        ValueError,
        OSError,
    ) as e:
        print(f"digitnet: error: {e}", file=sys.stderr)
        return 2
    except ModuleNotFoundError as e:
        if e.name not in EXTRAS:
            raise
        print(
            f"digitnet: error: this command needs the package {e.name}, which the plain install leaves out: "
            f"pip install 'digitnet[{EXTRAS[e.name]}]'",
            file=sys.stderr,
        )
        return 2


#: Optional imports → the extra of pyproject.toml that installs them.
EXTRAS = {"pyodide_lock": "web"}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="digitnet", description=__doc__)
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

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

    evaluate = commands.add_parser("evaluate", help="accuracy and confusion matrix on the MNIST test split")
    evaluate.add_argument("model", type=Path, nargs="*", help="model file(s); with --suite, default: weights/*")
    evaluate.add_argument("--suite", action="store_true", help="every model on the robustness sets too")
    evaluate.add_argument("--write", type=Path, help="with --suite: save the figures as JSON")
    evaluate.add_argument("--strokes", type=Path, help="score a digitnet-strokes file instead of MNIST")
    evaluate.add_argument(
        "--real-writers",
        action="store_true",
        help="every model (default: weights/*) on the real writers' strokes, writers held out; with --write, as JSON",
    )
    add_writers_dir(evaluate)
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
    serve.add_argument(
        "--port", type=integer_in(0, 65535), default=8000, help="port on 127.0.0.1 (default: 8000; 0: any free)"
    )
    serve.add_argument("--verbose", action="store_true", help="log every request")
    add_site_options(serve)
    serve.set_defaults(run=run_serve)

    results = commands.add_parser("results", help="the results table of the models in a folder")
    results.add_argument("--weights", type=Path, default=Path("weights"))
    results.add_argument("--write", type=Path, help="write the table to this file instead of printing it")
    results.set_defaults(run=run_results)
    add_plot_command(commands)
    add_adapt_commands(commands)
    add_book_commands(commands)
    add_onnx_commands(commands)
    add_pen_path_commands(commands)
    add_digit_gate_commands(commands)
    add_numbers(commands)
    add_digit_check(commands)
    return parser


MAX_EPOCHS = 10_000
MAX_SEED = 2**32 - 1


def integer_in(low: int, high: int | None = None) -> Callable[[str], int]:
    """An argparse type: a whole number in ``[low, high]`` (no upper bound when ``high`` is None)."""
    bounds = f"from {low:,} to {high:,}" if high is not None else f"of at least {low:,}"

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number {bounds}") from None
        if value < low or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"{value} is out of range: expected a whole number {bounds}")
        return value

    return parse


def seed_range(text: str) -> list[int]:
    """An argparse type: ``FIRST-LAST`` (or one seed) → the seeds ``[FIRST, ..., LAST]``, at most 1,000 of them."""
    first, _, last = text.partition("-")
    seed = integer_in(0, MAX_SEED)
    try:
        seeds = list(range(seed(first), seed(last or first) + 1))
    except argparse.ArgumentTypeError as e:
        raise argparse.ArgumentTypeError(f"{text!r}: {e} (seeds are FIRST-LAST, e.g. 1-8)") from None
    if not 1 <= len(seeds) <= 1000:
        raise argparse.ArgumentTypeError(f"{text!r}: expected FIRST-LAST with FIRST ≤ LAST, at most 1,000 seeds")
    return seeds


def add_data_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="folder with the MNIST files (default: $DIGITNET_DATA, else the user cache)"
    )


def add_writers_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--writers",
        type=Path,
        help=f"folder of real writers' *.digitnet-strokes.json files (default: ${WRITERS_ENVIRONMENT})",
    )


def add_site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pyodide-from",
        default=os.environ.get("DIGITNET_PYODIDE", PYODIDE_CDN),
        help="folder or URL holding the Pyodide 0.27.7 files (default: $DIGITNET_PYODIDE, else the Pyodide CDN)",
    )
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="folder of model files to ship")
    parser.add_argument(
        "--python-snapshot",
        choices=SNAPSHOT_CHOICES,
        default="auto",
        help="ship a snapshot of Python just started, made in headless Chromium, so that a first visit starts "
        "≈1 s sooner (auto: when Playwright and Chromium are here; default)",
    )


def run_build_site(args: argparse.Namespace) -> int:
    summary = build_site(args.out, args.pyodide_from, args.weights, args.python_snapshot)
    print(
        f"built {args.out}: {len(summary['models'])} models, default {summary['models'][0]['file']}; "
        f"{summary['without_pyodide'] / 1e6:.2f} MB without Pyodide (models {summary['models_bytes'] / 1e6:.2f} MB), "
        f"{summary['total'] / 1e6:.1f} MB in all"
    )
    print(f"Train panel's MNIST subset, fetched on first use: {summary['book_data_bytes'] / 1e6:.2f} MB")
    snapshot = summary["shipped_snapshot"]
    if "bytes" in snapshot:
        print(f"Python snapshot for a first visit: {snapshot['bytes'] / 1e6:.1f} MB (gzip)")
    else:
        print(f"no Python snapshot ({snapshot['skipped']}): a first visit starts Python afresh")
    if summary["without_pyodide"] > SITE_BUDGET_WITHOUT_PYODIDE:
        print(f"note: over the {SITE_BUDGET_WITHOUT_PYODIDE / 1e6:.1f} MB budget for the site without Pyodide")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    try:  # the port first: a port in use is known before a build is spent
        server = start_server(args.out, args.port, args.verbose)
    except OSError as e:
        raise OSError(
            f"cannot serve on 127.0.0.1 port {args.port}: {e.strerror or e} (choose another: --port N, 0 for any)"
        ) from None
    try:
        run_build_site(args)
    except BaseException:
        server.shutdown()
        server.server_close()
        raise
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
    if args.fold is not None:
        if not recipe.writers:
            raise ValueError(f"--fold holds out real writers, and recipe {recipe.name} does not learn from any")
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
    summary = args.summary or Path("weights") / f"{recipe.name}.seeds.json"
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


def run_evaluate(args: argparse.Namespace) -> int:
    if args.suite:
        return run_suite(args)
    if args.real_writers:
        return run_real_writers(args)
    if len(args.model) != 1:
        raise ValueError("evaluate takes one model file (or several with --suite)")
    if args.strokes is not None:
        return run_evaluate_strokes(args)
    model = args.model[0]
    network = load_model(model)
    test = load_test(args.data_dir)
    confusion = confusion_matrix(test.labels, predict_in_batches(network, test.images))
    correct = int(np.trace(confusion))
    print(f"{model}: {correct} / {len(test)} correct = {100 * correct / len(test):.2f} % on the MNIST test set")
    print_confusion(confusion)
    return 0


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """``(10, 10)`` counts: row = true digit, column = predicted digit."""
    confusion = np.zeros((10, 10), dtype=np.int64)
    np.add.at(confusion, (labels, predicted), 1)
    return confusion


def run_evaluate_strokes(args: argparse.Namespace) -> int:
    """Accuracy, per digit and the confusions of a model on a strokes file's drawings, each read as the page reads
    it (rendered, with a pen path reader fused, a drawing the page refuses counted wrong)."""
    network = load_model(args.model[0])
    samples = read_samples(args.strokes)
    labels = labels_of(samples)
    answers = page_answers(network.folded(), samples)  # the page reads with the folded network
    read = answers >= 0
    confusion = confusion_matrix(labels[read], answers[read])
    correct = int(np.trace(confusion))
    refused = f"; {int(np.sum(~read))} refused as no digit" if not read.all() else ""
    print(
        f"{args.model[0]}: {correct} / {len(samples)} correct = {100 * correct / len(samples):.1f} % on "
        f"{args.strokes}{refused}"
    )
    for digit in range(10):
        n = int(confusion[digit].sum())
        if n:
            wrong = ", ".join(f"{confusion[digit, d]} as {d}" for d in range(10) if d != digit and confusion[digit, d])
            print(
                f"  {digit}: {confusion[digit, digit]} / {n} = {100 * confusion[digit, digit] / n:.0f} %"
                + (f" (read {wrong})" if wrong else "")
            )
    print_confusion(confusion)
    return 0


def print_confusion(confusion: np.ndarray) -> None:
    print("confusion matrix (rows: true digit, columns: predicted digit)")
    print("     " + "".join(f"{d:>6}" for d in range(10)))
    for digit, row in enumerate(confusion):
        print(f"{digit:>5}" + "".join(f"{v:>6}" for v in row))


def run_real_writers(args: argparse.Namespace) -> int:
    """Every model on the real writers (held out by writer), as ``training.writers.model_figures`` says."""
    writers = load_writers(args.writers)
    paths = args.model or model_files(DEFAULT_WEIGHTS)
    results = {}
    print(f"{'model':<16}{'all digits':>12}{'median':>9}{'worst':>16}{'under 95 %':>12}  scored by")
    for path in paths:
        figures = model_figures(path, load_model(path), writers)
        results[path.stem] = figures
        worst = f"{figures['worst']:.1f} ({figures['worst_writer']})"
        print(
            f"{path.stem:<16}{figures['whole']:>11.2f}%{figures['median']:>8.1f}%{worst:>16}"
            f"{figures['under_95']:>12}  {figures['scored_by']}",
            flush=True,
        )
    if args.write:
        write_atomic(args.write, (json.dumps(results, indent=1) + "\n").encode())
        print(f"wrote {args.write}")
    return 0


def run_suite(args: argparse.Namespace) -> int:
    paths = args.model or model_files(DEFAULT_WEIGHTS)
    networks = {path.stem: load_model(path) for path in paths}
    test = load_test(args.data_dir)
    print(f"measuring on the robustness sets made from the {len(test):,} test images…", flush=True)
    results = evaluate_suite(networks, test, suite_sets(test))
    names = list(next(iter(results.values())))
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
    predict.add_argument(
        "--model", type=model_path, help=f"model file, or a committed model's name (default: {DEFAULT_MODEL.name})"
    )
    predict.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    predict.set_defaults(run=run_predict)


#: The default model: the committed one in a clone, else the copy installed with the package.
DEFAULT_MODEL = next(
    (
        p
        for p in (DEFAULT_WEIGHTS / "cnn-pen.json", Path(__file__).resolve().parent.parent / "models" / "cnn-pen.json")
        if p.is_file()
    ),
    DEFAULT_WEIGHTS / "cnn-pen.json",
)


def model_path(text: str) -> Path:
    """An argparse type: a model file's path, or the name of a committed model (``c2`` for ``weights/c2.json``)."""
    path = Path(text)
    if path.is_file() or path.suffix == ".json" or "/" in text:
        return path
    named = DEFAULT_WEIGHTS / f"{text}.json"
    return named if named.is_file() else path


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
    print(printable(args.model))
    print(f"  cost: {network.cost}; output: {network.output_kind}; {network.parameter_count():,} parameters")
    for i, layer in enumerate(network.layers):
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in layer.params().items())
        print(f"  layer {i}: {layer.kind}" + (f" ({shapes})" if shapes else ""))
    if network.digit_check is not None:
        check = network.digit_check
        shapes = " → ".join(layer.kind for layer in check.layers)
        count = sum(p.size for layer in check.layers for p in layer.params().values())
        print(f"  digit check: reads {check.n_features} values; {shapes}; {count:,} parameters")
    if network.pen_path is not None:
        reader = network.pen_path
        count = sum(p.size for layer in reader.layers for p in layer.params().values())
        print(
            f"  pen path reader: {reader.points} points of the pen's path, fused with the image's answer for drawn "
            f"strokes; {count:,} parameters"
        )
    learnt = trained_on(network)
    if learnt:
        held = network.metadata["writers"].get("held_out") or []
        print(
            f"  real writers: learnt from {len(learnt)} writers' pen strokes"
            + (f", {len(held)} held out ({printable(', '.join(map(str, held)))})" if held else "")
            + f"; data: {printable(network.metadata['writers'].get('source', 'not named'))}"
        )
    for key, value in network.metadata.items():
        if key != "writers":
            print(f"  {printable(key)}: {printable(value)}")
    return 0


def printable(value: Any) -> str:
    """``str(value)`` with control characters (terminal escape sequences among them) shown as escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(value))


def run_results(args: argparse.Namespace) -> int:
    text = results_markdown(args.weights)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        print(f"wrote {args.write}")
        return write_committed_curves(args.weights, args.write.parent)
    print(text, end="")
    return 0


# ---------------------------------------------------------------- learning curves


def add_plot_command(commands: Any) -> None:
    plot = commands.add_parser("plot", help="learning curves (accuracy and cost per epoch) of training histories")
    plot.add_argument("histories", type=Path, nargs="+", metavar="RUN.history.json")
    plot.add_argument("--out", type=Path, required=True, help="figure file: .png, .svg or .pdf")
    plot.add_argument("--title", help="a title above the figure")
    plot.set_defaults(run=run_plot)


def run_plot(args: argparse.Namespace) -> int:
    return write_curves(args.histories, args.out, args.title)


def write_curves(histories: Sequence[Path], out: Path, title: str | None = None) -> int:
    """Draw the histories' learning curves into ``out``; a missing Matplotlib is one line, not a traceback."""
    try:
        curves = plot_histories(histories, out, title)
    except PlotError as e:
        print(f"digitnet: {e}", file=sys.stderr)
        return 2
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


def add_numbers(commands) -> None:
    numbers = commands.add_parser(
        "numbers",
        help="every model on drawn numbers, photos and blank sheets made from MNIST test digits (or validation digits)",
    )
    numbers.add_argument("model", type=Path, nargs="*", help="model file(s) (default: the models in weights/)")
    numbers.add_argument("--write", type=Path, help="write the table here (e.g. weights/numbers.md) and JSON beside it")
    numbers.add_argument(
        "--validation",
        action="store_true",
        help="the same sets made of validation digits, where the grouping's thresholds are chosen (printed only)",
    )
    add_data_dir(numbers)
    numbers.set_defaults(run=run_numbers)


def run_numbers(args: argparse.Namespace) -> int:
    from digitnet.training import number_sets

    if args.validation and args.write:
        raise SystemExit("--validation prints its table: the written one (--write) is the test digits' table")
    paths = args.model or model_files(DEFAULT_WEIGHTS)
    networks = {path.stem: load_model(path) for path in paths}
    print(f"reading generated numbers with {len(networks)} model(s)…", flush=True)
    if args.validation:
        digits, seed = load_mnist(args.data_dir).validation, number_sets.VALIDATION_SEED
    else:
        digits, seed = load_test(args.data_dir), number_sets.SEED
    figures = number_sets.results(networks, digits, seed=seed)
    text = number_sets.results_markdown(figures, validation=args.validation)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        args.write.with_suffix(".results.json").write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
        print(f"wrote {args.write} and {args.write.with_suffix('.results.json')}")
    else:
        print(text, end="")
    return 0


def stored_dtype(path: Path) -> str:
    """``"float16"`` when every tensor of the model file at ``path`` is stored so, else ``"float32"``."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    layers = doc.get("layers", []) if isinstance(doc, dict) else []
    found = {
        v.get("dtype") for layer in layers if isinstance(layer, dict) for v in layer.values() if isinstance(v, dict)
    }
    return "float16" if found == {"float16"} else "float32"


def add_digit_check(commands) -> None:
    check = commands.add_parser(
        "fit-digit-check",
        help="fit a model's digit check (is a candidate one whole digit?) on numbers made of MNIST training digits",
    )
    check.add_argument("model", type=Path, help="the model file; the check is written into it")
    check.add_argument("--out", type=Path, help="write the model with its check here instead")
    add_data_dir(check)
    check.set_defaults(run=run_digit_check)


def run_digit_check(args: argparse.Namespace) -> int:
    from digitnet.modelfile import save_model
    from digitnet.training import digit_check, number_sets

    network = load_model(args.model)
    data = load_mnist(args.data_dir)
    counts = digit_check.COUNTS
    print(
        f"drawing {counts['drawn'] * 7 + counts['drawn4']:,} numbers of MNIST training digits and reading their "
        "candidates…",
        flush=True,
    )

    def progress(k: int) -> None:
        if k % 1000 == 0:
            print(f"  {k:,} numbers read", flush=True)

    check, summary = digit_check.fit_digit_check(network, data.train, counts, progress=progress)
    print(f"fitted on {summary['candidates']:,} candidates: {summary['training_accuracy']} % classified right")
    checked = dataclasses.replace(network, digit_check=check, metadata={**network.metadata, "digit_check": summary})
    plain = dataclasses.replace(network, digit_check=None)
    figures = number_sets.drawn_results(
        {"without": plain, "with": checked}, data.validation, number_sets.SIZES, number_sets.VALIDATION_SEED
    )
    for name, f in figures.items():
        d, d4 = f["drawn"], f["drawn4"]
        print(
            f"validation numbers {name} the check: 2–8 digits {d['number_accuracy']:.1f} % "
            f"({d['segmentation_errors']} split errors), 4 digits {d4['number_accuracy']:.1f} % "
            f"({d4['segmentation_errors']})"
        )
    out = args.out or args.model
    save_model(checked, out, stored_dtype(args.model))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
