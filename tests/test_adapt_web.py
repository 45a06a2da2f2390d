"""Teaching the page one person's handwriting, in headless Chromium: label drawings with the page's
buttons and keys, keep them across a reload, export and import them, adapt the model in the second
worker (Cancel first), and check the adapted model against a fresh set of the same style, the MNIST
test set and ``digitnet adapt`` run in CPython on the exported file."""

import gzip
import json

import numpy as np
import pytest

from digitnet import load_model
from digitnet.strokes import normalise_strokes
from digitnet.strokesfile import parse_strokes
from digitnet.training.cli import main as digitnet_main

from .conftest import ROOT
from .handstyle import styled_set
from .webpage import draw, pad_size, shown_prediction, wait_ready, wait_until

SAMPLES = "Number(document.body.dataset.samples || 0)"


def exported(page) -> str:
    with page.expect_download() as download:
        page.click("#export")
    return open(download.value.path(), encoding="utf-8").read()


def import_file(page, name: str, data: bytes) -> str:
    before = page.text_content("#mydigits-status")
    page.set_input_files("#import", files=[{"name": name, "mimeType": "application/json", "buffer": data}])
    wait_until(
        page,
        f"!['Reading {name}…', {json.dumps(before)}].includes(document.getElementById('mydigits-status').textContent)",
        60,
    )
    return page.text_content("#mydigits-status")


def page_outputs(page, images: np.ndarray) -> np.ndarray:
    values = page.evaluate("(images) => window.digitnet.feedforward(images)", images.ravel().tolist())
    return np.array(values).reshape(len(images), 10)


