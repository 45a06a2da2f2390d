"""The JSON model format: exact round trip, specific errors, and the two foreign formats."""

import dataclasses
import json
import re

import numpy as np
import pytest

from digitnet import ModelFormatError, load_model, parse_model, save_model
from digitnet.digitcheck import GEOMETRY, DigitCheck, DigitGate
from digitnet.layers import BatchNorm, Dense, ReLU, Sigmoid, Softmax
from digitnet.modelfile import model_to_dict
from digitnet.network import Network
from digitnet.training.initialisation import build_mlp, build_network


@pytest.fixture
def network():
    return build_mlp([784, 12, 10], "sigmoid", "sigmoid", "default", "cross-entropy", np.random.default_rng(3))


@pytest.fixture
def model_doc(network):
    return json.loads(json.dumps(model_to_dict(network)))


def test_round_trip_is_exact_float32(network, tmp_path):
    network.metadata = {"recipe": "test", "test_accuracy": 12.34}
    # values whose shortest decimal form would need 9 digits: the encoding must keep every bit
    network.layers[0].weight[0, :3] = np.array([np.nextafter(np.float32(0.1), 1), 1e-38, -3.4e38], np.float32)
    save_model(network, tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    assert loaded.metadata == network.metadata
    assert loaded.cost == "cross-entropy"
    for a, b in zip(network.layers, loaded.layers, strict=True):
        assert type(a) is type(b)
        for key, value in a.params().items():
            assert b.params()[key].dtype == np.float32
            assert np.array_equal(b.params()[key].view(np.uint32), value.view(np.uint32))
    x = np.random.default_rng(0).random((5, 784), dtype=np.float32)
    assert np.array_equal(network.feedforward(x), loaded.feedforward(x))


def test_saved_file_is_readable_by_others(network, tmp_path):
    save_model(network, tmp_path / "m.json")
    assert (tmp_path / "m.json").stat().st_mode & 0o044 == 0o044  # not private to the writer
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]  # no temporary file left behind


def parse(doc):
    return parse_model(json.dumps(doc), name="m.json")


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda d: d.update(version=2), "unsupported format version 2"),
        (lambda d: d.update(format="other"), "format is 'other'"),
        (lambda d: d["layers"][0].pop("weight"), "layer 0 tensor 'weight': missing"),
        (lambda d: d["layers"][2].pop("bias"), "layer 2 tensor 'bias': missing"),
        (lambda d: d["layers"][0]["weight"].update(shape=[12, 783]), "shape [12, 783] does not match"),
        (lambda d: d["layers"][0].update({"in": 783}), "does not match the layer's [12, 783]"),
        (lambda d: d["layers"][0]["bias"].update(data="AAAAAA=="), "8 characters of base64, expected 64"),
        (lambda d: d["layers"][0]["bias"].update(data="A" * 30 + "==" + "A" * 32), "not valid base64"),
        (lambda d: d.update(version=True), "unsupported format version True"),
        (lambda d: d.update(version=1.0), "unsupported format version 1.0"),
        (lambda d: d["layers"][3].update(type="relu"), "the last layer is 'relu'; it must be sigmoid or softmax"),
        (lambda d: d["layers"][0]["bias"].update(data="@" * 64), "not valid base64"),
        (lambda d: d["layers"][0]["bias"].update(dtype="float64"), "dtype 'float64'"),
        (lambda d: d["layers"][1].update(type="tanh"), "unknown layer type 'tanh'"),
        (lambda d: d.update(cost="hinge"), "unknown cost 'hinge'"),
        (lambda d: d.pop("layers"), "missing 'layers'"),
        (lambda d: d.update(layers=[]), "no layers"),
        (lambda d: d["layers"].pop(2), "the network has outputs of shape [12], expected [10]"),
        (lambda d: d["layers"].pop(0), "layer 1 takes 12 inputs but receives 784"),
    ],
)
def test_specific_errors(model_doc, break_it, message):
    break_it(model_doc)
    with pytest.raises(ModelFormatError, match=re.escape(message)):
        parse(model_doc)


