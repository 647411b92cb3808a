"""Candidates: a plan with its figures, each saying where it came from.

A figure is ``measured`` (on the device), ``host-evaluated`` (accuracy through
the .tflite on the host), ``static`` (exact, from the files: storage, MACs),
``estimated`` (energy by seed 004 eq. 5), ``predicted`` (latency by the
device's predictor) or ``imported (label)`` (published elsewhere).
Units: accuracy percent, energy mJ, latency ms, storage MB.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

PROVENANCES = ("measured", "host-evaluated", "static", "estimated", "predicted", "imported")
FIGURES = ("accuracy_pct", "energy_mj", "latency_ms", "storage_mb", "weights_mb")


@dataclass(frozen=True)
class Candidate:
    """A plan on a device with the figures the objective needs.

    Attributes:
        plan: the plan's canonical text.
        accuracy_pct: A, percent; None when no artifact was evaluated.
        energy_mj: E per inference.
        latency_ms: T of one inference.
        storage_mb: S = Sp + Sf (eq. 3), megabytes.
        weights_mb: Sp alone, megabytes (eq. 6 compares it with the cache).
        macs: C, multiply-accumulates per inference.
        sources: figure name -> provenance (one of PROVENANCES).
        extra: anything the caller wants carried along (ids, thread count).
    """

    plan: str
    accuracy_pct: float | None
    energy_mj: float | None
    latency_ms: float | None
    storage_mb: float | None
    weights_mb: float | None = None
    macs: float | None = None
    sources: dict[str, str] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, source in self.sources.items():
            # "imported (Smith et al. 2024)": the kind, then where it was imported from.
            if source.split(" (", 1)[0] not in PROVENANCES:
                raise ValueError(
                    f"A figure's provenance must be one of {', '.join(PROVENANCES)}. "
                    f"Received: sources[{name!r}]={source!r}"
                )

    @property
    def complete(self) -> bool:
        """Whether A, E, T and S are all known, so eq. 1 can score it."""
        return all(
            getattr(self, name) is not None
            for name in ("accuracy_pct", "energy_mj", "latency_ms", "storage_mb")
        )

    @property
    def measured(self) -> bool:
        """Whether the latency was measured on the device (not predicted)."""
        return self.sources.get("latency_ms") == "measured"

    def sp_mb(self) -> float:
        """The weights' storage, or the total when the split is unknown."""
        return self.weights_mb if self.weights_mb is not None else float(self.storage_mb or 0)

    def to_dict(self) -> dict[str, Any]:
        """The candidate as JSON: figures with their provenance."""
        figures = {
            name: {"value": getattr(self, name), "source": self.sources.get(name, "")}
            for name in FIGURES
        }
        return {"plan": self.plan, "figures": figures, "macs": self.macs, **self.extra}


def candidate_from_dict(data: dict[str, Any]) -> Candidate:
    """The candidate ``Candidate.to_dict`` wrote (a search stores its evaluations so).

    Raises:
        ValueError: the dict lacks the plan or the figures.
    """
    if not isinstance(data, dict) or "plan" not in data or "figures" not in data:
        raise ValueError(f"A candidate needs a plan and its figures. Received: {data!r}")
    figures = data["figures"]
    values = {name: (figures.get(name) or {}).get("value") for name in FIGURES}
    sources = {
        name: figures[name]["source"]
        for name in FIGURES
        if figures.get(name) and figures[name].get("source")
    }
    extra = {k: v for k, v in data.items() if k not in ("plan", "figures", "macs")}
    return Candidate(data["plan"], **values, macs=data.get("macs"), sources=sources, extra=extra)


def by_plan(candidates: list[Candidate]) -> dict[str, Candidate]:
    """Candidates keyed by plan text; for repeated plans the measured one wins."""
    table: dict[str, Candidate] = {}
    for candidate in candidates:
        current = table.get(candidate.plan)
        if current is None or (candidate.measured and not current.measured):
            table[candidate.plan] = candidate
    return table
