"""The model-file contract as properties (Hypothesis, bounded): for any file, either a model whose
answers are probabilities, or one ``ModelFormatError`` / ``ValueError`` sentence naming the file —
never another exception, never NaN shown as a result. The long campaign is
``benchmarks/fuzz_models.py`` (``docs/reliability.md``)."""

import base64
import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from digitnet.layers import LAYERS

from .mutations import mutated_cases, outcome

QUICK = settings(max_examples=150, deadline=None)


@QUICK
@given(seed=st.integers(0, 2**40))
def test_mutated_committed_models_answer_or_refuse(seed):
    label, text, what = mutated_cases(seed)
    assert outcome(text, name=label) in ("answered", "refused"), (seed, what)


FIELDS = ("in", "out", "filters", "channels", "size", "stride", "padding", "features", "epsilon", "rate", "patch")
ODD = st.one_of(
    st.integers(-3, 40),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    st.text(max_size=3),
    st.lists(st.integers(-2, 30), max_size=4),
)


@st.composite
def tensors(draw, name: str) -> dict:
    """A tensor entry: sometimes well formed (data of the stated shape), often not."""
    shape = draw(st.lists(st.integers(0, 12), min_size=1, max_size=4))
    dtype = draw(st.sampled_from(["float32", "float16", "float64", "int8"]))
    count = int(np.prod(shape)) if draw(st.booleans()) else draw(st.integers(0, 64))
    width = 2 if dtype == "float16" else 4
    values = draw(st.binary(min_size=count * width, max_size=count * width))
    data = base64.b64encode(values).decode() + draw(st.sampled_from(["", "", "=", "A", "!!"]))
    return {"dtype": dtype, "shape": shape, "data": data}


@st.composite
def layer_entries(draw) -> dict:
    kind = draw(st.sampled_from([*LAYERS, "tanh", ""]))
    entry = {"type": kind}
    for key in draw(st.lists(st.sampled_from(FIELDS), max_size=6, unique=True)):
        entry[key] = draw(ODD)
    if draw(st.booleans()):
        entry["shape"] = draw(st.lists(st.integers(-2, 800), max_size=3))
    if draw(st.booleans()):
        entry["learned"] = draw(st.one_of(st.booleans(), ODD))
    for name in LAYERS[kind].param_names if kind in LAYERS else ():
        if draw(st.integers(0, 5)):
            entry[name] = draw(tensors(name))
    return entry


@QUICK
@given(
    layers=st.lists(layer_entries(), min_size=0, max_size=6),
    version=st.one_of(st.just(1), ODD),
    cost=st.sampled_from(["log-likelihood", "cross-entropy", "quadratic", "hinge"]),
)
def test_generated_model_files_answer_or_refuse(layers, version, cost):
    doc = {"format": "digitnet-model", "version": version, "cost": cost, "layers": layers, "metadata": {}}
    assert outcome(json.dumps(doc), name="generated.json") in ("answered", "refused"), doc


def test_a_generated_valid_model_answers():
    """The strategy's shape of file can be a usable model: a softmax over a dense layer."""
    rng = np.random.default_rng(0)

    def tensor(shape):
        data = base64.b64encode(rng.standard_normal(shape).astype("<f4").tobytes()).decode()
        return {"dtype": "float32", "shape": list(shape), "data": data}

    layers = [
        {"type": "dense", "in": 784, "out": 10, "weight": tensor((10, 784)), "bias": tensor((10,))},
        {"type": "softmax"},
    ]
    doc = {"format": "digitnet-model", "version": 1, "cost": "log-likelihood", "layers": layers}
    assert outcome(json.dumps(doc), name="generated.json") == "answered"