def test_nan_and_inf_are_rejected(network):
    for bad in (np.nan, np.inf):
        network.layers[2].bias[4] = bad
        with pytest.raises(ModelFormatError, match="layer 2 tensor 'bias' holds NaN or infinite"):
            parse(model_to_dict(network))


def test_truncated_and_non_json_files(network, tmp_path):
    text = json.dumps(model_to_dict(network))
    with pytest.raises(ModelFormatError, match=r"m.json: truncated"):
        parse_model(text[: len(text) // 2], name="m.json")
    with pytest.raises(ModelFormatError, match="not valid JSON"):
        parse_model("{'single': 'quotes'}", name="m.json")
    with pytest.raises(ModelFormatError, match="expected a JSON object"):
        parse_model("[1, 2]", name="m.json")
    with pytest.raises(ModelFormatError, match="unknown model format"):
        parse_model('{"hello": 1}', name="m.json")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ModelFormatError, match="not a text file"):
        load_model(tmp_path / "bin.json")
    with pytest.raises(ModelFormatError, match="no such model file"):
        load_model(tmp_path / "absent.json")


def test_reads_nielsen_network2_save_files(network):
    dense = [layer for layer in network.layers if isinstance(layer, Dense)]
    doc = {
        "sizes": [784, 12, 10],
        "weights": [d.weight.astype(float).tolist() for d in dense],
        "biases": [d.bias.astype(float).reshape(-1, 1).tolist() for d in dense],
        "cost": "CrossEntropyCost",
    }
    loaded = parse(doc)
    assert loaded.cost == "cross-entropy"
    assert [layer.kind for layer in loaded.layers] == ["dense", "sigmoid", "dense", "sigmoid"]
    x = np.random.default_rng(1).random((4, 784), dtype=np.float32)
    np.testing.assert_allclose(loaded.feedforward(x), network.feedforward(x), rtol=1e-6)
    doc["weights"][1] = doc["weights"][1][:5]
    with pytest.raises(ModelFormatError, match=r"layer 1 weights: shape \[5, 12\], expected \[10, 12\]"):
        parse(doc)
    doc["cost"] = "Whatever"
    with pytest.raises(ModelFormatError, match=r"unknown network2\.py cost"):
        parse(doc)


def test_reads_rust_nn_network_json(network):
    """Rust-NN stores ``weights[layer][input][output]``: the transpose of Nielsen's matrices."""
    dense = [layer for layer in network.layers if isinstance(layer, Dense)]
    doc = {
        "acc": 0.9612,
        "weights": [d.weight.T.astype(float).tolist() for d in dense],
        "biases": [d.bias.astype(float).tolist() for d in dense],
    }
    loaded = parse(doc)
    assert loaded.metadata["acc"] == 0.9612
    x = np.random.default_rng(2).random((4, 784), dtype=np.float32)
    np.testing.assert_allclose(loaded.feedforward(x), network.feedforward(x), rtol=1e-6)
    doc["weights"][0][3] = doc["weights"][0][3][:-1]  # ragged
    with pytest.raises(ModelFormatError, match="layer 0 weights: not a rectangular array"):
        parse(doc)


def test_softmax_networks_round_trip():
    rng = np.random.default_rng(0)
    network = Network(
        [Dense(rng.random((10, 784), dtype=np.float32), np.zeros(10, np.float32)), Softmax()], "log-likelihood"
    )
    loaded = parse(model_to_dict(network))
    assert loaded.output_kind == "softmax"
    assert isinstance(parse(model_to_dict(Network([network.layers[0], Sigmoid()]))).layers[1], Sigmoid)


@pytest.fixture
def batchnorm_network():
    """A small conv net with batch normalisation after the convolution and after the hidden dense layer."""
    architecture = (
        ("reshape", 28, 28, 1),
        ("conv2d", 4, 5, 0),
        ("batchnorm",),
        ("relu",),
        ("maxpool", 4),
        ("reshape", -1),
        ("dense", 16),
        ("batchnorm",),
        ("relu",),
        ("dense", 10),
        ("softmax",),
    )
    network = build_network(architecture, "log-likelihood", "he", np.random.default_rng(5))
    rng = np.random.default_rng(6)
    for layer in network.layers:
        if isinstance(layer, BatchNorm):  # trained-looking statistics, not the identity it starts as
            for value in layer.params().values():
                value[:] = rng.random(layer.features, dtype=np.float32) + 0.5
    return network


def test_batchnorm_round_trips_exactly(batchnorm_network):
    loaded = parse(model_to_dict(batchnorm_network))
    bn = [layer for layer in loaded.layers if isinstance(layer, BatchNorm)]
    assert [layer.features for layer in bn] == [4, 16]
    assert all(layer.epsilon == 1e-5 for layer in bn)
    x = np.random.default_rng(0).random((3, 784), dtype=np.float32)
    assert np.array_equal(loaded.feedforward(x), batchnorm_network.feedforward(x))
    for layer in bn:  # the stored statistics matter: reset to the identity, the outputs change
        layer.gamma[:], layer.beta[:], layer.mean[:], layer.variance[:] = 1, 0, 0, 1
    assert not np.allclose(loaded.feedforward(x), batchnorm_network.feedforward(x))


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda d: d["layers"][2].update(features=5), "tensor 'gamma': shape [4] does not match the layer's [5]"),
        (lambda d: d["layers"][2].update(epsilon=0), "'epsilon' must be between 1e-12 and 1, got 0"),
        (lambda d: d["layers"][2].update(epsilon=1e-300), "'epsilon' must be between 1e-12 and 1"),
        (lambda d: d["layers"][2].update(epsilon=10**400), "'epsilon' must be between 1e-12 and 1"),
        (lambda d: d["layers"][1].update(padding=-1), "'padding' must be between 0 and 4, got -1"),
        (lambda d: d["layers"][1].update(padding=20000), "'padding' must be between 0 and 4, got 20000"),
        (lambda d: d["layers"][1].update(stride=0), "'stride' must be between 1 and 5, got 0"),
        (lambda d: d["layers"][1].update(stride=2.0), "'stride' must be a whole number, got 2.0"),
        (lambda d: d["layers"][4].update(size=0), "'size' must be between 1 and 65536, got 0"),
        (lambda d: d["layers"][2].pop("variance"), "layer 2 tensor 'variance': missing"),
        (lambda d: d["layers"].pop(1), "layer 1 normalises 4 features but receives shape [28, 28, 1]"),
    ],
)
def test_batchnorm_specific_errors(batchnorm_network, break_it, message):
    doc = json.loads(json.dumps(model_to_dict(batchnorm_network)))
    break_it(doc)
    with pytest.raises(ModelFormatError, match=re.escape(message)):
        parse(doc)


