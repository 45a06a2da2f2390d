"""The commands that measure: ``evaluate`` (MNIST test, a strokes file, the robustness sets, real writers), ``results``
(the table of the committed models) and ``numbers`` (drawn numbers, photos, blank sheets)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from digitnet.errors import InputError
from digitnet.modelfile import load_model, write_atomic
from digitnet.strokesfile import labels_of
from digitnet.training.arguments import add_data_dir, add_writers_dir
from digitnet.training.batches import predict_in_batches
from digitnet.training.cli_adapt import read_samples
from digitnet.training.cli_train import write_committed_curves
from digitnet.training.mnist import load_mnist, load_test
from digitnet.training.paths import WEIGHTS, model_files
from digitnet.training.results import results_markdown
from digitnet.training.robustness import evaluate_suite, suite_sets, write_suite
from digitnet.training.writers import load_writers, model_figures, page_answers


def add_measuring_commands(commands: argparse._SubParsersAction) -> None:
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

    results = commands.add_parser("results", help="the results table of the models in a folder")
    results.add_argument("--weights", type=Path, default=WEIGHTS)
    results.add_argument("--write", type=Path, help="write the table to this file instead of printing it")
    results.set_defaults(run=run_results)

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


def run_evaluate(args: argparse.Namespace) -> int:
    if args.suite:
        return run_suite(args)
    if args.real_writers:
        return run_real_writers(args)
    if len(args.model) != 1:
        raise InputError("evaluate takes one model file (or several with --suite)")
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
    paths = args.model or model_files(WEIGHTS)
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
    paths = args.model or model_files(WEIGHTS)
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


def run_results(args: argparse.Namespace) -> int:
    text = results_markdown(args.weights)
    if args.write:
        args.write.write_text(text, encoding="utf-8")
        print(f"wrote {args.write}")
        return write_committed_curves(args.weights, args.write.parent)
    print(text, end="")
    return 0


def run_numbers(args: argparse.Namespace) -> int:
    from digitnet.training import number_sets

    if args.validation and args.write:
        raise InputError("--validation prints its table: the written one (--write) is the test digits' table")
    paths = args.model or model_files(WEIGHTS)
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
