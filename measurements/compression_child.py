"""Child process that compresses one model with one plan and prints one JSON document.

Run as ``python -m measurements.compression_child '<json args>'`` by
``measurements.compression_process``, so the runner can stop a compression
at once (terminate the child) when it is told to shut down or loses the
artifact's lease, and TensorFlow's memory goes back to the system when the
child exits. Arguments: ``model_path``, ``model_format`` (``keras`` when
absent, ``tflite`` or ``pt2``), ``conversion`` (a ``.pt2``'s conversion made
at upload: ``tflite_path``, ``layout``, ``seconds``, ``max_abs_diff``; optional),
``plan_steps`` (the plan's JSON steps), ``loader`` and ``loader_options``
(``compression.data.registry``),
``fine_tune_epochs``, ``out_dir``, and ``label`` (names the compressor in
``ps``; unused otherwise).

The child exits by itself when its parent dies: it reads its standard input,
which only the parent holds open, and end-of-file means the runner is gone
(killed with SIGKILL, say); it then removes its output directory and exits.

No Django here: the parent reads the document and stores the files.
Stdout carries only the JSON: file descriptor 1 is pointed at stderr at
start-up so native libraries and Keras progress bars cannot corrupt it.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import threading
import traceback
from typing import Any

PARENT_GONE_EXIT = 3


def compress_document(args: dict[str, Any]) -> dict[str, Any]:
    """Load the dataset and model, apply the plan, write the files; what was produced.

    ``model_format`` (default ``keras``) says how to read ``model_path``: a
    ``.keras`` is compressed by ``compression.pipeline``, a ``.tflite`` or
    ``.pt2`` by ``compression.formats.pipeline`` (a program the plan changed, or
    one without a ``conversion`` made at upload, is converted to ``.tflite`` here,
    in a torch child of this process).

    Returns:
        ``keras_path`` (None for a ``.tflite`` or ``.pt2`` model), ``tflite_path``,
        ``key``, ``export_mode``, ``static_metrics``, ``accuracy_metrics`` and ``seconds``.
    """
    from compression.data.registry import load_dataset
    from compression.plan import Plan
    from compression.training import FineTune

    dataset = load_dataset(args["loader"], **args["loader_options"])
    plan = Plan.from_json(args["plan_steps"])
    budget = FineTune(
        epochs=int(args["fine_tune_epochs"]), patience=int(args["fine_tune_patience"])
    )
    if args.get("model_format", "keras") == "keras":
        output = _compress_keras(args, plan, dataset, budget)
    else:
        output = _compress_file_model(args, plan, dataset, budget)
    return {
        "keras_path": str(output.keras_path) if output.keras_path else None,
        "tflite_path": str(output.tflite_path),
        "key": output.key,
        "export_mode": output.export_mode,
        "static_metrics": output.static_metrics,
        "accuracy_metrics": output.accuracy_metrics,
        "seconds": output.seconds,
    }


def _compress_keras(args: dict[str, Any], plan: Any, dataset: Any, budget: Any) -> Any:
    from compression.modelio import load_model
    from compression.pipeline import compress

    model = load_model(args["model_path"])
    return compress(model, plan, dataset, args["out_dir"], fine_tune=budget)


def _compress_file_model(args: dict[str, Any], plan: Any, dataset: Any, budget: Any) -> Any:
    from compression.formats.pipeline import (
        compress_model_file,
        known_conversion,
        load_model_file,
    )

    model = load_model_file(args["model_path"], args["model_format"])
    known = args.get("conversion")  # a .pt2's conversion made at upload
    conversion = known_conversion(known, dataset) if known else None
    return compress_model_file(
        model, plan, dataset, args["out_dir"], fine_tune=budget, conversion=conversion
    )


def _plain(value: Any) -> Any:
    # NumPy scalars and arrays in the metrics: JSON has no type for them.
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _exit_when_parent_dies(out_dir: str | None) -> None:
    def watch() -> None:
        # Raw reads, not sys.stdin: a daemon thread blocked inside a buffered
        # reader's lock aborts the interpreter at exit.
        while os.read(0, 4096):
            pass  # end-of-file: the parent closed it or died
        if out_dir:
            shutil.rmtree(out_dir, ignore_errors=True)
        os._exit(PARENT_GONE_EXIT)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def main(argv: list[str]) -> int:
    """Entry point: parse the JSON argument, compress, print one JSON document."""
    out = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # anything else printed to stdout lands on stderr
    try:
        if len(argv) != 2:
            raise ValueError("usage: python -m measurements.compression_child '<json args>'")
        args = json.loads(argv[1])
        _exit_when_parent_dies(args.get("out_dir"))
        document, status = compress_document(args), 0
    except Exception as exc:  # reported to the parent as a document, not a stack dump
        document = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        status = 2
    out.write(json.dumps(document, default=_plain))
    out.flush()
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv))
