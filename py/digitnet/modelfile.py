"""The model file: versioned JSON, written by training and read by CPython and the browser.

The format is specified in ``docs/model-format.md``. Besides our own format,
``parse_model`` reads the two formats people already have: Nielsen's
``network2.py`` save files and the original Rust project's ``network.json``.
Every problem is reported as a ``ModelFormatError`` naming the file and the
part of it that is wrong; each object of the file is read through an ``EntryReader``
(both in ``digitnet.entries``, and importable from here).
"""

from __future__ import annotations

import base64
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from digitnet.digitcheck import GEOMETRY, DigitCheck, DigitGate
from digitnet.entries import DTYPES, EntryReader, ModelFormatError, prod, short
from digitnet.layers import LAYERS, Layer, Shape
from digitnet.network import N_CLASSES, N_PIXELS, Network
from digitnet.penpath import PER_POINT, PenPath

FORMAT_NAME = "digitnet-model"
FORMAT_VERSION = 1
COSTS = ("quadratic", "cross-entropy", "log-likelihood")
NIELSEN_COSTS = {"QuadraticCost": "quadratic", "CrossEntropyCost": "cross-entropy"}
#: With ``int8``, smaller tensors stay ``float16``: rounding a few weights to 255 levels moves answers more.
INT8_FROM = 50_000
OUTPUT_KINDS = ("sigmoid", "softmax")
#: Larger files are refused before parsing: the largest model shipped is under 2 MB.
MAX_FILE_BYTES = 64_000_000
#: The most memory one image may need on its way through the network (float64 values).
MAX_BYTES_PER_IMAGE = 64_000_000


# ---------------------------------------------------------------- writing


def encode_tensor(array: np.ndarray, dtype: str = "float32") -> dict[str, Any]:
    """``{"dtype": dtype, "shape": [...], "data": base64(little-endian values, row-major)}``; for ``int8``, also
    ``"scale"``: each row's (first axis) largest magnitude / 127, as a float32 tensor, the row rounded to it."""
    if dtype == "int8":
        rows = np.asarray(array, dtype=np.float64).reshape(len(array), -1)
        scale = (np.abs(rows).max(axis=1) / 127).astype(np.float32)
        scale[scale == 0] = 1.0
        whole = np.round(rows / scale[:, None].astype(np.float64)).astype(np.int8).reshape(np.shape(array))
        return {**_encoded(whole, "int8"), "scale": encode_tensor(scale)}
    return _encoded(np.ascontiguousarray(array, dtype=DTYPES[dtype]), dtype)


def _encoded(a: np.ndarray, dtype: str) -> dict[str, Any]:
    return {"dtype": dtype, "shape": list(a.shape), "data": base64.b64encode(a.tobytes()).decode("ascii")}


def model_to_dict(network: Network, dtype: str = "float32") -> dict[str, Any]:
    """The JSON-ready description of ``network`` (format version 1), its tensors stored as ``dtype``."""
    doc = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "input": {"shape": [N_PIXELS], "encoding": "28x28 row-major, float in [0, 1], ink = 1"},
        "output": {"shape": [N_CLASSES], "kind": network.output_kind},
        "cost": network.cost,
        "layers": layer_entries(network.layers, dtype),
    }
    if network.digit_check is not None:
        # the readers beside the network are small and answer a softer question: all their weight arrays int8
        doc["digit_check"] = {"layers": layer_entries(network.digit_check.layers, dtype, int8_from=0)}
    if network.digit_gate is not None:
        doc["digit_gate"] = {
            "threshold": network.digit_gate.threshold,
            "layers": layer_entries(network.digit_gate.layers, dtype, int8_from=0),
        }
    if network.pen_path is not None:
        doc["pen_path"] = {
            "weight": network.pen_path.weight,
            "layers": layer_entries(network.pen_path.layers, dtype, int8_from=0),
        }
    doc["metadata"] = network.metadata
    return doc


def layer_entries(layers: list[Layer], dtype: str, int8_from: int = INT8_FROM) -> list[dict[str, Any]]:
    """Each layer's entry: its ``type``, its configuration and its tensors stored as ``dtype``; ``int8`` stores
    only weight arrays of at least ``int8_from`` values so, the rest as ``float16``."""
    return [
        {
            "type": layer.kind,
            **layer.config(),
            **{
                name: encode_tensor(p, dtype if dtype != "int8" or (p.ndim > 1 and p.size >= int8_from) else "float16")
                for name, p in layer.params().items()
            },
        }
        for layer in layers
    ]