def test_teach_the_page_your_handwriting(browser, served, site, tmp_path, mnist_data):
    context = browser.new_context(
        service_workers="block", accept_downloads=True, viewport={"width": 1200, "height": 900}
    )
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(served)
    wait_ready(page)
    wait_until(page, "document.body.dataset.mydigits === 'ready'")
    assert page.is_disabled("#adapt")
    size = pad_size(page)

    # 40 drawings of one style, labelled through the buttons, the keys 0–9 and Enter (✓)
    drawings, labels = styled_set(40, seed=1, size=size)
    # the model the page uses: the float16 copy the site ships
    shipped = tmp_path / "cnn-pen.json"
    shipped.write_bytes(gzip.decompress((site / "models" / "cnn-pen.json.gz").read_bytes()))
    base = load_model(shipped)
    for i, (strokes, label) in enumerate(zip(drawings, labels, strict=True)):
        draw(page, strokes)
        digit, _ = shown_prediction(page, len(strokes))
        if i % 4 == 1:
            page.focus("#pad")
            page.keyboard.press("Enter" if digit == str(label) else str(label))
        else:
            page.click(f'#label-buttons button[data-digit="{label}"]')
        wait_until(page, f"{SAMPLES} === {i + 1}")
    counts = page.eval_on_selector_all("#digit-counts li", "items => items.map(li => li.textContent)")
    assert counts == [f"{d}: {labels.count(d)}" for d in range(10)]
    assert page.eval_on_selector_all("#samples canvas", "c => c.length") == 40
    assert page.is_enabled("#adapt")

    # export → delete all → import: the same file; importing it again adds nothing
    first = exported(page)
    kept = parse_strokes(first)
    assert [s.label for s in kept] == labels and all(s.canvas[0] == pytest.approx(size, abs=6) for s in kept)
    page.click("#delete-all")
    wait_until(page, f"{SAMPLES} === 0")
    assert "Imported 40 drawings" in import_file(page, "mine.json", first.encode())
    assert page.evaluate(SAMPLES) == 40
    assert exported(page) == first
    assert "40 already kept were skipped" in import_file(page, "again.json", first.encode())

    # bad and foreign files: one sentence, nothing lost
    bad = b'{"format": "digitnet-strokes", "version": 1, "samples": [{"label": 12, "strokes": [], "canvas": [1, 1]}]}'
    message = import_file(page, "bad.json", bad)
    assert "sample 1: the label must be a whole number from 0 to 9, not 12" in message, message
    message = import_file(page, "cnn-pen.json", (ROOT / "weights" / "c1.json").read_bytes())
    assert "this is not a digitnet strokes file" in message, message
    assert import_file(page, "junk.json", b"\x89PNG").startswith("Could not import junk.json")
    assert page.evaluate(SAMPLES) == 40 and exported(page) == first

    # Cancel leaves the old model
    page.click("#adapt")
    wait_until(page, "document.getElementById('adapt-progress').value > 0.1", 120)
    page.click("#adapt-cancel")
    wait_until(page, "document.body.dataset.adapt === 'cancelled'")
    assert page.input_value("#model") == "cnn-pen.json"
    assert page.eval_on_selector_all("#model option", "o => o.filter(x => x.value.startsWith('adapted:')).length") == 0

    # adapt: before → after, the adapted model selected
    page.click("#adapt")
    wait_until(page, "['done', 'refused', 'error'].includes(document.body.dataset.adapt)", 240)
    assert page.evaluate("document.body.dataset.adapt") == "done", page.text_content("#adapt-status")
    report = json.loads(page.get_attribute("#adapt-status", "data-report"))
    assert report["person_after"] > report["person_before"]
    assert report["holdout_after"] >= report["holdout_before"] - 1
    assert page.input_value("#model") == "adapted:cnn-pen.json"
    wait_ready(page)

    # a fresh set of the same style is read better; MNIST stays within a point
    fresh, fresh_labels = styled_set(100, seed=2, size=size)
    images = np.array([normalise_strokes(s, size) for s in fresh])
    base_acc = 100 * np.mean(base.predict(images) == fresh_labels)
    adapted_acc = 100 * np.mean(page_outputs(page, images).argmax(1) == fresh_labels)
    test = mnist_data.test
    mnist_base = 100 * np.mean(base.predict(test.images[:500]) == test.labels[:500])
    mnist_adapted = 100 * np.mean(page_outputs(page, test.images[:500]).argmax(1) == test.labels[:500])
    print(
        f"fresh styled set: base {base_acc:.0f} % → adapted {adapted_acc:.0f} %; "
        f"MNIST test[:500]: {mnist_base:.1f} % → {mnist_adapted:.1f} %; report {report}"
    )
    assert base_acc <= 85 and adapted_acc >= max(90, base_acc + 10)  # the style is learned
    assert mnist_adapted >= mnist_base - 1

    # parity: `digitnet adapt` on the exported file, same seed, gives the page's model
    (tmp_path / "mine.json").write_text(first)
    out = tmp_path / "adapted.json"
    assert digitnet_main(["adapt", str(shipped), str(tmp_path / "mine.json"), "--out", str(out), "--seed", "0"]) == 0
    x = test.images[1000:1200]
    difference = np.max(np.abs(load_model(out).feedforward(x) - page_outputs(page, x)))
    assert difference <= 1e-5, difference

    # the downloaded adapted model is a model file with the same outputs
    with page.expect_download() as download:
        page.click("#download-adapted")
    downloaded = load_model(download.value.path())
    assert np.max(np.abs(downloaded.feedforward(x) - page_outputs(page, x))) <= 1e-6

    # reload: the drawings and the adapted model are still there, and still in use
    page.reload()
    wait_ready(page)
    wait_until(page, "document.body.dataset.mydigits === 'ready'")
    assert page.evaluate(SAMPLES) == 40
    wait_until(page, "document.getElementById('model').value === 'adapted:cnn-pen.json'")
    wait_ready(page)
    assert np.max(np.abs(load_model(out).feedforward(x) - page_outputs(page, x))) <= 1e-5

    # revert, then delete the adapted model
    page.click("#use-original")
    wait_ready(page)
    assert page.input_value("#model") == "cnn-pen.json"
    assert np.max(np.abs(base.feedforward(x) - page_outputs(page, x))) <= 1e-5
    page.select_option("#model", "adapted:cnn-pen.json")
    wait_ready(page)
    page.click("#delete-adapted")
    wait_until(page, "document.getElementById('model').value === 'cnn-pen.json'")
    wait_ready(page)
    assert page.eval_on_selector_all("#model option", "o => o.filter(x => x.value.startsWith('adapted:')).length") == 0
    assert errors == []
    context.close()
