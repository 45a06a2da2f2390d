"""ONNX export and import: every committed model through the ONNX checker and reference evaluator and back,
a PyTorch-style graph made here, refusals in one sentence, and the imported model in the page."""

import shutil
import sys

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from onnx.reference import ReferenceEvaluator

from digitnet import load_model
from digitnet.adapt import REPLAY_FILE
from digitnet.layers import BatchNorm, Dense, Layer, Reshape, Sigmoid
from digitnet.modelfile import model_to_dict
from digitnet.network import Network
from digitnet.training.cli import main
from digitnet.training.mnist import load_test
from digitnet.training.onnx_format import (
    SUPPORTED,
    OnnxFormatError,
    export_onnx,
    import_onnx,
    load_onnx,
)
from digitnet.training.paths import model_files
from digitnet.web.serve import start_server, url_of
from digitnet.web.site import BOOK_DATA_FILE, build_site

from .conftest import ROOT, pyodide_source
from .webpage import wait_ready

TOLERANCE = 1e-5


@pytest.fixture(scope="module")
def images(data_dir) -> np.ndarray:
    """The first 200 MNIST test images, ``(200, 784)`` float32."""
    return load_test(data_dir).images[:200].astype(np.float32)


def reference(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    """The ONNX reference evaluator's outputs for ``x`` fed to the graph's one input."""
    with np.errstate(over="ignore", invalid="ignore"):  # its sigmoid computes both branches of an np.where
        return ReferenceEvaluator(model).run(None, {model.graph.input[0].name: x})[0]


def reloaded(model: onnx.ModelProto) -> onnx.ModelProto:
    """``model`` as a file would give it back."""
    return onnx.load_from_string(model.SerializeToString())


# ---------------------------------------------------------------- the committed models


@pytest.mark.parametrize("path", model_files(ROOT / "weights"), ids=lambda p: p.stem)
def test_committed_model_exports_and_imports_with_the_same_outputs(path, images):
    network = load_model(path)
    model = reloaded(export_onnx(network, path.stem))
    onnx.checker.check_model(model, full_check=True)
    expected = reference(model, images)
    assert np.max(np.abs(expected - network.feedforward(images))) <= TOLERANCE
    back = import_onnx(model, path.stem)
    assert np.max(np.abs(back.feedforward(images) - expected)) <= TOLERANCE
    # the same layers, settings and tensors (bit for bit), cost and metadata
    assert model_to_dict(back)["layers"] == model_to_dict(network)["layers"]
    assert back.cost == network.cost
    assert {k: v for k, v in back.metadata.items() if k != "onnx"} == network.metadata


def test_the_commands_round_trip_a_model_file(tmp_path, capsys):
    onnx_file, json_file = tmp_path / "cnn.onnx", tmp_path / "cnn.json"
    assert main(["export-onnx", "cnn", str(onnx_file)]) == 0  # a committed model's name, as --model takes
    assert "the model's digit check" in capsys.readouterr().out  # not exported: no part of the outputs
    assert main(["import-onnx", str(onnx_file), str(json_file)]) == 0
    assert "reshape → conv2d → batchnorm → relu → maxpool" in capsys.readouterr().out
    original, imported = load_model(ROOT / "weights" / "cnn.json"), load_model(json_file)
    assert model_to_dict(imported)["layers"] == model_to_dict(original)["layers"]
    assert imported.digit_check is None


# ---------------------------------------------------------------- a graph as PyTorch exports one


def float16_exact(rng: np.random.Generator, shape: tuple[int, ...], scale: float) -> np.ndarray:
    """Random float32 values that float16 holds exactly, so that the page's float16 copy is the same model."""
    return (rng.normal(0, scale, shape)).astype(np.float16).astype(np.float32)


def pytorch_style(
    batch: int | str = "N",
    flatten: str = "Flatten",
    head: str = "Gemm",
    batchnorm: bool = False,
    activation: str = "Relu",
    softmax: bool = True,
    seed: int = 0,
) -> onnx.ModelProto:
    """NCHW ``input (batch, 1, 28, 28)`` → Conv 6×5×5 (pads 2) → Relu → MaxPool 2 → Flatten (6·14·14, channel
    by channel) → [BatchNormalization] → Gemm 32 → ``activation`` → Gemm 10 → [Softmax], random weights.
    ``flatten="Reshape"`` flattens with a shape starting with the batch size, ``head="MatMul"`` multiplies with
    MatMul and adds the bias with Add."""
    rng = np.random.default_rng(seed)
    weights = {
        "conv.weight": float16_exact(rng, (6, 1, 5, 5), 0.3),
        "conv.bias": float16_exact(rng, (6,), 0.1),
        "fc1.weight": float16_exact(rng, (32, 6 * 14 * 14), 0.05),
        "fc1.bias": float16_exact(rng, (32,), 0.1),
        "fc2.weight": float16_exact(rng, (10, 32), 0.3),
        "fc2.bias": float16_exact(rng, (10,), 0.1),
        "bn.scale": float16_exact(rng, (6 * 14 * 14,), 0.5),
        "bn.bias": float16_exact(rng, (6 * 14 * 14,), 0.1),
        "bn.mean": float16_exact(rng, (6 * 14 * 14,), 0.3),
        "bn.var": np.abs(float16_exact(rng, (6 * 14 * 14,), 1.0)) + 0.25,
        "flat.shape": np.array([batch if isinstance(batch, int) else 0, -1], dtype=np.int64),
        "fc1.matrix": None,
        "fc2.matrix": None,
    }
    weights["fc1.matrix"] = np.ascontiguousarray(weights["fc1.weight"].T)
    weights["fc2.matrix"] = np.ascontiguousarray(weights["fc2.weight"].T)
    nodes = [
        helper.make_node(
            "Conv", ["input", "conv.weight", "conv.bias"], ["c"], "conv", kernel_shape=[5, 5], pads=[2] * 4
        ),
        helper.make_node("Relu", ["c"], ["r"], "relu1"),
        helper.make_node("MaxPool", ["r"], ["p"], "pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], "flatten", axis=1)
        if flatten == "Flatten"
        else helper.make_node("Reshape", ["p", "flat.shape"], ["f"], "flatten"),
    ]
    hidden = "f"
    if batchnorm:
        nodes.append(
            helper.make_node("BatchNormalization", ["f", "bn.scale", "bn.bias", "bn.mean", "bn.var"], ["b"], "bn")
        )
        hidden = "b"
    for i, (source, out) in enumerate([(hidden, "h"), ("a", "logits")], 1):
        if head == "Gemm":
            nodes.append(helper.make_node("Gemm", [source, f"fc{i}.weight", f"fc{i}.bias"], [out], f"fc{i}", transB=1))
        else:
            nodes.append(helper.make_node("MatMul", [source, f"fc{i}.matrix"], [f"{out}.m"], f"fc{i}"))
            nodes.append(helper.make_node("Add", [f"{out}.m", f"fc{i}.bias"], [out], f"fc{i}.bias"))
        if i == 1:
            nodes.append(helper.make_node(activation, ["h"], ["a"], "act"))
    if softmax:
        nodes.append(helper.make_node("Softmax", ["logits"], ["probs"], "softmax", axis=1))
    used = {name for node in nodes for name in node.input}
    graph = helper.make_graph(
        nodes,
        "mnist",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [batch, 1, 28, 28])],
        [helper.make_tensor_value_info(nodes[-1].output[0], TensorProto.FLOAT, [batch, 10])],
        [numpy_helper.from_array(value, name) for name, value in weights.items() if name in used],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="pytorch")
    model.ir_version = 8
    return reloaded(model)


