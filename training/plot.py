"""Learning curves: accuracy and cost per epoch from training histories (``NAME.history.json``),
several runs on one figure, as in the figures of Nielsen's book.

Each run has a colour; the split a curve was measured on has a line style (training solid,
validation dashed, test dotted). Accuracy (%) is on the left, the cost on the right when any
run recorded one. Every curve is a Matplotlib line whose ``gid`` is ``curve:RUN:SPLIT:MEASURE``,
kept as the ``id`` of its group in SVG output. Matplotlib is an optional dependency
(``pip install 'digitnet[plot]'``), imported only here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitnet.errors import DigitnetError

SPLITS = {"training": "-", "validation": "--", "test": ":"}
MEASURES = {"accuracy": "accuracy (%)", "cost": "cost"}
MISSING_MATPLOTLIB = "plotting needs Matplotlib: pip install 'digitnet[plot]' (or matplotlib>=3.8)"
#: The figure formats ``--out`` may name.
FORMATS = (".png", ".svg", ".pdf")


class PlotError(DigitnetError, RuntimeError):
    """No figure can be drawn (Matplotlib missing, a file that is not a training history, ...)."""


@dataclass
class Curve:
    """One line: ``values`` of ``split_measure`` (e.g. ``validation_accuracy``) at ``epochs``."""

    run: str
    split: str
    measure: str
    epochs: list[int]
    values: list[float]

    @property
    def gid(self) -> str:
        return f"curve:{self.run}:{self.split}:{self.measure}"


def read_history(path: Path) -> dict[str, Any]:
    try:
        history = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise PlotError(f"cannot read {path}: {e}") from None
    if not isinstance(history, dict) or not isinstance(history.get("epochs"), list) or not history["epochs"]:
        raise PlotError(f"{path} is not a training history (no list of epochs)")
    return history


def curves_of(run: str, history: dict[str, Any]) -> list[Curve]:
    """Every ``SPLIT_MEASURE`` series the history records, one curve each (epochs without it skipped)."""
    curves = []
    for measure in MEASURES:
        for split in SPLITS:
            key = f"{split}_{measure}"
            points = [(e["epoch"], float(e[key])) for e in history["epochs"] if e.get(key) is not None]
            if points:
                epochs, values = zip(*points, strict=True)
                curves.append(Curve(run, split, measure, list(epochs), list(values)))
    return curves


def run_name(path: Path, history: dict[str, Any]) -> str:
    """The run's label: its file name without ``.history.json``."""
    name = Path(path).name
    return name.removesuffix(".history.json") if name.endswith(".history.json") else Path(path).stem


def plot_histories(paths: Sequence[Path], out: Path, title: str | None = None) -> list[Curve]:
    """Draw the learning curves of the histories at ``paths`` into ``out`` (.png, .svg or .pdf);
    return the curves drawn."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise PlotError(f"--out must end in {', '.join(FORMATS)}, not {out.name!r}")
    runs = [(run_name(p, h), h) for p in paths for h in [read_history(p)]]
    curves = [c for run, history in runs for c in curves_of(run, history)]
    if not curves:
        raise PlotError("the histories record no accuracy or cost per epoch")
    figure = draw(curves, [run for run, _ in runs], title)
    out.parent.mkdir(parents=True, exist_ok=True)
    # no creation date in the file: the same histories give the same bytes
    metadata = {"Date": None} if out.suffix.lower() == ".svg" else {}
    figure.savefig(out, dpi=110, metadata=metadata)
    return curves


def draw(curves: list[Curve], runs: list[str], title: str | None) -> Any:
    """A Matplotlib figure with one axes per measure present (accuracy, then cost)."""
    try:
        import matplotlib
        from matplotlib.figure import Figure
        from matplotlib.lines import Line2D
    except ImportError:
        raise PlotError(MISSING_MATPLOTLIB) from None
    matplotlib.rcParams["svg.fonttype"] = "none"  # text as text: small SVG files
    matplotlib.rcParams["svg.hashsalt"] = "digitnet"  # stable ids
    measures = [m for m in MEASURES if any(c.measure == m for c in curves)]
    figure = Figure(figsize=(5.2 * len(measures), 4.2), layout="constrained")
    axes = figure.subplots(1, len(measures), squeeze=False)[0]
    colours = {run: f"C{i % 10}" for i, run in enumerate(runs)}
    for ax, measure in zip(axes, measures, strict=True):
        for c in (c for c in curves if c.measure == measure):
            ax.plot(c.epochs, c.values, SPLITS[c.split], color=colours[c.run], linewidth=1.4, gid=c.gid)
        ax.set_xlabel("epoch")
        ax.set_ylabel(MEASURES[measure])
        ax.grid(alpha=0.3)
    splits = [s for s in SPLITS if any(c.split == s for c in curves)]
    handles = [Line2D([], [], color=colours[r], label=r) for r in runs]
    handles += [Line2D([], [], color="0.3", linestyle=SPLITS[s], label=s) for s in splits]
    figure.legend(handles=handles, loc="outside right upper", fontsize="small")
    if title:
        figure.suptitle(title)
    return figure
