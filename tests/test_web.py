"""The web page in headless Chromium: loading, drawing real digits, parity with CPython, failures, offline."""

import gzip
import json
import re
import shutil
import zipfile
from urllib.parse import urlparse

import numpy as np
import pytest

from digitnet import load_model, parse_model
from digitnet.training.tracing import trace_digit
from digitnet.web.serve import start_server, url_of
from digitnet.web.site import (
    SITE_BUDGET_WITHOUT_PYODIDE,
    TRAIN_PANEL_FILES,
    SiteError,
    build_site,
    model_files,
    site_sizes,
    write_service_worker,
)
from digitnet.web.snapshot import SNAPSHOT_FILE, check_snapshot

from .conftest import ROOT, pyodide_source
from .webpage import draw, pad_size, shown_prediction, wait_ready, wait_until

# ---------------------------------------------------------------- the built site


def test_site_is_self_contained_and_small(site):
    index = json.loads((site / "models" / "index.json").read_text())
    assert {m["file"] for m in index["models"]} == {p.name for p in model_files(ROOT / "weights")}
    writers = json.loads((ROOT / "weights" / "writers.json").read_text())
    assert index["default"] == max(writers, key=lambda name: writers[name]["whole"]) + ".json"  # best on real writers
    skip = {"pyodide", "models", "data", *TRAIN_PANEL_FILES}  # the Train panel's files load when it is opened
    page = sum(p.stat().st_size for p in site.rglob("*") if p.is_file() and not skip & set(p.parts))
    assert page <= 100_000  # HTML, JavaScript, CSS, manifest, icons
    assert all(p.stat().st_size < 1_000_000 for p in (site / "models").glob("*.json.gz"))
    assert site_sizes(site)["without_pyodide"] <= SITE_BUDGET_WITHOUT_PYODIDE
    # the service worker fetches the default model at install, the others only when selected
    precached = json.loads(re.search(r"const FILES = (\[.*?\]);", (site / "sw.js").read_text()).group(1))
    shipped = {f"./models/{m['path']}" for m in index["models"]}
    default = next(m["path"] for m in index["models"] if m["file"] == index["default"])
    assert shipped & set(precached) == {f"./models/{default}"}
    assert (site / "data" / "replay.npz").stat().st_size <= 400_000  # the MNIST replay set for adapting
    for name in ("index.html", "main.js", "worker.js", "python.js", "adapt-worker.js", "mydigits.js", "sw.js"):
        text = (site / name).read_text()
        assert not re.search(r"""(src|href)=["']/|fetch\(["']/|https?://(?!www\.w3\.org)""", text), name


def test_digitnet_wheel_is_inference_only_and_locked(site):
    lock = json.loads((site / "pyodide" / "pyodide-lock.json").read_text())
    assert set(lock["packages"]) == {"numpy", "pillow", "digitnet"}
    entry = lock["packages"]["digitnet"]
    wheel = site / "pyodide" / entry["file_name"]
    import hashlib

    assert hashlib.sha256(wheel.read_bytes()).hexdigest() == entry["sha256"]
    assert entry["depends"] == ["numpy"] and entry["imports"] == ["digitnet"]
    names = zipfile.ZipFile(wheel).namelist()
    modules = {n for n in names if n.endswith(".py")}
    assert {"digitnet/layers.py", "digitnet/webapp.py", "digitnet/adapt.py", "digitnet/adaptapp.py"} <= modules
    assert not any("training" in n or "web/" in n for n in names)
    for name in modules:
        source = zipfile.ZipFile(wheel).read(name).decode()
        imports = set(re.findall(r"^(?:from|import) (\w+)", source, re.MULTILINE))
        assert imports <= {
            "__future__",
            "numpy",
            "digitnet",
            "base64",
            "json",
            "os",
            "tempfile",
            "pathlib",
            "typing",
            "dataclasses",
            "binascii",
            "hashlib",
            "itertools",
            "math",
            "collections",
            "copy",
            "io",
            "sys",
            "time",
        }, (name, imports)
        # Pillow is imported only where a picture is read, inside a function: drawings never load it
        assert not re.search(r"^(from|import) PIL", source, re.MULTILINE), name
    assert "from PIL import" in zipfile.ZipFile(wheel).read("digitnet/picture.py").decode()