def as_nchw(images: np.ndarray) -> np.ndarray:
    return images.reshape(-1, 1, 28, 28)


@pytest.mark.parametrize(
    "options",
    [{}, {"head": "MatMul", "batchnorm": True}, {"activation": "Sigmoid", "flatten": "Reshape"}],
    ids=["conv-relu-pool-flatten-gemm", "matmul-add-batchnorm", "sigmoid-reshape"],
)
def test_a_pytorch_style_model_imports_with_the_reference_outputs(options, images, tmp_path):
    model = pytorch_style(**options)
    onnx.checker.check_model(model, full_check=True)
    expected = reference(model, as_nchw(images))
    path = tmp_path / "mnist.onnx"
    path.write_bytes(model.SerializeToString())
    assert main(["import-onnx", str(path), str(tmp_path / "mnist.json")]) == 0
    network = load_model(tmp_path / "mnist.json")  # as `digitnet predict --model` / `evaluate` read it
    assert np.max(np.abs(network.feedforward(images) - expected)) <= TOLERANCE
    assert network.cost == "log-likelihood" and network.metadata["onnx"]["producer"] == "pytorch"
    # the flattened NCHW features are permuted into digitnet's channels-last order, not re-laid out
    assert [layer.kind for layer in network.layers][:4] == ["reshape", "conv2d", "relu", "maxpool"]


