"""Ready-made ``.tflite`` files and PyTorch ``.pt2`` programs in: validated, fitted, stored.

Nothing is written (database or media) until the file loads and fits its
dataset; a stored file is removed again if the row cannot be saved.
TensorFlow is imported only when a file arrives, never at start-up, and torch
never in this process: a ``.pt2`` is converted to ``.tflite`` with litert-torch
in a ``spawn`` child (``compression.formats.pt2.convert_pt2``), at upload, so a
program that does not convert, disagrees with PyTorch or does not fit the
dataset is refused before anything is stored, and runners compress and measure
from that checked conversion.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile

from measurements.actions.artifacts import LOADER_BY_SOURCE
from measurements.models import Dataset, DNNModel


def register_tflite_file(
    name: str,
    architecture: str,
    dataset: Dataset,
    path: str | Path,
    baseline: bool = True,
    user: Any = None,
) -> DNNModel:
    """Store a ``.tflite`` as a DNNModel after LiteRT loads it and its input fits ``dataset``.

    Raises:
        ValueError: the file is not a loadable ``.tflite`` (ModelFileError), its
            input fits the dataset's samples in neither NHWC nor NCHW
            (ModelInputError), or its output does not give one score per class.
    """
    from compression.formats.tflite import check_input, describe_tflite, load_tflite

    model = load_tflite(path)
    layout = check_input(model, tuple(dataset.input_shape))
    check_classes(Path(path).name, model.output_shape, dataset)
    row = DNNModel(
        name=name,
        architecture=architecture,
        dataset=dataset,
        format="tflite",
        input_layout=layout,
        sha256=hashlib.sha256(model.content).hexdigest(),
        param_count=int(describe_tflite(model).get("params") or 0),
        is_baseline=baseline,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    return save_with_files(row, {"file": (f"{name}.tflite", model.content)})


def register_pt2_file(
    name: str,
    architecture: str,
    dataset: Dataset,
    path: str | Path,
    baseline: bool = True,
    user: Any = None,
) -> DNNModel:
    """Store a ``torch.export`` ``.pt2`` with its ``.tflite`` once it converts and fits.

    The archive is read without torch first (a pickled module is refused at
    once); the conversion runs in a torch child process and is checked against
    PyTorch on the dataset's first validation samples.

    Raises:
        ValueError: not a ``torch.export`` archive or a pickled module, not
            loadable or convertible by torch and litert-torch, outputs that
            disagree with PyTorch (ModelFileError); an input that fits the
            dataset's samples in no layout (ModelInputError); or not one output
            per class.
    """
    from compression.analysis import analyze_tflite
    from compression.formats.pt2 import read_pt2
    from compression.formats.tflite import load_tflite

    program = read_pt2(path)
    conversion = convert_program(program, dataset)
    converted = load_tflite(conversion.tflite)
    check_classes(program.name, converted.output_shape, dataset)
    row = DNNModel(
        name=name,
        architecture=architecture,
        dataset=dataset,
        format="pt2",
        input_layout=conversion.layout,
        sha256=hashlib.sha256(program.content).hexdigest(),
        converted_sha256=hashlib.sha256(conversion.tflite).hexdigest(),
        conversion_max_abs_diff=conversion.max_abs_diff,
        conversion_seconds=conversion.seconds,
        param_count=int(analyze_tflite(conversion.tflite)["params"]),
        is_baseline=baseline,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    files = {
        "file": (f"{name}.pt2", program.content),
        "converted_file": (f"{name}.tflite", conversion.tflite),
    }
    return save_with_files(row, files)


def convert_program(program: Any, dataset: Dataset) -> Any:
    """``convert_pt2`` on the dataset's validation samples, any failure as a ValueError.

    The program is untrusted: whatever torch or litert-torch raise on it (not
    only the errors the worker names) means the file cannot be taken.

    Raises:
        ValueError: the conversion failed; the message names the file and why.
    """
    from compression.data.registry import load_dataset
    from compression.errors import CompressionError
    from compression.formats.pt2 import convert_pt2

    samples = load_dataset(LOADER_BY_SOURCE[dataset.source], **dataset.source_options).x_val
    try:
        return convert_pt2(program, samples)
    except CompressionError:
        raise
    except Exception as error:
        raise ValueError(
            f"{program.name} could not be converted to .tflite: "
            f"{type(error).__name__}: {str(error)[:300]}"
        ) from None


def check_classes(file_name: str, output_shape: tuple[int, ...], dataset: Dataset) -> None:
    """Refuse a model that does not give one score per class of ``dataset``.

    Raises:
        ValueError: naming the file, its output shape and the class count.
    """
    classes = output_shape[-1] if output_shape else None
    if classes != dataset.num_classes:
        raise ValueError(
            f"{file_name} gives {classes} outputs per sample but {dataset.name} has "
            f"{dataset.num_classes} classes. Received: output shape {output_shape}"
        )


def save_with_files(row: DNNModel, files: dict[str, tuple[str, bytes]]) -> DNNModel:
    """Store each ``field: (name, content)`` and save ``row``; no file is left if it fails."""
    try:
        for field, (file_name, content) in files.items():
            getattr(row, field).save(file_name, ContentFile(content), save=False)
        row.save()
    except BaseException:
        for field in files:
            stored = getattr(row, field)
            if stored:
                stored.delete(save=False)
        raise
    return row


def register_uploaded_model(
    name: str,
    architecture: str,
    dataset: Dataset,
    path: str | Path,
    baseline: bool = True,
    user: Any = None,
) -> DNNModel:
    """Store an uploaded model file by its suffix: ``.tflite``, ``.pt2`` or ``.keras``.

    Raises:
        ValueError: an unknown suffix, or the file does not load or fit ``dataset``.
    """
    from compression.formats.registry import format_for_filename

    model_format = format_for_filename(Path(path).name).code
    from measurements.actions.registration import register_model_file

    registrars = {
        "keras": register_model_file,
        "tflite": register_tflite_file,
        "pt2": register_pt2_file,
    }
    register = registrars[model_format]
    return register(name, architecture, dataset, path, baseline=baseline, user=user)
