"""The committed models: each reproduces its recorded test accuracy exactly; the table is current."""

import json

import pytest

from digitnet import load_model
from digitnet.training.recipes import RECIPES
from digitnet.training.results import results_markdown

from .conftest import ROOT

WEIGHTS = ROOT / "weights"


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_committed_model_reproduces_its_recorded_accuracy(name, mnist_data):
    network = load_model(WEIGHTS / f"{name}.json")
    meta = network.metadata
    assert meta["recipe"] == name and meta["settings"]["epochs"] == RECIPES[name].epochs  # trained at full length
    assert meta["dataset_sha256"]["t10k-images-idx3-ubyte"].startswith("8d422c7b")
    test, validation = mnist_data.test, mnist_data.validation
    assert network.accuracy(test.images, test.labels) == meta["test_correct"]
    assert network.accuracy(validation.images, validation.labels) == meta["validation_correct"]
    history = json.loads((WEIGHTS / f"{name}.history.json").read_text())
    best = history["epochs"][meta["best_epoch"] - 1]
    assert best["validation_correct"] == max(h["validation_correct"] for h in history["epochs"])
    assert best["test_correct"] == meta["test_correct"]


def test_results_table_is_generated_from_the_models():
    assert (WEIGHTS / "README.md").read_text(encoding="utf-8") == results_markdown(WEIGHTS)
