"""Shared fixtures: the real MNIST folder and the committed models."""

import os
from pathlib import Path

import pytest

from digitnet.training.mnist import load_mnist, locate
from digitnet.training.writers import load_writers
from digitnet.web.snapshot import CHROMIUM_ARGS, chromium_executable

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The MNIST folder: $DIGITNET_DATA, else the user cache (downloaded when empty)."""
    return locate(os.environ.get("DIGITNET_DATA"))


@pytest.fixture(scope="session")
def mnist_data(data_dir):
    return load_mnist(data_dir)


@pytest.fixture(scope="session")
def writers():
    """The real writers' strokes: $DIGITNET_WRITERS (one sentence saying so when it is not set)."""
    return load_writers()


# ---------------------------------------------------------------- the web site in a real browser


def pyodide_source() -> str:
    """Where the tests take Pyodide from: $DIGITNET_PYODIDE, else the Pyodide CDN."""
    from digitnet.web.site import PYODIDE_CDN

    return os.environ.get("DIGITNET_PYODIDE", PYODIDE_CDN)


@pytest.fixture(scope="session")
def site(tmp_path_factory) -> Path:
    """The static site built from this checkout, with the committed models and a Python snapshot."""
    from digitnet.web.site import build_site

    out = tmp_path_factory.mktemp("site") / "site"
    build_site(out, pyodide_source(), ROOT / "weights", python_snapshot="yes")
    return out


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's), driven by Playwright; a missing browser is a failure, not a skip."""
    from playwright.sync_api import sync_playwright

    executable = chromium_executable()
    if not Path(executable).exists():
        pytest.fail(f"no Chromium at {executable}: install it (apt-get install chromium) or set DIGITNET_CHROMIUM")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def served(site):
    """The built site on 127.0.0.1 (a free port), for one test."""
    from digitnet.web.serve import start_server, url_of

    server = start_server(site, 0)
    yield url_of(server)
    server.shutdown()
    server.server_close()


@pytest.fixture
def page(browser):
    """A fresh page whose every request and page error is recorded; service workers blocked (the
    offline test makes its own context)."""
    context = browser.new_context(service_workers="block", viewport={"width": 1200, "height": 900})
    page = context.new_page()
    page.requests = []
    context.on("request", lambda request: page.requests.append(request.url))
    page.errors = []
    page.on("pageerror", lambda error: page.errors.append(str(error)))
    yield page
    context.close()
