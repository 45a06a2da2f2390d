"""Strokes files (strict parsing, merge), adapting a model to one person's drawings, and the CLI."""

import json

import numpy as np
import pytest

from digitnet import load_model
from digitnet.adapt import AdaptationCancelledError, AdaptSettings, adapt, load_replay
from digitnet.recognise import recognise_strokes
from digitnet.strokesfile import Sample, StrokesFormatError, dump_strokes, labels_of, merge_samples, parse_strokes
from digitnet.training.cli import main

from .conftest import ROOT
from .handstyle import styled_set

GOOD = {"label": 7, "strokes": [[[0, 0], [10, 5]], [[3, 3]]], "canvas": [100, 80]}


def samples_of(n: int, seed: int) -> list[Sample]:
    drawings, labels = styled_set(n, seed)
    return [
        Sample(label, tuple(tuple(map(tuple, s.tolist())) for s in strokes), (280.0, 280.0))
        for strokes, label in zip(drawings, labels, strict=True)
    ]


def file_with(**changes) -> str:
    return json.dumps({"format": "digitnet-strokes", "version": 1, "samples": [{**GOOD, **changes}]})


def test_dump_and_parse_round_trip():
    samples = [*parse_strokes(file_with(model="cnn.json", answer=1, time="2026-11-28T18:00:00Z")), *samples_of(3, 0)]
    text = dump_strokes(samples)
    assert parse_strokes(text) == samples
    assert dump_strokes(parse_strokes(text)) == text


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "it is not valid JSON"),
        ('{"format": "digitnet", "version": 1}', 'its format is "digitnet"'),
        ("[1, 2]", 'it has no "format": "digitnet-strokes"'),
        ('{"format": "digitnet-strokes", "version": 2, "samples": []}', "version 2 is not supported"),
        ('{"format": "digitnet-strokes", "version": 1}', 'no "samples" list'),
        (file_with(label=10), "sample 1: the label must be a whole number from 0 to 9, not 10"),
        (file_with(label=True), "sample 1: the label must be"),
        (file_with(canvas=[0, 10]), "sample 1: the canvas must be [width, height]"),
        (file_with(strokes=[]), "sample 1: the strokes must be a non-empty list"),
        (file_with(strokes=[[[1, 2, 3]]]), "sample 1, stroke 1: a point must be [x, y]"),
        (file_with(strokes=[[[1, "a"]]]), "sample 1, stroke 1: a point must be [x, y]"),
        (file_with(answer=11), "sample 1: the answer must be a digit"),
        (
            '{"format": "digitnet-strokes", "version": 1, "samples": [{"label": 1, "strokes": [[[NaN, 1]]], '
            '"canvas": [1, 1]}]}',
            "not valid JSON",
        ),
    ],
)
def test_bad_files_get_one_sentence(text, message):
    with pytest.raises(StrokesFormatError) as caught:
        parse_strokes(text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


def test_merge_skips_duplicates_whatever_the_time():
    kept = samples_of(4, 0)
    again = Sample(kept[1].label, kept[1].strokes, kept[1].canvas, time="2027-01-01T00:00:00Z")
    new = samples_of(2, 9)
    merged, added, skipped = merge_samples(kept, [again, *new, new[0]])
    assert merged == kept + new and (added, skipped) == (2, 2)


@pytest.fixture(scope="module")
def replay():
    return load_replay((ROOT / "weights" / "replay.npz").read_bytes())


def test_adapting_learns_a_style_keeps_mnist_and_is_deterministic(replay):
    base = load_model(ROOT / "weights" / "cnn.json")
    before = [p.copy() for layer in base.layers for p in layer.params().values()]
    settings = AdaptSettings(steps=150, replay=400, holdout=300)
    adapted, report = adapt(base, samples_of(30, 1), replay, seed=3, settings=settings)
    again, _ = adapt(base, samples_of(30, 1), replay, seed=3, settings=settings)
    after = [p for layer in base.layers for p in layer.params().values()]
    assert all(np.array_equal(a, b) for a, b in zip(before, after, strict=True))
    fresh = samples_of(50, 2)
    x = np.array([s.render() for s in fresh])
    y = np.array([s.label for s in fresh])
    base_right, adapted_right = np.mean(base.predict(x) == y), np.mean(adapted.predict(x) == y)
    assert base_right <= 0.85 and adapted_right >= max(0.9, base_right + 0.1)  # the style is learned
    assert report.person_after > report.person_before and report.accepted
    assert report.holdout_after >= report.holdout_before - 1
    assert np.array_equal(adapted.feedforward(x), again.feedforward(x))
    assert adapted.metadata["adapted"]["samples"] == 30 and "test_accuracy" not in adapted.metadata
    assert adapted.metadata["adapted"]["original_test_accuracy"] == base.metadata["test_accuracy"]
    # the digit check carries over: the features it reads (the body's) are the original's
    assert adapted.digit_check is base.digit_check is not None
    assert np.allclose(adapted.features_and_outputs(x)[0], base.features_and_outputs(x)[0])


def test_adapting_refuses_a_model_that_reads_mnist_worse(replay):
    base = load_model(ROOT / "weights" / "c2.json")
    settings = AdaptSettings(
        steps=100, replay=0, replay_share=0.0, l2sp=0.0, lr=0.05, holdout=300, max_holdout_drop=0.0
    )
    _, report = adapt(base, samples_of(20, 1), replay, seed=0, settings=settings)
    assert report.holdout_after < report.holdout_before and not report.accepted
    assert report.reason.startswith(
        f"the adapted model reads {report.holdout_before - report.holdout_after:.1f} points"
    )


def test_adapting_can_be_cancelled_and_needs_ten_samples(replay):
    base = load_model(ROOT / "weights" / "c2.json")
    seen = []
    with pytest.raises(AdaptationCancelledError):
        adapt(base, samples_of(10, 1), replay, progress=lambda f, what: seen.append(f), cancelled=lambda: len(seen) > 3)
    assert 3 <= len(seen) < 10
    with pytest.raises(ValueError, match="at least 10 labelled drawings; there are 9"):
        adapt(base, samples_of(9, 1), replay)


def test_cli_adapt_evaluate_and_bad_files(tmp_path, capsys):
    samples = tmp_path / "mine.json"
    samples.write_text(dump_strokes(samples_of(20, 1)))
    out = tmp_path / "adapted.json"
    assert main(["adapt", str(ROOT / "weights" / "c2.json"), str(samples), "--out", str(out)]) in (0, 1)
    printed = capsys.readouterr().out
    assert "your drawings (held back, 5-fold):" in printed and "MNIST holdout (500 images):" in printed
    assert main(["evaluate", str(ROOT / "weights" / "cnn.json"), "--strokes", str(samples)]) == 0
    printed = capsys.readouterr().out
    assert "correct =" in printed and "  1: 0 / 2 = 0 % (read 2 as 7)" in printed  # this style's flagged 1s
    bad = tmp_path / "bad.json"
    bad.write_text(file_with(label=-1))
    assert main(["evaluate", str(ROOT / "weights" / "cnn.json"), "--strokes", str(bad)]) == 2
    assert capsys.readouterr().err.strip() == (
        f"digitnet: error: {bad}: sample 1: the label must be a whole number from 0 to 9, not -1"
    )


def test_evaluate_strokes_reads_each_drawing_as_the_page_does(tmp_path, capsys, writers):
    # a model with a pen path reader (here one that never saw these writers) reads a drawing with it too: the
    # CLI's figure is the page's, not the image's alone
    samples = [s for x in writers.ids()[-6:] for s in writers.samples[x][::4]]
    path = tmp_path / "theirs.json"
    path.write_text(dump_strokes(samples))
    model = ROOT / "weights" / "folds" / "cnn-pen-fold5.json"
    page = load_model(model).folded()
    right = sum(recognise_strokes(page, s.arrays(), max(s.canvas)).digit == s.label for s in samples)
    image_only = int(np.sum(load_model(model).predict(np.stack([s.render() for s in samples])) == labels_of(samples)))
    assert right != image_only  # these drawings tell the two readings apart
    assert main(["evaluate", str(model), "--strokes", str(path)]) == 0
    assert f"{right} / {len(samples)} correct" in capsys.readouterr().out


def test_train_extra_adds_the_drawings(tmp_path, capsys, data_dir):
    samples = tmp_path / "mine.json"
    samples.write_text(dump_strokes(samples_of(20, 1)))
    args = [
        "train",
        "--recipe",
        "c1",
        "--epochs",
        "1",
        "--limit",
        "500",
        "--out",
        str(tmp_path),
        "--extra",
        str(samples),
        "--data-dir",
        str(data_dir),
    ]
    assert main(args) == 0
    printed = capsys.readouterr().out
    assert f"adding 20 drawings from {samples} to the 500 training images" in printed
    assert "520 images" in printed


def test_committed_replay_set_is_reproducible_from_mnist(data_dir, tmp_path, capsys):
    out = tmp_path / "replay.npz"
    assert main(["replay-data", "--data-dir", str(data_dir), "--out", str(out)]) == 0
    assert out.read_bytes() == (ROOT / "weights" / "replay.npz").read_bytes()
    replay = load_replay(out.read_bytes())
    assert replay.train_images.dtype == np.uint8 and replay.train_images.shape == (500, 784)
    assert np.bincount(replay.holdout_labels, minlength=10).tolist() == [50] * 10


def test_copies_with_stroke_changes_are_other_drawings_of_the_same_digits():
    from digitnet.adapt import perturbed_copies
    from digitnet.augment import StrokeAugmentation

    samples = samples_of(6, 3)
    plain = perturbed_copies(samples, np.random.default_rng(5), AdaptSettings())
    changed = AdaptSettings(strokes=StrokeAugmentation())
    first = perturbed_copies(samples, np.random.default_rng(5), changed)
    again = perturbed_copies(samples, np.random.default_rng(5), changed)
    assert first.shape == plain.shape == (6 * AdaptSettings().copies, 784) and np.array_equal(first, again)
    assert not np.allclose(first, plain) and 0 <= first.min() and first.max() <= 1
    # still the same digits: the MNIST-only cnn reads most copies as their drawing's label
    network = load_model(ROOT / "weights" / "cnn.json")
    labels = np.repeat([s.label for s in samples], AdaptSettings().copies)
    assert np.mean(network.predict(first) == labels) >= np.mean(network.predict(plain) == labels) - 0.25
