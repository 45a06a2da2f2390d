"""Screenshots of the page with the Inside view open, at desktop and phone width, for the README.

Draws MNIST test digit 1 (a 2), traced into pen strokes, with the default model and writes
``docs/inside-desktop.png`` (the whole page, 1280 px wide) and ``docs/inside-phone.png`` (a 390 × 844
phone screen scrolled to the view).

Usage: ``python scripts/inside_screenshots.py [--pyodide-from DIR]`` (MNIST from $DIGITNET_DATA).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from digitnet.training.mnist import load_mnist  # noqa: E402
from digitnet.training.tracing import trace_digit  # noqa: E402
from digitnet.web.serve import start_server, url_of  # noqa: E402
from digitnet.web.site import PYODIDE_CDN, build_site  # noqa: E402
from digitnet.web.snapshot import CHROMIUM_ARGS, chromium_executable  # noqa: E402
from tests.webpage import draw, pad_size, shown_prediction, wait_ready, wait_until  # noqa: E402

SIZES = {"desktop": (1280, 900), "phone": (390, 844)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pyodide-from", default=os.environ.get("DIGITNET_PYODIDE", PYODIDE_CDN))
    parser.add_argument("--digit", type=int, default=1, help="index of the MNIST test image to draw")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    image = load_mnist().test.images[args.digit]
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp) / "site"
        build_site(site, args.pyodide_from, ROOT / "weights")
        server = start_server(site, 0)
        executable = chromium_executable()
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
            for name, (width, height) in SIZES.items():
                context = browser.new_context(service_workers="block", viewport={"width": width, "height": height})
                page = context.new_page()
                page.goto(url_of(server))
                wait_ready(page)
                page.evaluate("document.getElementById('inside').open = true")
                size = pad_size(page)
                strokes = [p / 28 * 0.6 * size + 0.2 * size for p in trace_digit(image)]
                draw(page, strokes)
                shown_prediction(page, len(strokes))
                wait_until(page, f"document.getElementById('inside').dataset.strokes === '{len(strokes)}'")
                wait_until(page, "document.querySelectorAll('#inside .unit').length > 0")
                out = ROOT / "docs" / f"inside-{name}.png"
                if name == "phone":
                    page.evaluate("document.getElementById('inside').scrollIntoView()")
                page.screenshot(path=str(out), full_page=name == "desktop")
                print(f"wrote {out}")
                context.close()
            browser.close()
        server.shutdown()


if __name__ == "__main__":
    main()