def test_build_refuses_altered_pyodide_files(tmp_path):
    source = pyodide_source()
    if "://" in source:
        pytest.fail("set DIGITNET_PYODIDE to a folder of Pyodide files for this test")
    mirror = tmp_path / "mirror"
    shutil.copytree(source, mirror)
    wasm = mirror / "pyodide.asm.wasm"
    data = bytearray(wasm.read_bytes())
    data[1000] ^= 1
    wasm.chmod(0o644)
    wasm.write_bytes(bytes(data))
    with pytest.raises(SiteError, match=r"pyodide\.asm\.wasm .* has sha256"):
        build_site(tmp_path / "out", str(mirror), ROOT / "weights")
    assert not (tmp_path / "out").exists()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(SiteError, match="not empty and not an earlier digitnet site"):
        build_site(tmp_path / "notes", source, ROOT / "weights")


# ---------------------------------------------------------------- in the browser


def test_page_loads_and_talks_only_to_its_own_server(page, served, site):
    page.goto(served)
    wait_ready(page)
    assert page.requests, "no request recorded"
    hosts = {urlparse(url).hostname for url in page.requests if not url.startswith(("data:", "blob:"))}
    assert hosts == {"127.0.0.1"}, hosts
    assert any(url.endswith(".whl") for url in page.requests)
    shipped = len(json.loads((site / "models" / "index.json").read_text())["models"])
    assert page.evaluate("document.querySelector('#model').options.length") == shipped >= 8
    assert page.errors == []


def test_drawn_mnist_digits_are_recognised_at_any_size_and_place(page, served, mnist_data):
    """The first three test digits of every class, traced into pen strokes and drawn with the mouse:
    small in a corner, large, and medium in the middle."""
    page.goto(served)
    wait_ready(page)
    size = pad_size(page)
    placements = [(0.16, 0.06, 0.62), (0.62, 0.04, 0.04), (0.36, 0.3, 0.25)]  # (scale, left, top) of the pad
    wrong = []
    for digit in range(10):
        for k, index in enumerate(np.flatnonzero(mnist_data.test.labels == digit)[:3]):
            scale, left, top = placements[k]
            strokes = [
                p / 28 * scale * size + [left * size, top * size] for p in trace_digit(mnist_data.test.images[index])
            ]
            page.click("#clear")
            draw(page, strokes)
            shown, probs = shown_prediction(page, len(strokes))
            if shown != str(digit):
                wrong.append((int(index), digit, shown))
            assert len(probs) == 10 and abs(sum(probs) - 1) < 1e-5
    # the default model reads ~99 % of traced test digits (weights/README.md, "drawn"): a size or
    # placement the page mishandles would miss many, one ambiguous trace (test 18, a 3 read as 5 at
    # 0.60 against 0.36) is the model's
    assert len(wrong) <= 1, f"(test index, digit, shown): {wrong}"


def test_same_outputs_in_pyodide_as_in_cpython(page, served, site, mnist_data):
    """The page's outputs for 200 test images equal CPython's for the model file the site ships."""
    page.goto(served)
    wait_ready(page)
    images = mnist_data.test.images[:200]
    for name in ("cnn.json", "c2_conv-learned.json", "c1.json"):
        page.select_option("#model", name)
        wait_ready(page)
        outputs = np.array(page.evaluate("(images) => window.digitnet.feedforward(images)", images.ravel().tolist()))
        shipped = gzip.decompress((site / "models" / f"{name}.gz").read_bytes()).decode()
        expected = parse_model(shipped, name=name).feedforward(images)
        assert outputs.shape == (200 * 10,)
        assert np.max(np.abs(outputs.reshape(200, 10) - expected)) <= 1e-6
        original = load_model(ROOT / "weights" / name).predict(images)  # float16 keeps the answers
        assert np.mean(original == expected.argmax(axis=1)) >= 0.99


def test_empty_canvas_tiny_marks_clear_and_undo(page, served):
    page.goto(served)
    wait_ready(page)
    assert page.text_content("#prediction") == ""
    assert page.get_attribute("#prediction", "data-probs") == "[]"
    size = pad_size(page)
    draw(page, [np.array([[0.5 * size, 0.5 * size]])])  # a tap: a dot, not a digit
    shown, probs = shown_prediction(page, 1)
    assert shown == "" and probs == []
    assert "No digit" in page.text_content("#confidence")
    stroke = np.array([[0.5, 0.2], [0.5, 0.5], [0.5, 0.8]]) * size
    draw(page, [stroke])
    assert shown_prediction(page, 2)[0] == "1"
    page.click("#undo")
    assert shown_prediction(page, 1)[0] == ""
    page.keyboard.press("Control+z")
    assert shown_prediction(page, 0)[0] == ""
    draw(page, [stroke])
    assert shown_prediction(page, 1)[0] == "1"
    page.focus("#clear")
    page.keyboard.press("Enter")
    assert shown_prediction(page, 0) == ("", [])


