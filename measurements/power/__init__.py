"""Power samplers, energy integration and the energy estimation model.

``PowerSampler`` is the interface every sensor implements (RAPL here; the
Jetson INA3221 and Android battery samplers plug in the same way);
``integrate`` turns samples into energy per inference; ``estimate`` is the
AdaDeep eq. 5 fallback when no sensor is readable. No Django import.

``estimate`` is loaded on first use: it imports ``compression.analysis`` and
so Keras, which the measurement child process must not pay for.
"""

from typing import Any

from measurements.power.base import PowerSampler, PowerSamplerError, Sample
from measurements.power.integrate import (
    average_power_w,
    energy_per_inference_mj,
    integrate_energy_j,
    summarise_energy,
)
from measurements.power.rapl import MEASURED_METHOD_RAPL, RaplSampler

__all__ = [
    "ESTIMATE_METHOD",
    "MEASURED_METHOD_RAPL",
    "PowerSampler",
    "PowerSamplerError",
    "RaplSampler",
    "Sample",
    "average_power_w",
    "energy_per_inference_mj",
    "estimate_energy_mj",
    "integrate_energy_j",
    "summarise_energy",
]
_LAZY = ("ESTIMATE_METHOD", "estimate_energy_mj")


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from measurements.power import estimate

        return getattr(estimate, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
