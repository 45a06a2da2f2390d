"""Load test of ``digitnet serve`` on 127.0.0.1: many parallel requests while idle connections are held.

The real command is started in a fresh process (it builds the site, then serves it). First
``--idle`` connections are opened and left silent (half-open requests, as a slow or hostile
client leaves them); then ``--requests`` GET requests for the page's files and models are sent
``--parallel`` at a time, each on its own connection, and timed from connect to the last byte.
An error is any exception or a status other than 200. Everything is bounded: each request times
out after 10 s, the whole run stops after ``--deadline`` seconds, and the server is stopped at
the end. Goal: 0 errors, p99 ≤ 100 ms.

Usage: ``DIGITNET_PYODIDE=... python benchmarks/serve_load.py``; figures go to
``benchmarks/results/serve_load.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
#: What a visit fetches, the page's files and models; Pyodide's own large files are left out so the
#: test measures the server, not the copying of 10 MB.
PATHS = (
    "",
    "main.js",
    "choice.js",
    "worker.js",
    "style.css",
    "models/index.json",
    "models/c2.json",
    "models/cnn.json",
    "icon.svg",
    "manifest.webmanifest",
    "pyodide/pyodide-lock.json",
)
GOAL_P99_MS = 100.0


def start_serve(out: Path) -> tuple[subprocess.Popen, str]:
    """``digitnet serve --port 0`` in a fresh process; it and the URL it announces."""
    command = [sys.executable, "-m", "digitnet.training.cli", "serve", "--out", str(out), "--port", "0"]
    server = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    for line in server.stdout:
        if match := re.search(r"at (http://127\.0\.0\.1:\d+/)", line):
            return server, match.group(1)
        if time.monotonic() > deadline:
            break
    server.kill()
    raise SystemExit("digitnet serve did not announce its URL")


def fetch(url: str) -> tuple[float, str | None]:
    """Seconds from connect to the last byte of ``url``, and an error description or None."""
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            response.read()
            error = None if response.status == 200 else f"HTTP {response.status}"
    except Exception as e:  # every failure is counted, whatever its kind
        error = f"{type(e).__name__}: {e}"
    return time.perf_counter() - started, error


def hold_idle(port: int, n: int) -> list[socket.socket]:
    """``n`` connections that send half a request line and then nothing."""
    sockets = []
    for _ in range(n):
        client = socket.create_connection(("127.0.0.1", port), timeout=10)
        client.sendall(b"GET / HTTP/1.1\r\n")
        sockets.append(client)
    return sockets


def closed_by_server(sockets: list[socket.socket]) -> int:
    """How many of the idle connections the server has hung up on."""
    closed = 0
    for client in sockets:
        client.setblocking(False)
        try:
            closed += client.recv(1) == b""
        except BlockingIOError:
            pass
        except OSError:
            closed += 1
    return closed


def verdict(p99: float) -> str:
    return "met" if p99 <= GOAL_P99_MS else f"missed by {p99 - GOAL_P99_MS:.1f} ms"


def peak_memory_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--parallel", type=int, default=50)
    parser.add_argument("--idle", type=int, default=300)
    parser.add_argument("--deadline", type=float, default=300.0, help="stop sending after this many seconds")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_serve(Path(tmp) / "site")
        try:
            port = int(url.rsplit(":", 1)[1].strip("/"))
            idle = hold_idle(port, args.idle)
            urls = [url + PATHS[i % len(PATHS)] for i in range(args.requests)]
            stop = threading.Event()
            threading.Timer(args.deadline, stop.set).start()
            started = time.perf_counter()
            with ThreadPoolExecutor(args.parallel) as pool:
                futures = [pool.submit(lambda u: None if stop.is_set() else fetch(u), u) for u in urls]
                wait(futures)
            seconds = time.perf_counter() - started
            stop.set()
            results = [f.result() for f in futures if f.result() is not None]
            idle_closed = closed_by_server(idle)
            for client in idle:
                client.close()
            memory = peak_memory_mb(server.pid)
        finally:
            server.send_signal(signal.SIGINT)  # the command's own Ctrl-C path
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()
    latencies = np.array([r[0] for r in results]) * 1000
    errors = [r[1] for r in results if r[1]]
    figures = {
        "requests_sent": len(results),
        "requests_planned": args.requests,
        "parallel": args.parallel,
        "idle_connections": args.idle,
        "idle_closed_by_server_at_end": idle_closed,
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:10],
        "seconds": round(seconds, 2),
        "requests_per_second": round(len(results) / seconds, 1),
        "latency_ms": {
            q: round(float(np.percentile(latencies, p)), 1)
            for q, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
        },
        "server_peak_memory_mb": memory,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_load.json").write_text(json.dumps(figures, indent=1) + "\n")
    p99 = figures["latency_ms"]["p99"]
    lines = [
        "# Load test of `digitnet serve`",
        "",
        f"{figures['machine']}; client and server on the same machine (127.0.0.1). Generated by "
        "`python benchmarks/serve_load.py`.",
        "",
        f"{figures['requests_sent']:,} GET requests (of {args.requests:,} planned), {args.parallel} at a time, each on "
        f"a new connection, for {len(PATHS)} files of the site in turn (page, scripts, model index, the c2 and cnn "
        f"models), while {args.idle} idle connections (half a request line, then silence) were held open.",
        "",
        "| figure | value |",
        "|---|---|",
        f"| errors (exceptions or a status other than 200) | {figures['errors']} |",
        f"| latency p50 / p90 / p99 / max | {' / '.join(f'{v} ms' for v in figures['latency_ms'].values())} |",
        f"| p99 goal ≤ {GOAL_P99_MS:.0f} ms | {verdict(p99)} |",
        f"| throughput | {figures['requests_per_second']} requests/s over {figures['seconds']} s |",
        f"| idle connections the server had closed by the end (10 s timeout) | {idle_closed} of {args.idle} |",
        f"| server peak memory (VmHWM) | {memory} MB |",
    ]
    if errors:
        lines += ["", "Errors seen: " + "; ".join(figures["error_kinds"])]
    (RESULTS / "serve_load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
