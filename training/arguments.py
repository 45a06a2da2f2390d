"""What several commands' arguments share: bounded numbers, seeds, the data folders, model names."""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from digitnet.training.paths import INSTALLED, WEIGHTS
from digitnet.training.writers import ENVIRONMENT as WRITERS_ENVIRONMENT

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


def model_path(text: str) -> Path:
    """An argparse type: a model file's path, or the name of a committed model (``c2`` for ``weights/c2.json``, else
    the installed copy of that name)."""
    path = Path(text)
    if path.is_file() or path.suffix == ".json" or "/" in text:
        return path
    return next((p for p in (WEIGHTS / f"{text}.json", INSTALLED / f"{text}.json") if p.is_file()), path)


def stored_dtype(path: Path) -> str:
    """``"float16"`` when every tensor of the model file at ``path`` is stored so, else ``"float32"``."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    layers = doc.get("layers", []) if isinstance(doc, dict) else []
    found = {
        v.get("dtype") for layer in layers if isinstance(layer, dict) for v in layer.values() if isinstance(v, dict)
    }
    return "float16" if found == {"float16"} else "float32"


def printable(value: Any) -> str:
    """``str(value)`` with control characters (terminal escape sequences among them) shown as escapes."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(value))
