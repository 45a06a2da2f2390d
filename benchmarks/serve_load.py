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
import itertools
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
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import numpy as np

from digitnet.web.serve import TIMEOUT

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
    "models/c2.json.gz",
    "models/cnn.json.gz",
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
    """Seconds from connect to the last byte of ``url``, and an error description or None.

    A plain HTTP/1.0 exchange on a socket: urllib's own overhead would be measured otherwise, and
    on a small machine the client's CPU is the server's CPU.
    """
    host, port, path = re.match(r"http://([^:/]+):(\d+)(/.*)", url).groups()
    started = time.perf_counter()
    try:
        with socket.create_connection((host, int(port)), timeout=10) as connection:
            connection.sendall(f"GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
            chunks = []
            while chunk := connection.recv(1 << 16):
                chunks.append(chunk)
        response = b"".join(chunks)
        status = response.split(b" ", 2)[1] if response.startswith(b"HTTP/") else b"?"
        error = None if status == b"200" else f"HTTP {status.decode(errors='replace')}"
    except Exception as e:  # every failure is counted, whatever its kind
        error = f"{type(e).__name__}: {e}"
    return time.perf_counter() - started, error


def listen_overflows() -> int:
    """The kernel's count of connections dropped because a listen queue was full (all sockets)."""
    lines = Path("/proc/net/netstat").read_text().splitlines()
    names, values = next((a.split(), b.split()) for a, b in itertools.pairwise(lines) if a.startswith("TcpExt:"))
    return int(values[names.index("ListenOverflows")])


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


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_memory_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    return round(int(re.search(r"VmHWM:\s+(\d+)", status).group(1)) / 1024, 1)


def one_round(args: argparse.Namespace) -> dict:
    """A fresh ``digitnet serve``, ``args.idle`` idle connections, ``args.requests`` requests: the figures."""
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_serve(Path(tmp) / "site")
        try:
            port = int(url.rsplit(":", 1)[1].strip("/"))
            overflows, cpu = listen_overflows(), cpu_seconds(server.pid)
            idle = hold_idle(port, args.idle)
            idle_since = time.monotonic()
            urls = [url + PATHS[i % len(PATHS)] for i in range(args.requests)]
            stop = threading.Event()
            timer = threading.Timer(args.deadline, stop.set)
            timer.start()
            started = time.perf_counter()
            with ThreadPoolExecutor(args.parallel) as pool:
                futures = [pool.submit(lambda u: None if stop.is_set() else fetch(u), u) for u in urls]
                wait(futures)
            seconds = time.perf_counter() - started
            timer.cancel()
            overflows, cpu = listen_overflows() - overflows, cpu_seconds(server.pid) - cpu
            results = [f.result() for f in futures if f.result() is not None]
            idle_open = args.idle - closed_by_server(idle)
            # then past the server's timeout: every idle connection must have been let go
            time.sleep(max(0.0, idle_since + TIMEOUT + 2 - time.monotonic()))
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
    return {
        "requests": len(results),
        "errors": len(errors),
        "error_kinds": sorted(set(errors))[:10],
        "seconds": round(seconds, 2),
        "requests_per_second": round(len(results) / seconds, 1),
        "latency_ms": {
            q: round(float(np.percentile(latencies, p)), 1)
            for q, p in (("p50", 50), ("p90", 90), ("p99", 99), ("max", 100))
        },
        "listen_queue_overflows": overflows,
        "server_cpu_ms_per_request": round(1000 * cpu / max(1, len(results)), 3),
        "idle_still_open_after_the_load": idle_open,
        "idle_closed_after_the_timeout": idle_closed,
        "server_peak_memory_mb": memory,
        "load_average_before": round(load_before, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--parallel", type=int, default=50)
    parser.add_argument("--idle", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="repeat with a fresh server (the machine is shared)")
    parser.add_argument("--deadline", type=float, default=300.0, help="stop sending after this many seconds")
    args = parser.parse_args()
    rounds = [one_round(args) for _ in range(args.rounds)]
    p99 = float(np.median([r["latency_ms"]["p99"] for r in rounds]))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    figures = {"machine": machine, "parallel": args.parallel, "idle": args.idle, "median_p99_ms": p99, "rounds": rounds}
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "serve_load.json").write_text(json.dumps(figures, indent=1) + "\n")
    errors = sum(r["errors"] for r in rounds)
    lines = [
        "# Load test of `digitnet serve`",
        "",
        f"{machine}; client and server on the same machine (127.0.0.1), which other work shares (its load "
        "average before each round is given). Generated by `python benchmarks/serve_load.py`.",
        "",
        f"Each round: a fresh `digitnet serve`; {args.idle} idle connections opened (half a request line, then "
        f"silence) and held; then {args.requests:,} GET requests, {args.parallel} at a time, each on a new "
        f"connection, for {len(PATHS)} files of the site in turn (page, scripts, model index, the c2 and cnn "
        "models), timed from connect to the last byte; an error is an exception or a status other than 200.",
        "",
        "| round | load avg | requests | errors | p50 | p90 | p99 | max | req/s | listen overflows (machine-wide) "
        "| idle open after the load | idle closed after 12 s | server CPU per request | server peak memory |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rounds, 1):
        ms = r["latency_ms"]
        lines.append(
            f"| {i} | {r['load_average_before']} | {r['requests']:,} | {r['errors']} | {ms['p50']} ms | {ms['p90']} ms "
            f"| {ms['p99']} ms | {ms['max']} ms | {r['requests_per_second']} | {r['listen_queue_overflows']} "
            f"| {r['idle_still_open_after_the_load']} / {args.idle} "
            f"| {r['idle_closed_after_the_timeout']} / {args.idle} "
            f"| {r['server_cpu_ms_per_request']} ms | {r['server_peak_memory_mb']} MB |"
        )
    lines += [
        "",
        f"Errors in all rounds: {errors} (goal 0). Median p99: {p99:.1f} ms (goal ≤ {GOAL_P99_MS:.0f} ms: "
        f"{verdict(p99)}). Idle connections are closed by the server's {TIMEOUT:g} s timeout.",
    ]
    kinds = sorted({kind for r in rounds for kind in r["error_kinds"]})
    if kinds:
        lines += ["", "Errors seen: " + "; ".join(kinds)]
    (RESULTS / "serve_load.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