def test_batchnorm_negative_variance_is_rejected(batchnorm_network):
    batchnorm_network.layers[2].variance[1] = -0.5
    with pytest.raises(ModelFormatError, match="layer 2: tensor 'variance' holds negative values"):
        parse(model_to_dict(batchnorm_network))


def test_float16_tensors_round_to_half_precision_and_halve_the_size(batchnorm_network):
    doc32, doc16 = model_to_dict(batchnorm_network), model_to_dict(batchnorm_network, dtype="float16")
    assert len(json.dumps(doc16)) < 0.6 * len(json.dumps(doc32))
    loaded = parse(doc16)
    for original, half in zip(batchnorm_network.layers, loaded.layers, strict=True):
        for key, value in original.params().items():
            assert half.params()[key].dtype == np.float32
            assert np.array_equal(half.params()[key], value.astype(np.float16).astype(np.float32))
    again = model_to_dict(loaded, dtype="float16")  # float16 → float32 → float16 loses nothing more
    assert again["layers"] == doc16["layers"]


def test_large_numbers_and_deep_nesting_are_refused_in_one_sentence(model_doc):
    with pytest.raises(ModelFormatError, match="nested too deeply"):
        parse_model("[" * 100_000 + "]" * 100_000, name="deep.json")
    with pytest.raises(ModelFormatError, match="not a usable JSON document"):
        parse_model('{"format": "digitnet-model", "version": NaN}', name="m.json")
    nielsen = {"sizes": [784, 10], "cost": [], "weights": [], "biases": []}
    with pytest.raises(ModelFormatError, match=r"unknown network2\.py cost \[\]"):
        parse(nielsen)
    nielsen.update(sizes=[784.0, 10], cost="CrossEntropyCost")
    with pytest.raises(ModelFormatError, match="'sizes' must list whole numbers"):
        parse(nielsen)
    rust = {"acc": 1, "weights": [[[10**400] * 10] * 784], "biases": [[0] * 10]}
    with pytest.raises(ModelFormatError, match="layer 0 weights: not a rectangular array of numbers"):
        parse(rust)
    rust["weights"] = [[[1e300] * 10] * 784]
    with pytest.raises(ModelFormatError, match="out-of-range values"):
        parse(rust)


