"""The model file: versioned JSON, written by training and read by CPython and the browser.

The format is specified in ``docs/model-format.md``. Besides our own format,
``parse_model`` reads the two formats people already have: Nielsen's
``network2.py`` save files and the original Rust project's ``network.json``.
Every problem is reported as a ``ModelFormatError`` naming the file and the
part of it that is wrong.
"""

from __future__ import annotations

import base64
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.layers import (
    ACTIVATIONS,
    BatchNorm,
    Conv2D,
    Dense,
    Dropout,
    Layer,
    MaxPool,
    PatchFeatures,
    Reshape,
    Sigmoid,
)
from digitnet.network import N_CLASSES, N_PIXELS, Network

FORMAT_NAME = "digitnet-model"
FORMAT_VERSION = 1
COSTS = ("quadratic", "cross-entropy", "log-likelihood")
NIELSEN_COSTS = {"QuadraticCost": "quadratic", "CrossEntropyCost": "cross-entropy"}


class ModelFormatError(ValueError):
    """A model file that cannot be used, with the reason."""


# ---------------------------------------------------------------- writing


def encode_tensor(array: np.ndarray) -> dict[str, Any]:
    """``{"dtype": "float32", "shape": [...], "data": base64(little-endian float32, row-major)}``."""
    a = np.ascontiguousarray(array, dtype="<f4")
    return {
        "dtype": "float32",
        "shape": list(a.shape),
        "data": base64.b64encode(a.tobytes()).decode("ascii"),
    }


def model_to_dict(network: Network) -> dict[str, Any]:
    """The JSON-ready description of ``network`` (format version 1)."""
    layers = []
    for layer in network.layers:
        entry: dict[str, Any] = {"type": layer.kind}
        if isinstance(layer, Dense):
            entry["in"], entry["out"] = layer.n_in, layer.n_out
        elif hasattr(layer, "config"):
            entry.update(layer.config())
        entry.update({name: encode_tensor(p) for name, p in layer.params().items()})
        layers.append(entry)
    return {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "input": {"shape": [N_PIXELS], "encoding": "28x28 row-major, float in [0, 1], ink = 1"},
        "output": {"shape": [N_CLASSES], "kind": network.output_kind},
        "cost": network.cost,
        "layers": layers,
        "metadata": network.metadata,
    }


def save_model(network: Network, path: str | Path) -> None:
    """Write ``network`` to ``path`` as JSON, atomically (a reader never sees half a file)."""
    text = json.dumps(model_to_dict(network), indent=1)
    write_atomic(path, text.encode("utf-8"))


def write_atomic(path: str | Path, data: bytes) -> None:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# ---------------------------------------------------------------- reading


