"""User budgets and the weights of the objective (seed 004, eq. 1 and section 5.3.3).

The one Budgets type: the selector (the recommend page and API) and the
Pareto page both read it. One unit per quantity, named in each field: accuracy
in percent (0..100), energy in millijoules per inference, latency in
milliseconds, storage and file size in megabytes (10^6 bytes). Any budget may
be left open (``None``). The weights mu1..mu4 scale accuracy, energy, latency and
storage; mu1 + mu2 and mu3 + mu4 must each sum to 1 (section 5.3.3 derives them
that way, and section 5.3.1 uses 0.6/0.4 and 0.5/0.5).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

# Weights may drift from summing to 1 by this much (typing 0.33 + 0.67 is fine).
WEIGHT_SUM_TOLERANCE = 0.01
# Seed 004 section 5.3.3: battery (mAh) and cache (MB) reference points, and the floor.
BATTERY_REFERENCE_MAH = 4000.0
CACHE_REFERENCE_MB = 8.0
WEIGHT_FLOOR = 0.6
# The selector's inputs, as a recommendation echoes them (Budgets.to_dict).
LIMIT_FIELDS = ("min_accuracy_pct", "max_energy_mj", "latency_ms", "storage_mb", "cache_mb")
# A bound on the .tflite file a page applies to measured results; the selector bounds
# storage_mb (eq. 3) instead, so it never reads this one.
FILE_SIZE_FIELD = "max_file_mb"
WEIGHT_FIELDS = ("mu1", "mu2", "mu3", "mu4")


class BudgetError(ValueError):
    """One or more budgets or weights are invalid.

    Attributes:
        errors: field name -> message, one per bad field.
    """

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True)
class Budgets:
    """The user's demands: limits (any may be None = open) and weights.

    Attributes:
        min_accuracy_pct: A_min, percent.
        max_energy_mj: E_max, millijoules per inference.
        latency_ms: T_bgt, milliseconds.
        storage_mb: S_bgt, megabytes (weights plus activations, eq. 3).
        cache_mb: S_Cache of eq. 6, megabytes, compared with the weights' storage.
        max_file_mb: the .tflite file's size, megabytes (the Pareto page's size budget;
            not one of the selector's limits).
        mu1: weight of accuracy.
        mu2: weight of energy.
        mu3: weight of latency (eq. 6 and 8 only).
        mu4: weight of storage (eq. 6 and 8 only).
    """

    min_accuracy_pct: float | None = None
    max_energy_mj: float | None = None
    latency_ms: float | None = None
    storage_mb: float | None = None
    cache_mb: float | None = None
    max_file_mb: float | None = None
    mu1: float = 0.5
    mu2: float = 0.5
    mu3: float = 0.5
    mu4: float = 0.5

    def __post_init__(self) -> None:
        errors = budget_errors(self.__dict__)
        if errors:
            raise BudgetError(errors)

    @property
    def weights(self) -> tuple[float, float, float, float]:
        """(mu1, mu2, mu3, mu4)."""
        return (self.mu1, self.mu2, self.mu3, self.mu4)

    def limits(self) -> dict[str, float]:
        """The selector's budgets that are set, by field name (not cache_mb nor max_file_mb)."""
        names = ("min_accuracy_pct", "max_energy_mj", "latency_ms", "storage_mb")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def to_dict(self) -> dict[str, Any]:
        """The selector's limits and weights, JSON-serialisable, as a recommendation echoes them."""
        return {name: getattr(self, name) for name in (*LIMIT_FIELDS, *WEIGHT_FIELDS)}


def budget_errors(values: dict[str, Any]) -> dict[str, str]:
    """Validate budgets and weights; field name -> message for each bad one.

    Args:
        values: any of the Budgets fields.

    Returns:
        An empty dict when everything is acceptable.
    """
    # Missing weights take the dataclass default, 0.5 (mu1 = mu2, mu3 = mu4).
    values = {**dict.fromkeys(WEIGHT_FIELDS, 0.5), **values}
    errors: dict[str, str] = {}
    for name in (*LIMIT_FIELDS, FILE_SIZE_FIELD, *WEIGHT_FIELDS):
        value = values.get(name)
        if value is None and name not in WEIGHT_FIELDS:
            continue
        problem = _number_problem(name, value)
        if problem:
            errors[name] = f"{problem}. Received: {name}={value!r}"
    accuracy = values.get("min_accuracy_pct")
    if "min_accuracy_pct" not in errors and accuracy is not None and accuracy > 100:
        errors["min_accuracy_pct"] = (
            f"The minimum accuracy is a percentage and cannot exceed 100. "
            f"Received: min_accuracy_pct={accuracy!r}"
        )
    if "min_accuracy_pct" not in errors and accuracy is not None and 0 < accuracy <= 1:
        # Imports and the API store accuracy as a fraction: 0.9 here would mean 0.9 %.
        errors["min_accuracy_pct"] = (
            f"The minimum accuracy is a percentage (0-100); {accuracy!r} reads as a fraction. "
            f"Give {accuracy * 100:g} for {accuracy * 100:g} %. Received: "
            f"min_accuracy_pct={accuracy!r}"
        )
    for first, second in (("mu1", "mu2"), ("mu3", "mu4")):
        if first in errors or second in errors:
            continue
        a, b = values[first], values[second]
        if abs(a + b - 1.0) > WEIGHT_SUM_TOLERANCE:
            errors[second] = (
                f"{first} + {second} must sum to 1 (section 5.3.3 of AdaDeep). "
                f"Received: {first}={a!r}, {second}={b!r}"
            )
    return errors


def _number_problem(name: str, value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"{name} must be a number"
    if math.isnan(value) or math.isinf(value):
        return f"{name} must be a finite number"
    if value < 0:
        return f"{name} cannot be negative"
    if name in WEIGHT_FIELDS and value > 1:
        return f"{name} is a weight between 0 and 1"
    return None


def device_weights(
    battery_mah: float | None, cache_mb: float | None
) -> tuple[float, float, float, float]:
    """The weights AdaDeep derives from a device (seed 004, section 5.3.3).

    mu2 = max((4000 - battery mAh) / 4000, 0.6), mu1 = 1 - mu2,
    mu4 = max((8 - cache MB) / 8, 0.6), mu3 = 1 - mu4. A mains-powered device
    (no battery) takes the battery term's lower bound, mu2 = 0.6; an unknown
    cache size likewise takes mu4 = 0.6.

    Args:
        battery_mah: battery capacity, None for mains power.
        cache_mb: the largest cache, MB, None when unknown.

    Returns:
        (mu1, mu2, mu3, mu4).
    """
    mu2 = WEIGHT_FLOOR
    if battery_mah is not None:
        mu2 = max((BATTERY_REFERENCE_MAH - battery_mah) / BATTERY_REFERENCE_MAH, WEIGHT_FLOOR)
    mu4 = WEIGHT_FLOOR
    if cache_mb is not None:
        mu4 = max((CACHE_REFERENCE_MB - cache_mb) / CACHE_REFERENCE_MB, WEIGHT_FLOOR)
    return (1.0 - mu2, mu2, 1.0 - mu4, mu4)
