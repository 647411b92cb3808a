"""Model files every upload route must refuse, each with the message that names its problem.

Built once per test session (the .pt2 files in one torch child process); the API and the
dashboard tests post the same files and expect the same messages.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from compression.data import load_digits
from tests.compression.torch_programs import in_child

# Registered by the tests as bundled digits, at 8x8 and resized to 12x12.
DATASETS = {"digits": {"seed": 0}, "digits12": {"seed": 0, "resize_to": 12}}
CASES = (
    "pickled module",
    "program that does not convert",
    "corrupt tflite",
    "dataset of the wrong shape",
)


@dataclass(frozen=True)
class BadFile:
    file_name: str
    content: bytes
    dataset: str  # a key of DATASETS
    message: str  # what the refusal must say


@functools.cache
def bad_files() -> dict[str, BadFile]:
    """Each of ``CASES``: its file, the dataset it is posted with, the expected message."""
    from tests.compression.tflite_files import channels_first_tflite

    digits = load_digits(seed=0)
    programs = in_child("bad_programs", digits.x_train[:8], digits.y_train[:8])
    tflite = channels_first_tflite(digits, epochs=1)
    return {
        "pickled module": BadFile(
            "net.pt2", programs["pickled"], "digits", "pickled PyTorch object (torch.save)"
        ),
        "program that does not convert": BadFile(
            "net.pt2",
            programs["unconvertible"],
            "digits",
            "litert-torch could not convert this program to .tflite (RuntimeError: "
            "Lowering not found: aten.erfinv",
        ),
        "corrupt tflite": BadFile(
            "net.tflite", tflite[: len(tflite) // 2], "digits", "Corrupt TFLite flatbuffer"
        ),
        "dataset of the wrong shape": BadFile(
            "net.pt2",
            programs["fits_8x8"],
            "digits12",
            "The program takes inputs of shape (1, 1, 8, 8); the dataset's samples are "
            "(12, 12, 1) (NHWC)",
        ),
    }


def media_files() -> list[Path]:
    """Every file under MEDIA_ROOT (a fresh directory per test)."""
    root = Path(settings.MEDIA_ROOT)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
