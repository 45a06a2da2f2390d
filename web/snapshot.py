"""A memory snapshot of Pyodide's Python just started, made when the site is built and shipped with it.

Starting Pyodide's interpreter takes about 2 s on a 2-core machine; restoring a snapshot of it takes
about 0.15 s. The page keeps such a snapshot after its first start (``web/python.js``), which helps
every visit but the first. The builder therefore opens the built page once in headless Chromium,
lets it start Python afresh and keep its snapshot exactly as a visitor's browser would, takes that
snapshot out of Cache Storage and ships it gzipped in ``pyodide/``: a first visit restores it.

The snapshot is the WebAssembly memory of Pyodide's interpreter just started from its own files
(checked by sha256 when the site is built): nothing of the page, the models or the visitor. What
Python computed while starting is the same for every visitor (its hash seed, for one; digitnet does
not depend on it). Pyodide refuses a snapshot made by another build; the page then starts afresh.
It is made in Chromium: other engines run the same WebAssembly, but only Chromium is tested here.
"""

from __future__ import annotations

import base64
import gzip
import os
import shutil
import struct
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

from digitnet.errors import DigitnetError

if TYPE_CHECKING:
    from playwright.sync_api import Page

#: The file in the site's ``pyodide/`` folder (``web/python.js`` fetches it by this name).
SNAPSHOT_FILE = "python-snapshot.bin.gz"
#: Pyodide 0.27's snapshot header: a magic number, then the offset of the heap (whole 64 KiB pages).
SNAPSHOT_MAGIC = 1886286592
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The page's snapshot, as web/python.js keeps it (its cache "python-snapshot"), gzipped and
# base64-encoded in the page (a FileReader data: URL is the browser's own base64 of a Blob).
READ_KEPT_SNAPSHOT = """async () => {
  const cache = await caches.open("python-snapshot");
  const [key] = await cache.keys();
  if (!key) return null;
  const gzipped = (await cache.match(key)).body.pipeThrough(new CompressionStream("gzip"));
  const blob = await new Response(gzipped).blob();
  return await new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result.slice(reader.result.indexOf(",") + 1));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}"""


class SnapshotError(DigitnetError, RuntimeError):
    """No snapshot could be made (no browser, the page failed to start, a malformed snapshot)."""


def chromium_executable() -> str:
    """Debian's Chromium, or ``$DIGITNET_CHROMIUM`` (Playwright's own browser download is not used)."""
    return os.environ.get("DIGITNET_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def snapshot_browser_missing() -> str | None:
    """Why no snapshot can be made on this machine (no Playwright, no Chromium), or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (pip install 'digitnet[snapshot]')"
    if not Path(chromium_executable()).exists():
        return f"no Chromium at {chromium_executable()} (install it, or set DIGITNET_CHROMIUM)"
    return None


def check_snapshot(raw: bytes) -> None:
    """Raise SnapshotError unless ``raw`` has the header of a Pyodide 0.27 memory snapshot."""
    if len(raw) < 64:
        raise SnapshotError(f"the snapshot is {len(raw)} bytes long")
    magic, heap_start = struct.unpack_from("<II", raw)
    heap = len(raw) - heap_start
    # as web/python.js's looksWhole checks it before restoring (a heap of at most 1 GiB)
    if magic != SNAPSHOT_MAGIC or heap_start % 16 or not 1 << 20 <= heap <= 1 << 30 or heap % 65536:
        raise SnapshotError("the snapshot does not have the layout of a Pyodide 0.27 memory snapshot")


def wait_until(page: Page, expression: str, timeout: float = 60.0) -> None:
    """Poll ``expression`` in the page until it is truthy.

    Playwright's ``wait_for_function`` compiles its predicate with ``eval``, which the
    page's Content-Security-Policy forbids; ``evaluate`` is not subject to it.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if page.evaluate(expression):
            return
        time.sleep(0.05)
    raise TimeoutError(f"still false after {timeout} s: {expression} (status: {page.text_content('#status')})")


def make_python_snapshot(site: Path, timeout: float = 120.0) -> int:
    """Open the built ``site`` in a fresh headless Chromium, take the snapshot its first start keeps and
    write it to ``site/pyodide/SNAPSHOT_FILE``; return the file's size in bytes. Any failure is a
    ``SnapshotError`` saying what went wrong, a machine without Playwright or Chromium included."""
    missing = snapshot_browser_missing()
    if missing:
        raise SnapshotError(missing)
    from playwright.sync_api import Error as PlaywrightError

    from digitnet.web.serve import start_server, url_of

    target = site / "pyodide" / SNAPSHOT_FILE
    try:
        target.unlink(missing_ok=True)  # the page must start afresh, not restore an older one
        server = start_server(site, 0)
    except OSError as e:
        raise SnapshotError(f"cannot serve the site to make it: {e.strerror or e}") from None
    try:
        # in a thread of its own: Playwright's sync API refuses a thread that runs an event loop
        # (a caller that drives a browser itself, as the tests do)
        with ThreadPoolExecutor(1) as thread:
            encoded = thread.submit(kept_snapshot, url_of(server), timeout).result()
    except PlaywrightError as e:
        raise SnapshotError(f"Chromium: {(str(e).splitlines() or ['failed'])[0]}") from None
    finally:
        server.shutdown()
        server.server_close()
    if not encoded:
        raise SnapshotError("the page's Cache Storage holds no snapshot")
    try:
        gzipped = base64.b64decode(encoded)
        check_snapshot(gzip.decompress(gzipped))
        target.write_bytes(gzipped)
    except (ValueError, EOFError, zlib.error) as e:
        raise SnapshotError(f"the snapshot read from the page is damaged ({e})") from None
    except OSError as e:
        raise SnapshotError(f"cannot write {target}: {e.strerror or e}") from None
    return len(gzipped)


def kept_snapshot(url: str, timeout: float) -> str | None:
    """The snapshot the page at ``url`` keeps on its first start in a new profile, gzipped, in base64."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_executable(), args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(service_workers="block").new_page()
            page.goto(url)
            # the first start reports whether it kept its snapshot; "error" is a page that failed
            done = "document.body.dataset.snapshot !== undefined || document.body.dataset.state === 'error'"
            try:
                wait_until(page, done, timeout)
            except TimeoutError:
                status = page.text_content("#status")
                raise SnapshotError(f"the page kept no snapshot within {timeout:g} s (status: {status})") from None
            kept, state = page.evaluate("[document.body.dataset.snapshot, document.body.dataset.state]")
            if kept != "saved":
                raise SnapshotError(f"the page kept no snapshot (state {state}: {page.text_content('#status')})")
            return page.evaluate(READ_KEPT_SNAPSHOT)
        finally:
            browser.close()
