"""A PyTorch program (``torch.export`` ``.pt2``) as a model, converted to ``.tflite``.

Only ``torch.export`` archives are accepted: ``read_pt2`` looks inside the zip
(without torch) and refuses a pickled ``nn.Module`` (``torch.save`` writes a
``data.pkl``) or any other zip, so nothing is ever unpickled with
``weights_only=False``. Conversion and anything else that needs torch runs in a
``spawn`` child (``run_in_torch_child``): the caller, a web or runner process,
never imports torch, and a crash in the converter ends the child, not the caller.
"""

from __future__ import annotations

import importlib
import io
import zipfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
from ai_edge_litert.interpreter import Interpreter

from compression.errors import ModelFileError

WORKER = "compression.formats.torch_worker"
# The modules a child may run functions of: nothing else is imported there.
WORKER_MODULES = (WORKER, "compression.formats.torch_prune")
# PyTorch's outputs and the .tflite's must agree this closely (max absolute difference).
DEFAULT_TOLERANCE = 1e-3
COMPARE_SAMPLES = 8
CHILD_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class TorchProgram:
    """The bytes of a ``torch.export`` archive that passed ``read_pt2``.

    ``conversion`` is its checked ``.tflite`` when the child that made the
    program (TP's pruning) converted it too, so no second child is started.
    """

    content: bytes = field(repr=False)
    name: str = "model.pt2"
    conversion: Conversion | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Conversion:
    """A ``.pt2`` converted to ``.tflite`` and checked against PyTorch."""

    tflite: bytes = field(repr=False)
    layout: str  # the PyTorch program's input layout; the .tflite always takes NHWC
    seconds: float  # litert-torch conversion wall time, measured in the child
    max_abs_diff: float  # between PyTorch's and LiteRT's outputs on the compared samples
    samples: int


def read_pt2(source: bytes | str | Path) -> TorchProgram:
    """Read a ``.pt2`` and check it is a ``torch.export`` archive, without torch.

    Raises:
        ModelFileError: unreadable, not a zip, a pickled module, or a zip that
            holds no ExportedProgram.
    """
    name = "model.pt2" if isinstance(source, bytes | bytearray) else Path(source).name
    try:
        content = (
            bytes(source) if isinstance(source, bytes | bytearray) else Path(source).read_bytes()
        )
        names = zipfile.ZipFile(io.BytesIO(content)).namelist()
    except OSError as error:
        raise ModelFileError(f"Cannot read {name}: {error.strerror or error}") from None
    except zipfile.BadZipFile:
        raise ModelFileError(
            f"{name} is not a torch.export archive (.pt2 files are zips). "
            f"Received: {len(content)} bytes starting {content[:8]!r}"
        ) from None
    if any(n.endswith("data.pkl") for n in names):
        raise ModelFileError(
            f"{name} is a pickled PyTorch object (torch.save), which could run arbitrary "
            "code when loaded and is refused. Save a program instead: "
            "torch.export.save(torch.export.export(model, (example,)), 'model.pt2')"
        )
    if not any(n.endswith("archive_format") for n in names) or not any(
        "/models/" in n and n.endswith(".json") for n in names
    ):
        raise ModelFileError(
            f"{name} is a zip but holds no torch.export program (no archive_format and "
            f"models/*.json). Received: {len(names)} entries, e.g. {names[:3]}"
        )
    return TorchProgram(content, name)


def convert_pt2(
    program: TorchProgram, samples: np.ndarray, *, tolerance: float = DEFAULT_TOLERANCE
) -> Conversion:
    """Convert a program to ``.tflite`` with litert-torch in a child process and check it.

    A program that carries its ``conversion`` already (made by the child that
    made the program) returns it without starting a child.

    Args:
        program: from ``read_pt2``.
        samples: dataset samples (N, H, W, C), N >= 1; the first
            ``COMPARE_SAMPLES`` go through both PyTorch and LiteRT.
        tolerance: largest accepted max absolute difference of the outputs.

    Returns:
        The ``.tflite`` (taking NHWC samples) and the comparison.

    Raises:
        ModelFileError: the program does not load or convert, or its
            ``.tflite`` disagrees with PyTorch by more than ``tolerance``.
        ModelInputError: its input does not fit the samples' shape.
    """
    if program.conversion is not None:
        return program.conversion
    x = compare_samples(samples)
    result = run_in_torch_child("convert", program.content, tuple(x.shape[1:]), x)
    return checked_conversion(result, x, tolerance)


def compare_samples(samples: np.ndarray) -> np.ndarray:
    """The first ``COMPARE_SAMPLES`` samples, float32, that PyTorch and LiteRT both run.

    Raises:
        ValueError: ``samples`` is not a non-empty batch.
    """
    x = np.asarray(samples, dtype="float32")[:COMPARE_SAMPLES]
    if x.ndim < 2 or not len(x):
        raise ValueError(f"samples must be a non-empty batch. Received: shape {np.shape(samples)}")
    return x


def checked_conversion(
    result: dict[str, Any], x: np.ndarray, tolerance: float = DEFAULT_TOLERANCE
) -> Conversion:
    """The child's ``torch_worker.convert`` result, its ``.tflite`` run on ``x`` here.

    Raises:
        ModelFileError: LiteRT's outputs differ from PyTorch's by more than ``tolerance``.
    """
    diff = float(np.max(np.abs(tflite_outputs(result["tflite"], x) - result["outputs"])))
    if not diff <= tolerance:  # also refuses NaN
        raise ModelFileError(
            f"The converted .tflite disagrees with PyTorch: max absolute output difference "
            f"{diff:.3g} on {len(x)} samples, over the tolerance {tolerance:g}"
        )
    return Conversion(result["tflite"], result["layout"], result["seconds"], diff, len(x))


def tflite_outputs(tflite: bytes, x: np.ndarray) -> np.ndarray:
    """Float outputs of a float-input ``.tflite`` on samples ``x``, one sample at a time."""
    interpreter = Interpreter(model_content=tflite, num_threads=1)
    interpreter.allocate_tensors()
    source = interpreter.get_input_details()[0]
    target = interpreter.get_output_details()[0]
    rows = []
    for sample in x:
        interpreter.set_tensor(source["index"], sample[np.newaxis].astype(source["dtype"]))
        interpreter.invoke()
        rows.append(interpreter.get_tensor(target["index"]).astype("float32"))
    return np.concatenate(rows)


def run_in_torch_child(function: str, *args: Any, module: str = WORKER) -> Any:
    """Call ``<module>.<function>(*args)`` in a fresh ``spawn`` process.

    Raises:
        ModelFileError: the child died (out of memory, a crash in native code), or
            torch is not installed here.
        Whatever ``compression.errors`` type the function raised, as raised.
    """
    if module not in WORKER_MODULES:
        raise ValueError(f"Not a torch worker module: {WORKER_MODULES}. Received: {module!r}")
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        future = pool.submit(_call, module, function, args)
        try:
            return future.result(timeout=CHILD_TIMEOUT_SECONDS)
        except BrokenProcessPool:
            raise ModelFileError(
                f"The PyTorch worker process died while running {function}; the model "
                "may be too large or crash the converter"
            ) from None
        except ImportError as error:  # torch is an optional extra
            raise ModelFileError(
                "PyTorch programs need the optional PyTorch extra, which this host lacks "
                f"(pip install -r requirements-torch.txt): {error}"
            ) from None


def _call(module: str, function: str, args: tuple[Any, ...]) -> Any:
    # Runs in the child: the worker modules (and torch) are imported only here.
    importlib.import_module(WORKER).quiet()
    return getattr(importlib.import_module(module), function)(*args)
