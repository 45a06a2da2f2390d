"""ONNX out and in: ``digitnet export-onnx`` and ``digitnet import-onnx``.

Export writes a digitnet model as an ONNX graph (opset 17) from ``pixels (N, 784)`` to ``probabilities (N, 10)``,
layer by layer. Import reads a chain of the ONNX operators digitnet has layers for (Gemm, MatMul + Add, Conv,
MaxPool, BatchNormalization, Relu, Sigmoid, Softmax, Flatten, Reshape, Transpose, Dropout) into a digitnet model,
following where each ONNX value sits in digitnet's channels-last memory; anything else is refused in one
sentence. The mapping is described in ``docs/model-format.md``. The ``onnx`` package is an optional extra and
is imported here only.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import digitnet
from digitnet.entries import prod
from digitnet.layers import (
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Layer,
    MaxPool,
    PatchFeatures,
    ReLU,
    Reshape,
    Shape,
    Sigmoid,
    Softmax,
)
from digitnet.modelfile import COSTS, ModelFormatError, load_model, model_to_dict, parse_model, save_model, write_atomic
from digitnet.network import N_CLASSES, N_PIXELS, Network
from digitnet.training.arguments import model_path

if TYPE_CHECKING:
    import onnx

#: The opset exports are written for (ONNX 1.12 and later runtimes read it).
OPSET = 17
INPUT_NAME = "pixels"
OUTPUT_NAME = "probabilities"
#: metadata_props keys an export writes and an import reads back.
COST_KEY = "digitnet.cost"
METADATA_KEY = "digitnet.metadata"
#: The doc string an export gives the convolution of a patch-features layer whose kernels were trained.
LEARNED_PATCHES = "digitnet patch-features, learned kernels"
SUPPORTED = (
    "Gemm, MatMul with an Add for its bias, Conv, MaxPool, BatchNormalization, Relu, Sigmoid, Softmax, "
    "Flatten, Reshape, Transpose, Dropout and Identity"
)


class OnnxFormatError(ModelFormatError):
    """A model that cannot be written as ONNX, or an ONNX file digitnet cannot read, with the reason."""


def require_onnx() -> Any:
    """The ``onnx`` module, or one sentence saying how to install it."""
    try:
        import onnx
    except ModuleNotFoundError as e:
        if e.name != "onnx":
            raise
        raise OnnxFormatError(
            "reading and writing ONNX needs the onnx package, which the plain install leaves out: "
            "install digitnet[onnx] (pip install 'digitnet[onnx]')"
        ) from None
    return onnx


# ---------------------------------------------------------------- the commands


def add_onnx_commands(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export-onnx", help=f"write a model as an ONNX file (opset {OPSET})")
    export.add_argument("model", type=model_path, help="model file, or a committed model's name (e.g. cnn)")
    export.add_argument("out", type=Path, metavar="OUT.onnx")
    export.set_defaults(run=run_export)

    read = commands.add_parser("import-onnx", help="read an ONNX classifier of 28×28 digits into a model file")
    read.add_argument("source", type=Path, metavar="IN.onnx")
    read.add_argument("out", type=Path, metavar="OUT.json")
    read.add_argument(
        "--add-softmax", action="store_true", help="append a softmax when the graph ends in logits (no Softmax)"
    )
    read.set_defaults(run=run_import)


def run_export(args: argparse.Namespace) -> int:
    network = load_model(args.model)
    count = save_onnx(network, args.out, name=args.model.stem)
    print(f"wrote {args.out}: {count} ONNX nodes (opset {OPSET}), {INPUT_NAME} [N, 784] → {OUTPUT_NAME} [N, 10]")
    if network.digit_check is not None:
        print("note: the model's digit check (used when reading numbers) is not part of its outputs: not exported")
    return 0


def run_import(args: argparse.Namespace) -> int:
    network = load_onnx(args.source, add_softmax=args.add_softmax)
    save_model(network, args.out)
    print(f"wrote {args.out}: {' → '.join(layer.kind for layer in network.layers)}")
    return 0


# ---------------------------------------------------------------- export


def save_onnx(network: Network, path: str | Path, name: str = "digitnet") -> int:
    """Write ``network`` to ``path`` as an ONNX model (atomically); return its number of nodes."""
    model = export_onnx(network, name)
    write_atomic(path, model.SerializeToString())
    return len(model.graph.node)


def export_onnx(network: Network, name: str = "digitnet") -> onnx.ModelProto:
    """``network`` as an ONNX model of opset ``OPSET``: ``pixels (N, 784)`` float32 → ``probabilities (N, 10)``.

    Tensors of 3 dimensions per sample (images, ``(h, w, c)`` in digitnet) are NCHW in the graph; a reshape
    to or from one goes through digitnet's channels-last order (a Transpose, unless there is one channel).
    """
    onnx = require_onnx()
    helper = onnx.helper
    graph = _GraphWriter(onnx)
    shape: Shape = (N_PIXELS,)
    for i, layer in enumerate(network.layers):
        write = EXPORTS.get(type(layer))
        if write is None:
            raise OnnxFormatError(f"{name}: layer {i} ({layer.kind}) has no ONNX equivalent")
        write(graph, layer, shape, f"{name}: layer {i} ({layer.kind})")
        shape = layer.output_shape(shape)
    graph.nodes[-1].output[0] = OUTPUT_NAME
    float32 = onnx.TensorProto.FLOAT
    inputs = [helper.make_tensor_value_info(INPUT_NAME, float32, ["N", N_PIXELS])]
    outputs = [helper.make_tensor_value_info(OUTPUT_NAME, float32, ["N", N_CLASSES])]
    body = helper.make_graph(graph.nodes, name, inputs, outputs, graph.initializers)
    opsets = [helper.make_opsetid("", OPSET)]
    model = helper.make_model(
        body,
        opset_imports=opsets,
        ir_version=helper.find_min_ir_version_for(opsets),
        producer_name="digitnet",
        producer_version=digitnet.__version__,
        doc_string=(
            f"{network.output_kind} outputs for 28×28 digits: {INPUT_NAME} is each image row-major, "
            "floats in [0, 1], ink = 1"
        ),
    )
    helper.set_model_props(
        model, {COST_KEY: network.cost, METADATA_KEY: json.dumps(network.metadata, ensure_ascii=False)}
    )
    return model


class _GraphWriter:
    """The nodes and initialisers of a graph being written, and the name of its latest value."""

    def __init__(self, onnx: Any) -> None:
        self.onnx = onnx
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self.current = INPUT_NAME

    def constant(self, label: str, value: np.ndarray) -> str:
        name = f"{label}_{len(self.initializers)}"
        self.initializers.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def node(self, op: str, *constants: str, inputs: list[str] | None = None, **attributes: Any) -> str:
        """Append ``op`` reading the latest value (or ``inputs``) and ``constants``; its output becomes the latest."""
        output = f"{op.lower()}_{len(self.nodes)}"
        node = self.onnx.helper.make_node(
            op, [*(inputs or [self.current]), *constants], [output], name=f"{op}_{len(self.nodes)}", **attributes
        )
        self.nodes.append(node)
        self.current = output
        return output

    def reshape(self, shape: Shape) -> None:
        """Reshape each sample to ``shape`` (the batch axis copied)."""
        self.node("Reshape", self.constant("shape", np.array([0, *shape], dtype=np.int64)))

    def to_channels_last(self, shape: Shape) -> None:
        """An NCHW image of digitnet shape ``(h, w, c)`` in digitnet's own order, NHWC (nothing to do for c = 1)."""
        if len(shape) == 3 and shape[2] > 1:
            self.node("Transpose", perm=[0, 2, 3, 1])


