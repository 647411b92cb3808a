"""A ready-made ``.tflite`` file as a model: validation, input signature, layout.

A file is accepted when LiteRT loads it and allocates its tensors (so a
corrupt file or one needing ops this LiteRT lacks is refused with a
``ModelFileError``), it has one input and that input is float or a quantized
int8/uint8 image tensor. Its layout is guessed from the sample shape: TFLite
models are channel-last (NHWC) unless the first axis looks like channels and
the last does not. ``check_input`` matches it against a dataset's NHWC samples
and ``arrange`` transposes those samples for an NCHW model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from compression.analysis import analyze_tflite, read_tflite
from compression.errors import ModelFileError, ModelInputError

# Channel counts an image model's input plausibly has (grey, RGB, RGBA).
IMAGE_CHANNELS = (1, 3, 4)
INPUT_DTYPES = ("float32", "float16", "int8", "uint8")
_MAX_CAUSE = 200  # characters of LiteRT's own message kept in ours


@dataclass(frozen=True)
class TfliteModel:
    """A validated ``.tflite`` file and its single input's signature."""

    content: bytes = field(repr=False)
    input_shape: tuple[int, ...]  # one sample, without the batch axis
    input_dtype: str
    layout: str  # "NHWC" or "NCHW" (a guess from the shape for rank-3 samples)
    output_shape: tuple[int, ...]


def load_tflite(source: bytes | str | Path) -> TfliteModel:
    """Validate a ``.tflite`` file by loading it in LiteRT.

    Args:
        source: the file's bytes or its path.

    Returns:
        The file with its input signature.

    Raises:
        ModelFileError: unreadable, not a TFLite flatbuffer, corrupt, or using
            ops this LiteRT cannot run.
        ModelInputError: several inputs, or an input type no image dataset feeds.
    """
    content = read_tflite(source)
    analyze_tflite(content)  # parses the flatbuffer: a clear error for a non-TFLite file
    try:
        interpreter = Interpreter(model_content=content, num_threads=1)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as error:
        raise ModelFileError(
            f"LiteRT cannot load this .tflite ({len(content)} bytes): it is corrupt or uses "
            f"ops this runtime does not support. LiteRT said: {str(error).strip()[:_MAX_CAUSE]}"
        ) from None
    inputs, outputs = interpreter.get_input_details(), interpreter.get_output_details()
    if len(inputs) != 1 or not outputs:
        raise ModelInputError(
            f"Compresso runs single-input classifiers. Received: a .tflite with "
            f"{len(inputs)} inputs and {len(outputs)} outputs"
        )
    dtype = np.dtype(inputs[0]["dtype"]).name
    if dtype not in INPUT_DTYPES:
        raise ModelInputError(
            f"The model's input must be one of {', '.join(INPUT_DTYPES)} to take image "
            f"samples. Received: input dtype {dtype}"
        )
    shape = tuple(int(d) for d in inputs[0]["shape"][1:])
    return TfliteModel(content, shape, dtype, guess_layout(shape), _sample(outputs[0]))


def guess_layout(sample_shape: tuple[int, ...]) -> str:
    """``NCHW`` when a rank-3 sample's first axis looks like channels and its last does not."""
    if len(sample_shape) == 3:
        first, last = sample_shape[0], sample_shape[-1]
        if first in IMAGE_CHANNELS and last not in IMAGE_CHANNELS:
            return "NCHW"
    return "NHWC"


def check_input(model: TfliteModel, dataset_shape: tuple[int, ...]) -> str:
    """The layout in which ``model`` takes samples of a dataset with NHWC ``dataset_shape``.

    Returns:
        ``NHWC`` when the samples fit as they are, ``NCHW`` when they fit once
        ``arrange`` moves the channel axis first.

    Raises:
        ModelInputError: the samples fit neither way.
    """
    dataset_shape = tuple(int(d) for d in dataset_shape)
    if model.input_shape == dataset_shape:
        return "NHWC"
    if len(dataset_shape) == 3 and model.input_shape == _channels_first(dataset_shape):
        return "NCHW"
    raise ModelInputError(
        f"The model takes samples of shape {model.input_shape} ({model.layout} guessed), "
        f"the dataset's samples are {dataset_shape} (NHWC) and do not fit either as they "
        f"are or with channels first. Received: dataset sample shape {dataset_shape}"
    )


def arrange(x: np.ndarray, layout: str) -> np.ndarray:
    """Dataset samples (N, H, W, C) in ``layout``: unchanged for NHWC, transposed for NCHW."""
    if layout == "NHWC":
        return x
    if layout == "NCHW" and x.ndim == 4:
        return np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))
    raise ValueError(f"layout must be NHWC or NCHW for (N, H, W, C) samples. Received: {layout!r}")


def describe_tflite(model: TfliteModel) -> dict[str, Any]:
    """Static figures read from the flatbuffer plus the input signature.

    Returns:
        ``analyze_tflite``'s figures (file and gzip size, params, op mix as
        ``by_op_type`` …) with ``input_shape``, ``input_dtype`` and ``layout``.
    """
    figures = analyze_tflite(model.content)
    figures.update(
        input_shape=list(model.input_shape), input_dtype=model.input_dtype, layout=model.layout
    )
    return figures


def _channels_first(shape: tuple[int, ...]) -> tuple[int, ...]:
    return (shape[-1], *shape[:-1])


def _sample(detail: dict[str, Any]) -> tuple[int, ...]:
    return tuple(int(d) for d in detail["shape"][1:])