def save_model(network: Network, path: str | Path, dtype: str = "float32") -> None:
    """Write ``network`` to ``path`` as JSON, atomically (a reader never sees half a file)."""
    text = json.dumps(model_to_dict(network, dtype), indent=None if dtype == "float16" else 1)
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
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ModelFormatError(f"{path}: {path.stat().st_size:,} bytes is too large for a model file")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ModelFormatError(f"{path}: no such model file") from None
    except IsADirectoryError:
        raise ModelFormatError(f"{path}: a folder, not a model file") from None
    except UnicodeDecodeError:
        raise ModelFormatError(f"{path}: not a text file, so not a JSON model") from None
    return parse_model(text, name=str(path))


def parse_model(text: str, name: str = "model") -> Network:
    """A ``Network`` from JSON text in our format, Nielsen's or the original Rust project's.

    Everything is checked before any large array is made: the JSON's size, every number's
    type and range, every tensor's encoding, that the layers chain from 784 inputs to 10
    sigmoid or softmax outputs, and the memory one image needs on the way.
    """
    if len(text) > MAX_FILE_BYTES:
        raise ModelFormatError(f"{name}: {len(text):,} characters is too large for a model file")
    try:
        doc = json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as e:
        ends = text.rstrip()[-1:]
        where = "not valid JSON" if ends in ("}", "]") else "truncated: the file ends inside the JSON document"
        raise ModelFormatError(f"{name}: {where} ({e.msg} at line {e.lineno}, column {e.colno})") from None
    except RecursionError:
        raise ModelFormatError(f"{name}: the JSON is nested too deeply to be a model file") from None
    except ValueError as e:  # NaN/Infinity constants, integers of more than 4,300 digits
        raise ModelFormatError(f"{name}: not a usable JSON document ({e})") from None
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


def _no_constant(constant: str) -> Any:
    raise ValueError(f"{constant} is not a number a model file may hold")


def _parse_digitnet(doc: dict[str, Any], name: str) -> Network:
    read = EntryReader(doc, name)
    if doc["format"] != FORMAT_NAME:
        read.fail(f"format is {short(doc['format'])}, expected {FORMAT_NAME!r}")
    version = doc.get("version")
    if type(version) is not int or version != FORMAT_VERSION:
        read.fail(f"unsupported format version {short(version)} (this digitnet reads version {FORMAT_VERSION})")
    cost = read.text("cost")
    if cost not in COSTS:
        read.fail(f"unknown cost {short(cost)} (known: {', '.join(COSTS)})")
    layers = [_parse_layer(entry, f"{name}: layer {i}") for i, entry in enumerate(read.array("layers"))]
    metadata = doc.get("metadata", {})
    if not isinstance(metadata, dict):
        read.fail("'metadata' must be an object")
    check = _parse_digit_check(doc["digit_check"], f"{name}: digit_check") if "digit_check" in doc else None
    path = _parse_pen_path(doc["pen_path"], f"{name}: pen_path") if "pen_path" in doc else None
    gate = _parse_digit_gate(doc["digit_gate"], f"{name}: digit_gate") if "digit_gate" in doc else None
    return _checked(Network(layers, cost, metadata, check, path, gate), name)


#: The layer kinds a digit check may use: a small fully connected network.
CHECK_LAYERS = ("dense", "relu", "sigmoid")


def _parse_digit_check(entry: Any, where: str) -> DigitCheck:
    """``{"layers": [...]}``: dense, ReLU and sigmoid layers, from a dense layer of n inputs to one sigmoid
    output; ``_checked`` matches n to the network."""
    layers = _reader_layers(entry, where, CHECK_LAYERS, "a digit check")
    if not layers or layers[0].kind != "dense":
        raise ModelFormatError(f"{where}: the first layer must be dense")
    if _chain(layers, (layers[0].n_in,), where)[0] != (1,) or layers[-1].kind != "sigmoid":
        raise ModelFormatError(f"{where}: the last layer must be a sigmoid of one output")
    return DigitCheck(layers)