def _export_dense(graph: _GraphWriter, layer: Dense, shape: Shape, where: str) -> None:
    graph.node("Gemm", graph.constant("weight", layer.weight), graph.constant("bias", layer.bias), transB=1)


def _export_activation(op: str) -> Callable[..., None]:
    def write(graph: _GraphWriter, layer: Layer, shape: Shape, where: str) -> None:
        graph.node(op)

    return write


def _export_softmax(graph: _GraphWriter, layer: Softmax, shape: Shape, where: str) -> None:
    # digitnet's softmax runs over axis 1 of (n, ...): an image's rows, axis 2 in NCHW
    graph.node("Softmax", axis=2 if len(shape) == 3 else 1)


def _export_conv(graph: _GraphWriter, layer: Conv2D, shape: Shape, where: str) -> None:
    k, s, p = layer.size, layer.stride, layer.padding
    weight, bias = graph.constant("weight", layer.weight), graph.constant("bias", layer.bias)
    graph.node("Conv", weight, bias, kernel_shape=[k, k], strides=[s, s], pads=[p, p, p, p])


def _export_maxpool(graph: _GraphWriter, layer: MaxPool, shape: Shape, where: str) -> None:
    graph.node("MaxPool", kernel_shape=[layer.size, layer.size], strides=[layer.size, layer.size])


def _export_reshape(graph: _GraphWriter, layer: Reshape, shape: Shape, where: str) -> None:
    target = layer.output_shape(shape)
    graph.to_channels_last(shape)
    if len(target) == 3:
        h, w, c = target
        graph.reshape((1, h, w) if c == 1 else target)
        if c > 1:
            graph.node("Transpose", perm=[0, 3, 1, 2])
    else:
        graph.reshape(target)


