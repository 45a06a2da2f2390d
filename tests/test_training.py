"""Training on the real MNIST: learning happens, runs are reproducible and resumable."""

import dataclasses
import json

import numpy as np
import pytest

from digitnet import load_model
from digitnet.training import train as train_module
from digitnet.training.mnist import Split
from digitnet.training.recipes import recipe_named
from digitnet.training.train import CheckpointError, output_paths, train_recipe


def small(data, n):
    """``data`` with only its first ``n`` training images."""
    return dataclasses.replace(data, train=Split(data.train.images[:n], data.train.labels[:n]))


def params(network):
    return [p for layer in network.layers for p in layer.params().values()]


def test_one_epoch_of_c1_learns(mnist_data, tmp_path):
    recipe = dataclasses.replace(recipe_named("c1"), epochs=1)
    best = train_recipe(recipe, mnist_data, tmp_path)
    assert best.metadata["test_accuracy"] >= 90.0
    assert best.metadata["validation_accuracy"] >= 90.0
    history = json.loads((tmp_path / "c1.history.json").read_text())
    assert history["epochs"][0]["epoch"] == 1 and history["best_epoch"] == 1
    assert (tmp_path / "c1.checkpoint.npz").exists()  # kept: a larger --epochs extends the run from it
    saved = load_model(tmp_path / "c1.json")
    assert saved.accuracy(mnist_data.test.images, mnist_data.test.labels) == best.metadata["test_correct"]


def test_same_seed_same_network(mnist_data, tmp_path):
    recipe = dataclasses.replace(recipe_named("c2"), epochs=1)
    data = small(mnist_data, 3000)
    a = train_recipe(recipe, data, tmp_path / "a")
    b = train_recipe(recipe, data, tmp_path / "b")
    c = train_recipe(dataclasses.replace(recipe, seed=99), data, tmp_path / "c")
    assert all(np.array_equal(x, y) for x, y in zip(params(a), params(b), strict=True))
    assert not np.array_equal(params(a)[0], params(c)[0])


def test_interrupted_run_resumes_to_the_same_result(mnist_data, tmp_path):
    recipe = dataclasses.replace(recipe_named("c2"), epochs=3)
    data = small(mnist_data, 3000)
    straight = train_recipe(recipe, data, tmp_path / "straight")

    epochs_seen = []

    def interrupt_after_two(figures):
        epochs_seen.append(figures["epoch"])
        if figures["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_recipe(recipe, data, tmp_path / "resumed", on_epoch=interrupt_after_two)
    assert output_paths(tmp_path / "resumed", recipe)["checkpoint"].exists()
    resumed = train_recipe(recipe, data, tmp_path / "resumed", on_epoch=lambda f: epochs_seen.append(f["epoch"]))
    assert epochs_seen == [1, 2, 3]  # epoch 3 only was trained after the restart
    assert all(np.array_equal(x, y) for x, y in zip(params(straight), params(resumed), strict=True))
    history = json.loads((tmp_path / "resumed" / "c2.history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]] == [1, 2, 3]


def test_checkpoint_from_other_settings_is_refused(mnist_data, tmp_path):
    recipe = dataclasses.replace(recipe_named("c2"), epochs=2)
    data = small(mnist_data, 1000)

    def stop(figures):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_recipe(recipe, data, tmp_path, on_epoch=stop)
    with pytest.raises(CheckpointError, match="other settings"):
        train_recipe(dataclasses.replace(recipe, eta=0.1), data, tmp_path)
    checkpoint = output_paths(tmp_path, recipe)["checkpoint"]
    checkpoint.write_bytes(checkpoint.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="unreadable checkpoint"):
        train_recipe(recipe, data, tmp_path)
    assert train_recipe(recipe, data, tmp_path, restart=True).metadata["epochs"] == 2


def test_augmented_batchnorm_run_resumes_exactly_and_ends_on_clean_images(mnist_data, tmp_path, monkeypatch):
    """The cnn recipe (batch norm, dropout, augmentation with every pixel-level change) on a little data:
    the running statistics,
    Adam's moments and the augmentation's random state all survive an interruption; the last
    ``clean_epochs`` epochs see no geometric distortion (pixel-level changes stay)."""
    cnn = recipe_named("cnn")
    pixel_level = dataclasses.replace(cnn.augmentation, drawn=0.3, thin=0.1, thick=0.1, noise=0.3)
    recipe = dataclasses.replace(cnn, epochs=3, clean_epochs=1, augmentation=pixel_level)
    tiny = {
        name: Split(split.images[:300], split.labels[:300])
        for name, split in (("validation", mnist_data.validation), ("test", mnist_data.test))
    }
    data = dataclasses.replace(small(mnist_data, 640), **tiny)
    geometric_epochs = []
    real_augment = train_module.augment

    def counting_augment(images, rng, settings, geometric=True, drawn=None):
        geometric_epochs.append(geometric)
        assert drawn is not None and drawn.shape == images.shape
        return real_augment(images, rng, settings, geometric, drawn)

    monkeypatch.setattr(train_module, "augment", counting_augment)
    straight = train_recipe(recipe, data, tmp_path / "straight")
    assert geometric_epochs == [True, True, False]

    def stop_after_two(figures):
        if figures["epoch"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train_recipe(recipe, data, tmp_path / "resumed", on_epoch=stop_after_two)
    resumed = train_recipe(recipe, data, tmp_path / "resumed")
    assert all(np.array_equal(x, y) for x, y in zip(params(straight), params(resumed), strict=True))
    statistics = [layer.variance for layer in resumed.layers if layer.kind == "batchnorm"]
    assert statistics and not np.allclose(statistics[0], 1)  # the running variance has moved from its start


def test_a_run_stopped_before_writing_its_model_writes_it_when_rerun(mnist_data, tmp_path):
    """Stopped after the last epoch's checkpoint but before the model was written (here: while extending
    a 1-epoch run to 2), the rerun writes the 2-epoch model instead of keeping the stale one."""
    recipe = dataclasses.replace(recipe_named("c2"), epochs=1)
    data = small(mnist_data, 500)
    train_recipe(recipe, data, tmp_path)

    def stop_after_two(figures):
        if figures["epoch"] == 2:
            raise KeyboardInterrupt

    longer = dataclasses.replace(recipe, epochs=2)
    with pytest.raises(KeyboardInterrupt):
        train_recipe(longer, data, tmp_path, on_epoch=stop_after_two)
    assert load_model(tmp_path / "c2.json").metadata["epochs"] == 1
    resumed = []
    best = train_recipe(longer, data, tmp_path, on_epoch=resumed.append, on_resume=resumed.append)
    assert resumed == [2]  # told the checkpoint holds 2 epochs; none trained again
    assert best.metadata["epochs"] == 2 and load_model(tmp_path / "c2.json").metadata["epochs"] == 2
    history = json.loads((tmp_path / "c2.history.json").read_text())
    assert [h["epoch"] for h in history["epochs"]] == [1, 2]
