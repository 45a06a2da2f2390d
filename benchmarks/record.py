"""Where every benchmark leaves its figures: ``benchmarks/results/NAME.json`` and ``NAME.md``."""

from __future__ import annotations

import json
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def record(name: str, report: dict, text: str) -> None:
    """Write ``report`` as JSON and ``text`` (its Markdown table) beside it, and print the text."""
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(report, indent=1) + "\n")
    (RESULTS / f"{name}.md").write_text(text)
    print(text)
