"""The page's number mode and pictures, in headless Chromium."""

import json

import numpy as np

from digitnet.training.tracing import trace_digit

from .test_numbers import encoded, number_sheet, photo_of
from .webpage import draw, wait_ready, wait_until


def number_strokes(mnist_data, indices, height: float, left: float, top: float) -> list[np.ndarray]:
    """The test digits ``indices`` traced and written left to right, ``height`` pixels tall, a third apart."""
    strokes, x = [], left
    for i in indices:
        digit = [s / 20 * height for s in trace_digit(mnist_data.test.images[i])]
        low = min(float(s[:, 0].min()) for s in digit)
        high = max(float(s[:, 0].max()) for s in digit)
        strokes += [s + np.array([x - low, top]) for s in digit]
        x += high - low + height / 3
    return strokes


def shown_number(page, strokes: int, timeout: float = 20.0) -> tuple[str, list[dict]]:
    wait_until(page, f"document.getElementById('prediction').dataset.strokes === '{strokes}'", timeout)
    wait_until(page, "document.getElementById('prediction').dataset.digits !== undefined", timeout)
    return page.text_content("#prediction"), json.loads(page.get_attribute("#prediction", "data-digits"))


def test_a_number_drawn_with_the_mouse_reads_right(page, served, mnist_data):
    page.goto(served + "?mode=number")
    wait_ready(page)
    box = page.locator("#pad").bounding_box()
    assert box["width"] > 2.5 * box["height"]  # the wide pad
    labels = mnist_data.test.labels
    indices = [int(np.flatnonzero(labels == d)[0]) for d in (2, 0, 7, 5, 1)]
    strokes = number_strokes(mnist_data, indices, 0.5 * box["height"], 30, 0.2 * box["height"])
    draw(page, strokes)
    number, digits = shown_number(page, len(strokes))
    assert number == "20751"
    assert [d["digit"] for d in digits] == [2, 0, 7, 5, 1]
    xs = [d["box"][0] for d in digits]
    assert xs == sorted(xs) and all(len(d["probabilities"]) == 10 for d in digits)
    page.click("#clear")
    stroke = np.array([[0.5, 0.2], [0.5, 0.5], [0.5, 0.8]]) * box["height"]
    draw(page, [stroke])  # one digit in number mode reads as on the single-digit pad
    assert shown_number(page, 1)[0] == "1"
    assert page.errors == []


def test_a_picture_opened_reads_right_and_a_non_picture_is_refused(page, served, mnist_data, tmp_path):
    page.goto(served)
    wait_ready(page)
    assert not any("pillow" in url for url in page.requests)  # Pillow only when a picture is opened
    ink, label = number_sheet(mnist_data, [21, 22, 23], np.random.default_rng(8))
    (tmp_path / "number.jpg").write_bytes(encoded(photo_of(ink, paper=0.75), "JPEG", orientation=6))
    page.set_input_files("#picture", str(tmp_path / "number.jpg"))
    wait_until(page, "document.getElementById('prediction').dataset.picture === 'read'", 60)
    assert page.text_content("#prediction") == label
    digits = json.loads(page.get_attribute("#prediction", "data-digits"))
    assert [d["digit"] for d in digits] == [int(c) for c in label]
    assert any("pillow" in url for url in page.requests)

    (tmp_path / "notes.png").write_text("these are notes, not a picture")
    page.set_input_files("#picture", str(tmp_path / "notes.png"))
    wait_until(page, "document.getElementById('prediction').dataset.picture === 'error'", 30)
    message = page.text_content("#confidence")
    assert message.startswith("Could not read this file: not an image file"), message
    assert page.text_content("#prediction") == ""
    assert page.evaluate("document.body.dataset.state") == "ready"
    # the page keeps working: a drawn digit is read
    size = page.locator("#pad").bounding_box()["height"]
    draw(page, [np.array([[0.5, 0.2], [0.5, 0.5], [0.5, 0.8]]) * size])
    wait_until(page, "document.getElementById('prediction').dataset.strokes === '1'")
    wait_until(page, "document.getElementById('prediction').textContent === '1'")
    assert page.errors == []