def load_model(path: str | Path) -> Network:
    """Read a model file of any supported format (see ``parse_model``)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFormatError(f"{path}: no such model file") from None
    except UnicodeDecodeError:
        raise ModelFormatError(f"{path}: not a text file, so not a JSON model") from None
    return parse_model(text, name=str(path))


def parse_model(text: str, name: str = "model") -> Network:
    """A ``Network`` from JSON text in our format, Nielsen's or the original Rust project's."""
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        ends = text.rstrip()[-1:]
        where = "not valid JSON" if ends in ("}", "]") else "truncated: the file ends inside the JSON document"
        raise ModelFormatError(f"{name}: {where} ({e.msg} at line {e.lineno}, column {e.colno})") from None
    if not isinstance(doc, dict):
        raise ModelFormatError(f"{name}: expected a JSON object, found {type(doc).__name__}")
    if "format" in doc:
        return _parse_digitnet(doc, name)
    if "sizes" in doc:
        return _parse_nielsen(doc, name)
    if "acc" in doc and "weights" in doc:
        return _parse_rust(doc, name)
    raise ModelFormatError(
        f"{name}: unknown model format (no 'format' key; not a network2.py save with 'sizes', "
        "nor a Rust-NN network.json with 'acc')"
    )


def _parse_digitnet(doc: dict[str, Any], name: str) -> Network:
    if doc["format"] != FORMAT_NAME:
        raise ModelFormatError(f"{name}: format is {doc['format']!r}, expected {FORMAT_NAME!r}")
    version = doc.get("version")
    if version != FORMAT_VERSION:
        raise ModelFormatError(
            f"{name}: unsupported format version {version!r} (this digitnet reads version {FORMAT_VERSION})"
        )
    cost = _require(doc, "cost", str, name)
    if cost not in COSTS:
        raise ModelFormatError(f"{name}: unknown cost {cost!r} (known: {', '.join(COSTS)})")
    entries = _require(doc, "layers", list, name)
    layers = [_parse_layer(entry, f"{name}: layer {i}") for i, entry in enumerate(entries)]
    metadata = doc.get("metadata", {})
    if not isinstance(metadata, dict):
        raise ModelFormatError(f"{name}: 'metadata' must be an object")
    return _checked(Network(layers, cost, metadata), name)


def _parse_layer(entry: Any, where: str) -> Layer:
    if not isinstance(entry, dict):
        raise ModelFormatError(f"{where}: expected an object")
    kind = _require(entry, "type", str, where)
    if kind in ACTIVATIONS:
        return ACTIVATIONS[kind]()
    if kind == Dense.kind:
        n_in, n_out = _positive(entry, "in", where), _positive(entry, "out", where)
        weight = _decode_tensor(entry, "weight", (n_out, n_in), where)
        bias = _decode_tensor(entry, "bias", (n_out,), where)
        return Dense(weight, bias)
    if kind == Conv2D.kind:
        f, c, k = (_positive(entry, key, where) for key in ("filters", "channels", "size"))
        stride, padding = _positive(entry, "stride", where), _require(entry, "padding", int, where)
        weight = _decode_tensor(entry, "weight", (f, c, k, k), where)
        return Conv2D(weight, _decode_tensor(entry, "bias", (f,), where), stride, padding)
    if kind == BatchNorm.kind:
        f = _positive(entry, "features", where)
        epsilon = _require(entry, "epsilon", (int, float), where)
        if not epsilon > 0:
            raise ModelFormatError(f"{where}: batchnorm 'epsilon' must be positive, got {epsilon}")
        tensors = [_decode_tensor(entry, key, (f,), where) for key in ("gamma", "beta", "mean", "variance")]
        if np.any(tensors[3] < 0):
            raise ModelFormatError(f"{where} tensor 'variance' holds negative values")
        return BatchNorm(*tensors, epsilon=float(epsilon))
    if kind == MaxPool.kind:
        return MaxPool(_positive(entry, "size", where))
    if kind == PatchFeatures.kind:
        k, size = _positive(entry, "filters", where), _positive(entry, "patch", where)
        if PatchFeatures.side % size:
            raise ModelFormatError(f"{where}: 'patch' must divide {PatchFeatures.side}, got {size}")
        learned = entry.get("learned")
        if not isinstance(learned, bool):
            raise ModelFormatError(f"{where}: 'learned' must be true or false")
        return PatchFeatures(_decode_tensor(entry, "kernels", (k, size, size), where), learned)
    if kind == Reshape.kind:
        shape = _require(entry, "shape", list, where)
        if not shape or not all(isinstance(d, int) and (d > 0 or d == -1) for d in shape) or shape.count(-1) > 1:
            raise ModelFormatError(f"{where}: 'shape' must list positive sizes (at most one -1), got {shape}")
        return Reshape(tuple(shape))
    if kind == Dropout.kind:
        rate = _require(entry, "rate", (int, float), where)
        if not 0 <= rate < 1:
            raise ModelFormatError(f"{where}: dropout 'rate' must be in [0, 1), got {rate}")
        return Dropout(float(rate))
    kinds = (Dense, Conv2D, MaxPool, BatchNorm, Reshape, Dropout, PatchFeatures)
    known = ", ".join([*(k.kind for k in kinds), *ACTIVATIONS])
    raise ModelFormatError(f"{where}: unknown layer type {kind!r} (known: {known})")


def _positive(entry: dict[str, Any], key: str, where: str) -> int:
    value = _require(entry, key, int, where)
    if value < 1:
        raise ModelFormatError(f"{where}: {key!r} must be a positive integer, got {value}")
    return value


def _decode_tensor(entry: dict[str, Any], key: str, shape: tuple[int, ...], where: str) -> np.ndarray:
    where = f"{where} tensor {key!r}"
    if key not in entry:
        raise ModelFormatError(f"{where}: missing")
    tensor = entry[key]
    if not isinstance(tensor, dict):
        raise ModelFormatError(f"{where}: expected an object with dtype, shape and data")
    if tensor.get("dtype") != "float32":
        raise ModelFormatError(f"{where}: dtype {tensor.get('dtype')!r} is not 'float32'")
    if tensor.get("shape") != list(shape):
        raise ModelFormatError(f"{where}: shape {tensor.get('shape')} does not match the layer's {list(shape)}")
    data = tensor.get("data")
    if not isinstance(data, str):
        raise ModelFormatError(f"{where}: 'data' must be a base64 string")
    try:
        raw = base64.b64decode(data, validate=True)
    except ValueError:
        raise ModelFormatError(f"{where}: 'data' is not valid base64") from None
    expected = int(np.prod(shape)) * 4
    if len(raw) != expected:
        raise ModelFormatError(f"{where}: {len(raw)} bytes of data, expected {expected} for shape {list(shape)}")
    return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(shape)


def _parse_nielsen(doc: dict[str, Any], name: str) -> Network:
    """Nielsen's ``network2.py``: ``weights[l]`` is ``(n_out, n_in)``, ``biases[l]`` is ``(n_out, 1)``."""
    sizes = _require(doc, "sizes", list, name)
    cost = NIELSEN_COSTS.get(doc.get("cost", ""))
    if cost is None:
        raise ModelFormatError(f"{name}: unknown network2.py cost {doc.get('cost')!r}")
    weights = _require(doc, "weights", list, name)
    biases = _require(doc, "biases", list, name)
    if not (len(weights) == len(biases) == len(sizes) - 1):
        raise ModelFormatError(f"{name}: {len(sizes)} sizes need {len(sizes) - 1} weight and bias matrices")
    layers: list[Layer] = []
    for i, (w, b, n_in, n_out) in enumerate(zip(weights, biases, sizes[:-1], sizes[1:], strict=True)):
        where = f"{name}: layer {i}"
        weight = _as_matrix(w, (n_out, n_in), f"{where} weights")
        bias = _as_matrix(b, (n_out, 1), f"{where} biases").reshape(n_out)
        layers += [Dense(weight, bias), Sigmoid()]
    return _checked(Network(layers, cost, {"source": "network2.py"}), name)