def _export_dropout(graph: _GraphWriter, layer: Dropout, shape: Shape, where: str) -> None:
    # without a training_mode input, Dropout is the identity: the rate is kept for reference only
    graph.node("Dropout", graph.constant("ratio", np.array(layer.rate, dtype=np.float32)))


def _export_batchnorm(graph: _GraphWriter, layer: BatchNorm, shape: Shape, where: str) -> None:
    if len(shape) not in (1, 3):
        raise OnnxFormatError(
            f"{where}: normalises the last axis of samples of shape {list(shape)}, which ONNX's "
            "BatchNormalization (over axis 1) cannot express"
        )
    tensors = [graph.constant(key, getattr(layer, key)) for key in ("gamma", "beta", "mean", "variance")]
    graph.node("BatchNormalization", *tensors, epsilon=layer.epsilon)


def _export_patch_features(graph: _GraphWriter, layer: PatchFeatures, shape: Shape, where: str) -> None:
    """``[features kernel by kernel, pixels]``: a convolution of stride = size over the image, flattened (NCHW:
    kernel by kernel, patches row-major), then the pixels."""
    pixels = graph.current
    size = layer.kernels.shape[1]
    graph.reshape((1, layer.side, layer.side))
    graph.node(
        "Conv",
        graph.constant("kernels", layer.kernels[:, None]),
        kernel_shape=[size, size],
        strides=[size, size],
    )
    if layer.learned:
        graph.nodes[-1].doc_string = LEARNED_PATCHES
    graph.reshape((-1,))
    graph.node("Concat", inputs=[graph.current, pixels], axis=1)


EXPORTS: dict[type[Layer], Callable[..., None]] = {
    Dense: _export_dense,
    Sigmoid: _export_activation("Sigmoid"),
    ReLU: _export_activation("Relu"),
    Softmax: _export_softmax,
    Conv2D: _export_conv,
    MaxPool: _export_maxpool,
    Reshape: _export_reshape,
    Dropout: _export_dropout,
    BatchNorm: _export_batchnorm,
    PatchFeatures: _export_patch_features,
}


# ---------------------------------------------------------------- import


def load_onnx(path: str | Path, add_softmax: bool = False) -> Network:
    """The digitnet network of the ONNX file at ``path`` (see ``import_onnx``)."""
    onnx = require_onnx()
    path = Path(path)
    if not path.is_file():
        raise OnnxFormatError(f"{path}: no such ONNX file")
    try:
        model = onnx.load(str(path))
    except Exception as e:  # protobuf's DecodeError, or external data that is missing
        raise OnnxFormatError(f"{path}: not a readable ONNX model ({str(e).strip() or type(e).__name__})") from None
    return import_onnx(model, str(path), add_softmax)


def import_onnx(model: onnx.ModelProto, name: str = "model", add_softmax: bool = False) -> Network:
    """The digitnet network computing what the ONNX ``model`` computes, checked as a model file is.

    The graph must be one chain from a float input of 784 values per sample (``(N, 784)``, ``(N, 1, 28, 28)``,
    ...) to 10 outputs per sample, made of the operators in ``SUPPORTED`` (and the Concat of an exported
    patch-features layer); its last operator must be Softmax or Sigmoid (``add_softmax``: append a softmax
    to logits). Every refusal is an ``OnnxFormatError`` of one sentence naming the node and operator.
    """
    require_onnx()
    reader = _GraphReader(model, name)
    layers = reader.read()
    if layers[-1].kind not in ("sigmoid", "softmax"):
        if not add_softmax:
            raise OnnxFormatError(
                f"{name}: the graph ends in {reader.last_op}, which gives no probabilities: digitnet models end "
                "in Softmax or Sigmoid (import-onnx --add-softmax appends a softmax to logits)"
            )
        layers.append(Softmax())
    props = {p.key: p.value for p in model.metadata_props}
    cost = props.get(COST_KEY)
    if cost not in COSTS:
        cost = "log-likelihood" if layers[-1].kind == "softmax" else "cross-entropy"
    try:
        metadata = json.loads(props.get(METADATA_KEY, "{}"))
    except ValueError:
        metadata = {}
    if not isinstance(metadata, dict):
        metadata = {}
    producer = f"{model.producer_name} {model.producer_version}".strip()
    metadata["onnx"] = {"file": Path(name).name, "producer": producer, "opset": reader.opset}
    network = Network(layers, cost, metadata)
    # read back as a model file is: the same checks (shapes, ranges, memory) as the CLI and the page make
    return parse_model(json.dumps(model_to_dict(network)), name=name)


