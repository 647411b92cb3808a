"""The objective and rewards of AdaDeep (seed 004, eq. 1, 6 and 8).

Eq. 1: maximise mu1 N(A - A_min) + mu2 N(E_max - E) subject to the budgets.
N maps a figure onto a fixed reference, the baseline's: accuracy as the share
of the baseline's accuracy kept, N(A - A_min) = A / A_base, and energy as the
share of the baseline's energy saved, N(E_max - E) = (E_base - E) / E_base
(latency and weights alike for eq. 6). The constants A_min and E_max cancel
inside N, as they would in any affine normalisation.

The paper writes N as min-max normalisation, (x - x_min) / (x_max - x_min),
without saying over which set. Over the candidates (as this module did
until the measured tables showed why not), the ranking of two plans depends on
a third: one collapsed pair measured at 25 % accuracy moved the accuracy
floor and reordered plans far from it, so a recommendation changed when an
unrelated plan was added to the table, and no search that measures a
fraction of the plans could know the optimum it was asked to find. The
baseline's figures are known before any search starts and do not move, so
adding a plan never reorders the others. A set without the baseline (an
imported table) takes the largest figure in the set as its reference, with
zero as the floor, which depends on the set only through its maximum.
The score does not depend on the budgets either, so it does not change when a
budget moves.

Feasibility: the paper writes T <= T_bgt and S <= S_bgt as constraints and
A_min, E_max as the user's "constraints on accuracy and energy"; here all four
are hard limits: a plan is feasible when A >= A_min, E <= E_max, T <= T_bgt
and S <= S_bgt (open budgets always hold).

Eq. 6 adds mu3 N(T_bgt - C/p) + mu4 N(S_Cache - Sp); we use the latency T
(measured or predicted) for C/p, the latency model the paper cites.

Eq. 8 splits the reward: R1 = mu1 N(A - A_min) - mu2 N(E_max - E) as printed,
R2 = mu3 N(T_bgt - C/p) + mu4 N(S_Cache - Sp). The paper is ambiguous on R1's
sign: eq. 8 prints '-' before the energy term, eq. 1 and eq. 6 have '+', and a
'-' would reward spending more energy, against the stated goal of minimising E.
We read it as a typesetting slip and use '+' (R1 is eq. 1's objective). R2 as
printed never sees a violated budget once normalised, so R2 here also
subtracts 1 per violated budget (our addition, the "constraint satisfaction"
the H stream is meant to learn).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from compression.selection.budgets import Budgets
from compression.selection.candidates import Candidate
from compression.selection.space import BASELINE

# Candidate attribute and direction checked for each budget.
LIMITS = {
    "min_accuracy_pct": ("accuracy_pct", "min"),
    "max_energy_mj": ("energy_mj", "max"),
    "latency_ms": ("latency_ms", "max"),
    "storage_mb": ("storage_mb", "max"),
}
VIOLATION_PENALTY = 1.0
SCALED = ("accuracy_pct", "energy_mj", "latency_ms")  # and "sp", the weights' storage


@dataclass(frozen=True)
class Violation:
    """A budget a candidate exceeds, and by how much (in the budget's unit)."""

    budget: str
    value: float
    limit: float

    @property
    def excess(self) -> float:
        """How far the budget must move for the candidate to fit."""
        return abs(self.value - self.limit)

    @property
    def relative(self) -> float:
        """The excess relative to the limit (inf for a zero limit)."""
        return self.excess / self.limit if self.limit else math.inf


def violations(candidate: Candidate, budgets: Budgets) -> list[Violation]:
    """Every budget the candidate breaks (an unknown figure breaks none)."""
    found = []
    for budget, limit in budgets.limits().items():
        attribute, kind = LIMITS[budget]
        value = getattr(candidate, attribute)
        if value is None:
            continue
        broken = value < limit if kind == "min" else value > limit
        if broken:
            found.append(Violation(budget, float(value), float(limit)))
    return found


def slack(candidate: Candidate, budgets: Budgets) -> dict[str, float]:
    """Relative room left under each set budget (0 = exactly at the limit)."""
    room = {}
    for budget, limit in budgets.limits().items():
        attribute, kind = LIMITS[budget]
        value = getattr(candidate, attribute)
        if value is None or not limit:
            continue
        room[budget] = (value - limit if kind == "min" else limit - value) / limit
    return room


@dataclass(frozen=True)
class Scale:
    """Eq. 1's normalisation: each figure from ``lo`` (0) to its reference ``hi``."""

    lo: dict[str, float]
    hi: dict[str, float]

    @classmethod
    def of(cls, candidates: Sequence[Candidate]) -> Scale:
        """From 0 to the baseline's A, E, T and Sp (the set's largest without a baseline)."""
        baseline = next((c for c in candidates if c.plan == BASELINE), None)
        lo: dict[str, float] = {}
        hi: dict[str, float] = {}
        readers = {name: (lambda c, n=name: getattr(c, n)) for name in SCALED}
        readers["sp"] = lambda c: c.sp_mb() if c.storage_mb is not None else None
        for name, read in readers.items():
            reference = read(baseline) if baseline is not None else None
            if reference is None:
                values = [v for v in map(read, candidates) if v is not None]
                reference = max(values, default=None)
            if reference is not None:
                lo[name], hi[name] = 0.0, reference
        return cls(lo, hi)

    def higher(self, name: str, value: float) -> float:
        """N of a figure to maximise: 1 at the reference, 0 at zero."""
        span = self.hi.get(name, value) - self.lo.get(name, value)
        return (value - self.lo[name]) / span if span > 0 else 0.0

    def lower(self, name: str, value: float) -> float:
        """N of a figure to minimise (a budget minus it): 0 at the reference, 1 at zero."""
        span = self.hi.get(name, value) - self.lo.get(name, value)
        return (self.hi[name] - value) / span if span > 0 else 0.0


@dataclass(frozen=True)
class Score:
    """A candidate's eq. 1 score, its parts, and its feasibility."""

    candidate: Candidate
    total: float
    parts: dict[str, float]
    violations: list[Violation] = field(default_factory=list)

    @property
    def feasible(self) -> bool:
        """Whether every set budget holds."""
        return not self.violations


def objective_parts(candidate: Candidate, budgets: Budgets, scale: Scale) -> dict[str, float]:
    """Eq. 1's two terms: mu1 N(A - A_min) and mu2 N(E_max - E)."""
    return {
        "accuracy": budgets.mu1 * scale.higher("accuracy_pct", candidate.accuracy_pct),
        "energy": budgets.mu2 * scale.lower("energy_mj", candidate.energy_mj),
    }


def constraint_parts(candidate: Candidate, budgets: Budgets, scale: Scale) -> dict[str, float]:
    """Eq. 6's last two terms: mu3 N(T_bgt - T) and mu4 N(S_Cache - Sp)."""
    return {
        "latency": budgets.mu3 * scale.lower("latency_ms", candidate.latency_ms),
        "storage": budgets.mu4 * scale.lower("sp", candidate.sp_mb()),
    }


def score(candidate: Candidate, budgets: Budgets, scale: Scale) -> Score:
    """Eq. 1 for one complete candidate against the set's scale."""
    parts = objective_parts(candidate, budgets, scale)
    return Score(candidate, sum(parts.values()), parts, violations(candidate, budgets))


def score_all(candidates: Sequence[Candidate], budgets: Budgets) -> list[Score]:
    """Eq. 1 for every complete candidate, against the baseline's figures, best first."""
    complete = [c for c in candidates if c.complete]
    scale = Scale.of(complete)
    scores = [score(c, budgets, scale) for c in complete]
    return sorted(scores, key=lambda s: (-s.total, s.candidate.plan))


def reward_eq6(candidate: Candidate, budgets: Budgets, scale: Scale) -> float:
    """Eq. 6: the Lagrangian reward of the greedy optimizer (section 5.3.1)."""
    parts = objective_parts(candidate, budgets, scale)
    parts.update(constraint_parts(candidate, budgets, scale))
    return sum(parts.values())


def rewards_eq8(candidate: Candidate, budgets: Budgets, scale: Scale) -> tuple[float, float]:
    """Eq. 8's (R1, R2), with R1's energy sign as in eq. 1 and a violation penalty in R2."""
    r1 = sum(objective_parts(candidate, budgets, scale).values())
    r2 = sum(constraint_parts(candidate, budgets, scale).values())
    r2 -= VIOLATION_PENALTY * len(violations(candidate, budgets))
    return r1, r2
