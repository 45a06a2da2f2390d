"""The commands that make the page: ``build-site`` and ``serve`` (the command line's only use of ``digitnet.web``)."""

from __future__ import annotations

import argparse
import os
import threading
from pathlib import Path

from digitnet.training.arguments import integer_in
from digitnet.training.paths import WEIGHTS
from digitnet.web.serve import start_server, url_of
from digitnet.web.site import PYODIDE_CDN, SITE_BUDGET_WITHOUT_PYODIDE, SNAPSHOT_CHOICES, build_site


def add_site_commands(commands: argparse._SubParsersAction) -> None:
    site = commands.add_parser("build-site", help="write the static web site (page, models, Pyodide) to a folder")
    site.add_argument("out", type=Path)
    add_site_options(site)
    site.set_defaults(run=run_build_site)

    serve = commands.add_parser("serve", help="build the site and serve it on 127.0.0.1")
    serve.add_argument("--out", type=Path, default=Path("site"), help="where to build the site (default: site)")
    serve.add_argument(
        "--port", type=integer_in(0, 65535), default=8000, help="port on 127.0.0.1 (default: 8000; 0: any free)"
    )
    serve.add_argument("--verbose", action="store_true", help="log every request")
    add_site_options(serve)
    serve.set_defaults(run=run_serve)


def add_site_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--pyodide-from",
        default=os.environ.get("DIGITNET_PYODIDE", PYODIDE_CDN),
        help="folder or URL holding the Pyodide 0.27.7 files (default: $DIGITNET_PYODIDE, else the Pyodide CDN)",
    )
    parser.add_argument("--weights", type=Path, default=WEIGHTS, help="folder of model files to ship")
    parser.add_argument(
        "--python-snapshot",
        choices=SNAPSHOT_CHOICES,
        default="auto",
        help="ship a snapshot of Python just started, made in headless Chromium, so that a first visit starts "
        "≈1 s sooner (auto: when Playwright and Chromium are here; default)",
    )


def run_build_site(args: argparse.Namespace) -> int:
    summary = build_site(args.out, args.pyodide_from, args.weights, args.python_snapshot)
    print(
        f"built {args.out}: {len(summary['models'])} models, default {summary['models'][0]['file']}; "
        f"{summary['without_pyodide'] / 1e6:.2f} MB without Pyodide (models {summary['models_bytes'] / 1e6:.2f} MB), "
        f"{summary['total'] / 1e6:.1f} MB in all"
    )
    print(f"Train panel's MNIST subset, fetched on first use: {summary['book_data_bytes'] / 1e6:.2f} MB")
    snapshot = summary["shipped_snapshot"]
    if "bytes" in snapshot:
        print(f"Python snapshot for a first visit: {snapshot['bytes'] / 1e6:.1f} MB (gzip)")
    else:
        print(f"no Python snapshot ({snapshot['skipped']}): a first visit starts Python afresh")
    if summary["without_pyodide"] > SITE_BUDGET_WITHOUT_PYODIDE:
        print(f"note: over the {SITE_BUDGET_WITHOUT_PYODIDE / 1e6:.1f} MB budget for the site without Pyodide")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    try:  # the port first: a port in use is known before a build is spent
        server = start_server(args.out, args.port, args.verbose)
    except OSError as e:
        raise OSError(
            f"cannot serve on 127.0.0.1 port {args.port}: {e.strerror or e} (choose another: --port N, 0 for any)"
        ) from None
    try:
        run_build_site(args)
    except BaseException:
        server.shutdown()
        server.server_close()
        raise
    print(f"serving {args.out} at {url_of(server)}  (Ctrl-C stops)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.shutdown()
    return 0
