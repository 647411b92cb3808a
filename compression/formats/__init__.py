"""Model formats other than Keras: ready-made ``.tflite`` files and PyTorch programs.

``tflite`` validates a ``.tflite`` in LiteRT and checks its input against a
dataset; ``pt2`` reads a ``torch.export`` program and converts it to
``.tflite`` with litert-torch in a child process, so the caller never imports
torch; ``torch_worker`` is what runs in that child. A technique says which of
``MODEL_FORMATS`` it takes in ``Technique.accepts``; ``format_of`` names a
model object's format.
"""

from __future__ import annotations

from typing import Any

from compression.formats.registry import FORMATS

MODEL_FORMATS = tuple(f.code for f in FORMATS)


def format_of(model: Any) -> str:
    """The format name of an in-memory model: ``keras``, ``tflite`` or ``pt2``.

    Raises:
        TypeError: ``model`` is none of the model types Compresso handles.
    """
    from compression.formats.pt2 import TorchProgram
    from compression.formats.tflite import TfliteModel

    if isinstance(model, TfliteModel):
        return "tflite"
    if isinstance(model, TorchProgram):
        return "pt2"
    import keras

    if isinstance(model, keras.Model):
        return "keras"
    raise TypeError(
        "Expected a keras.Model, a TfliteModel or a TorchProgram. "
        f"Received: model of type {type(model).__name__}"
    )
