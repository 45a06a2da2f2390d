"""A long fuzz campaign of the model-file reader: mutated model files, each checked against the contract.

Case ``k`` is ``tests.mutations.mutated_cases(k)``: a committed model (or c1/c2 in Nielsen's or the
Rust-NN format) with one to three random mutations, replayable from ``k`` alone. Each case runs in a
worker process under a memory limit (``--memory-limit``, so a runaway allocation is a ``MemoryError``
rather than a dead machine) and a time limit (``--timeout``: longer is a hang; the worker is then
replaced). Outcomes: answered (a distribution for every input), refused (one ``ModelFormatError`` /
``ValueError`` sentence naming the file), nonsense (loaded, then NaN or not a distribution),
traceback (any other exception), hang, crash (the worker died). Goal: no traceback, hang, crash or
nonsense.

Usage: ``python benchmarks/fuzz_models.py [--cases 100000] [--first 0]``; the report goes to
``docs/reliability.md`` (``--report`` elsewhere). One CPU; 100,000 cases take about 20 minutes.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import json
import os
import platform
import resource
import select
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAILURES = ("traceback", "hang", "crash", "nonsense")


def worker(memory_limit_mb: int) -> None:
    """Read case numbers from stdin, write one JSON result line per case to stdout."""
    sys.path.insert(0, str(ROOT))
    import warnings

    from tests.mutations import mutated_cases, outcome

    warnings.simplefilter("ignore")  # NumPy's overflow warnings are expected in this kind of input
    limit = memory_limit_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    for line in sys.stdin:
        case = int(line)
        label, text, what = mutated_cases(case)
        started = time.perf_counter()
        try:
            result, error = outcome(text, name=f"case {case}"), ""
        except BaseException as e:  # the point is to see every kind of failure
            result, error = "traceback", f"{type(e).__name__}: {str(e)[:160]}"
        seconds = time.perf_counter() - started
        if result.startswith("nonsense"):
            result, error = "nonsense", result.removeprefix("nonsense: ")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        report = {
            "case": case,
            "seed_file": label,
            "mutations": what,
            "outcome": result,
            "error": error,
            "seconds": round(seconds, 4),
            "rss_mb": round(rss, 1),
        }
        print(json.dumps(report), flush=True)


class Worker:
    """A worker process, fed one case at a time."""

    def __init__(self, memory_limit_mb: int) -> None:
        command = [sys.executable, __file__, "--worker", "--memory-limit", str(memory_limit_mb)]
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)

    def run(self, case: int, timeout: float) -> dict | None:
        """The case's report, or None when it took longer than ``timeout`` (then the worker is killed)."""
        self.process.stdin.write(f"{case}\n")
        self.process.stdin.flush()
        ready, _, _ = select.select([self.process.stdout], [], [], timeout)
        if not ready:
            self.stop()
            return None
        line = self.process.stdout.readline()
        return json.loads(line) if line else {"outcome": "crash", "error": f"worker exit code {self.process.wait()}"}

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()


def campaign(first: int, cases: int, timeout: float, memory_limit_mb: int) -> dict:
    counts: collections.Counter = collections.Counter()
    failures: dict[tuple[str, str], list[dict]] = collections.defaultdict(list)
    peak_rss, slowest, started = 0.0, (0.0, -1), time.perf_counter()
    worker_ = Worker(memory_limit_mb)
    try:
        for case in range(first, first + cases):
            report = worker_.run(case, timeout)
            if report is None:
                report = {"outcome": "hang", "error": f"no answer within {timeout:g} s"}
                worker_ = Worker(memory_limit_mb)
            elif report["outcome"] == "crash":
                worker_ = Worker(memory_limit_mb)
            report.setdefault("case", case)
            counts[report["outcome"]] += 1
            peak_rss = max(peak_rss, report.get("rss_mb", 0.0))
            slowest = max(slowest, (report.get("seconds", timeout), case))
            if report["outcome"] in FAILURES:
                kind = report["error"].split(":")[0] if report["outcome"] == "traceback" else report["error"][:60]
                failures[(report["outcome"], kind)].append(report)
            if (case - first + 1) % 5000 == 0:
                print(f"{case - first + 1:,} cases: {dict(counts)}", flush=True)
    finally:
        worker_.stop()
    return {
        "first": first,
        "cases": cases,
        "counts": dict(counts),
        "failures": failures,
        "peak_rss_mb": peak_rss,
        "slowest": slowest,
        "seconds": time.perf_counter() - started,
    }


def write_report(result: dict, path: Path, timeout: float, memory_limit_mb: int) -> None:
    counts = result["counts"]
    failed = sum(counts.get(kind, 0) for kind in FAILURES)
    lines = [
        "# Reliability of the model-file reader",
        "",
        f"Fuzz campaign of {datetime.date.today():%Y-%m-%d}: {result['cases']:,} mutated model files (cases "
        f"{result['first']:,}–{result['first'] + result['cases'] - 1:,}), `python benchmarks/fuzz_models.py "
        f"--cases {result['cases']} --first {result['first']}`, {platform.machine()}, Python "
        f"{platform.python_version()}; each case in a worker limited to {memory_limit_mb:,} MB of address space "
        f"and {timeout:g} s. {result['seconds'] / 60:.1f} minutes in all.",
        "",
        "| outcome | cases |",
        "|---|---|",
        *(f"| {kind} | {counts.get(kind, 0):,} |" for kind in ("answered", "refused", *FAILURES)),
        "",
        f"Failures: {failed:,} (goal 0). Tracebacks: {counts.get('traceback', 0):,} (goal 0). "
        f"Hangs: {counts.get('hang', 0):,} (goal 0). Peak memory of a worker (max RSS): "
        f"{result['peak_rss_mb']:.0f} MB. Slowest case: {result['slowest'][0]:.2f} s (case {result['slowest'][1]}).",
    ]
    if result["failures"]:
        lines += ["", "| outcome | kind | cases | examples (case: seed file; mutations) |", "|---|---|---|---|"]
        for (outcome, kind), reports in sorted(result["failures"].items(), key=lambda item: -len(item[1])):
            examples = "<br>".join(
                f"{r['case']}: {r.get('seed_file', '?')}; {r.get('mutations', '?')[:80]}" for r in reports[:3]
            ).replace("|", "\\|")
            lines.append(f"| {outcome} | {kind.replace('|', '/')} | {len(reports):,} | {examples} |")
        lines += ["", "Replay a case with `tests.mutations.mutated_cases(case)`."]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--first", type=int, default=0, help="number of the first case")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds after which a case is a hang")
    parser.add_argument("--memory-limit", type=int, default=4096, help="address-space limit of a worker, in MB")
    parser.add_argument("--report", type=Path, default=ROOT / "docs" / "reliability.md")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.memory_limit)
        return
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one CPU: the campaign runs beside other work
    result = campaign(args.first, args.cases, args.timeout, args.memory_limit)
    write_report(result, args.report, args.timeout, args.memory_limit)
    print(args.report.read_text())


if __name__ == "__main__":
    main()
