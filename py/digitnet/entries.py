"""One object of a model file read with checks (``EntryReader``), and the error every refusal raises
(``ModelFormatError``).

Imports nothing from digitnet: the layers read their own entries through it (``Layer.from_entry``) and the
model file (``digitnet.modelfile``) reads whole files, so both depend on this module and neither on the other.
"""

from __future__ import annotations

import binascii
import math
from typing import Any

import numpy as np

from digitnet.errors import DigitnetError

#: How a tensor's values may be stored: little-endian IEEE-754 floats of either width, or (``int8``) whole numbers
#: from −127 to 127, each row along the first axis times its own float32 ``scale``.
DTYPES = {"float32": np.dtype("<f4"), "float16": np.dtype("<f2"), "int8": np.dtype("i1")}


class ModelFormatError(DigitnetError, ValueError):
    """A model file that cannot be used, with the reason."""


def prod(values: Any) -> int:
    """The product of whole numbers, as a Python int (no overflow)."""
    result = 1
    for v in values:
        result *= int(v)
    return result


def short(value: Any) -> str:
    """``repr(value)`` cut to 40 characters, for messages about what a file holds."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


class EntryReader:
    """Typed, range-checked access to one JSON object of a model file; every refusal is a
    ``ModelFormatError`` that starts with ``where`` (the file and the layer)."""

    def __init__(self, entry: dict[str, Any], where: str) -> None:
        self.entry = entry
        self.where = where

    def fail(self, message: str) -> None:
        raise ModelFormatError(f"{self.where}: {message}")

    def get(self, key: str) -> Any:
        if key not in self.entry:
            self.fail(f"missing {key!r}")
        return self.entry[key]

    def integer(self, key: str, low: int, high: int) -> int:
        """A JSON integer (not a boolean, not 3.0) in ``[low, high]``."""
        value = self.get(key)
        if type(value) is not int:
            self.fail(f"{key!r} must be a whole number, got {short(value)}")
        if not low <= value <= high:
            self.fail(f"{key!r} must be between {low} and {high}, got {short(value)}")
        return value

    def positive(self, key: str) -> int:
        """A size: a whole number from 1 to 2²⁴."""
        return self.integer(key, 1, 1 << 24)

    def number(self, key: str, low: float, high: float) -> float:
        """A finite JSON number in ``[low, high]``, as a float."""
        value = self.get(key)
        if type(value) not in (int, float):
            self.fail(f"{key!r} must be a number, got {short(value)}")
        try:
            number = float(value)
        except OverflowError:
            number = math.inf
        if not (math.isfinite(number) and low <= number <= high):
            self.fail(f"{key!r} must be between {low:g} and {high:g}, got {short(value)}")
        return number

    def flag(self, key: str) -> bool:
        value = self.get(key)
        if type(value) is not bool:
            self.fail(f"{key!r} must be true or false")
        return value

    def text(self, key: str) -> str:
        value = self.get(key)
        if not isinstance(value, str):
            self.fail(f"{key!r} must be a string")
        return value

    def array(self, key: str) -> list[Any]:
        value = self.get(key)
        if not isinstance(value, list):
            self.fail(f"{key!r} must be a list")
        return value

    def int_list(self, key: str) -> list[int]:
        values = self.array(key)
        if not all(type(v) is int and abs(v) <= 1 << 24 for v in values):
            self.fail(f"{key!r} must list whole numbers, got {short(values)}")
        return values

    def tensor(self, key: str, shape: tuple[int, ...]) -> np.ndarray:
        """The float32 array ``shape`` stored under ``key``, decoded exactly; finite values only."""
        where = f"{self.where} tensor {key!r}"
        if key not in self.entry:
            raise ModelFormatError(f"{where}: missing")
        tensor = self.entry[key]
        if not isinstance(tensor, dict):
            raise ModelFormatError(f"{where}: expected an object with dtype, shape and data")
        dtype = tensor.get("dtype")
        if not isinstance(dtype, str) or dtype not in DTYPES:
            raise ModelFormatError(f"{where}: dtype {short(dtype)} is not one of {', '.join(map(repr, DTYPES))}")
        if tensor.get("shape") != list(shape) or any(type(d) is not int for d in tensor["shape"]):
            found = short(tensor.get("shape"))
            raise ModelFormatError(f"{where}: shape {found} does not match the layer's {list(shape)}")
        data = tensor.get("data")
        if not isinstance(data, str):
            raise ModelFormatError(f"{where}: 'data' must be a base64 string")
        expected = prod(shape) * DTYPES[dtype].itemsize
        if len(data) != 4 * math.ceil(expected / 3):  # checked before decoding: no large allocation
            raise ModelFormatError(
                f"{where}: {len(data)} characters of base64, expected {4 * math.ceil(expected / 3)} for "
                f"{expected} bytes of shape {list(shape)}"
            )
        try:
            raw = binascii.a2b_base64(data, strict_mode=True)
        except (binascii.Error, ValueError):
            raise ModelFormatError(f"{where}: 'data' is not valid base64") from None
        if len(raw) != expected:
            raise ModelFormatError(f"{where}: {len(raw)} bytes of data, expected {expected} for shape {list(shape)}")
        array = np.frombuffer(raw, dtype=DTYPES[dtype]).astype(np.float32).reshape(shape)
        if dtype == "int8":
            if not shape or not isinstance(tensor.get("scale"), dict) or tensor["scale"].get("dtype") == "int8":
                raise ModelFormatError(f"{where}: an int8 tensor needs a float 'scale' tensor, one value a row")
            scale = EntryReader(tensor, where).tensor("scale", (shape[0],))
            array = (array.reshape(shape[0], -1) * scale[:, None]).reshape(shape)
        if not np.all(np.isfinite(array)):
            raise ModelFormatError(f"{where} holds NaN or infinite values")
        return array
