"""Energy estimated from the model's structure when no sensor is readable.

Seed 004 (AdaDeep) section 3, eq. 5: ``E = e1*C + 6*e1*Sp + 200*e1*Sf`` with
``C`` the multiply-accumulates per inference, ``Sp`` the weight storage and
``Sf`` the activation storage in bits (eq. 3), ``e1`` = 52.8 pJ per MAC.

The formula lives once, in ``compression.analysis`` (which also computes C,
Sp and Sf for every artifact); this module re-exports it beside the labels a
Result carries, so measurement code has one place to import energy from.
Importing it imports Keras (through ``compression.analysis``): the
measurement child process never imports this module.
"""

from __future__ import annotations

from compression.analysis import estimate_energy_mj
from measurements.power.rapl import MEASURED_METHOD_RAPL

__all__ = ["ESTIMATE_METHOD", "MEASURED_METHOD_RAPL", "estimate_energy_mj"]

ESTIMATE_METHOD = "estimated (AdaDeep eq. 5)"
