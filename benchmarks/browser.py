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
    playwright: Any  # to launch another browser beside it
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
                yield ServedSite(browser, playwright, url_of(server), site, summary)
            finally:
                browser.close()
    finally:
        server.shutdown()
        server.server_close()


#: Where a browser with less CPU runs: a cgroup (v1) of the CPU controller, made for the run and removed after.
CGROUP = Path("/sys/fs/cgroup/cpu/digitnet-slowed")


@contextmanager
def slowed_browser(playwright: Any, factor: float, folder: Path) -> Iterator[Any]:
    """Chromium with ``1 / factor`` of this machine's CPU time, all its processes (workers' threads included) in a
    cgroup whose quota is the cores divided by ``factor``: a slower machine, as CDP's CPU throttling (pages only,
    not workers) is not. Raises ``OSError`` where the cgroup cannot be made (not root, no cgroup v1 CPU controller)."""
    import os

    CGROUP.mkdir(exist_ok=True)
    try:
        period = int((CGROUP / "cpu.cfs_period_us").read_text())
        (CGROUP / "cpu.cfs_quota_us").write_text(str(int(period * (os.cpu_count() or 1) / factor)))
        wrapper = folder / "slowed-chromium"
        wrapper.write_text(f'#!/bin/sh\necho $$ > {CGROUP / "cgroup.procs"}\nexec {chromium_executable()} "$@"\n')
        wrapper.chmod(0o755)
        browser = playwright.chromium.launch(executable_path=str(wrapper), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        for _ in range(50):  # the browser's processes take a moment to leave
            try:
                CGROUP.rmdir()
                break
            except OSError:
                import time

                time.sleep(0.1)
