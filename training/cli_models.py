"""The commands about one model: ``predict`` (the number in pictures), ``info`` and ``fit-digit-check``."""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

from digitnet.modelfile import load_model
from digitnet.numbers import NumberReading
from digitnet.picture import PictureError, read_number
from digitnet.training.arguments import add_data_dir, model_path, printable, stored_dtype
from digitnet.training.mnist import load_mnist
from digitnet.training.writers import trained_on


def add_model_commands(commands: argparse._SubParsersAction) -> None:
    predict = commands.add_parser(
        "predict", help="read the digit or the number in photos and scans (PNG, JPEG, ...)", description=PREDICT_HELP
    )
    predict.add_argument("images", type=Path, nargs="+", metavar="FILE", help="picture files")
    predict.add_argument(
        "--model", type=model_path, help=f"model file, or a committed model's name (default: {DEFAULT_MODEL.name})"
    )
    predict.add_argument("--json", action="store_true", help="one JSON object per file, one per line")
    predict.set_defaults(run=run_predict)

    info = commands.add_parser("info", help="describe a model file")
    info.add_argument("model", type=model_path, help="model file, or a committed model's name (e.g. cnn-pen)")
    info.set_defaults(run=run_info)

    check = commands.add_parser(
        "fit-digit-check",
        help="fit a model's digit check (is a candidate one whole digit?) on numbers made of MNIST training digits",
    )
    check.add_argument("model", type=Path, help="the model file; the check is written into it")
    check.add_argument("--out", type=Path, help="write the model with its check here instead")
    add_data_dir(check)
    check.set_defaults(run=run_digit_check)


#: The default model: the committed one in a clone, else the copy installed with the package.
DEFAULT_MODEL = model_path("cnn-pen")


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
