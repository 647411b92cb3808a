"""The figures a Result holds, and what values each accepts from outside.

Used where figures come in as text or JSON (the import of results measured
elsewhere) and where they go out as flat columns (the export). Units as in
measurements.models: milliseconds, millijoules per inference, watts, bytes,
fractions 0..1. Plain Python: no Django import.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

# Column limits that SQLite does not enforce but PostgreSQL does.
MAX_SMALL_INT = 32767
MAX_INT = 2147483647
MAX_BIG_INT = 9223372036854775807


@dataclass(frozen=True)
class Figure:
    """One Result field and the values it accepts.

    Attributes:
        name: the Result field, and the column name outside.
        kind: "non_negative" (a finite float >= 0), "fraction" (0..1), "count"
            (an integer 0..limit), "flag" (boolean), "text" (at most limit
            characters) or "breakdown" (a JSON object op type -> ms).
        limit: the largest count, or the longest text.
    """

    name: str
    kind: str
    limit: int = 0


FIGURES: dict[str, Figure] = {
    f.name: f
    for f in (
        Figure("latency_mean_ms", "non_negative"),
        Figure("latency_median_ms", "non_negative"),
        Figure("latency_p90_ms", "non_negative"),
        Figure("latency_std_ms", "non_negative"),
        Figure("latency_ci95_ms", "non_negative"),
        Figure("runs", "count", MAX_INT),
        Figure("stop_reason", "text", 20),
        Figure("stable", "flag"),
        Figure("init_ms", "non_negative"),
        Figure("first_inference_ms", "non_negative"),
        Figure("energy_mj", "non_negative"),
        Figure("energy_measured", "flag"),
        Figure("energy_method", "text", 100),
        Figure("avg_power_w", "non_negative"),
        Figure("peak_memory_bytes", "count", MAX_BIG_INT),
        Figure("op_breakdown", "breakdown"),
        Figure("op_breakdown_method", "text", 100),
        Figure("accuracy", "fraction"),
        Figure("precision", "fraction"),
        Figure("recall", "fraction"),
        Figure("f1", "fraction"),
        Figure("accuracy_method", "text", 100),
    )
}
# The artifact's static figures (exact, from its files; or imported with a label).
STATIC_FIGURES: dict[str, Figure] = {
    name: Figure(name, "count", MAX_BIG_INT)
    for name in ("params", "nonzero_params", "sp_bits", "sf_bits", "macs", "file_size", "gzip_size")
}
# The measured quantities (not flags, methods or labels): a row needs one of them.
MEASURES = tuple(
    name for name, f in FIGURES.items() if f.kind in ("non_negative", "fraction", "count")
)


def parse_figure(figure: Figure, value: Any) -> Any:
    """``value`` (text from a CSV, or a JSON value) as ``figure`` stores it.

    Raises:
        ValueError: saying what the value must be, and what it was.
    """
    return PARSERS[figure.kind](value, figure.limit)


def as_text(value: Any) -> str:
    """A cell as stripped text; missing (None, NaN) is empty."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value).strip()


def has_nul(value: Any) -> bool:
    """Whether text anywhere in ``value`` (nested lists and dicts too) holds a NUL."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(has_nul(k) or has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(has_nul(item) for item in value)
    return False


def parse_number(value: Any, _limit: int = 0) -> float:
    """A finite number, from a JSON number or its text (a JSON true is not 1)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"Not a number. Received: {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"Not a number. Received: {_short(value)}") from None
    except OverflowError:  # an integer beyond any float: too large for every figure
        raise ValueError(f"Too large. Received: {_short(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"Must be finite. Received: {value!r}")
    return number


def _short(value: Any) -> str:
    """``repr(value)``, cut to 60 characters: an error message never echoes a huge value."""
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def parse_non_negative(value: Any, _limit: int = 0) -> float:
    """A finite number >= 0 (latencies, energies, powers)."""
    number = parse_number(value)
    if number < 0:
        raise ValueError(f"Must be >= 0. Received: {value!r}")
    return number


def parse_fraction(value: Any, _limit: int = 0) -> float:
    """A number in 0..1 (accuracy, precision, recall, F1)."""
    number = parse_number(value)
    if not 0 <= number <= 1:
        raise ValueError(f"Must be a fraction in 0..1. Received: {value!r}")
    return number


def parse_count(value: Any, limit: int) -> int:
    """A whole number in 0..limit ("12", "12.0" and 12 alike)."""
    number = parse_number(value)
    if not number.is_integer() or not 0 <= number <= limit:
        raise ValueError(f"Must be a whole number in 0..{limit}. Received: {_short(value)}")
    # From the text when it is digits: a float would round integers above 2**53.
    return int(value) if isinstance(value, int) or str(value).strip().isdigit() else int(number)


def parse_flag(value: Any, _limit: int = 0) -> bool:
    """true/false, 1/0 or yes/no (any case), or a JSON boolean."""
    if isinstance(value, bool):
        return value
    text = as_text(value).lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError(f"Must be true or false. Received: {value!r}")


def parse_text(value: Any, limit: int) -> str:
    """Text of at most ``limit`` characters, stripped."""
    if not isinstance(value, str):
        raise ValueError(f"Must be text. Received: {value!r}")
    if len(value.strip()) > limit:
        raise ValueError(f"At most {limit} characters. Received: {len(value.strip())}")
    return value.strip()


def parse_breakdown(value: Any, _limit: int = 0) -> dict[str, float]:
    """An object of op type -> non-negative ms (or its JSON text, as a CSV holds it)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError:
            raise ValueError(
                f"Must be a JSON object of op type -> ms. Received: {value!r}"
            ) from None
    if not isinstance(value, dict):
        raise ValueError(f"Must be an object of op type -> ms. Received: {value!r}")
    return {str(op): parse_non_negative(ms) for op, ms in value.items()}


PARSERS: dict[str, Callable[[Any, int], Any]] = {
    "non_negative": parse_non_negative,
    "fraction": parse_fraction,
    "count": parse_count,
    "flag": parse_flag,
    "text": parse_text,
    "breakdown": parse_breakdown,
}