def test_memory_for_one_image_is_bounded():
    """A tiny file may not ask for gigabytes: a 1-filter conv with a 200×200 kernel and full padding."""
    rng = np.random.default_rng(0)
    from digitnet.layers import Conv2D, Reshape

    layers = [
        Reshape((28, 28, 1)),
        Conv2D(rng.random((1, 1, 200, 200), dtype=np.float32), np.zeros(1, np.float32), 1, 199),
        Reshape((-1,)),
        Dense(np.zeros((10, 227 * 227), np.float32), np.zeros(10, np.float32)),
        Softmax(),
    ]
    with pytest.raises(ModelFormatError, match=r"layer 1 \(conv2d\) would need [\d,]+ MB for one image"):
        parse(model_to_dict(Network(layers, "log-likelihood")))


def with_check(network, size=None, seed=0):
    size = network.layers[0].weight.shape[0] + 10 + GEOMETRY if size is None else size
    rng = np.random.default_rng(seed)
    layers = [
        Dense(rng.standard_normal((4, size)).astype(np.float32), rng.standard_normal(4).astype(np.float32)),
        ReLU(),
        Dense(rng.standard_normal((1, 4)).astype(np.float32), np.array([-0.75], np.float32)),
        Sigmoid(),
    ]
    return Network(network.layers, network.cost, network.metadata, DigitCheck(layers))


def test_digit_check_round_trips_and_survives_folding(network, tmp_path):
    checked = with_check(network)
    save_model(checked, tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    f = np.random.default_rng(1).standard_normal((6, checked.digit_check.n_features))
    assert np.array_equal(loaded.digit_check.probability(f), checked.digit_check.probability(f))
    assert loaded.folded().digit_check is loaded.digit_check
    half = parse(model_to_dict(checked, dtype="float16"))
    weight = checked.digit_check.layers[0].weight
    assert np.array_equal(half.digit_check.layers[0].weight, weight.astype(np.float16).astype(np.float32))
    assert parse(model_to_dict(network)).digit_check is None  # optional: files without one still read


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda d: d.update(digit_check=[1, 2]), "digit_check: expected an object with layers"),
        (lambda d: d["digit_check"].pop("layers"), "digit_check: missing 'layers'"),
        (lambda d: d["digit_check"]["layers"].pop(0), "digit_check: the first layer must be dense"),
        (lambda d: d["digit_check"]["layers"].pop(), "digit_check: the last layer must be a sigmoid of one output"),
        (lambda d: d["digit_check"]["layers"][2].update(out=2), "digit_check layer 2 tensor 'weight': shape"),
        (lambda d: d["digit_check"]["layers"][2]["weight"].update(data="AAAA"), "tensor 'weight': 4 characters"),
    ],
)
def test_digit_check_errors(network, break_it, message):
    doc = json.loads(json.dumps(model_to_dict(with_check(network))))
    break_it(doc)
    with pytest.raises(ModelFormatError, match=message):
        parse(doc)


def test_digit_check_must_fit_the_networks_features(network):
    with pytest.raises(ModelFormatError, match="digit_check reads 20 values, but this network's 12 features"):
        parse(model_to_dict(with_check(network, size=20)))
    nan = with_check(network)
    nan.digit_check.layers[0].weight[0, 3] = np.nan
    with pytest.raises(ModelFormatError, match="digit_check layer 0 tensor 'weight' holds NaN"):
        parse(model_to_dict(nan))


def with_gate(network, size=None, threshold=0.05):
    gate = with_check(network, network.layers[0].weight.shape[0] + 10 if size is None else size).digit_check
    return dataclasses.replace(network, digit_gate=DigitGate(gate.layers, threshold))