def _parse_digit_gate(entry: Any, where: str) -> DigitGate:
    """``{"threshold": t, "layers": [...]}``: a threshold in [0, 1] (0.5 when absent) and the layers of a digit
    check (``_parse_digit_check``); ``_checked`` matches its inputs to the network."""
    layers = _parse_digit_check(entry, where).layers
    threshold = EntryReader(entry, where).number("threshold", 0.0, 1.0) if "threshold" in entry else 0.5
    return DigitGate(layers, threshold)


#: The layer kinds a pen path reader may use: a small fully connected network ending in a softmax.
PEN_PATH_LAYERS = ("dense", "relu", "sigmoid", "softmax")


def _parse_pen_path(entry: Any, where: str) -> PenPath:
    """``{"weight": w, "layers": [...]}``: the fusion's weight in [0, 1] (1 when absent) and dense and activation
    layers, from a dense layer of ``points · PER_POINT`` inputs to a softmax of 10 outputs."""
    layers = _reader_layers(entry, where, PEN_PATH_LAYERS, "a pen path reader")
    if not layers or layers[0].kind != "dense" or layers[0].n_in % PER_POINT:
        raise ModelFormatError(f"{where}: the first layer must be dense, with a multiple of {PER_POINT} inputs")
    if _chain(layers, (layers[0].n_in,), where)[0] != (N_CLASSES,) or layers[-1].kind != "softmax":
        raise ModelFormatError(f"{where}: the last layer must be a softmax of {N_CLASSES} outputs")
    weight = EntryReader(entry, where).number("weight", 0.0, 1.0) if "weight" in entry else 1.0
    return PenPath(layers, weight)


def _reader_layers(entry: Any, where: str, kinds: tuple[str, ...], what: str) -> list[Layer]:
    """The layers of a small reader beside the network, ``{"layers": [...]}``, each of one of ``kinds``."""
    if not isinstance(entry, dict):
        raise ModelFormatError(f"{where}: expected an object with layers")
    layers = [_parse_layer(e, f"{where} layer {i}") for i, e in enumerate(EntryReader(entry, where).array("layers"))]
    for i, layer in enumerate(layers):
        if layer.kind not in kinds:
            raise ModelFormatError(f"{where} layer {i}: {what} has only {', '.join(kinds)} layers")
    return layers


def _parse_layer(entry: Any, where: str) -> Layer:
    if not isinstance(entry, dict):
        raise ModelFormatError(f"{where}: expected an object")
    read = EntryReader(entry, where)
    kind = read.text("type")
    if kind not in LAYERS:
        read.fail(f"unknown layer type {short(kind)} (known: {', '.join(LAYERS)})")
    return LAYERS[kind].from_entry(read)


def _parse_nielsen(doc: dict[str, Any], name: str) -> Network:
    """Nielsen's ``network2.py``: ``weights[l]`` is ``(n_out, n_in)``, ``biases[l]`` is ``(n_out, 1)``."""
    read = EntryReader(doc, name)
    sizes = read.int_list("sizes")
    if len(sizes) < 2 or min(sizes) < 1:
        read.fail(f"'sizes' must list at least two positive layer sizes, got {short(sizes)}")
    cost = doc.get("cost")
    if not isinstance(cost, str) or cost not in NIELSEN_COSTS:
        read.fail(f"unknown network2.py cost {short(cost)}")
    weights, biases = read.array("weights"), read.array("biases")
    if not (len(weights) == len(biases) == len(sizes) - 1):
        read.fail(f"{len(sizes)} sizes need {len(sizes) - 1} weight and bias matrices")
    layers: list[Layer] = []
    for i, (w, b, n_in, n_out) in enumerate(zip(weights, biases, sizes[:-1], sizes[1:], strict=True)):
        where = f"{name}: layer {i}"
        weight = _as_matrix(w, (n_out, n_in), f"{where} weights")
        bias = _as_matrix(b, (n_out, 1), f"{where} biases").reshape(n_out)
        layers += [LAYERS["dense"](weight, bias), LAYERS["sigmoid"]()]
    return _checked(Network(layers, NIELSEN_COSTS[cost], {"source": "network2.py"}), name)


