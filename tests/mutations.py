"""Model files as a careless or hostile hand leaves them: the committed models (and the same networks
in Nielsen's and the Rust-NN formats) mutated at random, for property tests and long fuzz campaigns.

``mutate(text, seed)`` is deterministic in ``seed``, so any failing case can be replayed; ``outcome``
applies the contract to one file: a model that answers with probabilities, or one ``ModelFormatError``
/ ``ValueError`` sentence; anything else is a failure.
"""

from __future__ import annotations

import json
import math
import random
import re
from functools import cache
from pathlib import Path

import numpy as np

from digitnet.digitcheck import check_features
from digitnet.modelfile import ModelFormatError, load_model, parse_model
from digitnet.network import confidence, probabilities
from digitnet.training.paths import model_files

ROOT = Path(__file__).resolve().parent.parent
#: Replacement values: wrong types, extremes, the empty, the huge (as JSON text, so huge integers,
#: NaN and deep nesting survive serialisation).
ODD_VALUES = (
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1.0",
    "0.5",
    "1e-300",
    "1e308",
    "-1e308",
    "NaN",
    "Infinity",
    "-Infinity",
    "10" + "0" * 400,
    "-" + "9" * 50,
    '""',
    '"x"',
    '"\\u001b[2J"',
    "[]",
    "{}",
    "[[]]",
    "[1, 2, 3]",
    '{"type": "dense"}',
    '"AAAA"',
    '"AAAA====junk"',
    "[" * 5000 + "]" * 5000,
    '{"a": ' * 3000 + "0" + "}" * 3000,
    "20000",
    "2147483648",
    "-20000",
    "[" + ", ".join(["1e308"] * 300) + "]",
)
NAMES = (
    "type",
    "in",
    "out",
    "weight",
    "bias",
    "shape",
    "dtype",
    "data",
    "stride",
    "padding",
    "size",
    "filters",
    "channels",
    "epsilon",
    "mean",
    "variance",
    "rate",
    "cost",
    "version",
    "format",
    "sizes",
)


@cache
def seed_texts() -> tuple[tuple[str, str], ...]:
    """``(label, text)`` of every committed model, and c1 and c2 in Nielsen's and the Rust-NN formats."""
    texts = [(path.name, path.read_text()) for path in model_files(ROOT / "weights")]
    for name, cost in (("c1", "QuadraticCost"), ("c2", "CrossEntropyCost")):
        dense = [layer for layer in load_model(ROOT / "weights" / f"{name}.json").layers if layer.kind == "dense"]
        nielsen = {
            "sizes": [dense[0].weight.shape[1], *(layer.weight.shape[0] for layer in dense)],
            "weights": [layer.weight.tolist() for layer in dense],
            "biases": [layer.bias.reshape(-1, 1).tolist() for layer in dense],
            "cost": cost,
        }
        rust = {
            "weights": [layer.weight.T.tolist() for layer in dense],
            "biases": [layer.bias.tolist() for layer in dense],
            "acc": 0.95,
        }
        texts += [(f"{name} (network2.py)", json.dumps(nielsen)), (f"{name} (Rust-NN)", json.dumps(rust))]
    return tuple(texts)


def mutate(text: str, seed: int) -> tuple[str, str]:
    """One to three random mutations of the JSON ``text``: ``(mutated text, what was done)``."""
    rng = random.Random(seed)
    original, done = text, []
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        mutation = rng.choice(
            (set_setting, set_setting, retype_layer, zero_tensor)
            if rng.random() < 0.4
            else (
                replace_value,
                replace_value,
                replace_value,
                drop_key,
                add_key,
                scale_number,
                tweak_text,
                truncate,
                flip_byte,
            )
        )
        text, what = mutation(text, rng)
        done.append(what)
    if text == original:  # every mutation missed (no such key, the same value): a case must differ
        at = rng.randrange(len(original))
        text = original[:at]
        done.append(f"truncated at {at}")
    return text, "; ".join(done)


