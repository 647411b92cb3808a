"""Loading, saving and content-hashing Keras models, safely.

Uploaded models are untrusted. ``load_model`` only accepts the Keras v3
``.keras`` archive, loads it with Keras safe mode (no Python bytecode is ever
deserialised), refuses Lambda layers outright and turns every failure into a
``ModelFileError`` whose message says what is wrong with the file.
"""

from __future__ import annotations

import hashlib
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path

import keras
import numpy as np

from compression.errors import ModelFileError
from compression.techniques import all_techniques

_LAMBDA_REFUSED = "Lambda layers are refused (Keras safe mode): they can run arbitrary code"
_CHUNK = 1 << 20  # bytes read at a time when hashing a file
_MAX_CAUSE = 400  # characters of Keras's own error kept in a message


def load_model(path: str | Path) -> keras.Model:
    """Load a ``.keras`` model file in safe mode, uncompiled.

    Args:
        path: the ``.keras`` file.

    Returns:
        The model, without optimizer or compile state.

    Raises:
        ModelFileError: the file is missing, is not a ``.keras`` archive,
            holds a Lambda layer, needs a custom class this process does not
            know, or Keras cannot rebuild it for another reason.
    """
    path = Path(path)
    config = _read_config(path)
    if any(node.get("class_name") == "Lambda" for node in _dicts(config)):
        raise ModelFileError(f"{path.name}: {_LAMBDA_REFUSED}.")
    # Layers of Compresso's own (QAT's fake-quantized layers) register when
    # their technique modules are imported; a saved artifact may hold them.
    all_techniques()
    try:
        model = keras.saving.load_model(path, safe_mode=True, compile=False)
    except Exception as exc:  # Keras raises ValueError, TypeError, KeyError, OSError…
        raise ModelFileError(_explain(path, exc)) from exc
    if not isinstance(model, keras.Model):
        raise ModelFileError(f"{path.name} holds a {type(model).__name__}, not a Keras model.")
    return model


def save_model(model: keras.Model, path: str | Path) -> Path:
    """Save ``model`` in the Keras v3 ``.keras`` format, creating parent folders.

    Raises:
        ModelFileError: ``path`` does not end in ``.keras``.
    """
    path = Path(path)
    if path.suffix != ".keras":
        raise ModelFileError(f"Models are saved as .keras files. Received: path={str(path)!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    keras.saving.save_model(model, path)
    return path


def model_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes.

    Two saves of the same model differ (the archive records the save time);
    use ``weights_sha256`` to recognise the same model.

    Raises:
        ModelFileError: the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"Model file not found: {path}")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def weights_sha256(model: keras.Model) -> str:
    """Hex SHA-256 of a model's architecture config and every weight's bytes.

    The same architecture with the same weights always hashes the same,
    before and after a save/load round trip, so artifacts can be addressed
    by content. Non-trainable weights (batch-norm statistics) count too.
    """
    digest = hashlib.sha256()
    # sort_keys: the hash must not depend on dict insertion order.
    digest.update(json.dumps(model.get_config(), sort_keys=True, default=repr).encode())
    for variable in model.weights:
        value = np.ascontiguousarray(keras.ops.convert_to_numpy(variable))
        digest.update(f"{value.dtype.str}{value.shape}".encode())
        digest.update(value.tobytes())
    return digest.hexdigest()


def _read_config(path: Path) -> dict:
    if not path.is_file():
        raise ModelFileError(f"Model file not found: {path}")
    if path.suffix != ".keras":
        raise ModelFileError(
            f"{path.name}: only Keras v3 .keras files are accepted; re-save the model with "
            "model.save('name.keras')."
        )
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path.name} is not a .keras file: it is not a zip archive.")
    try:
        with zipfile.ZipFile(path) as archive:
            return json.loads(archive.read("config.json"))
    except KeyError:
        raise ModelFileError(
            f"{path.name} is a zip archive but not a Keras model (no config.json)."
        ) from None
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ModelFileError(f"{path.name} is a damaged .keras archive: {exc}") from None


def _dicts(node: object) -> Iterator[dict]:
    # Every dict in a nested config: Lambda layers may hide in sub-models.
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from _dicts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _dicts(value)


def _explain(path: Path, exc: Exception) -> str:
    message = str(exc)
    missing = re.search(r"Could not locate (class|function) '([^']+)'", message)
    if missing:
        kind, name = missing.groups()
        return (
            f"{path.name} needs the custom {kind} {name!r}, which is not registered here; "
            "only standard Keras layers and classes registered with "
            "@keras.saving.register_keras_serializable can be loaded."
        )
    if "arbitrary code" in message:
        return f"{path.name}: {_LAMBDA_REFUSED} (and so are other Python lambdas)."
    # Keras nests the cause of a failed rebuild in layer after layer of
    # "Exception encountered:"; the innermost one says what really went wrong.
    cause = message.rsplit("Exception encountered: ", 1)[-1].strip()
    if len(cause) > _MAX_CAUSE:
        cause = cause[:_MAX_CAUSE] + "…"
    return f"{path.name} could not be loaded: {cause}"
