"""The page as the browser benchmarks meet it: the site built from this checkout with the committed
models, served on 127.0.0.1, and headless Chromium (Debian's, or ``$DIGITNET_CHROMIUM``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from digitnet.web.serve import start_server, url_of
from digitnet.web.site import build_site
from digitnet.web.snapshot import CHROMIUM_ARGS, chromium_executable
from tests.conftest import ROOT


@dataclass
class ServedSite:
    browser: Any  # playwright's Browser
    url: str
    folder: Path
    summary: dict  # what build_site reports (models, sizes)


@contextmanager
def served_site(pyodide_from: str, folder: Path) -> Iterator[ServedSite]:
    """The site built into ``folder / "site"`` (Pyodide from ``pyodide_from``), served and opened in
    Chromium for the ``with`` block; browser and server stopped on leaving it."""
    from playwright.sync_api import sync_playwright

    site = folder / "site"
    summary = build_site(site, pyodide_from, ROOT / "weights", python_snapshot="yes")
    server = start_server(site, 0)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
            try:
                yield ServedSite(browser, url_of(server), site, summary)
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()
