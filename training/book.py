"""The page's Train panel in CPython: ``digitnet book-data`` writes the MNIST subset it trains on,
``digitnet book-train`` runs one of the book's set-ups on it as the page does (``digitnet.book``), with
the same numbers for the same seed.

The subset is the first ``train`` images of the recipes' training split (MNIST training images
0 … 49,999) and the first ``validation`` of their validation split (MNIST training images 50,000 …),
uint8, in a ``.npz`` archive whose bytes depend on the MNIST files only.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from digitnet.book import BOOK_DATA_FILE, CHOICES, LIMITS, SETUPS, BookRun, book_settings, read_book_data
from digitnet.errors import InputError
from digitnet.modelfile import write_atomic
from digitnet.training.mnist import N_TRAIN, locate, read_files
from digitnet.training.paths import WEIGHTS
from digitnet.training.replay import archive_bytes

TRAIN, VALIDATION = 10_000, 2_000


def book_data_bytes(data_dir: str | Path | None, train: int = TRAIN, validation: int = VALIDATION) -> bytes:
    """The subset's archive from the MNIST files in ``data_dir`` (see ``digitnet.training.mnist.locate``)."""
    if not 1 <= train <= N_TRAIN or not 1 <= validation <= 60_000 - N_TRAIN:
        raise InputError(
            f"the subset takes 1 to {N_TRAIN:,} training and 1 to {60_000 - N_TRAIN:,} validation images, "
            f"not {train:,} and {validation:,}"
        )
    names = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte")
    arrays = read_files(locate(data_dir, names), names)
    images = arrays["train-images-idx3-ubyte"].reshape(-1, 784)
    labels = arrays["train-labels-idx1-ubyte"]
    return archive_bytes(
        {
            "train_images": images[:train],
            "train_labels": labels[:train],
            "validation_images": images[N_TRAIN : N_TRAIN + validation],
            "validation_labels": labels[N_TRAIN : N_TRAIN + validation],
        }
    )


def add_book_commands(commands: argparse._SubParsersAction) -> None:
    data = commands.add_parser("book-data", help="write the MNIST subset the page's Train panel learns from")
    data.add_argument("--out", type=Path, default=WEIGHTS / BOOK_DATA_FILE)
    data.add_argument("--data-dir", type=Path, help="folder with the MNIST files (default: $DIGITNET_DATA)")
    data.add_argument("--train", type=int, default=TRAIN, help=f"training images (default {TRAIN:,})")
    data.add_argument("--validation", type=int, default=VALIDATION, help=f"validation images (default {VALIDATION:,})")
    data.set_defaults(run=run_book_data)

    train = commands.add_parser("book-train", help="train one of the book's set-ups as the page's Train panel does")
    train.add_argument("--setup", choices=sorted(SETUPS), default="c1")
    for name, limit in LIMITS.items():
        train.add_argument(
            f"--{name.replace('_', '-')}",
            dest=name,
            help=f"{limit.label} (default: the set-up's; {bounds(limit.low, limit.whole)} to "
            f"{bounds(limit.high, limit.whole)})",
        )
    for name, choice in CHOICES.items():
        train.add_argument(f"--{name}", choices=list(choice.options), help=f"{choice.label} (default: the set-up's)")
    train.add_argument("--data", type=Path, default=WEIGHTS / BOOK_DATA_FILE, help="the MNIST subset")
    train.add_argument("--out", type=Path, required=True, help="where to write the trained model")
    train.set_defaults(run=run_book_train)


def bounds(value: float, whole: bool) -> str:
    return f"{value:,.0f}" if whole else f"{value:g}"


def run_book_data(args: argparse.Namespace) -> int:
    data = book_data_bytes(args.data_dir, args.train, args.validation)
    write_atomic(args.out, data)
    images = f"{args.train:,} MNIST training + {args.validation:,} validation images"
    print(f"wrote {args.out}: {images}, {len(data):,} bytes")
    return 0


def run_book_train(args: argparse.Namespace) -> int:
    values = {name: getattr(args, name) for name in [*LIMITS, *CHOICES] if getattr(args, name) is not None}
    settings = book_settings(args.setup, values)
    run = BookRun(settings, read_book_data(args.data.read_bytes()))
    print(
        f"{settings.setup}: {settings.sizes}, {settings.cost} cost, {CHOICES['init'].options[settings.init]} weights, "
        f"η = {settings.eta:g}, λ = {settings.l2:g}, "
        f"mini-batch {settings.batch_size}, {settings.train_size:,} images, seed {settings.seed}"
    )
    while not run.finished:
        figures = run.train_epoch()
        print(
            f"epoch {figures['epoch']}: training cost {figures['training_cost']:.4f}, "
            f"validation {figures['validation_accuracy']:.2f} %"
        )
    write_atomic(args.out, run.model_text().encode())
    print(f"wrote {args.out}")
    return 0
