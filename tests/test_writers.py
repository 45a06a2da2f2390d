"""Real writers: the fold split, the figures of the committed table, the page's rendering, the metadata."""

import json
from pathlib import Path

import numpy as np
import pytest

from digitnet.augment import StrokeAugmentation, distort_strokes
from digitnet.modelfile import load_model, model_to_dict, parse_model
from digitnet.recognise import recognise_strokes
from digitnet.training import writers as w
from digitnet.training.recipes import recipe_named
from digitnet.training.train import writer_split

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"


def test_the_folds_split_whole_writers_and_no_writer_is_both_learnt_and_held_out(writers):
    ids = writers.ids()
    assert len(ids) == 30
    folds = [w.fold_writers(ids, k) for k in range(1, w.FOLDS + 1)]
    assert sorted(x for fold in folds for x in fold) == ids  # every writer in exactly one fold
    assert all(len(fold) == 6 for fold in folds)
    for k in range(1, w.FOLDS + 1):
        pen = writer_split(dataclass_replace(recipe_named("cnn-pen"), held_out=k), writers)
        learnt, held = set(pen.learnt.ids()), set(pen.held_out.ids())
        assert not learnt & held
        assert learnt | held == set(ids)
        assert held == set(folds[k - 1])
        assert len(pen.samples) == sum(len(writers.samples[x]) for x in learnt)
    assert writer_split(recipe_named("cnn-pen"), writers).held_out is None  # the shipped model learns from all 30


def dataclass_replace(recipe, **changes):
    import dataclasses

    return dataclasses.replace(recipe, **changes)


def test_the_committed_real_writers_figures_are_what_the_models_and_the_data_give(writers):
    committed = json.loads((WEIGHTS / "writers.json").read_text(encoding="utf-8"))
    for name in ("c1", "cnn"):
        assert committed[name] == w.model_figures(
            WEIGHTS / f"{name}.json", load_model(WEIGHTS / f"{name}.json"), writers
        )
    f = committed["cnn"]
    per = {k: 100 * c / n for k, (c, n) in f["per_writer"].items()}
    assert f["writers"] == 30 and f["drawings"] == 7494
    assert f["worst"] == round(min(per.values()), 2) and f["under_95"] == sum(a < 95 for a in per.values())


def test_the_batched_answers_are_the_page_s_own(writers):
    network = load_model(WEIGHTS / "c2.json")
    samples = [s for x in writers.ids()[:3] for s in writers.samples[x][::25]]
    images, usable = w.render(samples)
    batched = w.predictions(network, images, usable)
    page = [recognise_strokes(network, s.arrays(), max(s.canvas)).digit for s in samples]
    assert list(batched) == [-1 if d is None else d for d in page]


def test_a_model_is_never_scored_on_a_writer_it_learnt_from(writers):
    network = load_model(WEIGHTS / "c1.json")
    network.metadata = {**network.metadata, "writers": {"trained_on": ["train-07"]}}
    with pytest.raises(ValueError, match="trained on writer"):
        w.per_writer_correct(network, writers.subset(["train-07", "train-08"]))
    assert set(w.per_writer_correct(network, writers.subset(["train-08"]))) == {"train-08"}
    with pytest.raises(ValueError, match="fold model"):
        w.held_out_figures({1: network}, writers)


def test_a_model_file_with_writers_metadata_round_trips():
    network = load_model(WEIGHTS / "c1.json")
    network.metadata = {**network.metadata, "writers": {"trained_on": ["train-01", "train-02"], "source": w.CREDIT}}
    again = parse_model(json.dumps(model_to_dict(network)))
    assert w.trained_on(again) == ["train-01", "train-02"]
    assert again.metadata["writers"]["source"] == w.CREDIT


def test_changed_strokes_are_a_drawing_of_the_same_size_and_the_seed_fixes_them(writers):
    sample = writers.samples["train-01"][0]
    strokes = sample.arrays()
    first = distort_strokes(strokes, np.random.default_rng(3))
    again = distort_strokes(strokes, np.random.default_rng(3))
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert all(np.isfinite(s).all() and s.shape[1] == 2 for s in first)
    extent = np.ptp(np.concatenate(strokes), axis=0).max()
    assert 0.5 * extent < np.ptp(np.concatenate(first), axis=0).max() < 2 * extent
    images, labels = w.augmented_images(
        writers.samples["train-01"][:20], np.random.default_rng(0), 2, StrokeAugmentation()
    )
    assert images.shape == (40, 784) and list(labels) == [s.label for s in writers.samples["train-01"][:20]] * 2
    assert images.max() <= 1 and images.min() >= 0 and (images.sum(axis=1) > 20).all()


def test_a_missing_writers_folder_is_one_sentence(monkeypatch, tmp_path):
    monkeypatch.delenv(w.ENVIRONMENT, raising=False)
    with pytest.raises(w.WritersError, match="set DIGITNET_WRITERS"):
        w.load_writers()
    (tmp_path / "a.digitnet-strokes.json").write_text('{"format": "digitnet-strokes", "version": 1, "samples": []}')
    (tmp_path / "SHA256SUMS").write_text("0" * 64 + "  a.digitnet-strokes.json\n")
    with pytest.raises(w.WritersError, match="sha256 differs"):
        w.load_writers(tmp_path)