def default_model(site):
    index = json.loads((site / "models" / "index.json").read_text())
    return site / "models" / next(m["path"] for m in index["models"] if m["file"] == index["default"])


def write_gzipped(path, text: str) -> None:
    path.write_bytes(gzip.compress(text.encode()))


def broken_site(site, tmp_path, damage):
    copy = tmp_path / "site"
    shutil.copytree(site, copy)
    damage(copy)
    return copy


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda s: write_gzipped(default_model(s), '{"format": "digitnet-model", "version": 1, "lay'),
            "truncated",
        ),
        (lambda s: default_model(s).unlink(), "HTTP 404"),
        (
            lambda s: write_gzipped(default_model(s), '{"format": "digitnet-model", "version": 9}'),
            "unsupported format version 9",
        ),
        (lambda s: default_model(s).write_bytes(b"\x1f\x8b not really gzip"), "is not a valid gzip file"),
        (lambda s: (s / "pyodide" / "pyodide.asm.wasm").unlink(), "pyodide/pyodide.asm.wasm: HTTP 404"),
        (
            lambda s: next((s / "pyodide").glob("digitnet-*.whl")).write_bytes(b"PK tampered"),
            "digitnet-0.1.0-py3-none-any.whl could not be fetched",
        ),
    ],
    ids=["truncated model", "missing model", "unknown version", "corrupt gzip", "no Pyodide", "tampered wheel"],
)
def test_failures_show_a_clear_message(page, site, tmp_path, damage, message):
    server = start_server(broken_site(site, tmp_path, damage), 0)
    try:
        page.goto(url_of(server))
        wait_until(page, "['ready', 'error'].includes(document.body.dataset.state)", 90)
        assert page.evaluate("document.body.dataset.state") == "error"
        status = page.text_content("#status")
        assert message in status
        if "whl" in message:
            assert "sha256 differs from pyodide-lock.json" in status
    finally:
        server.shutdown()
        server.server_close()


def test_works_offline_after_the_first_visit(browser, site, tmp_path, mnist_data):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    page = context.new_page()
    server = start_server(shutil.copytree(site, tmp_path / "site"), 0)
    url = url_of(server)
    try:
        page.goto(url)
        wait_ready(page)
        wait_until(page, "document.body.dataset.offline === 'ready'", 60)
    finally:
        server.shutdown()
        server.server_close()
    page.reload()
    wait_ready(page)
    size = pad_size(page)
    index = int(np.flatnonzero(mnist_data.test.labels == 4)[0])
    strokes = [p / 28 * 0.5 * size + 0.2 * size for p in trace_digit(mnist_data.test.images[index])]
    draw(page, strokes)
    assert shown_prediction(page, len(strokes))[0] == "4"
    context.close()


def test_site_ships_a_snapshot_of_python_just_started(site):
    shipped = site / "pyodide" / SNAPSHOT_FILE
    check_snapshot(gzip.decompress(shipped.read_bytes()))  # Pyodide 0.27's header, whole pages
    assert 2_000_000 < shipped.stat().st_size < 10_000_000
    precached = json.loads(re.search(r"const FILES = (\[.*?\]);", (site / "sw.js").read_text()).group(1))
    assert f"./pyodide/{SNAPSHOT_FILE}" in precached  # offline, a later visit restores it too


def test_service_worker_version_follows_every_file_but_the_snapshot(site, tmp_path):
    """Each build makes a new snapshot (Python's hash seed differs): that alone must not make returning
    visitors download the whole site again."""
    copy = tmp_path / "site"
    shutil.copytree(site, copy)

    def version() -> str:
        (copy / "sw.js").unlink()  # as in a build: written last, from the other files
        write_service_worker(copy)
        return re.search(r'const VERSION = "(\w+)"', (copy / "sw.js").read_text()).group(1)

    first = version()
    snapshot = copy / "pyodide" / SNAPSHOT_FILE
    snapshot.write_bytes(snapshot.read_bytes()[::-1])
    assert version() == first
    (copy / "main.js").write_text((copy / "main.js").read_text() + "\n// changed\n")
    assert version() != first


