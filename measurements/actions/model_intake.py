"""A ready-made ``.tflite`` file in: validated in LiteRT, fitted to its dataset, then stored.

Nothing is written (database or media) until the file loads and its input fits
the dataset; TensorFlow is imported only when a file arrives, never at start-up.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile

from measurements.models import Dataset, DNNModel


def register_tflite_file(
    name: str, architecture: str, dataset: Dataset, path: str | Path, user: Any = None
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
    classes = model.output_shape[-1] if model.output_shape else None
    if classes != dataset.num_classes:
        raise ValueError(
            f"{Path(path).name} gives {classes} outputs per sample but {dataset.name} has "
            f"{dataset.num_classes} classes. Received: output shape {model.output_shape}"
        )
    row = DNNModel(
        name=name,
        architecture=architecture,
        dataset=dataset,
        format="tflite",
        input_layout=layout,
        sha256=hashlib.sha256(model.content).hexdigest(),
        param_count=int(describe_tflite(model).get("params") or 0),
        created_by=user if getattr(user, "is_authenticated", False) else None,
    )
    row.file.save(f"{name}.tflite", ContentFile(model.content), save=False)
    row.save()
    return row


def register_uploaded_model(
    name: str,
    architecture: str,
    dataset: Dataset,
    path: str | Path,
    baseline: bool = True,
    user: Any = None,
) -> DNNModel:
    """Store an uploaded model file by its suffix: ``.tflite`` here, ``.keras`` in Keras.

    Raises:
        ValueError: the file does not load or does not fit ``dataset``.
    """
    if Path(path).suffix.lower() == ".tflite":
        return register_tflite_file(name, architecture, dataset, path, user=user)
    from measurements.actions.registration import register_model_file

    return register_model_file(name, architecture, dataset, path, baseline=baseline, user=user)