def test_a_model_of_batch_one_and_logits(images, tmp_path):
    """PyTorch's default export: a fixed batch of 1 (Reshape to [1, -1]) and no softmax."""
    model = pytorch_style(batch=1, flatten="Reshape", softmax=False)
    path = tmp_path / "logits.onnx"
    path.write_bytes(model.SerializeToString())
    with pytest.raises(OnnxFormatError, match="ends in Gemm, which gives no probabilities") as refused:
        load_onnx(path)
    assert str(refused.value).count(". ") == 0  # one sentence
    network = load_onnx(path, add_softmax=True)
    session = ReferenceEvaluator(model)
    for image, outputs in zip(images[:10], network.feedforward(images[:10]), strict=True):
        logits = session.run(None, {"input": as_nchw(image)})[0][0]
        e = np.exp(logits - logits.max())
        assert np.max(np.abs(outputs - e / e.sum())) <= TOLERANCE


# ---------------------------------------------------------------- refusals


def replaced(model: onnx.ModelProto, name: str, node: onnx.NodeProto) -> onnx.ModelProto:
    """``model`` with its node ``name`` replaced by ``node``."""
    model = reloaded(model)
    i = next(i for i, n in enumerate(model.graph.node) if n.name == name)
    model.graph.node.remove(model.graph.node[i])
    model.graph.node.insert(i, node)
    return model


CONV_INPUTS = (["input", "conv.weight", "conv.bias"], ["c"], "conv")
REFUSALS = [
    (
        lambda m: replaced(m, "act", helper.make_node("LeakyRelu", ["h"], ["a"], "act", alpha=0.1)),
        f"node 5 (LeakyRelu 'act'): the operator LeakyRelu has no digitnet layer (digitnet reads {SUPPORTED})",
    ),
    (
        lambda m: replaced(m, "act", helper.make_node("Tanh", ["h"], ["a"], "act")),
        f"node 5 (Tanh 'act'): the operator Tanh has no digitnet layer (digitnet reads {SUPPORTED})",
    ),
    (
        lambda m: replaced(m, "conv", helper.make_node("Conv", *CONV_INPUTS, kernel_shape=[5, 5], group=2)),
        "node 0 (Conv 'conv'): the attribute 'group' = 2 is not supported: digitnet convolutions have one group",
    ),
    (
        lambda m: replaced(m, "conv", helper.make_node("Conv", *CONV_INPUTS, pads=[2, 2, 1, 1])),
        "node 0 (Conv 'conv'): the pads [2, 2, 1, 1] are not supported: digitnet pads all four sides alike, by 0 to 4",
    ),
    (
        lambda m: replaced(m, "conv", helper.make_node("Conv", *CONV_INPUTS, strides=[2, 1])),
        "node 0 (Conv 'conv'): the strides [2, 1] are not supported: digitnet strides both axes alike, by 1 to 5",
    ),
    (
        lambda m: replaced(m, "pool", helper.make_node("MaxPool", ["r"], ["p"], "pool", kernel_shape=[2, 2])),
        "node 2 (MaxPool 'pool'): the strides [1, 1] differ from the kernel_shape [2, 2]: "
        "digitnet pools non-overlapping windows",
    ),
    (
        lambda m: replaced(m, "relu1", helper.make_node("Add", ["c", "c"], ["r"], "relu1")),
        "node 1 (Add 'relu1'): Add is read only as the bias added to the output of the MatMul or Gemm just before it",
    ),
    (
        lambda m: replaced(m, "relu1", helper.make_node("Relu", ["input"], ["r"], "relu1")),
        "node 1 (Relu 'relu1'): it reads 'input', not 'c' (the value before it): "
        "a digitnet network is one chain of layers",
    ),
]


