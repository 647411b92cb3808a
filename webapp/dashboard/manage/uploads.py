"""Uploaded models (.keras, .tflite, .pt2): a size limit enforced while the body streams in,
safe loading.

Django writes uploads to disk before a view runs, so the limit is checked by an
upload handler as the bytes arrive: a file over the limit is skipped (never
stored, not even in /tmp) and the form then says so. The rest of the form,
CSRF token included, is still read, so the user gets the form back with a
message rather than a 403 or a reset connection.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.utils.text import get_valid_filename

from measurements.models import Dataset, DNNModel

# Set on the request by the handler when a file was skipped for its size.
TOO_LARGE_ATTRIBUTE = "compresso_upload_too_large"


class SizeLimitHandler(FileUploadHandler):
    """Skips any uploaded file whose bytes exceed ``limit``; must come first in the chain."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            setattr(self.request, TOO_LARGE_ATTRIBUTE, self.field_name)
            raise SkipFile(f"{self.file_name} is larger than {self.limit} bytes")
        return raw_data  # pass the chunk on to the handler that stores it

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler returns the stored file


def too_large(request: HttpRequest) -> bool:
    """Whether the size handler skipped a file of this request."""
    return bool(getattr(request, TOO_LARGE_ATTRIBUTE, None))


# The bundled dataset as ``manage.py demo`` registers it, so both share one row.
BUNDLED_DATASET = ("digits", "bundled", {"seed": 0})


def register_upload(
    upload: Any, name: str, architecture: str, dataset: Dataset | None, user: Any
) -> DNNModel:
    """Write the upload to a temporary file and register it as a baseline model.

    ``dataset`` None means the bundled digits, registered on first use. The
    file's suffix says its format (``register_uploaded_model``): a .keras is
    loaded in Keras safe mode, a .tflite in LiteRT, a .pt2 converted to .tflite
    in a child process (this process never imports torch).

    Nothing is stored when the file is refused: the model is loaded and checked
    against the dataset before anything is written, and the transaction undoes
    a dataset row created for this upload.

    Raises:
        ValueError: the file is corrupt, not a model of its format, holds a Lambda
            layer, a pickled PyTorch module, a program that does not convert
            (``compression.errors.ModelFileError``), does not fit the dataset, or
            the name was just taken.
    """
    from measurements.actions import register_dataset
    from measurements.actions.model_intake import register_uploaded_model

    with tempfile.TemporaryDirectory(prefix="compresso-upload-") as tmp:
        # The upload's own name, so load errors name the file the user chose.
        # Ends in .keras, .tflite or .pt2 (the form checked): the suffix picks the loader.
        path = Path(tmp) / get_valid_filename(Path(upload.name).name)
        with open(path, "wb") as handle:
            for chunk in upload.chunks():
                handle.write(chunk)
        try:
            with transaction.atomic():
                dataset = dataset or register_dataset(*BUNDLED_DATASET)
                row = register_uploaded_model(name, architecture, dataset, path, user=user)
        except IntegrityError as exc:
            raise ValueError(f"A model named {name!r} already exists.") from exc
    return row
