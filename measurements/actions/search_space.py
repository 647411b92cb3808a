"""The plans a search may ask for: slots from the technique catalogue, not the registry.

The catalogue's rows (``loadcatalogue``) say each technique's scope and the
model formats it accepts, so the web process builds a search's space without
importing the compression library (and TensorFlow with it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from measurements.models import DNNModel, Technique

SCOPE_ORDER = ("conv", "fc", "model")  # compression.selection.space's order


def applicable_codes(model: DNNModel) -> list[str]:
    """Codes of the catalogue's techniques that accept the model's format, by code."""
    rows = Technique.objects.order_by("code").values_list("code", "accepts")
    return [code for code, accepts in rows if not accepts or model.format in accepts]


def resolve_techniques(model: DNNModel, wanted: Sequence[str]) -> list[str]:
    """The technique codes a search over ``model`` uses: ``wanted`` (all when empty).

    Raises:
        ValueError: the catalogue is empty, or a wanted code is unknown or
            cannot compress this model's format.
    """
    applicable = applicable_codes(model)
    if not applicable:
        raise ValueError(
            f"No technique in the catalogue can compress {model.name} ({model.format}); "
            f"run `manage.py loadcatalogue`. Received: model={model.name!r}"
        )
    if not wanted:
        return applicable
    refused = [code for code in wanted if code not in applicable]
    if refused:
        raise ValueError(
            f"These techniques cannot be searched for {model.name} ({model.format} model): "
            f"{', '.join(refused)}. Applicable: {', '.join(applicable)}. "
            f"Received: techniques={list(wanted)}"
        )
    return sorted(dict.fromkeys(wanted))


def space_of(codes: Sequence[str]) -> Any:
    """A ``compression.selection.Space``: one slot per scope, its techniques by code."""
    from compression.selection.space import Slot, Space

    scopes = dict(Technique.objects.filter(code__in=codes).values_list("code", "applies_to"))
    slots = []
    for scope in SCOPE_ORDER:
        options = tuple(sorted(code for code in codes if scopes.get(code) == scope))
        if options:
            slots.append(Slot(scope, options))
    return Space(tuple(slots))
