"""Datasets and models: register a trained file or train a zoo baseline.

TensorFlow is imported inside the functions that need it: the web process
must not pay for it at start-up.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File

from measurements.actions.artifacts import LOADER_BY_SOURCE
from measurements.models import Dataset, DNNModel


def dataset_path(path: Any) -> str:
    """An ``.npz`` path resolved under ``DATASET_ROOT``; anything else is refused unread.

    A relative path is read from the root. The refusal is the same whether or
    not the file exists, and nothing outside the root is opened, so a request
    learns nothing about the server's other files.

    Raises:
        ValueError: the path is not text, or leads outside the root.
    """
    root = Path(settings.DATASET_ROOT).resolve()
    outside = ValueError(
        f"Dataset files are read only from under the lab's dataset directory {root} "
        f"(DATASET_ROOT); give a path inside it. Received: path={path!r}"
    )
    if not isinstance(path, str) or not path.strip() or "\x00" in path:
        raise outside
    resolved = (root / path).resolve()  # an absolute path replaces root; links are followed
    if root not in resolved.parents:
        raise outside
    return str(resolved)


def register_dataset(name: str, source: str, options: dict[str, Any] | None = None) -> Dataset:
    """The Dataset row for a loader spec, created on first use with its split sizes.

    Raises:
        ValueError: an ``npz`` path outside ``DATASET_ROOT`` (see ``dataset_path``),
            or the loader's own ``DatasetError``.
    """
    from compression.data.registry import load_dataset

    existing = Dataset.objects.filter(name=name).first()
    if existing:
        return existing
    options = dict(options or {})
    if source == Dataset.Source.NPZ:
        options["path"] = dataset_path(options.get("path"))
    data = load_dataset(LOADER_BY_SOURCE[source], **options)
    sizes = data.split_sizes
    return Dataset.objects.create(
        name=name,
        input_shape=list(data.input_shape),
        num_classes=data.num_classes,
        source=source,
        source_options=options,
        train_size=sizes["train"],
        val_size=sizes["val"],
        test_size=sizes["test"],
    )


def register_model_file(
    name: str,
    architecture: str,
    dataset: Dataset,
    path: str | Path,
    baseline: bool = True,
    user: Any = None,
) -> DNNModel:
    """Store a trained .keras file as a DNNModel, after checking it is safe and fits.

    Raises:
        ModelFileError: the file is corrupt, not a Keras model or holds a Lambda
            layer (Keras safe mode); a ValueError.
        ValueError: the model's input shape or class count does not match the dataset.
    """
    from compression.analysis import analyze_keras
    from compression.modelio import load_model, model_sha256

    model = load_model(path)
    check_model_fits(model, Path(path).name, dataset)
    row = DNNModel(
        name=name,
        architecture=architecture,
        dataset=dataset,
        sha256=model_sha256(path),
        param_count=int(analyze_keras(model)["params"]),
        is_baseline=baseline,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    with open(path, "rb") as handle:
        row.file.save(f"{name}.keras", File(handle), save=False)
    row.save()
    return row


def register_reference_model(
    name: str, architecture: str, dataset: Dataset, param_count: int = 0, user: Any = None
) -> DNNModel:
    """A model registered without a file: a paper's or another lab's, results imported.

    It is never compressed (queue_jobs refuses it); its pages say "reference: no file".
    """
    return DNNModel.objects.create(
        name=name,
        architecture=architecture,
        dataset=dataset,
        param_count=param_count,
        is_baseline=False,
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )


def check_model_fits(model: Any, file_name: str, dataset: Dataset) -> None:
    """Refuse a model whose input or output does not match the dataset.

    A mismatch would otherwise only surface when the first job compresses it.

    Raises:
        ValueError: the sample shape or the number of classes differs.
    """
    expected = tuple(dataset.input_shape)
    if not isinstance(model.input_shape, tuple) or tuple(model.input_shape[1:]) != expected:
        raise ValueError(
            f"{file_name} takes inputs of shape {_shape(model.input_shape)} but dataset "
            f"{dataset.name} has samples of shape {_shape(expected)}; choose the "
            "dataset it was trained on."
        )
    outputs = model.output_shape[-1] if isinstance(model.output_shape, tuple) else None
    if outputs != dataset.num_classes:
        raise ValueError(
            f"{file_name} outputs {outputs} values per sample but dataset {dataset.name} "
            f"has {dataset.num_classes} classes; choose the dataset it was trained on."
        )


def train_and_register_baseline(
    arch: str,
    dataset: Dataset,
    epochs: int,
    seed: int = 0,
    name: str | None = None,
    **options: Any,
) -> DNNModel:
    """Train a zoo architecture on a registered dataset and store it as a baseline.

    ``options`` go to the architecture's builder (a keras.applications width, alpha=0.35).
    """
    from compression.baseline import train_baseline
    from compression.data.registry import load_dataset
    from compression.modelio import save_model

    data = load_dataset(LOADER_BY_SOURCE[dataset.source], **dataset.source_options)
    model = train_baseline(arch, data, epochs=epochs, seed=seed, **options)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{arch}.keras"
        save_model(model, path)
        return register_model_file(name or f"{arch}-{dataset.name}", arch, dataset, path)


def _shape(shape: Any) -> str:
    # Drop the batch dimension Keras reports as None.
    if isinstance(shape, tuple) and shape and shape[0] is None:
        shape = shape[1:]
    return "×".join(str(n) for n in shape) if isinstance(shape, tuple) else str(shape)
