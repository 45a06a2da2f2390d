"""Adapting to real writers in the page: the memory and the fine-tune give in Pyodide the figures of CPython.

For a few real writers ($DIGITNET_WRITERS; default: the three the MNIST-only cnn reads worst), in headless
Chromium on the site built from this checkout, with the model the site ships for ``--model`` (default
``cnn.json``, MNIST-only: it never saw the writers): the writer's first k = 3 drawings of each digit are
imported into My digits (the memory of kept drawings reads with them at once), and their other drawings are
read by the page's worker (``window.digitnet.readFile``) before the import, after it, and after "Adapt to my
handwriting" (the adapted model, with the memory). The same three readings are made in CPython by the same
functions (``digitnet.webapp``, ``digitnet.adaptapp``) on the same model file, drawings and seed. Reported:
each reading's accuracy in both, the largest difference of a probability, and the Adapt report in both.

Usage: ``python benchmarks/adapt_pyodide.py [--writers train-28 train-14 train-19] [--model cnn.json]``;
figures go to ``benchmarks/results/adapt_pyodide.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from adapt_writers import split_first  # noqa: E402
from browser import served_site  # noqa: E402
from record import record  # noqa: E402

from digitnet import adaptapp, webapp  # noqa: E402
from digitnet.adapt import REPLAY_FILE  # noqa: E402
from digitnet.strokesfile import Sample, dump_strokes  # noqa: E402
from digitnet.training import writers as w  # noqa: E402
from digitnet.web.site import PYODIDE_CDN  # noqa: E402
from tests.webpage import wait_ready, wait_until  # noqa: E402

K = 3
SEED = 0  # the seed the page adapts with
PARITY = 1e-5
SAMPLES = "Number(document.body.dataset.samples || 0)"
STAGES = ("alone", "memory", "adapted")


def accuracy(readings: list[list[float] | None], samples: list[Sample]) -> float:
    right = sum(r is not None and int(np.argmax(r)) == s.label for r, s in zip(readings, samples, strict=True))
    return 100 * right / len(samples)


def difference(a: list[list[float] | None], b: list[list[float] | None]) -> float:
    if [r is None for r in a] != [r is None for r in b]:
        return float("inf")  # one refused a drawing the other read
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None]
    return max((float(np.max(np.abs(np.subtract(x, y)))) for x, y in pairs), default=0.0)


def in_page(browser, url: str, model: str, taught: str, scored: str) -> dict:
    context = browser.new_context(
        service_workers="block", accept_downloads=True, viewport={"width": 1200, "height": 900}
    )
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    page.goto(f"{url}?model={model}")
    wait_ready(page)
    wait_until(page, "document.body.dataset.mydigits === 'ready'")
    read = lambda: page.evaluate("(text) => window.digitnet.readFile(text)", scored)  # noqa: E731
    readings = {"alone": read()}
    n = taught.count('"label"')
    page.set_input_files(
        "#import", files=[{"name": "taught.json", "mimeType": "application/json", "buffer": taught.encode()}]
    )
    wait_until(page, f"{SAMPLES} === {n}", 60)
    wait_until(page, f"document.body.dataset.memory === '{n}'", 60)
    readings["memory"] = read()
    with page.expect_download() as download:
        page.click("#export")
    exported = Path(download.value.path()).read_text(encoding="utf-8")
    page.click("#adapt")
    wait_until(page, "['done', 'refused', 'error'].includes(document.body.dataset.adapt)", 300)
    report = json.loads(page.get_attribute("#adapt-status", "data-report") or "{}")
    state = page.evaluate("document.body.dataset.adapt")
    wait_ready(page)
    readings["adapted"] = read() if state == "done" else None
    context.close()
    return {"readings": readings, "report": report, "state": state, "exported": exported}


def in_cpython(model_text: str, model: str, exported: str, scored: str, replay: bytes) -> dict:
    ids = list(range(exported.count('"label"')))
    webapp.load(model_text, model)
    readings = {"alone": webapp.read_file(scored)}
    webapp.remember(exported, ids)
    readings["memory"] = webapp.read_file(scored)
    adapted = adaptapp.adapt_model(model_text, model, exported, np.frombuffer(replay, dtype=np.uint8), SEED)
    webapp.load(adapted["model"], f"adapted:{model}")
    webapp.remember(exported, ids)
    readings["adapted"] = webapp.read_file(scored)
    webapp.forget(ids)
    return {"readings": readings, "report": adapted["report"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", nargs="+", default=["train-28", "train-14", "train-19"])
    parser.add_argument("--model", default="cnn.json", help="a model the site ships, by its file name")
    parser.add_argument("--pyodide-from", default=os.environ.get("DIGITNET_PYODIDE", PYODIDE_CDN))
    args = parser.parse_args()
    writers = w.load_writers()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp, served_site(args.pyodide_from, Path(tmp)) as served:
        model_text = gzip.decompress((served.folder / "models" / f"{args.model}.gz").read_bytes()).decode()
        replay = (served.folder / "data" / REPLAY_FILE).read_bytes()
        for writer in args.writers:
            taught, scored = split_first(writers.samples[writer], K)
            scored_text = dump_strokes(scored)
            page = in_page(served.browser, served.url, args.model, dump_strokes(taught), scored_text)
            python = in_cpython(model_text, args.model, page["exported"], scored_text, replay)
            row = {"page_adapt": page["state"], "report_page": page["report"], "report_cpython": python["report"]}
            for stage in STAGES:
                ours, theirs = page["readings"][stage], python["readings"][stage]
                row[stage] = {
                    "page": None if ours is None else round(accuracy(ours, scored), 2),
                    "cpython": round(accuracy(theirs, scored), 2),
                    "largest_difference": None if ours is None else difference(ours, theirs),
                }
            rows[writer] = row
            print(writer, {s: row[s] for s in STAGES}, flush=True)
    largest = max((r[s]["largest_difference"] or 0.0) for r in rows.values() for s in STAGES)
    result = {
        "model": args.model,
        "k": K,
        "seed": SEED,
        "writers": rows,
        "largest_difference": largest,
        "parity": PARITY,
    }
    record("adapt_pyodide", result, markdown(result))
    return 0 if largest <= PARITY else 1


def markdown(r: dict) -> str:
    def pair(cell: dict) -> str:
        page = "–" if cell["page"] is None else f"{cell['page']:.2f}"
        gap = "–" if cell["largest_difference"] is None else f"{cell['largest_difference']:.1e}"
        return f"{page} / {cell['cpython']:.2f} % ({gap})"

    lines = [
        "# Adapting to real writers in the page: Pyodide against CPython",
        "",
        f"`python benchmarks/adapt_pyodide.py`: `{r['model']}` as the site ships it, each writer's first {r['k']} "
        "drawings of each digit imported into My digits, their other drawings read by the page's worker and by "
        "the same functions in CPython: the network alone, with the memory of the imported drawings, and after "
        f"Adapt (seed {r['seed']}) with the memory. Each cell: page / CPython accuracy (the largest difference of "
        "a probability).",
        "",
        "| writer | network alone | with the memory | adapted, with the memory | Adapt's report: page / CPython "
        "(drawings 5-fold; MNIST holdout) |",
        "|---|---|---|---|---|",
    ]
    for writer, row in r["writers"].items():
        a, b = row["report_page"], row["report_cpython"]
        report = (
            f"{a.get('person_before', 0):.1f} → {a.get('person_after', 0):.1f}, {a.get('holdout_before', 0):.1f} → "
            f"{a.get('holdout_after', 0):.1f} / {b['person_before']:.1f} → {b['person_after']:.1f}, "
            f"{b['holdout_before']:.1f} → {b['holdout_after']:.1f}"
        )
        lines.append(f"| {writer} | {' | '.join(pair(row[s]) for s in STAGES)} | {report} |")
    within = "within" if r["largest_difference"] <= r["parity"] else "**not** within"
    lines += ["", f"Largest difference of a probability: {r['largest_difference']:.1e} ({within} {r['parity']:g})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
