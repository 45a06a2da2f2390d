"""Building the static site: the page, the models, the digitnet wheel and a vendored Pyodide.

The output folder is self-contained and uses relative URLs only, so it can be
served from any path (a GitHub Pages project site included) or opened offline
once visited. Every Pyodide file is checked against its known sha256 (the core
files against the digests of the 0.27.7 release, the NumPy and Pillow wheels
against the Pyodide lock) before it is copied.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import math
import os
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path
from typing import Any

import digitnet
from digitnet.adapt import REPLAY_FILE
from digitnet.book import BOOK_DATA_FILE
from digitnet.errors import DigitnetError
from digitnet.modelfile import ModelFormatError, load_model, model_to_dict
from digitnet.network import Network
from digitnet.training.paths import ROBUSTNESS_FILE, WRITERS_FILE, model_files
from digitnet.web.snapshot import SNAPSHOT_FILE, SnapshotError, make_python_snapshot

WEB = Path(__file__).resolve().parent
# The checkout's weights folder; an installed package has none beside it, so then ./weights.
PACKAGE = Path(digitnet.__file__).resolve().parent
PAGE_FILES = (
    "index.html",
    "main.js",
    "answer.js",
    "inside.js",
    "choice.js",
    "messenger.js",
    "numbers.js",
    "worker.js",
    "python.js",
    "adapt-worker.js",
    "mydigits.js",
    "train.js",
    "train-panel.js",
    "train-worker.js",
    "train.css",
    "style.css",
    "manifest.webmanifest",
    "icon.svg",
    "icon-192.png",
    "icon-512.png",
)
PYODIDE_VERSION = "0.27.7"
PYODIDE_CDN = f"https://cdn.jsdelivr.net/pyodide/v{PYODIDE_VERSION}/full/"
#: The Pyodide 0.27.7 core files the page needs, with the release's sha256.
PYODIDE_CORE = {
    "pyodide.mjs": "04c052c815abb0bf2981fa38c2dfa58e3120ee5288c956df2b2a15e301782c5f",
    "pyodide.asm.js": "6b4c90de5b7172873f04f21884d0e9d2274e305fe32116558fe3e4fbe3618d51",
    "pyodide.asm.wasm": "a50dd1843f805a0b7c45b61037ee0d7b26dfe85efe0e18ef95a34ad24e401f5f",
    "python_stdlib.zip": "16611534726e5d8ac2bd8f926410b2dcb8d6f49aa24913463533b457a2115c16",
    "pyodide-lock.json": "9c45b916001a750f4102fc287494f3eab215909c7535c626a20db80fd6333e2c",
}
#: Pillow is shipped for reading pictures; the page loads it only when a picture is opened.
PYODIDE_PACKAGES = ("numpy", "pillow")
SITE_MARKER = ".digitnet-site"
#: Figures written beside the models: not models themselves.
#: The Train panel's own files, loaded only once it is opened (``train.js``, its hook, loads with the page).
TRAIN_PANEL_FILES = ("train-panel.js", "train-worker.js", "train.css")
#: The Train panel's data (``copy_book_data``): fetched only when the panel is first used, so neither
#: precached nor counted in the first visit's budget.
BOOK_DATA = f"data/{BOOK_DATA_FILE}"
DATA_INDEX = "data/index.json"
#: The budget for everything but Pyodide (page, wheel, models); build-site reports going over it.
SITE_BUDGET_WITHOUT_PYODIDE = 1_500_000
SNAPSHOT_CHOICES = ("auto", "yes", "no")


class SiteError(DigitnetError, RuntimeError):
    """The site cannot be built (a Pyodide file missing or altered, a broken model, ...)."""


def build_site(out: Path, pyodide_from: str, weights: Path, python_snapshot: str = "auto") -> dict[str, Any]:
    """Write the whole site to ``out`` (replacing an earlier build there); return a summary.

    ``python_snapshot``: "yes" ships a snapshot of Python just started (``web/snapshot.py``; it needs
    Playwright and Chromium) or fails, "no" ships none, "auto" ships one when this machine can make it
    and says why not otherwise (the page then starts Python afresh on a first visit).
    """
    if python_snapshot not in SNAPSHOT_CHOICES:
        raise ValueError(f"python_snapshot must be one of {SNAPSHOT_CHOICES}, not {python_snapshot!r}")
    import pyodide_lock  # noqa: F401  (needed by write_lock: a plain install hears of the extra before any work)

    out = Path(out)
    if out.exists() and any(out.iterdir()) and not (out / SITE_MARKER).exists():
        raise SiteError(f"{out} is not empty and not an earlier digitnet site: refusing to overwrite it")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".site-", dir=out.parent))
    staging.chmod(0o755)
    try:
        for name in PAGE_FILES:
            shutil.copy(WEB / name, staging / name)
        models = copy_models(weights, staging / "models")
        copy_replay(weights, staging / "data")
        copy_book_data(weights, staging)
        vendor_pyodide(pyodide_from, staging / "pyodide")
        snapshot = ship_python_snapshot(staging, python_snapshot)
        write_service_worker(staging)
        (staging / SITE_MARKER).write_text("built by digitnet build-site\n")
        sizes = site_sizes(staging)
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return {"models": models, "shipped_snapshot": snapshot, **sizes}


def ship_python_snapshot(site: Path, choice: str) -> dict[str, Any]:
    """Make the snapshot as ``choice`` says: ``{"bytes": n}`` when shipped, else ``{"skipped": why}``."""
    if choice == "no":
        return {"skipped": "not asked for"}
    try:
        return {"bytes": make_python_snapshot(site)}
    except SnapshotError as e:
        if choice == "yes":
            raise SiteError(f"cannot make the Python snapshot: {e}") from None
        return {"skipped": str(e)}


# ---------------------------------------------------------------- models


def copy_models(weights: Path, models_dir: Path) -> list[dict[str, Any]]:
    """Copy every model file of ``weights`` (not histories or sweeps), validated, and index them.

    ``models/index.json`` lists them best first: by accuracy on real writers it never saw
    (``weights/writers.json``, made by ``digitnet evaluate --real-writers``) where measured, then on
    traced MNIST drawings (the robustness suite's "drawn" set, ``weights/robustness.json``), then on
    the MNIST test set. The default is the first.
    """
    models_dir.mkdir(parents=True)
    entries = []
    writers = read_figures(weights / WRITERS_FILE)
    drawn = read_figures(weights / ROBUSTNESS_FILE)
    for path in model_files(weights):
        try:
            network = load_model(path)
        except ModelFormatError as e:
            raise SiteError(f"cannot ship {path}: {e}") from None
        shipped = models_dir / (path.name + ".gz")
        shipped.write_bytes(shipped_model(network))
        meta = network.metadata
        entries.append(
            {
                "file": path.name,
                "path": shipped.name,
                "name": path.stem,
                "description": meta["description"] if isinstance(meta.get("description"), str) else "",
                "test_accuracy": usable_number(meta.get("test_accuracy")),
                "parameters": network.parameter_count(),
                "output": network.output_kind,
                "writers_accuracy": usable_number(writers.get(path.stem, {}).get("whole")),
                "drawn_accuracy": usable_number(drawn.get(path.stem, {}).get("drawn")),
            }
        )
    if not entries:
        raise SiteError(f"no model files in {weights}")
    entries.sort(key=lambda e: tuple(-(e[k] or 0) for k in ("writers_accuracy", "drawn_accuracy", "test_accuracy")))
    index = {"default": entries[0]["file"], "models": entries}
    (models_dir / "index.json").write_text(json.dumps(index, indent=1) + "\n")
    return entries


#: Metadata of a committed model its shipped copy leaves out (``shipped_model``).
UNSHIPPED_METADATA = ("settings", "dataset_sha256")


def shipped_model(network: Network) -> bytes:
    """The model file the page fetches: its large weight arrays as int8 with a scale per row, the other
    tensors float16 (``modelfile.layer_entries``), compact JSON, gzip (no timestamp, so the build is
    reproducible); the worker inflates it with the browser's DecompressionStream.

    Each shipped model must give its original's answers on ≥ 99.9 % of the MNIST test set
    (tests/test_weights.py); gzip takes back most of base64's third. Of the metadata, what says how the
    model was trained (``UNSHIPPED_METADATA``: the recipe's settings, the data files' checksums) stays in the
    committed file; what it is, its figures and the real writers' credit ship.
    """
    doc = model_to_dict(network, dtype="int8")
    doc["metadata"] = {k: v for k, v in doc["metadata"].items() if k not in UNSHIPPED_METADATA}
    text = json.dumps(doc, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def usable_number(value: Any) -> float | None:
    """``value`` when it is a finite number the page can show, else None: metadata is free-form, and a
    string or NaN accuracy must not break the build or the page."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return value


def read_figures(path: Path) -> dict[str, dict[str, Any]]:
    """The figures ``{model: {name: value}}`` of a generated file beside the models (``GENERATED_FILES``);
    what is not in that shape is ignored (the models are then ordered by the other figures)."""
    try:
        figures = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (ValueError, OSError) as e:
        raise SiteError(f"{path}: unreadable ({e}); fix or delete it") from None
    if not isinstance(figures, dict):
        return {}
    return {name: sets for name, sets in figures.items() if isinstance(sets, dict)}


def copy_replay(weights: Path, data_dir: Path) -> None:
    """Copy the MNIST replay set the page adapts models with (``digitnet replay-data`` writes it)."""
    source = weights / REPLAY_FILE
    if not source.is_file():
        raise SiteError(f"{source} is missing: run 'digitnet replay-data' to write it from the MNIST files")
    data_dir.mkdir(parents=True)
    shutil.copy(source, data_dir / REPLAY_FILE)


def copy_book_data(weights: Path, site: Path) -> None:
    """Copy the MNIST subset of the Train panel (``digitnet book-data`` writes it) and record its sha256 and
    size in ``data/index.json``, where the page reads what to expect."""
    source = weights / BOOK_DATA_FILE
    if not source.is_file():
        raise SiteError(f"{source} is missing: run 'digitnet book-data' to write it from the MNIST files")
    data = source.read_bytes()
    (site / BOOK_DATA).write_bytes(data)
    entry = {"file": BOOK_DATA_FILE, "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    (site / DATA_INDEX).write_text(json.dumps({"book": entry}, indent=1) + "\n")


# ---------------------------------------------------------------- Pyodide and the digitnet wheel


def vendor_pyodide(source: str, target: Path) -> None:
    """Copy the Pyodide core, NumPy, Pillow and a lock file listing them and the digitnet wheel into ``target``."""
    target.mkdir(parents=True)
    for name, digest in PYODIDE_CORE.items():
        if name != "pyodide-lock.json":
            (target / name).write_bytes(fetch_checked(source, name, digest))
    lock = json.loads(fetch_checked(source, "pyodide-lock.json", PYODIDE_CORE["pyodide-lock.json"]))
    packages = {}
    for name in PYODIDE_PACKAGES:
        package = lock["packages"][name]
        (target / package["file_name"]).write_bytes(fetch_checked(source, package["file_name"], package["sha256"]))
        packages[name] = package
    wheel = build_wheel(target)
    write_lock({"info": lock["info"], "packages": packages}, wheel, target / "pyodide-lock.json")


def fetch_checked(source: str, name: str, sha256: str) -> bytes:
    """File ``name`` from the folder or URL ``source``, refused unless its sha256 is ``sha256``.

    Downloads are kept in the user cache, so a second build works offline.
    """
    if "://" in source:
        cached = pyodide_cache() / name
        if cached.exists() and hashlib.sha256(cached.read_bytes()).hexdigest() == sha256:
            return cached.read_bytes()
        url = source.rstrip("/") + "/" + name
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                data = response.read()
        except (urllib.error.URLError, OSError) as e:
            raise SiteError(
                f"cannot download {url} ({e}); pass --pyodide-from a folder holding Pyodide {PYODIDE_VERSION}"
            ) from None
    else:
        path = Path(source) / name
        if not path.is_file():
            raise SiteError(f"{path} is missing: --pyodide-from must hold the Pyodide {PYODIDE_VERSION} files")
        data = path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise SiteError(f"{name} from {source} has sha256 {actual}, expected {sha256} (Pyodide {PYODIDE_VERSION})")
    if "://" in source:
        pyodide_cache().mkdir(parents=True, exist_ok=True)
        (pyodide_cache() / name).write_bytes(data)
    return data


def pyodide_cache() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "digitnet" / "pyodide" / PYODIDE_VERSION


def build_wheel(target: Path) -> Path:
    """A pure-Python wheel of the inference package ``py/digitnet`` (NumPy only), byte-reproducible."""
    version = digitnet.__version__
    dist_info = f"digitnet-{version}.dist-info"
    files = {f"digitnet/{p.name}": p.read_bytes() for p in sorted(PACKAGE.glob("*.py"))}
    files[f"{dist_info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: digitnet\nVersion: {version}\n"
        "Summary: digitnet inference: NumPy network, model files, drawing preprocessing\n"
        "Requires-Python: >=3.11\nRequires-Dist: numpy\n"
    ).encode()
    files[f"{dist_info}/WHEEL"] = b"Wheel-Version: 1.0\nGenerator: digitnet\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    record = [f"{name},sha256={urlsafe_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{dist_info}/RECORD"] = ("\n".join([*record, f"{dist_info}/RECORD,,"]) + "\n").encode()
    path = target / f"digitnet-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as wheel:
        for name, data in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            wheel.writestr(info, data)
    return path


def urlsafe_digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def write_lock(lock: dict[str, Any], wheel: Path, path: Path) -> None:
    """``lock`` plus an entry for ``wheel`` (name, version, sha256, imports, depends), via pyodide-lock."""
    from pyodide_lock import PyodideLockSpec
    from pyodide_lock.utils import add_wheels_to_spec

    spec = add_wheels_to_spec(PyodideLockSpec(**lock), [wheel], base_path=wheel.parent)
    path.write_text(json.dumps(spec.model_dump(), indent=1, sort_keys=True) + "\n")


# ---------------------------------------------------------------- service worker and sizes


def write_service_worker(site: Path) -> None:
    """``sw.js`` with the list of files to cache at install and a version that changes with any file but the
    Python snapshot.

    Every file but the models other than the default and the Train panel's data: those are fetched, and
    then kept, only when a visitor selects one or trains.
    """
    files = sorted(p.relative_to(site).as_posix() for p in site.rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for name in files:
        # the Python snapshot by its name only: each build makes a new one (Python's hash seed differs),
        # and what it depends on (Pyodide's files, python.js) is in the digest already
        data = b"" if name == f"pyodide/{SNAPSHOT_FILE}" else (site / name).read_bytes()
        digest.update(name.encode() + b"\0" + data)
    index = json.loads((site / "models" / "index.json").read_text())
    default = next(m["path"] for m in index["models"] if m["file"] == index["default"])
    on_demand = {f"models/{m['path']}" for m in index["models"]} - {f"models/{default}"} | {BOOK_DATA}
    template = (WEB / "sw.js").read_text()
    urls = ["./", *(f"./{name}" for name in files if name not in on_demand)]
    text = template.replace("__VERSION__", digest.hexdigest()[:16]).replace("__FILES__", json.dumps(urls))
    (site / "sw.js").write_text(text)


def site_sizes(site: Path) -> dict[str, int]:
    """Bytes in all, in Pyodide's own files, in the models, in everything but Pyodide and the Train panel's
    data (the first visit's budget), and in that data."""
    total = sum(p.stat().st_size for p in site.rglob("*") if p.is_file())
    pyodide = sum(p.stat().st_size for p in (site / "pyodide").rglob("*") if p.is_file())
    wheel = sum(p.stat().st_size for p in (site / "pyodide").glob("digitnet-*.whl"))
    models = sum(p.stat().st_size for p in (site / "models").glob("*.json.gz"))
    book = (site / BOOK_DATA).stat().st_size if (site / BOOK_DATA).is_file() else 0
    without = total - pyodide + wheel - book
    return {
        "total": total,
        "pyodide": pyodide - wheel,
        "models_bytes": models,
        "without_pyodide": without,
        "book_data_bytes": book,
    }
