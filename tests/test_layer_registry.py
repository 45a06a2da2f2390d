"""Every registered layer kind (``digitnet.layers.LAYERS``) goes through all a layer goes through: made fresh from
its recipe spec by the ``initial`` of its kind, saved and read back in a model file, folded, shown in the Inside
view and back-propagated; and the recipes name their layers by these kinds."""

import json

import numpy as np
import pytest

from digitnet.inside import SILENT, label, look_inside, panels
from digitnet.layers import LAYERS, BatchNorm
from digitnet.modelfile import model_to_dict, parse_model
from digitnet.network import Network
from digitnet.training.initialisation import build_network
from digitnet.training.recipes import RECIPES, TRIALS
from digitnet.training.train import without_epochs

from .conftest import ROOT
from .test_gradients import assert_layer_backward_matches

#: Small networks from 784 pixels to 10 outputs that hold every kind between them. No ReLU right before the
#: pooling: its zeros would tie in a window, where the maximum has no derivative.
ARCHITECTURES = (
    (
        ("reshape", 28, 28, 1),
        ("conv2d", 3, 5, 1),
        ("batchnorm",),
        ("maxpool", 4),
        ("relu",),
        ("reshape", -1),
        ("dense", 6),
        ("batchnorm",),
        ("sigmoid",),
        ("dropout", 0.3),
        ("dense", 10),
        ("softmax",),
    ),
    (("patch-features", True), ("dense", 10), ("sigmoid",)),
)


def architecture_with(kind: str) -> tuple[tuple, ...]:
    return next(a for a in ARCHITECTURES if any(spec[0] == kind for spec in a))


def fresh_network(kind: str) -> Network:
    """The architecture holding ``kind``, with N(0, 1) biases and trained-looking batch-norm statistics."""
    network = build_network(architecture_with(kind), "log-likelihood", "default", np.random.default_rng(7))
    rng = np.random.default_rng(8)
    for layer in network.layers:
        if isinstance(layer, BatchNorm):
            for value in layer.params().values():
                value[:] = rng.random(layer.features, dtype=np.float32) + 0.5
    return network


def test_the_architectures_hold_every_registered_kind():
    assert {spec[0] for a in ARCHITECTURES for spec in a} == set(LAYERS)


@pytest.mark.parametrize("kind", sorted(LAYERS))
def test_every_kind_is_initialised_saved_read_folded_shown_and_back_propagated(kind):
    network = fresh_network(kind)
    mine = [i for i, layer in enumerate(network.layers) if layer.kind == kind]
    assert mine and all(type(network.layers[i]) is LAYERS[kind] for i in mine)
    for i in mine:
        layer = network.layers[i]
        assert layer.weighted == ("weight" in layer.params()) == LAYERS[kind].weighted
    x = np.random.default_rng(9).random((4, 784))
    expected = network.feedforward(x)

    # saved and read back: the same kinds, settings and tensors (bit for bit), so the same outputs
    read = parse_model(json.dumps(model_to_dict(network)), name=kind)
    for saved, back in zip(network.layers, read.layers, strict=True):
        assert (back.kind, back.config()) == (saved.kind, saved.config())
        assert all(np.array_equal(back.params()[k], v) for k, v in saved.params().items())
    assert np.array_equal(read.feedforward(x), expected)

    # folded: the same function, each batch normalisation merged into the layer before it
    folded = network.folded()
    np.testing.assert_allclose(folded.feedforward(x), expected, rtol=1e-9, atol=1e-12)
    kept = [layer.kind for layer in network.layers if layer.kind != BatchNorm.kind]
    assert [layer.kind for layer in folded.layers] == kept
    assert sum(layer.folded_batchnorm for layer in folded.layers) == len(network.layers) - len(kept)

    # shown inside, as the page shows the folded network and as training has it
    for shown in (network, folded):
        output, inside = look_inside(shown, x[0])
        np.testing.assert_allclose(output, shown.feedforward(x[0]), rtol=1e-12, atol=1e-15)
        groups = panels(shown)
        assert [i for p in groups for i in range(p.first, p.last + 1)] == list(range(len(shown.layers)))
        assert [p["title"] for p in inside["panels"]] == [p.title for p in groups]
        for i, layer in enumerate(shown.layers):
            if layer.kind == kind and kind not in SILENT:
                title = next(p.title for p in groups if p.first <= i <= p.last)
                assert label(layer) in title and "{" not in label(layer)

    # back-propagated, in float64: ∂C/∂x and every parameter gradient against central differences, through the
    # inference pass and through the training pass (batch statistics, the layer's cache)
    for layer in network.layers:
        for name, value in layer.params().items():
            setattr(layer, name, value.astype(np.float64))
    inputs = [x]
    for layer in network.layers:
        inputs.append(layer.forward(inputs[-1]))
    g_rng = np.random.default_rng(10)
    for i in mine:
        layer = network.layers[i]
        g = g_rng.standard_normal(inputs[i + 1].shape)
        for training in (False, True):
            assert_layer_backward_matches(layer, inputs[i], g, training=training)


def test_recipes_name_their_layers_by_kind_and_build():
    for recipe in (RECIPES | TRIALS).values():
        if recipe.architecture:
            network = build_network(recipe.architecture, recipe.cost, recipe.init, np.random.default_rng(0))
            assert [layer.kind for layer in network.layers] == [spec[0] for spec in recipe.architecture]


def test_settings_recorded_under_the_former_spec_names_still_match_their_recipe():
    """The committed models record the convolution's spec as "conv": a checkpoint of such settings continues."""
    for name, recipe in RECIPES.items():
        if recipe.architecture:
            recorded = json.loads((ROOT / "weights" / f"{name}.json").read_text())["metadata"]["settings"]
            assert without_epochs({"architecture": recorded["architecture"]}) == without_epochs(
                {"architecture": recipe.settings()["architecture"]}
            ), name
