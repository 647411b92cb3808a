"""Human units for stored figures, and text that never reads None, nan or inf.

Stored units follow DESIGN.md (ms, mJ, bytes, MACs, fractions); pages show
kB/MB (decimal: 1 MB = 10^6 bytes, the recommender's storage unit and the
device's memory unit, so a size reads the same on every page), percent and
"x" reductions. Every formatter returns ``MISSING`` for
a figure that is absent or not finite, so templates only print strings.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

MISSING = "—"
KB = 1000
MB = 1000 * 1000


_NUMBERS = frozenset((int, float))  # exact types: bool is an int but not a figure


def finite(value: object) -> bool:
    """Whether ``value`` is a real, finite number (not None, bool, nan or inf)."""
    return value.__class__ in _NUMBERS and math.isfinite(value)  # type: ignore[arg-type]


def number(value: object, sig: int = 3) -> str:
    """``value`` to ``sig`` significant digits, thousands separated; MISSING otherwise."""
    if not finite(value):
        return MISSING
    value = float(value)  # type: ignore[arg-type]
    if value == 0:
        return "0"
    digits = max(0, sig - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{digits}f}"


def brief(value: float) -> str:
    """Three significant digits (thousands in full), quickly, for thousands of hover labels.

    ``value`` must be a finite number; callers check for None first.
    """
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def with_unit(value: object, unit: str, sig: int = 3) -> str:
    """``value`` to ``sig`` significant digits followed by ``unit``; MISSING otherwise."""
    return f"{number(value, sig)} {unit}" if finite(value) else MISSING


def count(value: object) -> str:
    """An integer count with thousands separators (parameters, MACs, runs)."""
    return f"{int(value):,}" if finite(value) else MISSING  # type: ignore[arg-type]


def macs(value: object) -> str:
    """A MAC count, e.g. ``28,324,864 MACs``."""
    return f"{count(value)} MACs" if finite(value) else MISSING


def percent(fraction: object, digits: int = 1) -> str:
    """A 0..1 fraction as a percentage, e.g. ``0.951`` -> ``95.1 %``."""
    return f"{float(fraction) * 100:.{digits}f} %" if finite(fraction) else MISSING  # type: ignore[arg-type]


def times(ratio: object) -> str:
    """A reduction factor as seed 004 writes it, e.g. ``12.1×``."""
    return f"{number(ratio)}×" if finite(ratio) else MISSING


def points(value: object) -> str:
    """Accuracy loss in percentage points, signed so a gain reads negative."""
    return f"{float(value):+.1f} pt" if finite(value) else MISSING  # type: ignore[arg-type]


@dataclass(frozen=True)
class Scale:
    """A display unit: stored value / divisor, labelled ``unit``."""

    divisor: float
    unit: str

    def show(self, value: object, sig: int = 3) -> str:
        """``value`` in this unit with the unit after it."""
        if not finite(value):
            return MISSING
        return f"{number(float(value) / self.divisor, sig)} {self.unit}"  # type: ignore[arg-type]

    def of(self, value: object) -> float | None:
        """``value`` in this unit as a number for a plot (None when missing)."""
        return float(value) / self.divisor if finite(value) else None  # type: ignore[arg-type]


BYTES = Scale(1, "B")
KILOBYTES = Scale(KB, "kB")
MEGABYTES = Scale(MB, "MB")
PERCENT = Scale(0.01, "%")


def byte_scale(values: Iterable[object]) -> Scale:
    """kB for values under a MB, MB above, B for tiny ones; chosen from the largest."""
    largest = max((float(v) for v in values if finite(v)), default=0.0)  # type: ignore[arg-type]
    if largest >= MB:
        return MEGABYTES
    return KILOBYTES if largest >= KB else BYTES


def size(value: object) -> str:
    """A byte count in the unit that suits it alone."""
    return byte_scale([value]).show(value)


def bits(value: object) -> str:
    """A storage figure kept in bits (Sp, Sf), shown in bytes' units."""
    return size(float(value) / 8) if finite(value) else MISSING  # type: ignore[arg-type]


def mac_scale(values: Iterable[object]) -> Scale:
    """Millions of MACs once the largest passes a million, plain MACs below."""
    largest = max((float(v) for v in values if finite(v)), default=0.0)  # type: ignore[arg-type]
    return Scale(1e6, "M MACs") if largest >= 1e6 else Scale(1, "MACs")


def text(value: object) -> str:
    """Any stored value as text; MISSING for None, empty or non-finite numbers."""
    if value is None or value == "" or (isinstance(value, float) and not math.isfinite(value)):
        return MISSING
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return ", ".join(text(v) for v in value) or MISSING
    return str(value)
