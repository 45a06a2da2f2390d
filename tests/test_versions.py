"""The original Rust-NN's other versions, augmentation, the CNN and the robustness suite."""

import dataclasses
import json

import numpy as np
import pytest

from digitnet import parse_model
from digitnet.augment import Augmentation, augment, morphology, transform
from digitnet.backprop import backprop, one_hot
from digitnet.costs import cost_named
from digitnet.layers import PatchFeatures
from digitnet.modelfile import model_to_dict
from digitnet.training.initialisation import RUST_NN_KERNELS
from digitnet.training.mnist import Split
from digitnet.training.randomise import add_noise, shift, shifted_and_noisy, with_randomised_copies
from digitnet.training.recipes import recipe_named
from digitnet.training.robustness import evaluate_suite, suite_sets
from digitnet.training.train import initial_network, train_recipe

from .test_gradients import assert_backprop_matches_finite_differences


def test_shift_moves_by_three_or_four_pixels_cycling_directions():
    image = np.zeros((28, 28), np.float32)
    image[10:18, 12:16] = 1
    images = np.repeat(image.reshape(1, -1), 8, axis=0)
    moved = shift(images, np.random.default_rng(0)).reshape(-1, 28, 28)
    for i, (direction, out) in enumerate(zip(["left", "down", "right", "up"] * 2, moved, strict=True)):
        rows, cols = np.nonzero(out)
        dr, dc = rows.min() - 10, cols.min() - 12
        assert out.sum() == image.sum(), i  # nothing fell off the edge here
        k = max(abs(dr), abs(dc))
        assert k in (3, 4)
        expected = {"left": (0, -k), "right": (0, k), "up": (-k, 0), "down": (k, 0)}[direction]
        assert (dr, dc) == expected


def test_shift_zeroes_vacated_pixels():
    full = np.ones((4, 784), np.float32)
    moved = shift(full, np.random.default_rng(1)).reshape(-1, 28, 28)
    assert moved[0, :, -3:].sum() == 0  # shifted left: the right-hand columns are empty
    assert moved[1, :3].sum() == 0  # shifted down: the top rows are empty


def test_noise_flips_between_50_and_150_pixels():
    images = np.random.default_rng(2).random((200, 784)).astype(np.float32)
    noisy = add_noise(images, np.random.default_rng(3))
    changed = (noisy != images).sum(axis=1)
    assert changed.min() >= 45 and changed.max() <= 150  # a flip of exactly 0.0 or 1.0 changes nothing
    flipped = noisy != images
    assert np.all(noisy[flipped] == np.where(images[flipped] > 0.5, 0.0, 1.0))


def test_randomised_data_follows_the_original_pattern(mnist_data):
    train = Split(mnist_data.train.images[:1000], mnist_data.train.labels[:1000])
    data = with_randomised_copies(train, np.random.default_rng(4))
    assert len(data) == 2000 and np.array_equal(data.labels[1000:], train.labels)
    copies, originals = data.images[1000:], train.images
    # first 30 %: shifted only (same ink, moved); next 30 %: noise only; last 40 %: both
    assert np.allclose(copies[:300].sum(axis=1), originals[:300].sum(axis=1), atol=25)
    unshifted = copies[300:600] != originals[300:600]
    assert np.all((unshifted.sum(axis=1) >= 40) & (unshifted.sum(axis=1) <= 150))
    again = with_randomised_copies(train, np.random.default_rng(4))
    assert np.array_equal(again.images, data.images)  # seeded: the same copies every time
    assert len(shifted_and_noisy(train, np.random.default_rng(5))) == 1000


def test_patch_features_are_the_original_kernels_on_disjoint_patches():
    layer = PatchFeatures(RUST_NN_KERNELS.copy())
    image = np.zeros((28, 28))
    image[4:8, 0:4] = RUST_NN_KERNELS[1]  # patch (row 1, col 0) holds the horizontal kernel itself
    out = layer.forward(image.reshape(1, -1))[0]
    assert out.shape == (6 * 49 + 784,)
    features = out[:294].reshape(6, 7, 7)
    assert features[1, 1, 0] == pytest.approx(np.sum(RUST_NN_KERNELS[1] ** 2))
    assert np.count_nonzero(features[:, [0, 2, 3, 4, 5, 6]]) == 0
    assert np.array_equal(out[294:], image.ravel())


def test_learned_patch_kernels_gradient_and_fixed_ones_stay():
    rng = np.random.default_rng(6)
    recipe = recipe_named("c2_conv-learned")
    network = initial_network(recipe, rng)
    for layer in network.layers:  # float64, for finite differences
        for key, value in layer.params().items():
            setattr(layer, key, value.astype(np.float64))
    cost = cost_named(recipe.cost)
    x, y = rng.random((3, 784)), one_hot(np.array([0, 5, 9]), dtype=np.float64)
    assert_backprop_matches_finite_differences(network, cost, x, y)
    fixed = initial_network(recipe_named("c2_conv"), rng)
    assert backprop(fixed, cost, x.astype(np.float32), y.astype(np.float32))[0] == {}


