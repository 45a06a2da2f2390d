"""The web page's budgets, measured in headless Chromium against the site served on 127.0.0.1.

- canvas usable: navigation start → the pad takes input (main.js has run);
- first prediction possible, cold (new profile: empty HTTP cache, no service worker) and warm
  (reload with the service worker's cache): navigation start → a model is loaded in Pyodide;
- one prediction: preprocessing + forward pass in Pyodide, as timed by the worker, over MNIST
  test digits drawn with the mouse;
- the same first prediction cold, and one prediction, with the CPU slowed 4× (as on a mid-range phone): by
  Chromium's CPU throttling (``Emulation.setCPUThrottlingRate``, which slows the page but not its workers),
  and by running the whole browser with a quarter of this machine's CPU time (``browser.slowed_browser``);
- the site's size without Pyodide.

Usage: ``python benchmarks/web_speed.py [--rounds 3] [--pyodide-from DIR]``; figures go to
``benchmarks/results/web_speed.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from browser import served_site, slowed_browser  # noqa: E402
from record import record  # noqa: E402

from digitnet.training.mnist import load_mnist  # noqa: E402
from digitnet.training.tracing import trace_digit  # noqa: E402
from digitnet.web.site import PYODIDE_CDN  # noqa: E402
from tests.webpage import draw, pad_size, shown_prediction, wait_ready, wait_until  # noqa: E402

BUDGETS = {
    "canvas_usable_s": 0.5,
    "cold_ready_s": 3.0,
    "cold_ready_4x_cpu_s": 6.0,
    "cold_ready_cdp_4x_s": 6.0,
    "warm_ready_s": 3.0,
    "prediction_ms": 15.0,
    "site_without_pyodide_mb": 1.5,
}


def page_times(page) -> tuple[float, float]:
    """(canvas usable, model ready) in seconds after navigation start."""
    marks = page.evaluate("[document.body.dataset.padReadyAt, document.body.dataset.readyAt]")
    return float(marks[0]) / 1000, float(marks[1]) / 1000


def measure(browser, url: str, digits: list[list[np.ndarray]], rounds: int) -> tuple[dict, dict]:
    """The figures of ``rounds`` new browser profiles, and how Python started in each (web/python.js)."""
    cold, warm, pad, predictions = [], [], [], []
    starts = {"cold": [], "warm": []}
    for _ in range(rounds):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        page.goto(url)
        wait_ready(page)
        usable, ready = page_times(page)
        pad.append(usable)
        cold.append(ready)
        starts["cold"].append(page.evaluate("document.body.dataset.python"))
        wait_until(page, "document.body.dataset.offline === 'ready'")
        page.reload()
        wait_ready(page)
        warm.append(page_times(page)[1])
        starts["warm"].append(page.evaluate("document.body.dataset.python"))
        size = pad_size(page)
        for strokes in digits:
            page.click("#clear")
            scaled = [p / 28 * 0.6 * size + 0.2 * size for p in strokes]
            draw(page, scaled)
            shown_prediction(page, len(scaled))
            predictions.append(float(page.get_attribute("#prediction", "data-ms")))
        context.close()
    return {"canvas_usable_s": pad, "cold_ready_s": cold, "warm_ready_s": warm, "prediction_ms": predictions}, starts


def measure_slowed(browser, url: str, digits: list[list[np.ndarray]], rounds: int, rate: float | None = None) -> dict:
    """Cold first prediction possible and worker-timed predictions in ``browser``, with CDP's CPU throttling at
    ``rate`` when given."""
    cold, predictions = [], []
    for _ in range(rounds):
        context = browser.new_context(viewport={"width": 1200, "height": 900})
        page = context.new_page()
        if rate is not None:
            context.new_cdp_session(page).send("Emulation.setCPUThrottlingRate", {"rate": rate})
        page.goto(url)
        wait_ready(page, 120)
        cold.append(page_times(page)[1])
        size = pad_size(page)
        for strokes in digits[:5]:
            page.click("#clear")
            draw(page, [p / 28 * 0.6 * size + 0.2 * size for p in strokes])
            shown_prediction(page, len(strokes), 60)
            predictions.append(float(page.get_attribute("#prediction", "data-ms")))
        context.close()
    return {"cold_ready": cold, "prediction_ms": predictions}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pyodide-from", default=os.environ.get("DIGITNET_PYODIDE", PYODIDE_CDN))
    args = parser.parse_args()
    data = load_mnist()
    digits = [trace_digit(data.test.images[i]) for i in range(20)]
    with tempfile.TemporaryDirectory() as tmp, served_site(args.pyodide_from, Path(tmp)) as served:
        runs, starts = measure(served.browser, served.url, digits, args.rounds)
        throttled = measure_slowed(served.browser, served.url, digits, args.rounds, rate=4)
        runs |= {"cold_ready_cdp_4x_s": throttled["cold_ready"], "prediction_cdp_4x_ms": throttled["prediction_ms"]}
        try:
            with slowed_browser(served.playwright, 4, Path(tmp)) as slow:
                slowed = measure_slowed(slow, served.url, digits, args.rounds)
            runs |= {"cold_ready_4x_cpu_s": slowed["cold_ready"], "prediction_4x_cpu_ms": slowed["prediction_ms"]}
        except OSError as e:
            print(f"no browser with a quarter of the CPU here ({e}): that row is left out", file=sys.stderr)
        summary = served.summary
    figures = {key: {"median": statistics.median(v), "max": max(v), "runs": len(v)} for key, v in runs.items()}
    figures["prediction_ms"]["p95"] = float(np.percentile(runs["prediction_ms"], 95))
    figures["site_without_pyodide_mb"] = {"median": summary["without_pyodide"] / 1e6, "max": 0, "runs": 1}
    figures["site_without_pyodide_mb"]["max"] = figures["site_without_pyodide_mb"]["median"]
    report = {
        "default_model": summary["models"][0]["file"],
        "figures": figures,
        "budgets": BUDGETS,
        "models_mb": summary["models_bytes"] / 1e6,
        "python_start": starts,
        "runs": runs,  # every value measured, for the medians and worst cases above
        "python_snapshot_mb": summary["shipped_snapshot"].get("bytes", 0) / 1e6,
    }
    record("web_speed", report, markdown(report))


def markdown(report: dict) -> str:
    lines = [
        "# Web page budgets (headless Chromium, site on 127.0.0.1, 2-core machine)",
        "",
        f"Default model: `{report['default_model']}`.",
        "",
        "| measure | median | worst | runs | budget | within |",
        "|---|---|---|---|---|---|",
    ]
    names = {
        "canvas_usable_s": "canvas usable (s)",
        "cold_ready_s": "first prediction possible, cold (s)",
        "cold_ready_4x_cpu_s": "first prediction possible, cold, the browser on a quarter of the CPU (s)",
        "cold_ready_cdp_4x_s": "first prediction possible, cold, Chromium's 4× CPU throttling (page only) (s)",
        "warm_ready_s": "first prediction possible, warm (s)",
        "prediction_ms": "one prediction in Pyodide (ms)",
        "site_without_pyodide_mb": "site without Pyodide (MB)",
    }
    for key, name in names.items():
        if key not in report["figures"]:
            continue  # not measured on this machine (the run said why)
        f, budget = report["figures"][key], report["budgets"][key]
        lines.append(
            f"| {name} | {f['median']:.3f} | {f['max']:.3f} | {f['runs']} | ≤ {budget} "
            f"| {'yes' if f['max'] <= budget else 'no'} |"
        )
    p95 = report["figures"]["prediction_ms"]["p95"]
    lines += ["", f"One prediction, 95th percentile: {p95:.2f} ms."]
    base = report["figures"]["prediction_ms"]["median"]
    for key, what in (
        ("prediction_cdp_4x_ms", "Chromium's 4× CPU throttling"),
        ("prediction_4x_cpu_ms", "a quarter of the CPU"),
    ):
        if key in report["figures"]:
            slowed = report["figures"][key]["median"]
            lines.append(
                f"One prediction in the worker with {what}: {slowed:.1f} ms (median; {slowed / base:.1f}× unslowed)."
            )
    lines += [
        f"Of the site without Pyodide, the models take {report['models_mb']:.2f} MB.",
        f"The site ships a snapshot of Python just started ({report['python_snapshot_mb']:.1f} MB gzipped, "
        "beside Pyodide's own files; `web/snapshot.py`).",
        "How Python started: "
        + "; ".join(
            f"{visit} — " + ", ".join(f"{how} × {n}" for how, n in Counter(ways).items())
            for visit, ways in report["python_start"].items()
        )
        + ".",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