def shortest(value: Any) -> float:
    """A float32 setting (epsilon, a dropout rate) as its shortest decimal: 1e-5, not 9.99999974738e-06."""
    return float(str(np.float32(value)))


def canonical(c: int, h: int, w: int) -> np.ndarray:
    """Where each value of an NCHW sample ``(c, h, w)`` sits in digitnet's ``(h, w, c)`` memory."""
    return np.arange(h * w * c).reshape(h, w, c).transpose(2, 0, 1)


class _GraphReader:
    """Reads an ONNX graph node by node into digitnet layers.

    It follows the one value the chain is at: ``shape`` is digitnet's per-sample shape of it, and ``index``
    (the ONNX per-sample shape) says, for each ONNX element, its position in digitnet's row-major memory.
    Flatten, Reshape and Transpose change ``index`` alone; a layer that needs its input in a layout
    (an image, a vector) gets a digitnet reshape first, or its parameters permuted by ``index``.
    """

    def __init__(self, model: Any, name: str) -> None:
        from onnx import numpy_helper

        self.to_array = numpy_helper.to_array
        self.name = name
        self.graph = model.graph
        versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
        self.opset = versions[0] if versions else OPSET
        self.constants: dict[str, np.ndarray] = {t.name: self.to_array(t) for t in self.graph.initializer}
        self.layers: list[Layer] = []
        self.where = name
        self.last_op = "its input"
        #: every value the chain passed: (number of layers then, digitnet shape, index)
        self.seen: dict[str, tuple[int, Shape, np.ndarray]] = {}
        self.dense_output = ""  # the output of the last Gemm or MatMul, while nothing follows it
        self.learned_patches: Layer | None = None  # the convolution an export marked as learned patch features

    def fail(self, message: str) -> None:
        raise OnnxFormatError(f"{self.where}: {message}")

    # ---- the chain

    def read(self) -> list[Layer]:
        self.read_input()
        for i, node in enumerate(self.graph.node):
            label = f" {node.name!r}" if node.name else ""
            self.where = f"{self.name}: node {i} ({node.op_type}{label})"
            if node.domain not in ("", "ai.onnx"):
                self.fail(f"the operator {node.domain}.{node.op_type} is not one digitnet reads ({SUPPORTED})")
            if node.op_type == "Constant":
                self.read_constant(node)
                continue
            read = getattr(self, READERS[node.op_type]) if node.op_type in READERS else None
            if read is None:
                self.fail(f"the operator {node.op_type} has no digitnet layer (digitnet reads {SUPPORTED})")
            if node.op_type not in ("Concat", "Add"):
                self.data_input(node)
            read(node, self.attributes(node))
            self.dense_output = node.output[0] if node.op_type in ("Gemm", "MatMul") else ""
            self.current = node.output[0]
            self.seen[self.current] = (len(self.layers), self.shape, self.index)
            self.last_op = node.op_type
        self.where = self.name
        return self.read_output()

    def read_input(self) -> None:
        inputs = [v for v in self.graph.input if v.name not in self.constants]
        if len(inputs) != 1:
            self.fail(f"the graph has {len(inputs)} inputs besides its weights; digitnet models read one image")
        value = inputs[0]
        tensor = value.type.tensor_type
        if not value.type.HasField("tensor_type") or tensor.elem_type not in FLOAT_TYPES:
            self.fail(f"input {value.name!r} is not a float tensor: digitnet models read pixels as floats")
        dims = [d.dim_value if d.HasField("dim_value") else None for d in tensor.shape.dim]
        if len(dims) < 2 or None in dims[1:] or prod(dims[1:]) != N_PIXELS:
            shown = [d.dim_value if d.HasField("dim_value") else d.dim_param or "?" for d in tensor.shape.dim]
            self.fail(
                f"input {value.name!r} has shape {shown}: digitnet models read a batch of 784 pixels "
                "(e.g. [N, 784] or [N, 1, 28, 28])"
            )
        self.batch = dims[0]
        self.current = value.name
        self.shape: Shape = (N_PIXELS,)
        self.index = np.arange(N_PIXELS).reshape(dims[1:])
        self.seen[self.current] = (0, self.shape, self.index)

    def read_output(self) -> list[Layer]:
        outputs = list(self.graph.output)
        if len(outputs) != 1:
            self.fail(f"the graph has {len(outputs)} outputs; a digitnet model gives one, the 10 digits' scores")
        if outputs[0].name != self.current:
            self.fail(f"the output {outputs[0].name!r} is not the end of the chain of nodes")
        if self.index.shape != (N_CLASSES,):
            self.fail(f"the output has {list(self.index.shape)} values per sample, not the 10 digits' scores")
        if not self.layers:
            self.fail("the graph has no layers")
        self.flat()
        if not np.array_equal(self.index, np.arange(N_CLASSES)):
            self.fail("the output's 10 values are not in the order digitnet's layers give them")
        return self.layers

    def read_constant(self, node: Any) -> None:
        attributes = self.attributes(node)
        if "value" not in attributes:
            self.fail(f"only a Constant with a tensor 'value' is read, not {', '.join(attributes) or 'none'}")
        self.constants[node.output[0]] = self.to_array(attributes["value"])

    def data_input(self, node: Any) -> None:
        if not node.input or node.input[0] != self.current:
            read = node.input[0] if node.input else "nothing"
            self.fail(
                f"it reads {read!r}, not {self.current!r} (the value before it): "
                "a digitnet network is one chain of layers"
            )

    def attributes(self, node: Any) -> dict[str, Any]:
        from onnx import helper

        values = {}
        for a in node.attribute:
            value = helper.get_attribute_value(a)
            values[a.name] = value.decode() if isinstance(value, bytes) else value
        return values

    def allow(self, attributes: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
        """``attributes`` over ``defaults``; any other attribute is refused by name."""
        for key in attributes:
            if key not in defaults:
                self.fail(f"the attribute {key!r} is not supported")
        return {**defaults, **attributes}

    def constant(self, node: Any, position: int, what: str, required: bool = True) -> np.ndarray | None:
        """Input ``position`` of ``node`` as a constant (an initialiser or a Constant node's value)."""
        name = node.input[position] if len(node.input) > position else ""
        if not name:
            if required:
                self.fail(f"it has no {what}")
            return None
        if name not in self.constants:
            self.fail(f"its {what} {name!r} is computed, not a constant: digitnet layers hold their tensors")
        return self.constants[name]

    def weights(self, node: Any, position: int, what: str, required: bool = True) -> np.ndarray | None:
        """A constant float tensor, as float32."""
        value = self.constant(node, position, what, required)
        if value is None:
            return None
        if value.dtype.kind != "f":
            self.fail(f"its {what} holds {value.dtype} values: digitnet layers hold floats")
        with np.errstate(over="ignore"):
            value = value.astype(np.float32)
        if not np.all(np.isfinite(value)):
            self.fail(f"its {what} holds NaN, infinite or out-of-range values")
        return value

    # ---- layouts

    def add(self, layer: Layer) -> None:
        try:
            self.shape = layer.output_shape(self.shape)
        except ValueError as e:
            self.fail(f"the {layer.kind} layer it becomes {e}")
        self.layers.append(layer)

    def flat(self) -> None:
        """digitnet's value as vectors (its memory order unchanged: ``index`` stays valid)."""
        if len(self.shape) != 1:
            self.add(Reshape((-1,)))

    def vector(self, what: str) -> int:
        """The ONNX value as a batch of vectors, and digitnet's too; their length."""
        if self.index.ndim != 1:
            self.fail(f"{what} a batch of vectors, but receives samples of shape {list(self.index.shape)}")
        self.flat()
        return len(self.index)

    def image(self, what: str) -> tuple[int, int, int]:
        """The ONNX value as NCHW images and digitnet's as the same images channels last; ``(c, h, w)``."""
        if self.index.ndim != 3:
            self.fail(f"{what} NCHW images, but receives samples of shape {list(self.index.shape)}")
        c, h, w = self.index.shape
        if not np.array_equal(self.index, canonical(c, h, w)):
            self.fail(f"{what} images whose values are in an order digitnet's channels-last images cannot follow")
        if self.shape != (h, w, c):
            self.add(Reshape((h, w, c)))
        return c, h, w

    # ---- the operators

    def read_gemm(self, node: Any, attributes: dict[str, Any]) -> None:
        a = self.allow(attributes, {"alpha": 1.0, "beta": 1.0, "transA": 0, "transB": 0})
        if a["transA"]:
            self.fail("the attribute 'transA' = 1 is not supported: the batch must be the first axis")
        weight = self.weights(node, 1, "weight")
        if weight.ndim != 2:
            self.fail(f"its weight has shape {list(weight.shape)}, not a matrix")
        weight = weight if a["transB"] else weight.T
        bias = self.weights(node, 2, "bias", required=False)
        self.dense(weight * np.float32(a["alpha"]), None if bias is None else bias * np.float32(a["beta"]))

    def read_matmul(self, node: Any, attributes: dict[str, Any]) -> None:
        self.allow(attributes, {})
        weight = self.weights(node, 1, "weight")
        if weight.ndim != 2:
            self.fail(f"its weight has shape {list(weight.shape)}: digitnet reads a matrix (in, out)")
        self.dense(weight.T, None)

    def dense(self, weight: np.ndarray, bias: np.ndarray | None) -> None:
        """A dense layer of ``weight (out, in)`` in ONNX's input order, permuted to digitnet's."""
        n_in = self.vector("it multiplies")
        if weight.shape[1] != n_in:
            self.fail(f"its weight takes {weight.shape[1]} inputs but receives {n_in}")
        n_out = len(weight)
        ordered = np.empty_like(weight)
        ordered[:, self.index] = weight
        self.add(Dense(ordered, self.bias_of(bias, n_out) if bias is not None else np.zeros(n_out, np.float32)))
        self.index = np.arange(n_out)

    def bias_of(self, bias: np.ndarray, n_out: int) -> np.ndarray:
        if bias.size not in (1, n_out) or (bias.ndim == 2 and bias.shape[0] != 1) or bias.ndim > 2:
            self.fail(f"its bias of shape {list(bias.shape)} does not fit {n_out} outputs")
        return np.ascontiguousarray(np.broadcast_to(bias.reshape(-1), (n_out,)), dtype=np.float32)

    def read_add(self, node: Any, attributes: dict[str, Any]) -> None:
        self.allow(attributes, {})
        inputs = list(node.input)
        if len(inputs) == 2 and inputs[1] == self.current:
            inputs.reverse()  # bias + x
        if not self.dense_output or len(inputs) != 2 or inputs[0] != self.current or inputs[1] not in self.constants:
            self.fail("Add is read only as the bias added to the output of the MatMul or Gemm just before it")
        bias = self.constants[inputs[1]]
        if bias.dtype.kind != "f" or not np.all(np.isfinite(bias)):
            self.fail("its bias is not a tensor of finite floats")
        dense = self.layers[-1]
        dense.bias = dense.bias + self.bias_of(bias.astype(np.float32), dense.n_out)

    def read_conv(self, node: Any, attributes: dict[str, Any]) -> None:
        weight = self.weights(node, 1, "weight")
        if weight.ndim != 4:
            self.fail(f"its weight has shape {list(weight.shape)}: digitnet convolutions are 2-D")
        f, c, kh, kw = weight.shape
        a = self.allow(
            attributes,
            {
                "auto_pad": "NOTSET",
                "dilations": [1, 1],
                "group": 1,
                "kernel_shape": [kh, kw],
                "pads": [0, 0, 0, 0],
                "strides": [1, 1],
            },
        )
        if a["group"] != 1:
            self.fail(f"the attribute 'group' = {a['group']} is not supported: digitnet convolutions have one group")
        if list(a["dilations"]) != [1, 1]:
            self.fail(f"the attribute 'dilations' = {list(a['dilations'])} is not supported: digitnet has no dilation")
        if list(a["kernel_shape"]) != [kh, kw] or kh != kw:
            self.fail(f"a {kh}×{kw} kernel (kernel_shape {list(a['kernel_shape'])}): digitnet's kernels are square")
        k = kh
        strides = list(a["strides"])
        if len(strides) != 2 or strides[0] != strides[1] or not 1 <= strides[0] <= k:
            self.fail(f"the strides {strides} are not supported: digitnet strides both axes alike, by 1 to {k}")
        padding = self.conv_padding(a["auto_pad"], list(a["pads"]), k, strides[0])
        bias = self.weights(node, 2, "bias", required=False)
        channels, _, _ = self.image("it convolves")
        if channels != c:
            self.fail(f"its kernels take {c} channels but receive {channels}")
        self.add(
            Conv2D(weight, self.bias_of(bias, f) if bias is not None else np.zeros(f, np.float32), strides[0], padding)
        )
        if node.doc_string == LEARNED_PATCHES:
            self.learned_patches = self.layers[-1]
        self.index = canonical(f, *self.shape[:2])

    def conv_padding(self, auto_pad: str, pads: list[int], k: int, stride: int) -> int:
        if auto_pad == "VALID":
            return 0
        if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
            if stride != 1 or k % 2 == 0:
                self.fail(
                    f"auto_pad {auto_pad} with stride {stride} and a {k}×{k} kernel pads unevenly, as digitnet cannot"
                )
            return (k - 1) // 2
        if auto_pad != "NOTSET":
            self.fail(f"the attribute 'auto_pad' = {auto_pad!r} is not supported")
        if len(pads) != 4 or len(set(pads)) != 1 or not 0 <= pads[0] <= k - 1:
            self.fail(f"the pads {pads} are not supported: digitnet pads all four sides alike, by 0 to {k - 1}")
        return pads[0]

    def read_max_pool(self, node: Any, attributes: dict[str, Any]) -> None:
        a = self.allow(
            attributes,
            {
                "auto_pad": "NOTSET",
                "ceil_mode": 0,
                "dilations": [1, 1],
                "kernel_shape": None,
                "pads": [0, 0, 0, 0],
                "storage_order": 0,
                "strides": [1, 1],
            },
        )
        kernel = list(a["kernel_shape"] or [])
        if len(kernel) != 2 or kernel[0] != kernel[1]:
            self.fail(f"the kernel_shape {kernel} is not supported: digitnet pools square windows")
        size = kernel[0]
        if list(a["strides"]) != kernel:
            self.fail(
                f"the strides {list(a['strides'])} differ from the kernel_shape {kernel}: "
                "digitnet pools non-overlapping windows"
            )
        if a["auto_pad"] not in ("NOTSET", "VALID") or any(a["pads"]):
            self.fail(
                f"padding (pads {list(a['pads'])}, auto_pad {a['auto_pad']}) is not supported: digitnet pools unpadded"
            )
        if list(a["dilations"]) != [1, 1]:
            self.fail(f"the attribute 'dilations' = {list(a['dilations'])} is not supported")
        if len(node.output) > 1 and node.output[1]:
            self.fail("its Indices output is not supported")
        _, h, w = self.image("it pools")
        if a["ceil_mode"] and (h % size or w % size):
            self.fail(f"ceil_mode 1 pools the partial windows of {h}×{w} images, which digitnet drops")
        self.add(MaxPool(size))
        self.index = canonical(self.shape[2], *self.shape[:2])

    def read_batch_normalization(self, node: Any, attributes: dict[str, Any]) -> None:
        a = self.allow(
            attributes,
            {"epsilon": 1e-5, "momentum": 0.9, "training_mode": 0, "spatial": 1, "is_test": 1, "consumed_inputs": []},
        )
        if a["training_mode"] or not a["spatial"]:
            which = "training_mode" if a["training_mode"] else "spatial"
            self.fail(
                f"the attribute {which!r} = {a[which]} is not supported: digitnet normalises with fixed statistics"
            )
        tensors = [self.weights(node, i, what) for i, what in enumerate(("scale", "bias", "mean", "variance"), 1)]
        epsilon = shortest(a["epsilon"])
        if not 1e-12 <= epsilon <= 1:
            self.fail(f"epsilon {epsilon:g} is outside the 1e-12 to 1 digitnet accepts")
        if self.index.ndim == 3:
            features, _, _ = self.image("it normalises")
            ordered = tensors
        else:
            features = self.vector("it normalises channels of NCHW images or")
            ordered = []
            for t in tensors:
                t = t.reshape(-1)
                if len(t) == features:
                    o = np.empty_like(t)
                    o[self.index] = t
                    t = o
                ordered.append(t)
        if any(t.shape != (features,) for t in ordered):
            self.fail(f"its parameters do not each hold {features} values, one per feature")
        self.add(BatchNorm(*ordered, epsilon=epsilon))

    def read_relu(self, node: Any, attributes: dict[str, Any]) -> None:
        self.allow(attributes, {})
        self.add(ReLU())

    def read_sigmoid(self, node: Any, attributes: dict[str, Any]) -> None:
        self.allow(attributes, {})
        self.add(Sigmoid())

    def read_softmax(self, node: Any, attributes: dict[str, Any]) -> None:
        a = self.allow(attributes, {"axis": 1 if self.opset < 13 else -1})
        rank = self.index.ndim + 1
        if a["axis"] in (1, 1 - rank) and (rank == 2 or self.opset < 13):
            self.flat()  # before opset 13, over all of a sample's values; digitnet's order does not matter to it
            self.add(Softmax())
        else:
            self.fail(
                f"a softmax over axis {a['axis']} of a rank-{rank} value: digitnet's softmax runs over the "
                "features of a batch of vectors"
            )

    def read_dropout(self, node: Any, attributes: dict[str, Any]) -> None:
        a = self.allow(attributes, {"ratio": 0.5, "seed": 0, "is_test": 1})
        ratio = self.constant(node, 1, "ratio", required=False)
        training = self.constant(node, 2, "training_mode", required=False)
        if training is not None and bool(training):
            self.fail("training_mode is true: digitnet reads networks for inference")
        rate = shortest(ratio if ratio is not None else a["ratio"])
        self.add(Dropout(min(max(rate, 0.0), 0.99)))

    def read_identity(self, node: Any, attributes: dict[str, Any]) -> None:
        self.allow(attributes, {})

    def read_flatten(self, node: Any, attributes: dict[str, Any]) -> None:
        a = self.allow(attributes, {"axis": 1})
        rank = self.index.ndim + 1
        if a["axis"] not in (1, 1 - rank):
            self.fail(f"Flatten with axis {a['axis']} is not supported: digitnet keeps the batch axis alone")
        self.index = self.index.reshape(-1)

    def read_reshape(self, node: Any, attributes: dict[str, Any]) -> None:
        a = self.allow(attributes, {"allowzero": 0})
        target = self.constant(node, 1, "shape")
        if target.dtype.kind not in "iu" or target.ndim != 1 or len(target) < 1:
            self.fail("its shape is not a list of whole numbers")
        target = [int(d) for d in target]
        first, rest = target[0], target[1:]
        dims = list(self.index.shape)
        if not a["allowzero"]:
            rest = [dims[i] if d == 0 and i < len(dims) else d for i, d in enumerate(rest)]
        size = self.index.size
        if first == -1 and -1 not in rest and 0 not in rest:
            per_sample = rest
        elif first == 0 or (first > 0 and first == self.batch):
            per_sample = rest
        else:
            self.fail(f"the shape {target} reshapes across the batch axis, which digitnet keeps apart")
        known = prod(d for d in per_sample if d != -1)
        if per_sample.count(-1) > 1 or any(d < -1 or d == 0 for d in per_sample) or known == 0:
            self.fail(f"the shape {target} is not one digitnet can follow")
        per_sample = [size // known if d == -1 else d for d in per_sample]
        if prod(per_sample) != size:
            self.fail(f"the shape {target} does not fit samples of shape {dims}")
        self.index = self.index.reshape(per_sample)

    def read_transpose(self, node: Any, attributes: dict[str, Any]) -> None:
        rank = self.index.ndim + 1
        perm = list(self.allow(attributes, {"perm": list(range(rank))[::-1]})["perm"])
        if sorted(perm) != list(range(rank)) or perm[0] != 0:
            self.fail(f"the perm {perm} is not supported: digitnet keeps the batch axis first")
        self.index = self.index.transpose([p - 1 for p in perm[1:]])

    def read_concat(self, node: Any, attributes: dict[str, Any]) -> None:
        """Only an exported patch-features layer: ``[flattened stride = size convolution of the pixels, pixels]``."""
        a = self.allow(attributes, {"axis": 1})
        refusal = (
            "Concat is read only as digitnet's patch-features: the flattened features of a convolution of "
            "stride = size over the 28×28 pixels, then the pixels"
        )
        if len(node.input) != 2 or node.input[0] != self.current or node.input[1] not in self.seen:
            self.fail(refusal)
        start, shape, index = self.seen[node.input[1]]
        convolutions = [layer for layer in self.layers[start:] if not isinstance(layer, Reshape)]
        if shape != (N_PIXELS,) or not np.array_equal(index, np.arange(N_PIXELS)) or len(convolutions) != 1:
            self.fail(refusal)
        conv = convolutions[0]
        side = PatchFeatures.side
        if not (
            isinstance(conv, Conv2D)
            and conv.weight.shape[1] == 1
            and conv.stride == conv.size
            and conv.padding == 0
            and side % conv.size == 0
            and not np.any(conv.bias)
            and a["axis"] in (1, -1)
        ):
            self.fail(refusal)
        m = side // conv.size
        if not np.array_equal(self.index, canonical(len(conv.weight), m, m).reshape(-1)):
            self.fail(refusal)
        learned = conv is self.learned_patches
        del self.layers[start:]
        self.shape = (N_PIXELS,)
        self.add(PatchFeatures(np.ascontiguousarray(conv.weight[:, 0]), learned))
        self.index = np.arange(self.shape[0])


#: The method of ``_GraphReader`` reading each operator.
READERS = {
    "Gemm": "read_gemm",
    "MatMul": "read_matmul",
    "Add": "read_add",
    "Conv": "read_conv",
    "MaxPool": "read_max_pool",
    "BatchNormalization": "read_batch_normalization",
    "Relu": "read_relu",
    "Sigmoid": "read_sigmoid",
    "Softmax": "read_softmax",
    "Dropout": "read_dropout",
    "Identity": "read_identity",
    "Flatten": "read_flatten",
    "Reshape": "read_reshape",
    "Transpose": "read_transpose",
    "Concat": "read_concat",
}

#: ONNX TensorProto element types of floats: FLOAT, FLOAT16, DOUBLE, BFLOAT16.
FLOAT_TYPES = (1, 10, 11, 16)
