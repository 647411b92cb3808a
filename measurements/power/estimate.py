"""Energy estimated from the model's structure when no sensor is readable.

Seed 004 (AdaDeep) section 3, eq. 5: ``E = e1*C + 6*e1*Sp + 200*e1*Sf`` with
``C`` the multiply-accumulates per inference, ``Sp`` the weight storage and
``Sf`` the activation storage in bits (eq. 3), ``e1`` = 52.8 pJ per MAC
"measured ... for mobile devices"; 6 and 200 are the cache and DRAM access
costs per bit relative to one MAC (weights in cache, activations in DRAM).
"""

from __future__ import annotations

from measurements.power.rapl import MEASURED_METHOD_RAPL

__all__ = [
    "E1_JOULES_PER_MAC",
    "ESTIMATE_METHOD",
    "MEASURED_METHOD_RAPL",
    "estimate_energy_mj",
]

ESTIMATE_METHOD = "estimated (AdaDeep eq. 5)"
E1_JOULES_PER_MAC = 52.8e-12  # seed 004, below eq. 5
CACHE_BIT_COST = 6  # per bit, relative to one MAC (seed 004 eq. 5)
DRAM_BIT_COST = 200


def estimate_energy_mj(macs: float, sp_bits: float, sf_bits: float) -> float:
    """Energy per inference from AdaDeep eq. 5, millijoules.

    Args:
        macs: multiply-accumulate operations per inference (C).
        sp_bits: storage of the weights, bits (Sp = |W| * Bw).
        sf_bits: storage of the activations, bits (Sf = |X| * Ba).

    Returns:
        ``(e1*C + 6*e1*Sp + 200*e1*Sf)`` converted from joules to mJ.
    """
    for name, value in (("macs", macs), ("sp_bits", sp_bits), ("sf_bits", sf_bits)):
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            raise ValueError(f"{name} must be a non-negative number. Received: {name}={value!r}")
    joules = E1_JOULES_PER_MAC * (macs + CACHE_BIT_COST * sp_bits + DRAM_BIT_COST * sf_bits)
    return joules * 1000.0
