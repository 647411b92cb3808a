"""Which techniques apply to a stored model, by the format it arrived in.

The plan form, the standard sweep and the queue all ask here, so a Keras-only
technique is never offered for, nor queued on, a ``.tflite`` or ``.pt2`` model.
The technique registry is imported inside the functions: it loads the
compression library, which the web process must not import at start-up.
"""

from __future__ import annotations

from typing import Any

from measurements.models import DNNModel


def technique_codes_for(model: DNNModel) -> list[str]:
    """Codes of the registered techniques that accept ``model``'s format, ordered by code."""
    from compression.techniques import all_techniques

    return [technique.code for technique in all_techniques(model.format)]


def refuse_inapplicable(model: DNNModel, codes: list[str]) -> None:
    """Raise a clear error naming each technique that cannot act on ``model``.

    Raises:
        ValueError: one or more of ``codes`` does not accept ``model.format``.
    """
    from compression.techniques import get_technique

    applicable = set(technique_codes_for(model))
    refused = [code for code in codes if code not in applicable]
    if refused:
        # Each says what it does act on: W3 Keras models, TP PyTorch programs.
        reasons = "; ".join(
            f"{code} acts on {' or '.join(get_technique(code).accepts)} models only"
            for code in refused
        )
        raise ValueError(
            f"{', '.join(refused)} cannot compress {model.name}: it is a {model.format} "
            f"model ({reasons}). Applicable here: "
            f"{', '.join(sorted(applicable))}. Received: techniques={refused}"
        )


def stored_conversion(model: DNNModel) -> dict[str, Any] | None:
    """A ``.pt2`` model's conversion made at upload, as a compression reuses it; else None.

    Returns:
        ``sha256`` (of the converted ``.tflite``), ``layout`` (the program's),
        ``seconds`` and ``max_abs_diff``; None for other formats, or a program
        stored without its conversion (a runner then converts it itself).
    """
    if model.format != "pt2" or not model.converted_file or not model.converted_sha256:
        return None
    return {
        "sha256": model.converted_sha256,
        "layout": model.input_layout,
        "seconds": model.conversion_seconds,
        "max_abs_diff": model.conversion_max_abs_diff,
    }