def _parse_rust(doc: dict[str, Any], name: str) -> Network:
    """Rust-NN ``network.json``: ``weights[l][input][output]`` (Nielsen's transposed), ``biases[l][output]``."""
    read = EntryReader(doc, name)
    weights, biases = read.array("weights"), read.array("biases")
    if len(weights) != len(biases) or not weights:
        read.fail(f"{len(weights)} weight matrices but {len(biases)} bias vectors")
    layers: list[Layer] = []
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        where = f"{name}: layer {i}"
        columns = _as_matrix(w, None, f"{where} weights")
        bias = _as_matrix(b, (columns.shape[1],), f"{where} biases")
        layers += [LAYERS["dense"](np.ascontiguousarray(columns.T), bias), LAYERS["sigmoid"]()]
    accuracy = doc.get("acc")
    if not (type(accuracy) in (int, float) and math.isfinite(float(accuracy))):
        accuracy = None
    return _checked(Network(layers, "cross-entropy", {"source": "Rust-NN network.json", "acc": accuracy}), name)


def _as_matrix(value: Any, shape: tuple[int, ...] | None, where: str) -> np.ndarray:
    """``value`` (nested lists of numbers) as a float32 array of ``shape`` (any matrix when None)."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError, OverflowError):
        raise ModelFormatError(f"{where}: not a rectangular array of numbers") from None
    if shape is not None and array.shape != shape:
        raise ModelFormatError(f"{where}: shape {list(array.shape)}, expected {list(shape)}")
    if shape is None and array.ndim != 2:
        raise ModelFormatError(f"{where}: expected a matrix, found {array.ndim} dimensions")
    with np.errstate(over="ignore"):
        array = array.astype(np.float32)
    if not np.all(np.isfinite(array)):
        raise ModelFormatError(f"{where}: holds NaN, infinite or out-of-range values")
    return array


def _chain(layers: list[Layer], shape: Shape, where: str) -> tuple[Shape, int]:
    """The output shape of ``layers`` applied to inputs of ``shape``, and the size of the input of the last
    layer with a weight (``Network.head_start``; 0 without one), refusing layers that do not chain or that
    would need more than ``MAX_BYTES_PER_IMAGE`` for one image."""
    features = 0
    for i, layer in enumerate(layers):
        if layer.weighted:
            features = prod(shape)
        try:
            out = layer.output_shape(shape)
            needed = 8 * (prod(shape) + prod(out) + layer.work(shape))
        except ValueError as e:
            raise ModelFormatError(f"{where}: layer {i} {e}") from None
        if needed > MAX_BYTES_PER_IMAGE:
            raise ModelFormatError(
                f"{where}: layer {i} ({layer.kind}) would need {needed / 1e6:,.0f} MB for one image "
                f"(at most {MAX_BYTES_PER_IMAGE / 1e6:.0f} MB)"
            )
        shape = out
    return shape, features


def _checked(network: Network, name: str) -> Network:
    """Reject a network whose layers do not chain 784 → ... → 10, whose outputs are not
    probabilities, that would need more than ``MAX_BYTES_PER_IMAGE`` for one image, or whose
    digit check does not read its features."""
    if not network.layers:
        raise ModelFormatError(f"{name}: no layers")
    shape, features = _chain(network.layers, (N_PIXELS,), name)
    if shape != (N_CLASSES,):
        raise ModelFormatError(f"{name}: the network has outputs of shape {list(shape)}, expected [{N_CLASSES}]")
    if network.output_kind not in OUTPUT_KINDS:
        raise ModelFormatError(
            f"{name}: the last layer is {network.output_kind!r}; it must be sigmoid or softmax to give probabilities"
        )
    check = network.digit_check
    if check is not None and check.n_features != features + N_CLASSES + GEOMETRY:
        raise ModelFormatError(
            f"{name}: digit_check reads {check.n_features} values, but this network's {features} features, "
            f"{N_CLASSES} outputs and {GEOMETRY} geometry values need {features + N_CLASSES + GEOMETRY}"
        )
    gate = network.digit_gate
    if gate is not None and gate.n_features != features + N_CLASSES:
        raise ModelFormatError(
            f"{name}: digit_gate reads {gate.n_features} values, but this network's {features} features and "
            f"{N_CLASSES} outputs need {features + N_CLASSES}"
        )
    return network
