"""TP: structured channel pruning of a PyTorch program with torch-pruning (DepGraph)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.formats.pt2 import (
    TorchProgram,
    checked_conversion,
    compare_samples,
    convert_pt2,
    run_in_torch_child,
)
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune


@register
class TorchStructuredPruning(Technique):
    """Removes whole channels of a ``.pt2`` program, fine-tunes it, exports it again."""

    code = "TP"
    name = "Structured pruning of a PyTorch program (DepGraph)"
    acts_on = (
        "PyTorch programs (.pt2): Conv and Linear channels coupled by DepGraph groups (batch "
        "norms, residual adds)"
    )
    category = "pruning"
    applies_to = "model"
    accepts: ClassVar[tuple[str, ...]] = ("pt2",)
    needs_data = True
    param_names = ("ratio",)
    sweep = ({"ratio": 0.25}, {"ratio": 0.5})
    description = (
        "Structured pruning of a PyTorch program with torch-pruning: DepGraph groups the "
        "layers whose channels are coupled (a convolution, its batch norm, the residual "
        "adds and the next layer's inputs), the channels of each group with the smallest "
        "L2 norm are removed together so the network stays consistent, the smaller network "
        "is fine-tuned on the dataset and exported again as a torch.export program. The "
        "classifier's outputs are kept."
    )
    reference = "Fang et al., DepGraph: Towards Any Structural Pruning, CVPR 2023 (torch-pruning)."

    def __init__(self, ratio: float = 0.5) -> None:
        """Args:
        ratio: fraction of channels removed from each prunable group (0 < ratio < 1).
        """
        if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 < ratio < 1:
            raise ValueError(f"ratio must be a number in (0, 1). Received: ratio={ratio!r}")
        self.ratio = float(ratio)

    def apply(
        self,
        model: Any,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> TorchProgram:
        """Return the pruned, fine-tuned program, converted and checked; in a torch child.

        Raises:
            NotApplicableError: ``model`` is not a PyTorch program, or layers were named.
            ValueError: no data to fine-tune on.
        """
        if not isinstance(model, TorchProgram):
            raise NotApplicableError(
                f"TP prunes PyTorch programs (.pt2) only. Received: {type(model).__name__}"
            )
        if targets:
            raise NotApplicableError(f"TP prunes every group. Received: targets={list(targets)}")
        if data is None:
            raise ValueError("TP fine-tunes on the dataset. Received: data=None")
        budget = (self.budget_for(fine_tune) or FineTune()).get_config()
        samples = compare_samples(data.x_val)
        result = run_in_torch_child(
            "prune",
            model.content,
            self.ratio,
            data.x_train,
            data.y_train,
            budget,
            samples,
            module="compression.formats.torch_prune",
        )
        # Converted in the same child: starting another to convert costs seconds of imports.
        conversion = checked_conversion(result["conversion"], samples)
        return TorchProgram(result["pt2"], model.name, conversion)

    def export_tflite(self, model: Any, data: Dataset | None = None) -> bytes:
        """The float32 ``.tflite`` of the pruned program, checked against PyTorch."""
        if data is None:
            raise ValueError("Converting a PyTorch program needs data. Received: data=None")
        return convert_pt2(model, data.x_val).tflite
