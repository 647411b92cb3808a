"""The contract every technique module implements.

A technique is a small configurable object: its parameters are validated in
``__init__`` (raising ``ValueError("… Received: x=…")``), it serialises with
``get_config`` / ``from_config``, and ``apply`` returns a *new* Keras model
(never mutating the input), fine-tuned where the method needs it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, ClassVar

import keras

from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.export import to_tflite
from compression.training import FineTune


class Technique:
    """Base class of every registered compression technique.

    Subclasses set the class attributes, define ``__init__`` with keyword
    parameters and their defaults, validate them, store them as attributes of
    the same names and list those names in ``param_names``.
    """

    code: ClassVar[str]
    name: ClassVar[str]
    category: ClassVar[str]  # one of compression.categories.CATEGORIES
    applies_to: ClassVar[str]  # one of compression.categories.SCOPES
    # Which layer types it rewrites, in a user's words (README and Techniques page):
    # ``applies_to`` is the coarse scope the planner uses, this is the detail.
    acts_on: ClassVar[str]
    description: ClassVar[str]
    reference: ClassVar[str]
    param_names: ClassVar[tuple[str, ...]] = ()
    # Post-training quantization steps act at export and must come last in a plan.
    export_mode: ClassVar[str | None] = None
    # Whether apply() trains (so it needs a Dataset).
    needs_data: ClassVar[bool] = False
    # Parameter sets the standard sweep measures; ({},) means the defaults only.
    sweep: ClassVar[tuple[dict[str, Any], ...]] = ({},)
    # Techniques that train new weights from scratch (a student, a new head) need
    # more than the few epochs that re-tune a compressed layer: a plan's budget is
    # raised to this many epochs for them (unless it is 0: no fine-tuning at all).
    min_fine_tune_epochs: ClassVar[int] = 0
    # Model formats apply() takes (compression.formats.MODEL_FORMATS): most
    # techniques rewrite Keras layers; .tflite-level ones also take "tflite" and "pt2".
    accepts: ClassVar[tuple[str, ...]] = ("keras",)

    @classmethod
    def check_accepts(cls, model_format: str) -> None:
        """Refuse a model format this technique cannot act on.

        Raises:
            NotApplicableError: ``model_format`` is not in ``accepts``.
        """
        if model_format not in cls.accepts:
            raise NotApplicableError(
                f"{cls.code} acts on {' or '.join(cls.accepts)} models only; it cannot "
                f"compress a {model_format} model. Received: model_format={model_format!r}"
            )

    def get_config(self) -> dict[str, Any]:
        """Parameters as a JSON-serialisable dict."""
        return {name: getattr(self, name) for name in self.param_names}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Technique:
        """Rebuild a technique from ``get_config()`` output.

        Raises:
            ValueError: a key is not one of the technique's parameters.
        """
        unknown = sorted(set(config) - set(cls.param_names))
        if unknown:
            allowed = ", ".join(cls.param_names) or "none"
            raise ValueError(
                f"{cls.code} has no parameter {unknown[0]!r} (allowed: {allowed}). "
                f"Received: config={dict(config)!r}"
            )
        return cls(**config)

    @classmethod
    def default_config(cls) -> dict[str, Any]:
        """The parameters a technique gets when none are given."""
        return cls().get_config()

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Return a compressed copy of ``model``.

        Args:
            model: the model to compress; it is not modified.
            targets: names of the layers to act on; ``None`` means the
                technique's default (for example every eligible layer).
            data: training data, required when ``needs_data`` is true.
            fine_tune: fine-tuning budget (epochs, batch size, seed).

        Returns:
            A new ``keras.Model``.
        """
        raise NotImplementedError

    def budget_for(self, fine_tune: FineTune | None) -> FineTune | None:
        """The fine-tuning budget this technique gets from a plan's ``fine_tune``."""
        if fine_tune is None or fine_tune.epochs == 0:
            return fine_tune
        return replace(fine_tune, epochs=max(fine_tune.epochs, self.min_fine_tune_epochs))

    def export_tflite(self, model: keras.Model, data: Dataset | None = None) -> bytes:
        """The ``.tflite`` bytes of a model this technique produced, in its export mode.

        Quantization techniques override this to calibrate on ``data``.
        """
        return to_tflite(model, self.export_mode or "float32")

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({params})"

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self.get_config() == other.get_config()

    def __hash__(self) -> int:
        return hash((self.code, tuple(sorted(self.get_config().items()))))
