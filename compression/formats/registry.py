"""The model formats Compresso takes in, each with its file suffix and a label.

One registry: the database's ``DNNModel.format`` choices, upload validation and
the Techniques page all read it, so a new format is one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelFormat:
    """One way a model arrives.

    Attributes:
        code: stored in the database (``keras``, ``tflite``, ``pt2``).
        label: what people read.
        suffix: the uploaded file's extension, with its dot.
        needs_conversion: whether the runner converts it to ``.tflite`` first.
    """

    code: str
    label: str
    suffix: str
    needs_conversion: bool


FORMATS: tuple[ModelFormat, ...] = (
    ModelFormat("keras", "Keras (.keras)", ".keras", needs_conversion=False),
    ModelFormat("tflite", "LiteRT (.tflite)", ".tflite", needs_conversion=False),
    ModelFormat("pt2", "PyTorch program (.pt2)", ".pt2", needs_conversion=True),
)


def format_choices() -> list[tuple[str, str]]:
    """``(code, label)`` pairs for a Django ``choices``."""
    return [(f.code, f.label) for f in FORMATS]


def get_format(code: str) -> ModelFormat:
    """The registered format ``code``.

    Raises:
        ValueError: no format has that code.
    """
    for model_format in FORMATS:
        if model_format.code == code:
            return model_format
    known = ", ".join(f.code for f in FORMATS)
    raise ValueError(f"Unknown model format; expected one of {known}. Received: code={code!r}")


def format_for_filename(filename: str) -> ModelFormat:
    """The format a file's extension names.

    Raises:
        ValueError: the extension is none of the registered suffixes.
    """
    lowered = filename.lower()
    for model_format in FORMATS:
        if lowered.endswith(model_format.suffix):
            return model_format
    suffixes = ", ".join(f.suffix for f in FORMATS)
    raise ValueError(f"A model file must end in one of {suffixes}. Received: filename={filename!r}")
