"""One inference through LiteRT's Python ``Interpreter``, as the driver times it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def random_inputs(details: list[dict[str, Any]], seed: int) -> list[np.ndarray]:
    """Seeded random arrays matching the interpreter's input shapes and dtypes."""
    rng = np.random.default_rng(seed)
    arrays = []
    for detail in details:
        shape, dtype = tuple(detail["shape"]), np.dtype(detail["dtype"])
        if dtype.kind == "f":
            arrays.append(rng.random(shape).astype(dtype))
        elif dtype.kind == "b":
            arrays.append(rng.integers(0, 2, shape).astype(bool))
        elif dtype.kind in "iu":
            info = np.iinfo(dtype)
            low, high = max(int(info.min), -128), min(int(info.max), 127)
            arrays.append(rng.integers(low, high + 1, shape).astype(dtype))
        else:
            raise ValueError(f"Unsupported input dtype {dtype} for input {detail['name']!r}")
    return arrays


def make_infer(interpreter: Any, inputs: list[np.ndarray]) -> Callable[[], None]:
    """One inference as seed 001 times it: from setting the input to reading the output."""
    in_idx = [d["index"] for d in interpreter.get_input_details()]
    out_idx = [d["index"] for d in interpreter.get_output_details()]

    def infer() -> None:
        for index, array in zip(in_idx, inputs, strict=True):
            interpreter.set_tensor(index, array)
        interpreter.invoke()
        for index in out_idx:
            interpreter.get_tensor(index)

    return infer
