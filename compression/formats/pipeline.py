"""Compress a model that arrived as a ``.tflite`` or ``.pt2``: ``compression.pipeline`` for files.

The plan's steps act on a ``TfliteModel`` or a ``TorchProgram`` (TP prunes the
program in a torch child process). A program still in PyTorch after them is
converted to ``.tflite`` once with litert-torch and checked against PyTorch;
the conversion's figures (max output difference, seconds) go into the static
metrics under ``conversion``. An ``AQ-*`` step then quantizes that ``.tflite``.
Accuracy is that of the final file on the test split, its samples arranged in
the file's input layout (a ready-made ``.tflite`` may take NCHW). No Keras
file exists for these models: the output's ``keras_path`` is None.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Any

from compression.analysis import static_metrics
from compression.data.base import Dataset
from compression.evaluation import evaluate_tflite
from compression.formats import format_of
from compression.formats.pt2 import (
    COMPARE_SAMPLES,
    Conversion,
    TorchProgram,
    convert_pt2,
    read_pt2,
)
from compression.formats.tflite import TfliteModel, arrange, check_input, load_tflite
from compression.pipeline import CompressionOutput, recovery_from, write_atomically
from compression.plan import Plan, apply_plan
from compression.techniques import get_technique
from compression.training import FineTune

FileModel = TfliteModel | TorchProgram
LOADERS = {"tflite": load_tflite, "pt2": read_pt2}


def load_model_file(path: str | Path, model_format: str) -> FileModel:
    """Read a stored ``.tflite`` or ``.pt2`` model file (torch is not imported here).

    Raises:
        ValueError: ``model_format`` is neither ``tflite`` nor ``pt2``.
        ModelFileError: the file does not load as that format.
    """
    if model_format not in LOADERS:
        raise ValueError(
            f"model_format must be one of {', '.join(LOADERS)}. Received: {model_format!r}"
        )
    return LOADERS[model_format](path)


def model_file_key(model: FileModel, plan: Plan | str) -> str:
    """The content address of a file model compressed with ``plan``.

    Returns:
        Hex SHA-256 of the file's own SHA-256 followed by the plan's canonical text.
    """
    canonical = _as_plan(plan).canonical()
    digest = hashlib.sha256(model.content).hexdigest()
    return hashlib.sha256((digest + canonical).encode("utf-8")).hexdigest()


def compress_model_file(
    model: FileModel,
    plan: Plan | str,
    dataset: Dataset,
    out_dir: str | Path,
    fine_tune: FineTune | None = None,
    conversion: Conversion | None = None,
) -> CompressionOutput:
    """Apply ``plan`` to a ``.tflite`` or ``.pt2`` model, write its ``.tflite``, measure it.

    Args:
        model: from ``load_model_file``.
        plan: a ``Plan`` or its text form; every step must accept the model's format.
        dataset: fine-tuning, calibration and conversion-check data; its test split
            is evaluated.
        out_dir: directory for the ``<key>.tflite`` (created if missing).
        fine_tune: fine-tuning budget handed to every step.
        conversion: a program's conversion made and checked already (at upload):
            used instead of converting the same program again.

    Returns:
        The ``.tflite``'s path (``keras_path`` None), the metrics and the time taken.

    Raises:
        NotApplicableError: a step's technique does not take this model's format.
        ModelFileError: the program does not convert, or disagrees with PyTorch.
        ModelInputError: the model's input fits the dataset's samples in no layout.
    """
    started = time.perf_counter()
    plan = _as_plan(plan)
    kind = format_of(model)
    for step in plan.steps:
        get_technique(step.code).check_accepts(kind)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    key = model_file_key(model, plan)
    converter = Converter(dataset, model if conversion else None, conversion)
    compressed = apply_plan(model, plan, dataset, fine_tune) if plan.steps else model
    float_model, made = converter.float_model(compressed)
    step = plan.export_step
    tflite = step.technique().export_tflite(float_model, dataset) if step else float_model.content
    tflite_path = write_atomically(out / f"{key}.tflite", lambda tmp: tmp.write_bytes(tflite))
    accuracy = evaluate_in_layout(tflite, dataset)
    metrics = static_metrics(None, tflite)
    metrics["source_format"] = kind
    if made is not None:
        metrics["conversion"] = conversion_figures(made, reused=made is conversion)
    baseline = accuracy if not plan.steps else converter.accuracy(model)
    metrics["recovery"] = recovery_from(baseline["accuracy"], accuracy["accuracy"])
    return CompressionOutput(
        key=key,
        keras_path=None,
        tflite_path=tflite_path,
        plan=plan.canonical(),
        export_mode=plan.export_mode,
        static_metrics=metrics,
        accuracy_metrics=accuracy,
        seconds=time.perf_counter() - started,
    )


class Converter:
    """Float ``.tflite`` files of the programs one compression meets, each converted once.

    A plan whose steps leave the program as it is (AQ-*) converts it once, for
    the artifact and its recovery baseline alike; a conversion made earlier
    (``known``, of ``program``) is not made again.
    """

    def __init__(
        self, dataset: Dataset, program: FileModel | None = None, known: Conversion | None = None
    ) -> None:
        self.dataset = dataset
        self.done: dict[bytes, Conversion] = {}
        if isinstance(program, TorchProgram) and known is not None:
            self.done[program.content] = known

    def float_model(self, model: FileModel) -> tuple[TfliteModel, Conversion | None]:
        """The float ``.tflite`` of ``model``: itself, or the program converted and checked.

        Returns:
            The ``TfliteModel`` and, for a program, its ``Conversion`` (None for a ``.tflite``).
        """
        if isinstance(model, TfliteModel):
            return model, None
        if model.content not in self.done:
            self.done[model.content] = convert_pt2(model, self.dataset.x_val)
        conversion = self.done[model.content]
        return load_tflite(conversion.tflite), conversion

    def accuracy(self, model: FileModel) -> dict[str, Any]:
        """The test-split metrics of ``model``'s float ``.tflite``."""
        return evaluate_in_layout(self.float_model(model)[0].content, self.dataset)