def test_digit_gate_round_trips_with_its_threshold(network, tmp_path):
    gated = with_gate(network, threshold=0.0375)
    save_model(gated, tmp_path / "m.json")
    loaded = load_model(tmp_path / "m.json")
    assert loaded.digit_gate.threshold == 0.0375 and loaded.folded().digit_gate is loaded.digit_gate
    f = np.random.default_rng(2).standard_normal((5, loaded.digit_gate.n_features))
    assert np.allclose(loaded.digit_gate.probability(f), gated.digit_gate.probability(f), atol=0.02)  # int8 stored
    assert parse(model_to_dict(network)).digit_gate is None  # optional: files without one still read


@pytest.mark.parametrize(
    ("break_it", "message"),
    [
        (lambda d: d["digit_gate"].update(threshold=1.5), "digit_gate: 'threshold' must be between 0 and 1, got 1.5"),
        (lambda d: d["digit_gate"].update(threshold="low"), "digit_gate: 'threshold' must be a number"),
        (lambda d: d["digit_gate"]["layers"].pop(), "digit_gate: the last layer must be a sigmoid of one output"),
    ],
)
def test_digit_gate_errors(network, break_it, message):
    doc = json.loads(json.dumps(model_to_dict(with_gate(network))))
    break_it(doc)
    with pytest.raises(ModelFormatError, match=message):
        parse(doc)


def test_digit_gate_must_fit_the_networks_features(network):
    with pytest.raises(ModelFormatError, match="digit_gate reads 30 values, but this network's 12 features and 10"):
        parse(model_to_dict(with_gate(network, size=30)))


def test_a_digit_check_is_a_small_dense_network(network):
    """A check of other layer kinds (a reshape, then a convolution needing terabytes per candidate) is refused."""
    doc = json.loads(json.dumps(model_to_dict(with_check(network))))
    reshape = {"type": "reshape", "shape": [1, 1, 4]}
    doc["digit_check"]["layers"].insert(2, reshape)
    with pytest.raises(ModelFormatError, match="digit_check layer 2: a digit check has only dense, relu, sigmoid"):
        parse(doc)


def test_float16_digit_check_answers_like_its_original(network):
    checked = with_check(network)
    half = parse(model_to_dict(checked, dtype="float16"))
    f = np.random.default_rng(4).standard_normal((50, checked.digit_check.n_features))
    assert np.allclose(half.digit_check.probability(f), checked.digit_check.probability(f), atol=0.02)


def test_int8_stores_large_weight_arrays_a_scale_a_row_and_the_rest_as_float16():
    from digitnet.modelfile import INT8_FROM

    rng = np.random.default_rng(8)
    big, small = rng.normal(size=(300, 250)).astype(np.float32), rng.normal(size=(10, 300)).astype(np.float32)
    big[7] = 0  # a row of zeros keeps a usable scale
    network = Network([Dense(big, np.zeros(300, np.float32)), ReLU(), Dense(small, np.ones(10, np.float32)), Softmax()])
    doc = model_to_dict(network, dtype="int8")
    first, last = doc["layers"][0], doc["layers"][2]
    assert big.size >= INT8_FROM > small.size
    assert first["weight"]["dtype"] == "int8" and first["bias"]["dtype"] == "float16"
    assert last["weight"]["dtype"] == "float16"
    read = model_entry_reader(first)
    back = read.tensor("weight", (300, 250))
    step = np.abs(big).max(axis=1, keepdims=True) / 127
    assert np.all(np.abs(back - big) <= step / 2 + 1e-6) and np.all(back[7] == 0)
    no_scale = {k: v for k, v in first["weight"].items() if k != "scale"}
    with pytest.raises(ModelFormatError, match="needs a float 'scale' tensor"):
        model_entry_reader({**first, "weight": no_scale}).tensor("weight", (300, 250))
    wrong = {**first["weight"], "scale": {**first["weight"]["scale"], "shape": [299]}}
    with pytest.raises(ModelFormatError, match="scale"):
        model_entry_reader({**first, "weight": wrong}).tensor("weight", (300, 250))


def model_entry_reader(entry):
    from digitnet.modelfile import EntryReader

    return EntryReader(entry, "test layer")
