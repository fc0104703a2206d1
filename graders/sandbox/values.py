"""The JSON form of probed values, shared by the kernel (encode) and the grader (decode).

Only plain data crosses the sandbox boundary: no pickle, nothing the grader
would execute. Arrays and tensors travel as float64/int64/bool lists with a shape.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

MAX_ELEMENTS = 1_000_000


class ValueTooLarge(ValueError):
    """A probed value holds more elements than the grader accepts."""


def encode(value: Any) -> Any:
    """Turn a probed value into JSON-ready data (arrays and tensors become tagged dicts)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, float)):
        return _encode_number(value)
    if isinstance(value, np.generic):
        return encode(value.item())
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if _is_tensor(value):
        return _encode_array(value.detach().to("cpu").numpy())
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, dict):
        return {"__dict__": [[str(k), encode(v)] for k, v in value.items()]}
    raise TypeError(f"cannot probe a value of type {type(value).__name__}")


def decode(data: Any) -> Any:
    """Rebuild plain Python and numpy values from `encode`'s output, rejecting anything else."""
    if data is None or isinstance(data, (bool, str, int, float)):
        return data
    if isinstance(data, list):
        return [decode(v) for v in data]
    if isinstance(data, dict):
        if set(data) == {"__float__"}:
            return float(data["__float__"])
        if set(data) == {"__array__", "dtype", "shape"}:
            return _decode_array(data)
        if set(data) == {"__dict__"}:
            return {str(k): decode(v) for k, v in data["__dict__"]}
    raise ValueError("malformed probe value")


def _is_tensor(value: Any) -> bool:
    module = type(value).__module__
    return module.startswith("torch") and hasattr(value, "detach")


def _encode_number(value: int | float) -> Any:
    if isinstance(value, int):
        return value
    if math.isfinite(value):
        return value
    return {"__float__": repr(value)}  # JSON has no nan/inf


def _encode_array(array: np.ndarray) -> dict:
    if array.size > MAX_ELEMENTS:
        raise ValueTooLarge(f"array with {array.size} elements (limit {MAX_ELEMENTS})")
    if array.dtype == np.bool_:
        dtype = "bool"
    elif np.issubdtype(array.dtype, np.integer):
        dtype = "int64"
    elif np.issubdtype(array.dtype, np.complexfloating):
        raise TypeError("complex arrays cannot be probed")
    else:
        dtype = "float64"
    flat = array.astype(dtype).ravel().tolist()
    if dtype == "float64":
        flat = [_encode_number(x) for x in flat]
    return {"__array__": flat, "dtype": dtype, "shape": list(array.shape)}


def _decode_array(data: dict) -> np.ndarray:
    dtype = data["dtype"]
    if dtype not in ("bool", "int64", "float64"):
        raise ValueError("malformed probe value")
    shape = tuple(int(n) for n in data["shape"])
    flat = [decode(x) for x in data["__array__"]]
    if len(flat) != math.prod(shape) or len(flat) > MAX_ELEMENTS:
        raise ValueError("malformed probe value")
    return np.asarray(flat, dtype=dtype).reshape(shape)
