"""A correction works at once, in headless Chromium: a style the model misreads, corrected three times
with the page's digit button, is read right the fourth time without Adapt; a reload keeps it, and
deleting all kept drawings takes it away."""

import gzip
import json

import numpy as np

from digitnet import load_model
from digitnet.memory import KeptDrawings
from digitnet.recognise import recognise_strokes
from digitnet.strokes import normalise_strokes

from .handstyle import styled_digit
from .webpage import draw, pad_size, shown_prediction, wait_ready, wait_until

SAMPLES = "Number(document.body.dataset.samples || 0)"
#: A correction must be in use this soon after the digit button is pressed (kept, and in the memory).
CORRECTION_MS = 200


def memory_holds(page, n: int) -> None:
    wait_until(page, f"document.body.dataset.memory === '{n}'")


def drawn_reading(page, strokes) -> tuple[str, str, str | None]:
    """Draw ``strokes`` on a clear pad: the digit shown, the answer line and data-memory (None without it)."""
    page.click("#clear")
    page.evaluate("window.scrollTo(0, 0)")  # the mouse draws at the pad's place in the window
    draw(page, strokes)
    digit, _ = shown_prediction(page, len(strokes))
    return digit, page.text_content("#confidence"), page.get_attribute("#prediction", "data-memory")


def test_a_correction_works_at_once(browser, served, site, tmp_path):
    context = browser.new_context(service_workers="block", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(served + "?model=cnn.json")
    wait_ready(page)
    memory_holds(page, 0)
    size = pad_size(page)

    # nines with a curled tail: the model the site ships reads every one as another digit, and its memory
    # of the first three, corrected, reads the fourth right (checked here in CPython first)
    rng = np.random.default_rng(19)
    nines = [styled_digit(9, rng, size) for _ in range(4)]
    shipped = tmp_path / "cnn.json"
    shipped.write_bytes(gzip.decompress((site / "models" / "cnn.json.gz").read_bytes()))
    base = load_model(shipped).folded()
    alone = [recognise_strokes(base, s, size).digit for s in nines]
    assert 9 not in alone, alone
    kept = KeptDrawings()
    kept.use(base)
    kept.add([1, 2, 3], np.stack([normalise_strokes(s, size) for s in nines[:3]]), [9, 9, 9])
    assert recognise_strokes(base, nines[3], size, memory=kept.memory).digit == 9

    digit, line, memory = drawn_reading(page, nines[0])
    assert digit == str(alone[0]) and memory is None and "your drawings" not in line
    times = []
    for i, strokes in enumerate(nines[:3]):
        if i:
            page.click("#clear")
            draw(page, strokes)
            shown_prediction(page, len(strokes))
        page.click('#label-buttons button[data-digit="9"]')
        wait_until(page, f"{SAMPLES} === {i + 1}")
        memory_holds(page, i + 1)
        times.append(float(page.evaluate("document.body.dataset.memoryMs")))
    print(f"a correction in use after {times} ms")
    assert max(times) <= CORRECTION_MS, times

    # the fourth: read right without Adapt, and the answer says where it came from
    digit, line, memory = drawn_reading(page, nines[3])
    assert digit == "9", line
    assert memory is not None and 0 < float(memory) < 1
    assert "from your drawings" in line and f"the network alone reads {alone[3]}" in line, line
    probs = json.loads(page.get_attribute("#prediction", "data-probs"))
    assert int(np.argmax(probs)) == 9 and abs(sum(probs) - 1) < 1e-9  # the bars show the blended answer
    assert page.evaluate("document.body.dataset.adapt") is None  # Adapt was never pressed

    # a reload rebuilds the memory from the kept drawings
    page.reload()
    wait_ready(page)
    memory_holds(page, 3)
    digit, line, _ = drawn_reading(page, nines[3])
    assert digit == "9" and "from your drawings" in line, line

    # deleting all kept drawings ("forget my drawings") takes the effect away
    page.click("#delete-all")
    wait_until(page, f"{SAMPLES} === 0")
    memory_holds(page, 0)
    digit, line, memory = drawn_reading(page, nines[3])
    assert digit == str(alone[3]) and memory is None and "your drawings" not in line, line
    assert errors == []
    context.close()