#: Layer settings and the values that probe their bounds (padding ≥ size, 0 strides, tiny epsilon, ...).
SETTINGS = ("padding", "stride", "size", "epsilon", "rate", "filters", "channels", "in", "out")
SETTING_VALUES = ("0", "-1", "1", "2", "5", "27", "28", "29", "20000", "1e-300", "0.0", "1.5", "1e400", "true", "NaN")
LAYER_TYPES = ("dense", "sigmoid", "relu", "softmax", "reshape", "conv2d", "maxpool", "dropout", "batchnorm", "x")


def set_setting(text: str, rng: random.Random) -> tuple[str, str]:
    """One layer setting (padding, stride, epsilon, ...) set to a value at or beyond its bounds."""
    key = rng.choice(SETTINGS)
    matches = list(re.finditer(rf'"{key}"\s*:\s*(-?[\d.eE+-]+)', text[:200_000]))
    if not matches:
        return replace_value(text, rng)
    m, new = rng.choice(matches), rng.choice(SETTING_VALUES)
    return text[: m.start(1)] + new + text[m.end(1) :], f"{key} {m.group(1)} → {new}"


def retype_layer(text: str, rng: random.Random) -> tuple[str, str]:
    """A layer's type changed, the last one half the time (the output must stay a distribution)."""
    matches = list(re.finditer(r'"type"\s*:\s*"([^"]*)"', text))
    if not matches:
        return replace_value(text, rng)
    m = matches[-1] if rng.random() < 0.5 else rng.choice(matches)
    new = rng.choice(LAYER_TYPES)
    return text[: m.start(1)] + new + text[m.end(1) :], f"layer type {m.group(1)} → {new}"


def zero_tensor(text: str, rng: random.Random) -> tuple[str, str]:
    """A tensor's data replaced by zeros of the same length (a zero variance, dead weights)."""
    matches = list(re.finditer(r'"data"\s*:\s*"([A-Za-z0-9+/=]*)"', text))
    if not matches:
        return replace_value(text, rng)
    m = rng.choice(matches)
    zeros = "A" * len(m.group(1).rstrip("=")) + "=" * (len(m.group(1)) - len(m.group(1).rstrip("=")))
    return text[: m.start(1)] + zeros + text[m.end(1) :], f"tensor at {m.start(1)} zeroed"


def value_spans(text: str) -> list[tuple[int, int]]:
    """Spans of the scalar values in ``text`` (numbers, strings, literals), found by a tolerant scan."""
    return [m.span(1) for m in re.finditer(r'[:\[,]\s*("(?:[^"\\]|\\.)*"|-?[\d.eE+-]+|true|false|null)', text)]


def pick_span(text: str, rng: random.Random) -> tuple[int, int] | None:
    # Only the first 200 kB are scanned, so a large model costs no more than a small one; most values
    # that matter (settings, shapes, the first tensors) are there.
    spans = value_spans(text[:200_000])
    return rng.choice(spans) if spans else None


def replace_value(text: str, rng: random.Random) -> tuple[str, str]:
    span = pick_span(text, rng)
    if span is None:
        return text, "no value to replace"
    new = rng.choice(ODD_VALUES)
    return text[: span[0]] + new + text[span[1] :], f"value at {span[0]} → {new[:30]}"


def scale_number(text: str, rng: random.Random) -> tuple[str, str]:
    numbers = [m for m in re.finditer(r"(?<=[:\[,\s])-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?=[,\]}\s])", text[:200_000])]
    if not numbers:
        return text, "no number"
    m = rng.choice(numbers)
    value = float(m.group())
    factor = rng.choice((-1, 0, 2, 1000, 1e-6, 1e300))
    scaled = value * factor
    whole = "." not in m.group() and "e" not in m.group().lower()
    new = "1e999" if math.isinf(scaled) else repr(int(scaled)) if whole else repr(scaled)
    return text[: m.start()] + new + text[m.end() :], f"number {m.group()} × {factor}"


def drop_key(text: str, rng: random.Random) -> tuple[str, str]:
    key = rng.choice(NAMES)
    pattern = re.compile(rf'"{key}"\s*:\s*("(?:[^"\\]|\\.)*"|-?[\d.eE+-]+|true|false|null|\[[^\[\]]*\])\s*,?')
    matches = list(pattern.finditer(text[:200_000]))
    if not matches:
        return text, f"no key {key}"
    m = rng.choice(matches)
    return text[: m.start()] + text[m.end() :], f"dropped {key}"