def test_build_without_a_browser_ships_no_snapshot_or_fails_when_asked(tmp_path, monkeypatch):
    monkeypatch.setenv("DIGITNET_CHROMIUM", str(tmp_path / "no-chromium-here"))
    summary = build_site(tmp_path / "auto", pyodide_source(), ROOT / "weights", python_snapshot="auto")
    assert "no Chromium at" in summary["shipped_snapshot"]["skipped"]
    assert not (tmp_path / "auto" / "pyodide" / SNAPSHOT_FILE).exists()
    with pytest.raises(SiteError, match="cannot make the Python snapshot: no Chromium at"):
        build_site(tmp_path / "yes", pyodide_source(), ROOT / "weights", python_snapshot="yes")
    assert not (tmp_path / "yes").exists()


KEEP_A_COPY = """async ([key, how]) => {
    // a kept snapshot that is malformed (zeros), or whole but from another build (the site's own with
    // one byte of its build id changed: Pyodide refuses it)
    let bytes = new Uint8Array(4096);
    if (how === "another build") {
        const response = await fetch("pyodide/python-snapshot.bin.gz");
        const stream = response.body.pipeThrough(new DecompressionStream("gzip"));
        bytes = new Uint8Array(await new Response(stream).arrayBuffer());
        bytes[20] ^= 1;
    }
    const cache = await caches.open("python-snapshot");
    await cache.put(key, new Response(bytes));
    return (await cache.keys()).length;
}"""
KEPT_COPIES = "caches.open('python-snapshot').then((cache) => cache.keys()).then((keys) => keys.length)"


def test_python_starts_from_a_snapshot_and_a_bad_copy_is_replaced(browser, site, mnist_data, tmp_path):
    """A first visit restores the snapshot shipped with the site (made by the builder on another port,
    so another origin) and reads digits as a fresh start does. Where the site ships none, or a broken
    one, the first visit starts afresh and keeps its own snapshot, and the next restores that one. A
    kept snapshot that is malformed or refused is deleted, and the next source is used: never an error."""
    index = int(np.flatnonzero(mnist_data.test.labels == 7)[0])
    broken = tmp_path / "site"
    shutil.copytree(site, broken)
    shipped = broken / "pyodide" / SNAPSHOT_FILE
    shipped.write_bytes(shipped.read_bytes()[:100_000])  # cut short: not a whole gzip stream
    servers = [start_server(site, 0), start_server(broken, 0)]
    contexts, errors = [], []

    def visit(page, url: str | None = None) -> str:
        if url:
            page.goto(url)
        else:
            page.reload()
        wait_ready(page)
        # a fresh start reports whether its snapshot was kept; a restored start keeps none
        restored = "document.body.dataset.python !== 'fresh start'"
        wait_until(page, f"document.body.dataset.snapshot !== undefined || {restored}")
        page.click("#clear")
        size = pad_size(page)
        strokes = [p / 28 * 0.5 * size + 0.2 * size for p in trace_digit(mnist_data.test.images[index])]
        draw(page, strokes)
        assert shown_prediction(page, len(strokes))[0] == "7"
        return page.evaluate("document.body.dataset.python")

    def new_page():
        contexts.append(browser.new_context(viewport={"width": 1200, "height": 900}, service_workers="block"))
        page = contexts[-1].new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        return page

    def kept_key(server) -> str:
        return f"{url_of(server)}pyodide/snapshot-0.27.7.bin"

    try:
        page = new_page()
        assert visit(page, url_of(servers[0])) == "shipped snapshot"
        assert page.evaluate("document.body.dataset.snapshot") is None  # nothing more to keep
        assert visit(page) == "shipped snapshot"
        assert page.evaluate(KEEP_A_COPY, [kept_key(servers[0]), "another build"]) == 1
        assert visit(page) == "shipped snapshot"  # the refused copy is passed over ...
        assert page.evaluate(KEPT_COPIES) == 0  # ... and deleted

        page = new_page()
        assert visit(page, url_of(servers[1])) == "fresh start"
        assert page.evaluate("document.body.dataset.snapshot") == "saved"
        assert visit(page) == "kept snapshot"
        assert page.evaluate(KEEP_A_COPY, [kept_key(servers[1]), "zeros"]) == 1
        assert visit(page) == "fresh start"  # the site's own is broken too
        assert page.evaluate("document.body.dataset.snapshot") == "saved"
        assert visit(page) == "kept snapshot"

        shipped.unlink()  # a site built without a snapshot: its address answers 404
        page = new_page()
        assert visit(page, url_of(servers[1])) == "fresh start"
        assert page.evaluate("document.body.dataset.snapshot") == "saved"
        assert errors == []
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()
        for context in contexts:
            context.close()