def _parse_rust(doc: dict[str, Any], name: str) -> Network:
    """Rust-NN ``network.json``: ``weights[l][input][output]`` (Nielsen's transposed), ``biases[l][output]``."""
    weights = _require(doc, "weights", list, name)
    biases = _require(doc, "biases", list, name)
    if len(weights) != len(biases) or not weights:
        raise ModelFormatError(f"{name}: {len(weights)} weight matrices but {len(biases)} bias vectors")
    layers: list[Layer] = []
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        where = f"{name}: layer {i}"
        columns = _as_matrix(w, None, f"{where} weights")
        bias = _as_matrix(b, (columns.shape[1],), f"{where} biases")
        layers += [Dense(np.ascontiguousarray(columns.T), bias), Sigmoid()]
    accuracy = doc.get("acc")
    return _checked(Network(layers, "cross-entropy", {"source": "Rust-NN network.json", "acc": accuracy}), name)


def _as_matrix(value: Any, shape: tuple[int, ...] | None, where: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ModelFormatError(f"{where}: not a rectangular array of numbers") from None
    if shape is not None and array.shape != shape:
        raise ModelFormatError(f"{where}: shape {list(array.shape)}, expected {list(shape)}")
    if shape is None and array.ndim != 2:
        raise ModelFormatError(f"{where}: expected a matrix, found {array.ndim} dimensions")
    return array.astype(np.float32)


def _require(doc: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    if key not in doc:
        raise ModelFormatError(f"{where}: missing {key!r}")
    value = doc[key]
    if not isinstance(value, kind) or isinstance(value, bool):
        name = kind.__name__ if isinstance(kind, type) else "number"
        raise ModelFormatError(f"{where}: {key!r} must be of type {name}")
    return value


def _checked(network: Network, name: str) -> Network:
    """Reject a network whose layers do not chain 784 → ... → 10 or hold NaN/inf."""
    if not network.layers:
        raise ModelFormatError(f"{name}: no layers")
    shape: tuple[int, ...] = (N_PIXELS,)
    for i, layer in enumerate(network.layers):
        for key, p in layer.params().items():
            if not np.all(np.isfinite(p)):
                raise ModelFormatError(f"{name}: layer {i} tensor {key!r} holds NaN or infinite values")
        shape = _output_shape(layer, shape, f"{name}: layer {i}")
    if shape != (N_CLASSES,):
        raise ModelFormatError(f"{name}: the network has outputs of shape {list(shape)}, expected [{N_CLASSES}]")
    return network


def _output_shape(layer: Layer, shape: tuple[int, ...], where: str) -> tuple[int, ...]:
    """The per-sample shape ``layer`` produces from ``shape``, or an error saying why it cannot."""
    if isinstance(layer, Dense):
        if shape != (layer.n_in,):
            raise ModelFormatError(f"{where} takes {layer.n_in} inputs but receives {_describe(shape)}")
        return (layer.n_out,)
    if isinstance(layer, Reshape):
        size, known = int(np.prod(shape)), int(np.prod([d for d in layer.shape if d != -1]))
        target = tuple(size // known if d == -1 else d for d in layer.shape)
        if int(np.prod(target)) != size:
            raise ModelFormatError(f"{where} cannot reshape {_describe(shape)} to {list(layer.shape)}")
        return target
    if isinstance(layer, Conv2D):
        channels, size = layer.weight.shape[1], layer.weight.shape[2]
        if len(shape) != 3 or shape[2] != channels:
            raise ModelFormatError(f"{where} takes images with {channels} channels but receives {_describe(shape)}")
        h, w = (d + 2 * layer.padding - size for d in shape[:2])
        if h < 0 or w < 0:
            raise ModelFormatError(f"{where}: a {size}×{size} kernel does not fit {_describe(shape)}")
        return (h // layer.stride + 1, w // layer.stride + 1, len(layer.weight))
    if isinstance(layer, PatchFeatures):
        if shape != (N_PIXELS,):
            raise ModelFormatError(f"{where} takes the {N_PIXELS} pixels but receives {_describe(shape)}")
        return (layer.n_out,)
    if isinstance(layer, BatchNorm):
        if shape[-1] != layer.features:
            raise ModelFormatError(f"{where} normalises {layer.features} features but receives {_describe(shape)}")
        return shape
    if isinstance(layer, MaxPool):
        if len(shape) != 3 or min(shape[:2]) < layer.size:
            raise ModelFormatError(f"{where} pools images but receives {_describe(shape)}")
        return (shape[0] // layer.size, shape[1] // layer.size, shape[2])
    return shape


def _describe(shape: tuple[int, ...]) -> str:
    return str(shape[0]) if len(shape) == 1 else f"shape {list(shape)}"
