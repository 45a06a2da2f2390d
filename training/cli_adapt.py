"""The adaptation commands: ``digitnet adapt`` (the page's fine-tune, in CPython) and ``digitnet replay-data``,
and strokes files as extra training data (``digitnet train --extra``)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

from digitnet.adapt import AdaptSettings, adapt, load_replay
from digitnet.modelfile import load_model, save_model
from digitnet.strokesfile import Sample, StrokesFormatError, labels_of, parse_strokes, render_samples
from digitnet.training.mnist import Split
from digitnet.training.paths import WEIGHTS
from digitnet.training.replay import REPLAY_FILE, write_replay


def add_adapt_commands(commands: argparse._SubParsersAction) -> None:
    adapt_cmd = commands.add_parser("adapt", help="fine-tune a model on a person's drawings (a digitnet-strokes file)")
    adapt_cmd.add_argument("model", type=Path)
    adapt_cmd.add_argument("samples", type=Path, help="digitnet-strokes file, e.g. exported from the page")
    adapt_cmd.add_argument("--out", type=Path, required=True, help="where to write the adapted model")
    adapt_cmd.add_argument("--seed", type=int, default=0, help="random seed (default 0, as the page)")
    adapt_cmd.add_argument("--replay", type=Path, default=WEIGHTS / REPLAY_FILE, help="the MNIST replay set")
    adapt_cmd.add_argument("--force", action="store_true", help="write the model even when the holdout drops")
    adapt_cmd.set_defaults(run=run_adapt)

    replay = commands.add_parser("replay-data", help="write the MNIST replay set the page adapts with")
    replay.add_argument("--out", type=Path, default=WEIGHTS / REPLAY_FILE)
    replay.add_argument("--data-dir", type=Path, help="folder with the MNIST files (default: $DIGITNET_DATA)")
    replay.add_argument("--train", type=int, default=AdaptSettings().replay, help="training images (default 500)")
    replay.add_argument("--holdout", type=int, default=AdaptSettings().holdout, help="test images (default 500)")
    replay.set_defaults(run=run_replay_data)


def read_samples(path: Path) -> list[Sample]:
    """The samples of the strokes file at ``path``; a bad file raises one sentence naming it."""
    try:
        return parse_strokes(path.read_bytes())
    except StrokesFormatError as e:
        raise StrokesFormatError(f"{path}: {e}") from None
    except FileNotFoundError:
        raise StrokesFormatError(f"{path}: no such strokes file") from None


def run_adapt(args: argparse.Namespace) -> int:
    network = load_model(args.model)
    samples = read_samples(args.samples)
    replay = load_replay(args.replay.read_bytes())
    adapted, report = adapt(network, samples, replay, seed=args.seed)
    adapted.metadata["adapted"]["base"] = args.model.name
    print(f"adapted {args.model} to {len(samples)} drawings in {report.seconds:.1f} s")
    folds = AdaptSettings().folds
    print(f"  your drawings (held back, {folds}-fold): {report.person_before:.1f} % → {report.person_after:.1f} %")
    print(
        f"  MNIST holdout ({len(replay.holdout_labels[: AdaptSettings().holdout])} images): "
        f"{report.holdout_before:.1f} % → {report.holdout_after:.1f} %"
    )
    if not report.accepted and not args.force:
        print(f"not written: {report.reason} (--force writes it anyway)", file=sys.stderr)
        return 1
    save_model(adapted, args.out)
    print(f"wrote {args.out}")
    return 0


def run_replay_data(args: argparse.Namespace) -> int:
    size = write_replay(args.out, args.data_dir, args.train, args.holdout)
    print(f"wrote {args.out}: {args.train} MNIST training + {args.holdout} test images, {size:,} bytes")
    return 0


def with_extra_samples(train: Split, path: Path) -> Split:
    """``train`` followed by the drawings of the strokes file at ``path``, rendered as the page renders them."""
    samples = read_samples(path)
    images = render_samples(samples).astype(np.float32)
    print(f"adding {len(samples)} drawings from {path} to the {len(train):,} training images")
    return Split(np.concatenate([train.images, images]), np.concatenate([train.labels, labels_of(samples)]))