def add_key(text: str, rng: random.Random) -> tuple[str, str]:
    braces = [m.end() for m in re.finditer(r"\{", text[:200_000])]
    if not braces:
        return text, "no object"
    at = rng.choice(braces)
    key, value = rng.choice(NAMES), rng.choice(ODD_VALUES)
    return text[:at] + f'"{key}": {value}, ' + text[at:], f"added {key}: {value[:30]}"


def tweak_text(text: str, rng: random.Random) -> tuple[str, str]:
    """Base64 with garbage, a string doubled, a type renamed."""
    span = pick_span(text, rng)
    if span is None or text[span[0]] != '"':
        return replace_value(text, rng)
    body = text[span[0] + 1 : span[1] - 1]
    new = rng.choice(
        (
            body + "!!",
            body[: len(body) // 2],
            body * 2,
            body.upper(),
            body + "=",
            "conv2d",
            "softmax",
            "batchnorm",
            "maxpool",
            "relu",
            "float64",
            "int8",
            "float16",
        )
    )
    return text[: span[0]] + json.dumps(new) + text[span[1] :], f"string {body[:20]!r} → {new[:20]!r}"


def truncate(text: str, rng: random.Random) -> tuple[str, str]:
    at = rng.randrange(len(text) + 1)
    return text[:at], f"truncated at {at}"


def flip_byte(text: str, rng: random.Random) -> tuple[str, str]:
    at = rng.randrange(max(1, len(text)))
    return text[:at] + chr(rng.randrange(32, 127)) + text[at + 1 :], f"character {at} replaced"


#: A few MNIST-like inputs: blank, full, a bar and noise; enough to see NaN or a broken distribution.
INPUTS = np.stack([np.zeros(784), np.ones(784), np.repeat(np.eye(28)[14], 28), np.random.default_rng(0).random(784)])


def outcome(text: str, name: str = "case") -> str:
    """``"answered"`` (a distribution over the digits for every input, and a digit check, when the model has
    one, answering a probability for every candidate), ``"refused"`` (one ``ModelFormatError`` /
    ``ValueError`` sentence naming the file), or a failure: ``"nonsense: ..."`` for a model that loads and
    then answers NaN or not a distribution. Other exceptions propagate."""
    try:
        network = parse_model(text, name=name)
        if network.digit_check is None:
            output, features = network.feedforward(INPUTS), None
        else:  # the features the check reads come from the same pass
            features, output = network.features_and_outputs(INPUTS)
    except (ModelFormatError, ValueError) as e:
        message = str(e)
        if "\n" in message.strip() or not message.startswith(name):
            return f"nonsense: refusal not one sentence naming the file: {message[:100]!r}"
        return "refused"
    shown = probabilities(output, network.output_kind)
    sure = confidence(output, network.output_kind)
    if output.shape != (len(INPUTS), 10) or not (np.all(np.isfinite(shown)) and np.all(np.isfinite(sure))):
        return "nonsense: NaN or a wrong shape shown as a result"
    if np.any(shown < 0) or np.any(shown > 1) or not np.allclose(shown.sum(axis=1), 1):
        return "nonsense: probabilities outside [0, 1] or not summing to 1"
    if network.digit_check is not None:
        geometry = np.tile([0.0, 0.0, 0.1, 2.0], (len(INPUTS), 1))  # a candidate's span_geometry
        q = network.digit_check.probability(check_features(features, shown, geometry))
        if q.shape != (len(INPUTS),) or not (np.all(np.isfinite(q)) and np.all((q >= 0) & (q <= 1))):
            return "nonsense: the digit check answers no probability"
    return "answered"


def mutated_cases(seed: int) -> tuple[str, str, str]:
    """Case ``seed``: ``(seed file label, mutated text, mutations)``."""
    label, text = seed_texts()[seed % len(seed_texts())]
    mutated, what = mutate(text, seed)
    return label, mutated, what
