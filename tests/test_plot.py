"""``digitnet plot``, ``results`` and ``train --plot``: learning curves from training histories."""

import json
import sys
import xml.etree.ElementTree as ET

import pytest
from PIL import Image

from digitnet.training.cli import main
from digitnet.training.plot import curves_of, draw, read_history
from digitnet.training.recipes import RECIPES

from .conftest import ROOT

HISTORIES = sorted((ROOT / "weights").glob("*.history.json"))
SPLITS = ("training", "validation", "test")


def expected_curves(paths) -> set[str]:
    """Every (run, split, measure) series the histories record, read straight from the JSON."""
    expected = set()
    for path in paths:
        epochs = json.loads(path.read_text())["epochs"]
        run = path.name.removesuffix(".history.json")
        for key in {k for e in epochs for k in e}:
            split, _, measure = key.partition("_")
            if split in SPLITS and measure in ("accuracy", "cost"):
                expected.add(f"curve:{run}:{split}:{measure}")
    return expected


def svg_curves(path) -> list[str]:
    return [e.get("id") for e in ET.parse(path).iter() if (e.get("id") or "").startswith("curve:")]


def test_plot_writes_svg_and_png_with_a_curve_per_recorded_series(tmp_path, capsys):
    expected = expected_curves(HISTORIES)
    assert len(HISTORIES) == len(RECIPES) and len(expected) > 2 * len(HISTORIES)  # a run per recipe
    svg, png = tmp_path / "curves.svg", tmp_path / "curves.png"
    assert main(["plot", *map(str, HISTORIES), "--out", str(svg)]) == 0
    assert sorted(svg_curves(svg)) == sorted(expected)  # each exactly once
    assert main(["plot", *map(str, HISTORIES), "--out", str(png), "--title", "runs"]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(png) as image:
        image.verify()
    assert f"{len(expected)} curves from {len(HISTORIES)} run(s)" in capsys.readouterr().out


def test_figure_lines_carry_each_history_epoch_by_epoch():
    """The PNG's figure: one line per series, its points the history's own numbers."""
    history = read_history(ROOT / "weights" / "c2.history.json")
    curves = curves_of("c2", history)
    figure = draw(curves, ["c2"], None)
    lines = {line.get_gid(): line for ax in figure.axes for line in ax.lines if line.get_gid()}
    assert set(lines) == expected_curves([ROOT / "weights" / "c2.history.json"])
    for split in SPLITS:
        line = lines[f"curve:c2:{split}:accuracy"]
        assert list(line.get_xdata()) == [e["epoch"] for e in history["epochs"]]
        assert list(line.get_ydata()) == [e[f"{split}_accuracy"] for e in history["epochs"]]


def test_plot_explains_bad_input_in_one_line(tmp_path, capsys, monkeypatch):
    not_history = tmp_path / "model.json"
    not_history.write_text('{"format": "digitnet-model"}')
    assert main(["plot", str(not_history), "--out", str(tmp_path / "x.svg")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"digitnet: error: {not_history} is not a training history (no list of epochs)"
    )
    assert main(["plot", str(HISTORIES[0]), "--out", str(tmp_path / "x.gif")]) == 2
    assert "must end in .png, .svg, .pdf" in capsys.readouterr().err
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as if it were not installed
    assert main(["plot", str(HISTORIES[0]), "--out", str(tmp_path / "x.svg")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install 'digitnet[plot]'" in err
    assert not (tmp_path / "x.svg").exists()


def test_results_writes_the_curves_the_table_links(tmp_path, capsys):
    readme = tmp_path / "README.md"
    assert main(["results", "--weights", str(ROOT / "weights"), "--write", str(readme)]) == 0
    text = readme.read_text()
    assert "![Accuracy and cost per epoch of the committed runs](curves.svg)" in text
    assert sorted(svg_curves(tmp_path / "curves.svg")) == sorted(expected_curves(HISTORIES))
    for history in HISTORIES:
        name = history.name.removesuffix(".history.json")
        assert f"(curves/{name}.svg)" in text
        assert sorted(svg_curves(tmp_path / "curves" / f"{name}.svg")) == sorted(expected_curves([history]))


def test_committed_curves_show_the_committed_histories():
    """weights/curves.svg and weights/curves/NAME.svg hold a curve for each series of today's histories
    (the table itself is checked in test_weights)."""
    weights = ROOT / "weights"
    assert sorted(svg_curves(weights / "curves.svg")) == sorted(expected_curves(HISTORIES))
    for history in HISTORIES:
        name = history.name.removesuffix(".history.json")
        assert sorted(svg_curves(weights / "curves" / f"{name}.svg")) == sorted(expected_curves([history]))


def test_train_plot_draws_the_run_at_the_end(data_dir, tmp_path, capsys):
    args = ["train", "--recipe", "c1", "--epochs", "2", "--limit", "1000", "--out", str(tmp_path), "--plot"]
    assert main([*args, "--data-dir", str(data_dir)]) == 0
    assert "wrote" in capsys.readouterr().out
    assert sorted(svg_curves(tmp_path / "c1.curves.svg")) == sorted(expected_curves([tmp_path / "c1.history.json"]))


@pytest.fixture(autouse=True)
def _no_display(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
