"""Compress a model with a plan into a content-addressed artifact (DESIGN.md, data flow 2).

``compress`` applies the plan, exports the ``.tflite`` with the plan's
quantization, writes both files atomically under a key derived from the input
weights and the plan's canonical text, and measures the static metrics and the
accuracy of the ``.tflite`` file itself on the dataset's held-out test split.
Storing the result (the Artifact row) is the Django side's job.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import keras

from compression.analysis import static_metrics
from compression.data.base import Dataset
from compression.evaluation import evaluate_keras, evaluate_tflite
from compression.export import to_tflite
from compression.modelio import save_model, weights_sha256
from compression.plan import Plan, apply_plan
from compression.training import FineTune

# Files written here are read by the web server and device drivers too.
FILE_MODE = 0o644
# A compression whose accuracy stays more than this many points below the model it
# started from "did not recover" (issue: every technique ends within 3 points of the
# baseline, or its result says by how much it did not).
RECOVERY_POINTS = 3.0


@dataclass(frozen=True)
class CompressionOutput:
    """What one compression produced.

    Attributes:
        key: the content address, ``artifact_key(model, plan)``; both files are named by it.
        keras_path: the compressed Keras model (``<key>.keras``); None for a model that
            arrived as a ``.tflite`` or ``.pt2`` (see ``compression.formats.pipeline``).
        tflite_path: its TFLite export (``<key>.tflite``).
        plan: the plan's canonical text.
        export_mode: the TFLite export mode (``float32``, ``dynamic``, ``float16``, ``int8``).
        static_metrics: ``analysis.static_metrics`` of the model and the ``.tflite``,
            and under ``recovery`` what ``recovery()`` says of the accuracy.
        accuracy_metrics: ``evaluation.evaluate_tflite`` on the test split, through the file.
        seconds: wall-clock time of the whole compression, in seconds.
    """

    key: str
    keras_path: Path | None
    tflite_path: Path
    plan: str
    export_mode: str
    static_metrics: dict[str, Any] = field(repr=False)
    accuracy_metrics: dict[str, Any]
    seconds: float


def artifact_key(model: keras.Model, plan: Plan | str) -> str:
    """The content address of ``model`` compressed with ``plan``.

    Returns:
        Hex SHA-256 of the model's weights digest followed by the plan's
        canonical text, so equal weights and equal plans give equal keys.
    """
    canonical = _as_plan(plan).canonical()
    return hashlib.sha256((weights_sha256(model) + canonical).encode("utf-8")).hexdigest()


def compress(
    model: keras.Model,
    plan: Plan | str,
    dataset: Dataset,
    out_dir: str | Path,
    fine_tune: FineTune | None = None,
) -> CompressionOutput:
    """Apply ``plan`` to ``model``, write the ``.keras`` and ``.tflite``, measure them.

    Args:
        model: the trained model; it is not modified.
        plan: a ``Plan`` or its text form.
        dataset: fine-tuning and calibration data; its test split is evaluated.
        out_dir: directory for the two files (created if missing).
        fine_tune: fine-tuning budget handed to every step.

    Returns:
        The files' paths, the metrics and the time taken.

    Raises:
        PlanSyntaxError, UnknownTechniqueError, ValueError: a malformed plan.
        Exception: a step's failure, naming the step (see ``apply_plan``).
    """
    started = time.perf_counter()
    plan = _as_plan(plan)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = artifact_key(model, plan)
    compressed = apply_plan(model, plan, dataset, fine_tune)
    tflite = export_plan(compressed, plan, dataset)
    keras_path = write_atomically(out / f"{key}.keras", lambda tmp: save_model(compressed, tmp))
    tflite_path = write_atomically(out / f"{key}.tflite", lambda tmp: tmp.write_bytes(tflite))
    metrics = static_metrics(compressed, tflite)
    accuracy = evaluate_tflite(tflite_path, dataset.x_test, dataset.y_test)
    metrics["recovery"] = recovery(model, accuracy["accuracy"], dataset)
    return CompressionOutput(
        key=key,
        keras_path=keras_path,
        tflite_path=tflite_path,
        plan=plan.canonical(),
        export_mode=plan.export_mode,
        static_metrics=metrics,
        accuracy_metrics=accuracy,
        seconds=time.perf_counter() - started,
    )


def recovery(model: keras.Model, accuracy: float, dataset: Dataset) -> dict[str, Any]:
    """How far a compression's accuracy stayed below the model it started from.

    Args:
        model: the uncompressed model, evaluated in Keras on the same test split.
        accuracy: the compressed ``.tflite``'s test accuracy, a fraction.
        dataset: the data; only the test split is used.

    Returns:
        ``baseline_accuracy`` (fraction), ``gap_points`` (percentage points the
        compression lost; negative when it gained), ``threshold_points`` and
        ``recovered`` (the gap is at most ``RECOVERY_POINTS``).
    """
    baseline = float(evaluate_keras(model, dataset.x_test, dataset.y_test)["accuracy"])
    return recovery_from(baseline, accuracy)


def recovery_from(baseline: float, accuracy: float) -> dict[str, Any]:
    """``recovery``'s figures from the two accuracies (fractions), however each was measured."""
    baseline = float(baseline)
    gap = round((baseline - float(accuracy)) * 100.0, 2)  # fractions -> points
    return {
        "baseline_accuracy": baseline,
        "gap_points": gap,
        "threshold_points": RECOVERY_POINTS,
        "recovered": gap <= RECOVERY_POINTS,
    }


def export_plan(model: keras.Model, plan: Plan, dataset: Dataset) -> bytes:
    """The ``.tflite`` of an already compressed model, quantized as the plan says.

    A quantization step exports through its technique's ``export_tflite`` (so
    Q-int8 calibrates on ``dataset.representative_sample(samples)`` with its own
    ``samples``); a plan without one exports float32.
    """
    step = plan.export_step
    if step is None:
        return to_tflite(model, "float32")
    return step.technique().export_tflite(model, dataset)


def _as_plan(plan: Plan | str) -> Plan:
    return plan if isinstance(plan, Plan) else Plan.parse(plan)


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """Write ``path`` through a temporary file in the same directory, then rename.

    Readers see the old file or the complete new one, never a partial write;
    the temporary name keeps the suffix because Keras picks the format by it.
    """
    handle, name = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.stem}.", suffix=f".tmp{path.suffix}"
    )
    os.close(handle)
    temporary = Path(name)
    try:
        write(temporary)
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return path


__all__ = [
    "CompressionOutput",
    "artifact_key",
    "compress",
    "export_plan",
    "recovery",
    "recovery_from",
    "write_atomically",
]