def evaluate_in_layout(tflite: bytes, dataset: Dataset) -> dict[str, Any]:
    """``evaluate_tflite`` on the test split, samples arranged as the file's input takes them.

    Raises:
        ModelInputError: the file's input fits the samples neither NHWC nor NCHW.
    """
    layout = check_input(load_tflite(tflite), tuple(dataset.input_shape))
    return evaluate_tflite(tflite, arrange(dataset.x_test, layout), dataset.y_test)


def conversion_figures(conversion: Conversion, reused: bool = False) -> dict[str, Any]:
    """What the static metrics say of a litert-torch conversion, and when it was measured."""
    when = "at upload" if reused else "in this compression"
    return {
        "tool": "litert-torch",
        "max_abs_diff": conversion.max_abs_diff,
        "compared_samples": conversion.samples,
        "seconds": conversion.seconds,
        "program_layout": conversion.layout,
        "source": f"measured {when}: PyTorch's and LiteRT's outputs on validation samples",
    }


def known_conversion(figures: dict[str, Any], dataset: Dataset) -> Conversion:
    """A conversion made at upload, from its stored ``.tflite`` and figures.

    Args:
        figures: ``tflite_path``, ``layout``, ``seconds`` and ``max_abs_diff``.
        dataset: the dataset it was checked on (its first validation samples).
    """
    return Conversion(
        tflite=Path(figures["tflite_path"]).read_bytes(),
        layout=str(figures["layout"]),
        seconds=float(figures["seconds"] or 0.0),
        max_abs_diff=float(figures["max_abs_diff"]),
        samples=min(COMPARE_SAMPLES, len(dataset.x_val)),
    )


def _as_plan(plan: Plan | str) -> Plan:
    return plan if isinstance(plan, Plan) else Plan.parse(plan)


__all__ = [
    "Converter",
    "compress_model_file",
    "conversion_figures",
    "evaluate_in_layout",
    "known_conversion",
    "load_model_file",
    "model_file_key",
]
