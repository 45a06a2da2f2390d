"""Budgets of reading numbers: drawn on the page, and photographed.

- a 6-digit number drawn with the mouse in the page's number mode: grouping the strokes into
  digits + recognising them in Pyodide, as timed by the worker (budget 60 ms);
- a 12-megapixel photo (4000 × 3000 JPEG of a 6-digit number on grey paper in uneven light):
  ``digitnet.picture.read_number`` in CPython, time and peak memory of a fresh process
  (budgets 2 s, 500 MB), and in the page, from choosing the file to the answer shown
  (budget 6 s; the first picture also loads Pillow).

Usage: ``python benchmarks/numbers_speed.py [--rounds 3] [--pyodide-from DIR]``; figures go to
``benchmarks/results/numbers_speed.json`` and ``.md``. The default model (weights/cnn.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from browser import served_site  # noqa: E402

from digitnet.training.mnist import load_mnist  # noqa: E402
from digitnet.training.number_sets import drawn_numbers, number_ink  # noqa: E402
from digitnet.web.site import PYODIDE_CDN  # noqa: E402
from tests.test_numbers import encoded, photo_of  # noqa: E402
from tests.webpage import draw, wait_ready, wait_until  # noqa: E402

BUDGETS = {"drawn_6_digits_ms": 60.0, "photo_cpython_s": 2.0, "photo_cpython_mb": 500.0, "photo_page_s": 6.0}
MODEL = ROOT / "weights" / "cnn.json"

CPYTHON_READ = """
import resource, sys, time, tracemalloc
from pathlib import Path
from digitnet import load_model
from digitnet.picture import read_number
network = load_model(sys.argv[2])
data = Path(sys.argv[1]).read_bytes()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0 = time.perf_counter()
reading = read_number(network, data)
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
tracemalloc.start()  # a second reading, for the NumPy and Python memory of reading alone
read_number(network, data)
reading_peak = tracemalloc.get_traced_memory()[1]
print(seconds, before / 1024, peak / 1024, reading_peak / 2**20, reading.number)
"""


def twelve_megapixel_photo(test, path: Path) -> str:
    """A 4000 × 3000 JPEG of six test digits, about 500 px tall, on grey paper lit from one side."""
    rng = np.random.default_rng(12)
    indices = [int(i) for i in rng.integers(0, len(test), 6)]
    ink = number_ink(test, indices, rng, 480)
    sheet = np.zeros((3000, 4000))
    top, left = (3000 - ink.shape[0]) // 2, (4000 - ink.shape[1]) // 2
    sheet[top : top + ink.shape[0], left : left + ink.shape[1]] = ink
    light = 0.8 * (1 - 0.3 * np.linspace(0, 1, 4000))[None, :]
    path.write_bytes(encoded(photo_of(sheet, paper=1.0) * light, "JPEG"))
    return "".join(str(test.labels[i]) for i in indices)


def cpython_photo(path: Path, rounds: int) -> dict:
    runs = []
    for _ in range(rounds):
        out = subprocess.run(
            [sys.executable, "-c", CPYTHON_READ, str(path), str(MODEL)], capture_output=True, text=True, check=True
        )
        seconds, before, peak, reading, number = out.stdout.split()
        runs.append(
            {
                "seconds": float(seconds),
                "baseline_mb": float(before),
                "peak_mb": float(peak),
                "reading_traced_mb": float(reading),
                "number": number,
            }
        )
    return {"runs": runs}


def page_figures(browser, url: str, numbers, photo: Path, rounds: int) -> dict:
    drawn, first_photo, photos, photo_worker = [], [], [], []
    for _ in range(rounds):
        context = browser.new_context(service_workers="block", viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.goto(url + "?mode=number")
        wait_ready(page)
        box = page.locator("#pad").bounding_box()
        for number in numbers:
            page.click("#clear")
            points = np.concatenate(number.strokes)
            scale = min(0.6 * box["height"] / np.ptp(points[:, 1]), 0.9 * box["width"] / np.ptp(points[:, 0]))
            strokes = [(s - points.min(axis=0)) * scale + 20 for s in number.strokes]
            draw(page, strokes)
            wait_until(page, f"document.getElementById('prediction').dataset.strokes === '{len(strokes)}'", 30)
            wait_until(page, "document.getElementById('prediction').dataset.digits !== undefined", 30)
            drawn.append(float(page.get_attribute("#prediction", "data-ms")))
        for k in range(2):
            t0 = time.perf_counter()
            page.set_input_files("#picture", str(photo))
            wait_until(page, "document.getElementById('prediction').dataset.picture === 'read'", 120)
            (first_photo if k == 0 else photos).append(time.perf_counter() - t0)
            photo_worker.append(float(page.get_attribute("#prediction", "data-ms")))
            page.click("#clear")
            page.evaluate("delete document.getElementById('prediction').dataset.picture")
        context.close()
    return {
        "drawn_6_digits_ms": drawn,
        "photo_page_first_s": first_photo,
        "photo_page_s": photos,
        "photo_worker_ms": photo_worker,
    }


def p95(values: list[float]) -> float:
    return float(np.percentile(values, 95))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pyodide-from", default=os.environ.get("DIGITNET_PYODIDE", PYODIDE_CDN))
    args = parser.parse_args()
    test = load_mnist(os.environ.get("DIGITNET_DATA")).test
    numbers = drawn_numbers(test, 10, range(6, 7), seed=60)
    with tempfile.TemporaryDirectory() as tmp:
        photo = Path(tmp) / "photo-12mp.jpg"
        label = twelve_megapixel_photo(test, photo)
        cpython = cpython_photo(photo, args.rounds)
        print("CPython, 12-megapixel photo:", cpython, flush=True)
        with served_site(args.pyodide_from, Path(tmp)) as served:
            page = page_figures(served.browser, served.url, numbers, photo, args.rounds)
    runs = cpython["runs"]
    figures = {
        "photo_label": label,
        "photo_read_cpython": sorted({r["number"] for r in runs}),
        "drawn_6_digits_ms": {
            "median": statistics.median(page["drawn_6_digits_ms"]),
            "p95": p95(page["drawn_6_digits_ms"]),
        },
        "photo_cpython_s": statistics.median(r["seconds"] for r in runs),
        "photo_cpython_mb": max(r["peak_mb"] for r in runs),
        "photo_cpython_baseline_mb": max(r["baseline_mb"] for r in runs),
        "photo_cpython_reading_mb": max(r["reading_traced_mb"] for r in runs),
        "photo_page_s": statistics.median(page["photo_page_s"]),
        "photo_page_first_s": statistics.median(page["photo_page_first_s"]),
        "photo_worker_ms": statistics.median(page["photo_worker_ms"]),
        "raw": {"cpython": runs, "page": page},
        "budgets": BUDGETS,
        "rounds": args.rounds,
    }
    out = HERE / "results"
    (out / "numbers_speed.json").write_text(json.dumps(figures, indent=1) + "\n")
    drawn_ms = figures["drawn_6_digits_ms"]
    rows = [
        (
            "6-digit drawn number, grouping + recognising in Pyodide (worker)",
            f"{drawn_ms['median']:.1f} ms median, {drawn_ms['p95']:.1f} ms p95",
            f"≤ {BUDGETS['drawn_6_digits_ms']:.0f} ms",
            drawn_ms["median"] <= BUDGETS["drawn_6_digits_ms"],
        ),
        (
            "12-MP photo in CPython: time",
            f"{figures['photo_cpython_s']:.2f} s",
            "≤ 2 s",
            figures["photo_cpython_s"] <= 2,
        ),
        (
            "12-MP photo in CPython: peak memory of the process",
            f"{figures['photo_cpython_mb']:.0f} MB ({figures['photo_cpython_baseline_mb']:.0f} MB before reading, "
            f"with the model loaded; the reading's own NumPy allocations peak at "
            f"{figures['photo_cpython_reading_mb']:.0f} MB)",
            "≤ 500 MB",
            figures["photo_cpython_mb"] <= 500,
        ),
        (
            "12-MP photo in the page: file chosen → answer shown",
            f"{figures['photo_page_s']:.2f} s "
            f"(first picture, Pillow loaded too: {figures['photo_page_first_s']:.2f} s; in the worker "
            f"{figures['photo_worker_ms']:.0f} ms)",
            "≤ 6 s",
            figures["photo_page_first_s"] <= 6,
        ),
    ]
    lines = [
        "# Numbers: speed and memory",
        "",
        f"`python benchmarks/numbers_speed.py --rounds {args.rounds}` with the default model (cnn); "
        f"10 six-digit numbers drawn with the mouse per round; the photo shows {label} "
        f"(read in CPython as {', '.join(figures['photo_read_cpython'])}).",
        "",
        "| what | measured | budget | met |",
        "|---|---|---|---|",
        *(f"| {what} | {value} | {budget} | {'yes' if ok else 'no'} |" for what, value, budget, ok in rows),
        "",
    ]
    (out / "numbers_speed.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
