"""'Not a digit': the default model's digit gate on drawings that are no digit and on real digits.

- No digits: generated drawings (``training.nondigits``) of a seed and of letter fonts the gate was neither
  trained nor given its threshold on (``HELD_OUT_FONTS``), read as the page reads a drawing, in one-digit mode
  and in number mode. Counted as answered rightly: "not a digit", "not sure" (probability under 50 %) or no
  digit at all (a mark too small).
- Real digits: every real writer's drawings, each writer read by the fold model that never saw them, with that
  model's own gate (``weights/folds``); the MNIST test digits, as images and traced into pen strokes (the
  robustness suite's "drawn" copies), read by the shipped model; and numbers of 2–8 traced MNIST test digits
  (``number_sets.drawn_numbers``) in number mode. Counted as wrongly answered: "not a digit",
  and also (reported beside it) "not a digit" or "not sure".

The readings are batched; ``tests/test_digit_gate.py`` checks they are the page's (``recognise_strokes``).

Usage: ``python benchmarks/not_a_digit.py [--model cnn-pen] [--n 5000]``; figures go to
``benchmarks/results/not_a_digit.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from adapt_writers import models_for  # noqa: E402
from record import record  # noqa: E402

from digitnet import load_model  # noqa: E402
from digitnet.network import Network, probabilities  # noqa: E402
from digitnet.numbers import recognise_number  # noqa: E402
from digitnet.recognise import LOW_CONFIDENCE  # noqa: E402
from digitnet.strokesfile import Sample  # noqa: E402
from digitnet.training import writers as w  # noqa: E402
from digitnet.training.digit_gate import SEED, rendered  # noqa: E402
from digitnet.training.mnist import load_mnist  # noqa: E402
from digitnet.training.nondigits import CANVAS, HELD_OUT_FONTS, KINDS, non_digits  # noqa: E402
from digitnet.training.number_sets import drawn_numbers  # noqa: E402
from digitnet.training.robustness import drawn_copies  # noqa: E402

TEST_SEED = SEED + 2  # training used SEED, the validation figures SEED + 1
GOALS = {"non_digits_caught": 90.0, "digits_called_no_digit": 0.5}
NUMBERS = 100  # numbers of each length 2–8


def readings(network: Network, images: np.ndarray, drawings: list | None = None) -> dict[str, np.ndarray]:
    """The page's answers for ``images (n, 784)`` (with their strokes ``drawings`` when drawn: the pen path reader
    fuses): ``not_digit`` and ``not_sure`` per image."""
    parts = [network.features_and_outputs(images[s : s + 500]) for s in range(0, len(images), 500)]
    hidden = np.concatenate([h for h, _ in parts]) if parts else np.zeros((0, 1))
    p = probabilities(np.concatenate([o for _, o in parts]), network.output_kind) if parts else np.zeros((0, 10))
    gate = network.digit_gate
    if gate is None:
        raise SystemExit(f"{network.metadata.get('recipe', 'the model')} has no digit gate: digitnet fit-digit-gate")
    not_digit = gate.digit_like(hidden, p) < gate.threshold
    if drawings is not None and network.pen_path is not None:
        p = network.pen_path.fused(p, drawings)
    return {"not_digit": not_digit, "not_sure": p.max(axis=1) < LOW_CONFIDENCE}


def percent(mask: np.ndarray) -> float:
    return round(100 * float(np.mean(mask)), 2) if len(mask) else 0.0


def non_digit_figures(network: Network, n: int) -> dict:
    drawings, kinds = non_digits(n, TEST_SEED, HELD_OUT_FONTS)
    images, usable = rendered(drawings)
    kinds = np.array(kinds)
    read = readings(network, images[usable], [d for d, u in zip(drawings, usable, strict=True) if u])
    caught = np.ones(len(drawings), dtype=bool)  # a mark the page refuses is answered "no digit"
    flagged = np.zeros(len(drawings), dtype=bool)
    caught[usable] = read["not_digit"] | read["not_sure"]
    flagged[usable] = read["not_digit"]
    in_numbers = np.array([number_caught(network, d) for d in drawings])
    return {
        "drawings": len(drawings),
        "refused_as_too_small": int(np.sum(~usable)),
        "caught": percent(caught),
        "not_digit": percent(flagged),
        "caught_in_number_mode": percent(in_numbers),
        "by_kind": {
            k: {"caught": percent(caught[kinds == k]), "caught_in_number_mode": percent(in_numbers[kinds == k])}
            for k in KINDS
        },
    }


def number_caught(network: Network, drawing: list[np.ndarray]) -> bool:
    """Whether number mode answers the drawing with no number, "not a digit" or a digit it is not sure of."""
    reading = recognise_number(network, drawing, CANVAS)
    return not reading.digits or reading.not_digit or any(d.recognition.low_confidence for d in reading.digits)


def writer_figures(name: str, writers: w.Writers) -> dict:
    models = models_for(name, writers)
    folded = {id(m): m.folded() for m in models.values()}
    per = {}
    for writer in writers.ids():
        samples: list[Sample] = writers.samples[writer]
        images, usable = w.render(samples)
        read = readings(
            folded[id(models[writer])], images[usable], [s.arrays() for s, u in zip(samples, usable, strict=True) if u]
        )
        per[writer] = {
            "drawings": int(usable.sum()),
            "not_digit": int(read["not_digit"].sum()),
            "not_digit_or_not_sure": int(np.sum(read["not_digit"] | read["not_sure"])),
        }
    total = sum(r["drawings"] for r in per.values())
    rates = {x: 100 * r["not_digit"] / r["drawings"] for x, r in per.items()}
    return {
        "drawings": total,
        "not_digit": round(100 * sum(r["not_digit"] for r in per.values()) / total, 2),
        "not_digit_or_not_sure": round(100 * sum(r["not_digit_or_not_sure"] for r in per.values()) / total, 2),
        "median_writer": round(statistics.median(rates.values()), 2),
        "worst_writer": [max(rates, key=rates.get), round(max(rates.values()), 2)],
        "per_writer": per,
    }


def mnist_figures(network: Network) -> dict:
    test = load_mnist().test
    images = readings(network, test.images.astype(np.float64))
    drawn = readings(network, drawn_copies(test.images).astype(np.float64))
    numbers = drawn_numbers(test, NUMBERS)
    flagged = [recognise_number(network, n.strokes, n.canvas_size).not_digit for n in numbers]
    return {
        "numbers": len(numbers),
        "numbers_not_digit": percent(np.array(flagged)),
        "images": len(test.images),
        "not_digit": percent(images["not_digit"]),
        "not_digit_or_not_sure": percent(images["not_digit"] | images["not_sure"]),
        "drawn_not_digit": percent(drawn["not_digit"]),
        "drawn_not_digit_or_not_sure": percent(drawn["not_digit"] | drawn["not_sure"]),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="cnn-pen", help="a committed model's name")
    parser.add_argument("--n", type=int, default=5000, help="generated drawings of no digit")
    args = parser.parse_args()
    started = time.perf_counter()
    network = load_model(ROOT / "weights" / f"{args.model}.json").folded()
    writers = w.load_writers()
    result = {
        "model": args.model,
        "gate": network.metadata.get("digit_gate", {}),
        "non_digits": non_digit_figures(network, args.n),
        "writers": writer_figures(args.model, writers),
        "mnist_test": mnist_figures(network),
        "goals": GOALS,
    }
    result["seconds"] = round(time.perf_counter() - started, 1)
    record("not_a_digit", result, markdown(result))
    return 0


def markdown(r: dict) -> str:
    nd, wr, mn, goals = r["non_digits"], r["writers"], r["mnist_test"], r["goals"]
    met = lambda ok: "yes" if ok else "**no**"  # noqa: E731
    caught_ok = nd["caught"] >= goals["non_digits_caught"]
    wrong = max(wr["not_digit"], mn["not_digit"], mn["drawn_not_digit"])
    lines = [
        "# Not a digit",
        "",
        f"`python benchmarks/not_a_digit.py`: `{r['model']}`'s digit gate (threshold {r['gate'].get('threshold')}, "
        "chosen on MNIST validation). No digits: drawings generated from a seed and letter fonts the gate never "
        "met, read as the page reads a drawing. Real digits: each real writer read by the fold model that never "
        "saw them, with its own gate; MNIST test read by the shipped model.",
        "",
        "| measure | value | goal | met |",
        "|---|---|---|---|",
        f'| drawings of no digit answered "not a digit", "not sure" or no digit (one-digit mode) '
        f"| {nd['caught']:.2f} % of {nd['drawings']:,} | ≥ {goals['non_digits_caught']:g} % | {met(caught_ok)} |",
        f'| the same in number mode (no number, "not a digit" or a digit not sure of) '
        f"| {nd['caught_in_number_mode']:.2f} % | | |",
        f'| of them "not a digit" itself (one-digit mode) | {nd["not_digit"]:.2f} % | | |',
        f'| real writers\' digits called "not a digit" ({wr["drawings"]:,}) | {wr["not_digit"]:.2f} % (median writer '
        f"{wr['median_writer']:.2f} %, worst {wr['worst_writer'][0]} {wr['worst_writer'][1]:.2f} %) "
        f"| ≤ {goals['digits_called_no_digit']:g} % | {met(wr['not_digit'] <= goals['digits_called_no_digit'])} |",
        f'| MNIST test digits called "not a digit" (images; traced into strokes) | {mn["not_digit"]:.2f} %; '
        f"{mn['drawn_not_digit']:.2f} % | ≤ {goals['digits_called_no_digit']:g} % "
        f"| {met(max(mn['not_digit'], mn['drawn_not_digit']) <= goals['digits_called_no_digit'])} |",
        f'| numbers of 2–8 traced MNIST test digits with a digit called "not a digit" (number mode; '
        f"{mn['numbers']:,}) | {mn['numbers_not_digit']:.2f} % | | |",
        f'| real writers\' digits called "not a digit" or "not sure" | {wr["not_digit_or_not_sure"]:.2f} % | | |',
        f'| MNIST test digits called "not a digit" or "not sure" (images; traced) '
        f"| {mn['not_digit_or_not_sure']:.2f} %; {mn['drawn_not_digit_or_not_sure']:.2f} % | | |",
        "",
        'By kind of drawing (answered "not a digit", "not sure" or no digit; one-digit mode, number mode):',
        "",
        "| kind | one digit | number |",
        "|---|---|---|",
        *(f"| {k} | {v['caught']:.1f} % | {v['caught_in_number_mode']:.1f} % |" for k, v in nd["by_kind"].items()),
        "",
        f"{nd['refused_as_too_small']} of the drawings of no digit were refused as too small. Digits wrongly called "
        f"no digit, at most: {wrong:.2f} %. {r['seconds']:.0f} s in all.",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
