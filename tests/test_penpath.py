"""The pen path reader: the path's features, the fusion, its place in the model file and on the page."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from digitnet.modelfile import ModelFormatError, load_model, model_to_dict, parse_model
from digitnet.numbers import recognise_number
from digitnet.penpath import PER_POINT, PenPath, fuse, pen_path
from digitnet.recognise import recognise_strokes
from digitnet.training import pen_order
from digitnet.training import writers as w
from digitnet.training.initialisation import build_mlp

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def reader(points: int = 8, seed: int = 0) -> PenPath:
    rng = np.random.default_rng(seed)
    return PenPath(build_mlp([points * PER_POINT, 12, 10], "relu", "softmax", "he", "log-likelihood", rng).layers)


def test_the_path_is_resampled_along_the_ink_in_drawing_order():
    two = [np.array([[0.0, 0.0], [10.0, 0.0]]), np.array([[0.0, 20.0], [10.0, 20.0]])]
    path = pen_path(two, 6).reshape(6, PER_POINT)  # the box is 10 × 20: half its longer side is 10
    # 2 units of ink in 5 equal steps: 0, 0.4, 0.8 along the first stroke, 0.2, 0.6, 1 along the second
    assert np.allclose(path[:, 0], [-0.5, -0.1, 0.3, -0.3, 0.1, 0.5]) and np.allclose(path[:, 1], [-1] * 3 + [1] * 3)
    assert list(path[:, 4]) == [0, 0, 0, 1, 0, 0]  # a new stroke at the fourth point
    assert np.allclose(path[:2, 2:4], [[1, 0], [1, 0]])  # along the first stroke: to the right
    assert np.allclose(np.hypot(path[:-1, 2], path[:-1, 3]), 1) and np.all(path[-1, 2:4] == 0)
    reversed_order = pen_path(two[::-1], 6).reshape(6, PER_POINT)
    assert not np.allclose(reversed_order, path)  # the order is what the image has not


def test_the_path_ignores_where_and_how_large_the_digit_is():
    rng = np.random.default_rng(3)
    strokes = [rng.uniform(0, 50, (7, 2)), rng.uniform(0, 50, (4, 2))]
    moved = [s * 3.5 + [200, -40] for s in strokes]
    assert np.allclose(pen_path(strokes, 16), pen_path(moved, 16))
    assert np.all(np.abs(pen_path(strokes, 16)) <= 1 + 1e-12)
    dots = pen_path([np.array([[5.0, 5.0]]), np.array([[7.0, 5.0]])], 4)  # no ink length at all: finite
    assert np.all(np.isfinite(dots))


def test_fusion_is_the_normalised_product_and_a_zero_does_not_silence_the_other():
    image, path = np.array([0.7, 0.3] + [0] * 8), np.array([0.2, 0.8] + [0] * 8)
    fused = fuse(image, path)
    assert np.isclose(fused.sum(), 1) and np.isclose(fused[0] / fused[1], (0.7 * 0.2) / (0.3 * 0.8))
    assert np.all(np.isfinite(fuse(np.eye(10)[3], np.eye(10)[4])))


def test_a_model_with_a_pen_path_reader_round_trips_and_bad_readers_are_refused():
    network = dataclasses.replace(load_model(WEIGHTS / "c1.json"), pen_path=reader())
    doc = model_to_dict(network)
    again = parse_model(json.dumps(doc))
    assert again.pen_path is not None and again.pen_path.points == 8
    for a, b in zip(network.pen_path.layers, again.pen_path.layers, strict=True):
        assert all(np.array_equal(p, q) for p, q in zip(a.params().values(), b.params().values(), strict=True))
    wrong_inputs = json.loads(json.dumps(doc))
    wrong_inputs["pen_path"]["layers"][0]["weight"]["shape"] = [12, 39]
    wrong_inputs["pen_path"]["layers"][0]["weight"]["data"] = doc["pen_path"]["layers"][0]["weight"]["data"][:12]
    with pytest.raises(ModelFormatError, match="pen_path"):
        parse_model(json.dumps(wrong_inputs))
    no_softmax = json.loads(json.dumps(doc))
    no_softmax["pen_path"]["layers"][-1] = {"type": "sigmoid"}
    with pytest.raises(ModelFormatError, match="pen_path: the last layer must be a softmax of 10 outputs"):
        parse_model(json.dumps(no_softmax))
    conv = json.loads(json.dumps(doc))
    conv["pen_path"]["layers"].insert(1, {"type": "maxpool", "size": 2})
    with pytest.raises(ModelFormatError, match="a pen path reader has only"):
        parse_model(json.dumps(conv))


def test_the_page_fuses_the_two_readers_and_the_batched_answers_are_the_page_s(writers):
    plain = load_model(WEIGHTS / "c2.json")
    network = dataclasses.replace(plain, pen_path=reader(seed=4))
    samples = [s for x in writers.ids()[:2] for s in writers.samples[x][::30]]
    page = [recognise_strokes(network, s.arrays(), max(s.canvas)) for s in samples]
    batched, usable = w.page_probabilities(network, samples)
    assert np.allclose([r.probabilities for r in page], batched, atol=1e-12) and usable.all()
    assert [r.digit for r in page] == list(w.page_answers(network, samples))
    image = [recognise_strokes(plain, s.arrays(), max(s.canvas)).probabilities for s in samples]
    path = network.pen_path.probabilities(pen_order.paths(samples, points=8))
    assert np.allclose(batched, fuse(np.array(image), path))
    assert not np.allclose(batched, image)  # the reader did change the answers


def test_a_number_s_digits_are_read_by_the_image_alone_a_single_digit_fused(writers):
    plain = load_model(WEIGHTS / "c2.json")
    network = dataclasses.replace(plain, pen_path=reader(seed=5))
    a, b = writers.samples["train-01"][0], writers.samples["train-01"][1]
    width = max(p[0] for s in a.strokes for p in s) + 40
    strokes = [*a.arrays(), *(s + np.array([width, 0.0]) for s in b.arrays())]
    reading = recognise_number(network, strokes, 2 * width)
    alone = recognise_number(plain, strokes, 2 * width)
    assert len(reading.digits) == 2
    for digit, image_only in zip(reading.digits, alone.digits, strict=True):
        assert np.array_equal(digit.recognition.probabilities, image_only.recognition.probabilities)
    one = recognise_number(network, a.arrays(), max(a.canvas)).digits[0].recognition
    assert np.allclose(one.probabilities, recognise_strokes(network, a.arrays(), max(a.canvas)).probabilities)
    assert not np.allclose(one.probabilities, recognise_strokes(plain, a.arrays(), max(a.canvas)).probabilities)


def test_a_pen_path_reader_is_fitted_only_on_the_writers_the_model_learnt_from(writers, monkeypatch):
    with pytest.raises(ValueError, match="learnt from no real writers"):
        pen_order.fitted(load_model(WEIGHTS / "c1.json"), writers, 1)
    network = load_model(WEIGHTS / "c1.json")
    network.metadata = {**network.metadata, "writers": {"trained_on": ["train-03"]}}
    seen = []
    original = pen_order.fit_pen_path
    monkeypatch.setattr(pen_order, "EPOCHS", 1)
    monkeypatch.setattr(
        pen_order, "fit_pen_path", lambda samples, seed: seen.append(samples) or original(samples, seed)
    )
    fitted = pen_order.fitted(network, writers, 1)
    assert seen[0] == writers.samples["train-03"]
    assert fitted.pen_path is not None and fitted.metadata["pen_path"]["drawings"] == len(writers.samples["train-03"])
    with pytest.raises(ValueError, match="trained on writer"):
        w.per_writer_correct(fitted, writers.subset(["train-03"]))


def test_a_run_that_learns_from_writers_ends_with_a_pen_path_reader_fitted_on_them(writers, mnist_data, tmp_path):
    from digitnet.training.mnist import Split
    from digitnet.training.recipes import recipe_named
    from digitnet.training.train import train_recipe

    recipe = dataclasses.replace(recipe_named("c2"), epochs=1, writers=True, writer_copies=1, held_out=2, pen_path=True)
    data = dataclasses.replace(mnist_data, train=Split(mnist_data.train.images[:2000], mnist_data.train.labels[:2000]))
    pen_order_epochs = pen_order.EPOCHS
    try:
        pen_order.EPOCHS = 1
        best = train_recipe(recipe, data, tmp_path, writers=writers)
    finally:
        pen_order.EPOCHS = pen_order_epochs
    learnt = sorted(set(writers.ids()) - set(w.fold_writers(writers.ids(), 2)))
    saved = load_model(tmp_path / f"{recipe.run_name}.json")
    assert w.trained_on(saved) == learnt and saved.pen_path is not None
    assert saved.metadata["pen_path"]["drawings"] == sum(len(writers.samples[x]) for x in learnt)
    assert np.allclose(saved.pen_path.layers[0].weight, best.pen_path.layers[0].weight)
    figures = w.per_writer_correct(saved, writers.subset(w.fold_writers(writers.ids(), 2)))
    assert sum(c for c, _ in figures.values()) > 0.5 * sum(n for _, n in figures.values())


def test_info_names_the_pen_path_reader_and_the_writers(tmp_path, capsys):
    from digitnet.modelfile import save_model
    from digitnet.training.cli import main

    network = dataclasses.replace(load_model(WEIGHTS / "c1.json"), pen_path=reader())
    network.metadata = {**network.metadata, "writers": {"trained_on": ["train-01"], "source": w.CREDIT}}
    save_model(network, tmp_path / "pen.json")
    assert main(["info", str(tmp_path / "pen.json")]) == 0
    out = capsys.readouterr().out
    assert "pen path reader: 8 points of the pen's path" in out and "real writers: learnt from 1 writers'" in out
    assert "UCI Pen-Based Recognition" in out


def test_the_fusion_weight_tempers_the_path_and_is_kept_in_the_model_file():
    image, path = np.array([0.6, 0.4] + [0] * 8), np.array([0.1, 0.9] + [0] * 8)
    assert np.allclose(fuse(image, path, 0.0), image / image.sum(), atol=1e-9)  # w = 0: the image alone
    half = fuse(image, path, 0.5)
    assert np.isclose(half[0] / half[1], (0.6 / 0.4) * np.sqrt(0.1 / 0.9))
    network = dataclasses.replace(load_model(WEIGHTS / "c1.json"), pen_path=dataclasses.replace(reader(), weight=0.3))
    doc = model_to_dict(network)
    assert parse_model(json.dumps(doc)).pen_path.weight == 0.3
    doc["pen_path"]["weight"] = 1.5
    with pytest.raises(ModelFormatError, match="'weight' must be between 0 and 1"):
        parse_model(json.dumps(doc))
    del doc["pen_path"]["weight"]
    assert parse_model(json.dumps(doc)).pen_path.weight == 1.0  # a file from before the weight: the plain product


def test_each_fold_s_weight_is_chosen_without_its_own_writers():
    eye = np.eye(10)
    labels = np.arange(10)
    # fold 1's writer: the path alone is right; the others': the path misleads and the image is right
    helped = (1, labels, 0.6 * eye[(labels + 1) % 10] + 0.4 * eye, eye, np.ones(10, bool))
    misled = [
        (k, labels, 0.7 * eye + 0.3 * eye[(labels + 1) % 10], eye[(labels + 1) % 10], np.ones(10, bool))
        for k in range(2, 6)
    ]
    readings = {"a": helped, **{f"m{k}": r for k, r in enumerate(misled)}}
    weights = pen_order.nested_weights(readings)
    assert weights[1] < 0.5  # chosen on folds 2-5, where the path misleads: fold 1's own gain is not seen
    assert pen_order.correct(helped, weights[1]) == 0 and pen_order.correct(helped, 1.0) == 10
    assert all(0 <= weights[k] <= 1 for k in weights)
