"""What runs in the child process: torch.export loading and litert-torch conversion.

Only ``compression.formats.pt2`` starts these functions, in a ``spawn`` child,
so torch is imported here and never in the caller. Errors are raised as
``compression.errors`` types, which pickle back to the parent with their message.
"""

from __future__ import annotations

import os
import tempfile
import time
from typing import Any

import numpy as np
import torch

from compression.errors import ModelFileError, ModelInputError

_MAX_CAUSE = 300  # characters of torch's own message kept in ours


def load_program(content: bytes) -> torch.export.ExportedProgram:
    """An ExportedProgram from ``.pt2`` bytes, through ``torch.export.load`` only.

    Raises:
        ModelFileError: the bytes are not a loadable ``torch.export`` archive.
    """
    with tempfile.NamedTemporaryFile(suffix=".pt2") as file:
        file.write(content)
        file.flush()
        try:
            return torch.export.load(file.name)
        except Exception as error:  # torch raises RuntimeError, KeyError, ValueError…
            raise ModelFileError(
                "This .pt2 is not a torch.export program torch can load "
                f"({type(error).__name__}: {str(error).strip()[:_MAX_CAUSE]})"
            ) from None


def input_shape(program: torch.export.ExportedProgram) -> tuple[int, ...]:
    """The shape of the program's single user input, batch axis included.

    Raises:
        ModelInputError: several inputs, or one that is not a tensor.
    """
    names = list(program.graph_signature.user_inputs)
    nodes = [n for n in program.graph.nodes if n.op == "placeholder" and n.name in names]
    if len(nodes) != 1 or not isinstance(nodes[0].meta.get("val"), torch.Tensor):
        raise ModelInputError(
            f"Compresso converts single-input classifiers. Received: a program with inputs {names}"
        )
    return tuple(int(d) if isinstance(d, int) else 1 for d in nodes[0].meta["val"].shape)


def layout_for(shape: tuple[int, ...], dataset_shape: tuple[int, ...]) -> str:
    """``NHWC`` or ``NCHW``: how the program's input takes NHWC dataset samples.

    Raises:
        ModelInputError: the sample shape fits the input neither way.
    """
    sample = tuple(shape[1:])
    if sample == tuple(dataset_shape):
        return "NHWC"
    if len(dataset_shape) == 3 and sample == (dataset_shape[-1], *dataset_shape[:-1]):
        return "NCHW"
    raise ModelInputError(
        f"The program takes inputs of shape {shape}; the dataset's samples are "
        f"{tuple(dataset_shape)} (NHWC), which fit neither as they are nor channels first. "
        f"Received: dataset sample shape {tuple(dataset_shape)}"
    )


def convert(content: bytes, dataset_shape: tuple[int, ...], samples: np.ndarray) -> dict[str, Any]:
    """Convert a ``.pt2`` to ``.tflite`` taking NHWC samples, and run PyTorch on ``samples``.

    An NCHW program is wrapped with litert-torch's channel-last I/O so the
    ``.tflite`` takes the dataset's NHWC samples as they are.

    Returns:
        ``tflite`` (bytes), ``layout`` (of the PyTorch program), ``seconds``
        (conversion wall time) and ``outputs`` (PyTorch's, one row per sample).

    Raises:
        ModelFileError: not loadable, or litert-torch cannot convert it.
        ModelInputError: the program's input does not fit the dataset.
    """
    program = load_program(content)
    layout = layout_for(input_shape(program), dataset_shape)
    import litert_torch  # seconds to import: only once the program loads and fits

    module = program.module()
    if layout == "NCHW":
        module = litert_torch.to_channel_last_io(module, args=[0])
        module.training = False  # the wrapper only; the program's own module refuses eval()
    batch = torch.from_numpy(np.asarray(samples, dtype="float32"))
    started = time.perf_counter()
    try:
        edge = litert_torch.convert(module, (batch[:1],))
    except Exception as error:  # conversion fails anywhere in lowering
        raise ModelFileError(
            "litert-torch could not convert this program to .tflite "
            f"({type(error).__name__}: {str(error).strip()[:_MAX_CAUSE]})"
        ) from None
    seconds = time.perf_counter() - started
    with torch.no_grad():
        outputs = [module(batch[i : i + 1]).detach().numpy() for i in range(len(batch))]
    return {
        "tflite": bytes(edge.model_content()),
        "layout": layout,
        "seconds": seconds,
        "outputs": np.concatenate(outputs),
    }


def quiet() -> None:
    """Initializer of the child: keep torch to one thread beside the other workers."""
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
