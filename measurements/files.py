"""Model and artifact files by content, through Django's storage API only.

Nothing here asks a file for its ``.path``: the default storage may be a
directory or, through ``django-storages``, an object store. A runner host
uploads a file it produced under its SHA-256; the bytes are hashed as they
arrive and kept only when the hash matches, under ``runner-uploads/<sha256>``,
until the artifact they belong to takes them.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.files import File
from django.core.files.storage import default_storage

CHUNK = 1024 * 1024
UPLOAD_DIR = "runner-uploads"
SHA256_PATTERN = re.compile(r"^[0-9a-f]{64}$")


class ChecksumMismatch(ValueError):
    """The bytes received do not hash to the SHA-256 they were sent under."""


def check_sha256(value: str) -> str:
    """The value, if it is a lower-case hex SHA-256.

    Raises:
        ValueError: it is not.
    """
    if not isinstance(value, str) or not SHA256_PATTERN.match(value):
        raise ValueError(f"Expected a lower-case hex SHA-256. Received: sha256={value!r:.80}")
    return value


def field_sha256(field_file: Any) -> str:
    """Hex SHA-256 of a stored file, read through its storage."""
    digest = hashlib.sha256()
    with field_file.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_from(field_file: Any, offset: int = 0) -> Iterator[bytes]:
    """The stored file's bytes from ``offset``, in chunks (for a streamed response)."""
    with field_file.open("rb") as handle:
        if offset:
            handle.seek(offset)
        while chunk := handle.read(CHUNK):
            yield chunk


def upload_name(sha256: str) -> str:
    return f"{UPLOAD_DIR}/{check_sha256(sha256)}"


def has_upload(sha256: str) -> bool:
    """True when a verified upload with this hash is waiting to be used."""
    return default_storage.exists(upload_name(sha256))


def receive_upload(sha256: str, chunks: Iterable[bytes], max_bytes: int) -> int:
    """Keep the uploaded bytes under their hash if they hash to it.

    Returns:
        The number of bytes kept.

    Raises:
        ChecksumMismatch: the bytes hash to something else (nothing is kept).
        ValueError: the hash is malformed, or the body is larger than ``max_bytes``.
    """
    name = upload_name(sha256)
    digest, size = hashlib.sha256(), 0
    with tempfile.SpooledTemporaryFile(max_size=8 * CHUNK) as spool:
        for chunk in chunks:
            size += len(chunk)
            if size > max_bytes:
                raise ValueError(f"Upload larger than {max_bytes} bytes. Received: {size}+")
            digest.update(chunk)
            spool.write(chunk)
        if digest.hexdigest() != sha256:
            raise ChecksumMismatch(
                f"The {size} bytes received hash to {digest.hexdigest()}, not {sha256}; "
                "send the file again."
            )
        if not default_storage.exists(name):
            spool.seek(0)
            default_storage.save(name, File(spool))
    return size


def open_upload(sha256: str) -> File:
    """The verified upload with this hash, opened for reading.

    Raises:
        FileNotFoundError: no such upload.
    """
    name = upload_name(sha256)
    if not default_storage.exists(name):
        raise FileNotFoundError(f"No uploaded file with SHA-256 {sha256}; upload it first.")
    return default_storage.open(name, "rb")


def discard_upload(sha256: str) -> None:
    """Forget a verified upload once its artifact holds the bytes."""
    default_storage.delete(upload_name(sha256))