@pytest.mark.parametrize(
    ("damage", "sentence"),
    REFUSALS,
    ids=["LeakyRelu", "Tanh", "Conv group", "Conv pads", "Conv strides", "MaxPool overlapping", "Add", "branch"],
)
def test_unsupported_operators_and_attributes_are_refused_in_one_sentence(damage, sentence):
    with pytest.raises(OnnxFormatError) as refused:
        import_onnx(damage(pytorch_style()), "mnist.onnx")
    assert str(refused.value) == f"mnist.onnx: {sentence}"


def test_a_layer_without_an_onnx_equivalent_is_refused_by_name():
    class Squash(Layer):
        kind = "squash"

    dense = Dense(np.zeros((10, 784), np.float32), np.zeros(10, np.float32))
    with pytest.raises(OnnxFormatError, match=r"^odd: layer 1 \(squash\) has no ONNX equivalent$"):
        export_onnx(Network([dense, Squash(), Sigmoid()]), "odd")
    ones = np.ones(5, np.float32)
    with pytest.raises(OnnxFormatError, match=r"^odd: layer 2 \(batchnorm\): normalises the last axis of samples of "):
        export_onnx(Network([dense, Reshape((2, 5)), BatchNorm(ones, ones, ones, ones), Reshape((-1,))]), "odd")


def test_without_the_onnx_package_the_commands_say_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now fails as if it were not installed
    assert main(["export-onnx", "c2", str(tmp_path / "c2.onnx")]) == 2
    error = capsys.readouterr().err
    assert "install digitnet[onnx]" in error and error.count("\n") == 1
    assert not (tmp_path / "c2.onnx").exists()


# ---------------------------------------------------------------- in the page


def test_the_page_reads_an_imported_model_with_the_reference_outputs(page, images, tmp_path):
    """The PyTorch-style model imported and shipped by the site builder: the page's outputs for 200 test
    images are the reference evaluator's (its weights are exact in the page's float16 copy)."""
    model = pytorch_style()
    weights = tmp_path / "weights"
    weights.mkdir()
    for data in (REPLAY_FILE, BOOK_DATA_FILE):  # the data the site ships beside the models
        shutil.copy(ROOT / "weights" / data, weights / data)
    (tmp_path / "mnist.onnx").write_bytes(model.SerializeToString())
    assert main(["import-onnx", str(tmp_path / "mnist.onnx"), str(weights / "from-onnx.json")]) == 0
    site = tmp_path / "site"
    build_site(site, pyodide_source(), weights, python_snapshot="no")
    server = start_server(site, 0)
    try:
        page.goto(url_of(server))
        wait_ready(page, timeout=120)
        assert page.evaluate("document.querySelector('#model').value") == "from-onnx.json"
        outputs = page.evaluate("(images) => window.digitnet.feedforward(images)", images.ravel().tolist())
    finally:
        server.shutdown()
        server.server_close()
    expected = reference(model, as_nchw(images))
    assert np.max(np.abs(np.array(outputs).reshape(200, 10) - expected)) <= TOLERANCE
    assert page.errors == []