def test_new_layers_round_trip_through_the_model_file():
    for name in ("cnn", "c2_conv-learned"):
        network = initial_network(recipe_named(name), np.random.default_rng(7))
        loaded = parse_model(json.dumps(model_to_dict(network)))
        assert [layer.kind for layer in loaded.layers] == [layer.kind for layer in network.layers]
        x = np.random.default_rng(8).random((3, 784), dtype=np.float32)
        assert np.array_equal(loaded.feedforward(x), network.feedforward(x))


def test_augmentation_is_seeded_and_keeps_digits(mnist_data):
    images = mnist_data.test.images[:500]
    a = augment(images, np.random.default_rng(9))
    b = augment(images, np.random.default_rng(9))
    assert np.array_equal(a, b) and a.dtype == np.float32 and a.shape == images.shape
    assert not np.array_equal(a, images)
    assert 0 <= a.min() and a.max() <= 1
    assert abs(a.sum() / images.sum() - 1) < 0.1  # ink is moved, not lost
    identity = transform(images)
    assert np.allclose(identity, images, atol=1e-6)
    no_elastic = augment(images, np.random.default_rng(9), Augmentation(elastic_pixels=0))
    assert not np.array_equal(no_elastic, a)


def test_pixel_level_changes_follow_their_probabilities(mnist_data):
    from digitnet.augment import flip_pixels, stroke_level
    from digitnet.training.robustness import drawn

    images = mnist_data.test.images[:400]
    copies = drawn(images, np.random.default_rng(1))
    all_drawn = stroke_level(images, np.random.default_rng(2), Augmentation(drawn=1.0), copies)
    assert np.array_equal(all_drawn, copies)
    mixed = stroke_level(images, np.random.default_rng(2), Augmentation(drawn=0.5), copies)
    replaced = np.all(mixed == copies, axis=1) & ~np.all(images == copies, axis=1)
    assert 0.35 < replaced.mean() < 0.65
    noisy = flip_pixels(images, np.random.default_rng(3), 1.0)
    flipped = np.sum((noisy > 0.5) != (images > 0.5), axis=1)
    assert 30 <= flipped.min() and flipped.max() <= 190 and 80 < flipped.mean() < 120
    thick = stroke_level(images, np.random.default_rng(4), Augmentation(thick=1.0))
    thin = stroke_level(images, np.random.default_rng(4), Augmentation(thin=1.0))
    assert np.all(thick >= images) and np.all(thin <= images)
    assert np.array_equal(thick, morphology(images, np.maximum, 3))
    with pytest.raises(ValueError, match="needs the drawn copy"):
        stroke_level(images, np.random.default_rng(2), Augmentation(drawn=0.5))


def test_short_cnn_run_learns(mnist_data, tmp_path):
    """About 200 mini-batches of the cnn recipe (with augmentation and dropout) on real MNIST."""
    recipe = dataclasses.replace(recipe_named("cnn"), epochs=1)
    data = dataclasses.replace(
        mnist_data, train=Split(mnist_data.train.images[:12800], mnist_data.train.labels[:12800])
    )
    untrained = initial_network(recipe, np.random.default_rng(recipe.seed))
    cost = cost_named(recipe.cost)
    sample, labels = mnist_data.validation.images[:1000], mnist_data.validation.labels[:1000]
    before = cost.value(untrained.feedforward(sample), one_hot(labels)) / 1000
    best = train_recipe(recipe, data, tmp_path)
    after = cost.value(best.feedforward(sample), one_hot(labels)) / 1000
    assert after < before / 3
    assert best.metadata["validation_accuracy"] >= 90.0


def test_robustness_suite_sets_and_figures(mnist_data):
    test = Split(mnist_data.test.images[:300], mnist_data.test.labels[:300])
    sets = dict(suite_sets(test))
    assert list(sets) == [
        "mnist",
        "shifted",
        "noisy",
        "shifted+noisy",
        "rotated ±15°",
        "scaled 0.7×",
        "scaled 1.2×",
        "thick",
        "thin",
        "drawn",
    ]
    for images in sets.values():
        assert images.shape == test.images.shape and images.dtype == np.float32
    assert np.array_equal(sets["mnist"], test.images)
    assert sets["thick"].sum() > test.images.sum() > sets["thin"].sum()
    assert np.array_equal(morphology(test.images, np.maximum, 1), test.images)
    from digitnet import load_model

    from .conftest import ROOT

    network = load_model(ROOT / "weights" / "c2-100.json")
    figures = evaluate_suite({"c2-100": network}, test, sets.items())["c2-100"]
    assert figures["mnist"] == round(100 * network.accuracy(test.images, test.labels) / 300, 2)
    assert figures["drawn"] > 85 and figures["shifted"] < figures["mnist"]
