"""What techniques did to other networks: the compose search's prior, learnt across networks.

A measured table (one network on one device: its baseline, techniques alone,
pairs) shows each technique's effect on every figure, as the composition
model counts it (accuracy in points, the others as log ratios to the
baseline), and each pair's interaction: how far the pair strays from the sum
of its parts. Over several networks, a technique's mean effect is where the
search starts instead of "no effect", and its spread across the networks says
how sure that start is (never below FLOORS: a few networks understate it).
So a search on a new network knows, before measuring anything, that
quantization shrinks storage about fourfold and that a pruning pair loses
more than its parts; it spends its evaluations on what the other networks
cannot tell it. A technique or pair seen on fewer than MIN_NETWORKS networks
keeps the uninformed prior.

``benchmarks/selector_strategies.py`` learns it leave-one-table-out (a
table's own figures never inform its prior); the Recommend page and searches
learn it from the other models measured on the same device.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from compression.selection.candidates import Candidate
from compression.selection.space import BASELINE, steps_of

# Figure -> on a log scale? Accuracy in points, the others as log factors.
LOGGED = {"accuracy_pct": False, "energy_mj": True, "latency_ms": True, "storage_mb": True}
# The least spread a learnt effect keeps: 3 accuracy points, about 10 % on the others.
FLOORS = {"accuracy_pct": 3.0, "energy_mj": 0.1, "latency_ms": 0.1, "storage_mb": 0.1}
MIN_NETWORKS = 2  # a spread needs two networks
Belief = tuple[float, float]  # (mean, standard deviation) of an effect


def pair_key(first: str, second: str) -> str:
    """The two techniques of a pair in a fixed order, joined as a plan is."""
    return " + ".join(sorted((first, second)))


@dataclass(frozen=True)
class EffectPrior:
    """Per figure, beliefs about single techniques' effects and pairs' interactions.

    Attributes:
        singles: figure -> technique -> (mean, sd) of its effect.
        pairs: figure -> ``pair_key`` -> (mean, sd) of the pair's interaction.
        networks: the names of the networks it was learnt from.
    """

    singles: dict[str, dict[str, Belief]] = field(default_factory=dict)
    pairs: dict[str, dict[str, Belief]] = field(default_factory=dict)
    networks: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for kind in (self.singles, self.pairs):
            for name, beliefs in kind.items():
                if name not in LOGGED:
                    raise ValueError(
                        f"Unknown figure; choose from {', '.join(LOGGED)}. Received: {name!r}"
                    )
                for key, (mean, sd) in beliefs.items():
                    if not (math.isfinite(mean) and math.isfinite(sd) and sd > 0):
                        raise ValueError(
                            "An effect's mean must be finite and its sd positive. "
                            f"Received: {name} {key!r}=({mean!r}, {sd!r})"
                        )

    @classmethod
    def learn(cls, tables: Mapping[str, Sequence[Candidate]]) -> EffectPrior:
        """The beliefs that the networks' tables support (each needs its baseline).

        Args:
            tables: network name -> its evaluated plans; a table without a
                complete baseline teaches nothing and is left out.
        """
        seen = {name: _effects(rows) for name, rows in tables.items()}
        seen = {name: effects for name, effects in seen.items() if effects is not None}
        singles = {n: _beliefs([s[n] for s, _ in seen.values()], n) for n in LOGGED}
        pairs = {n: _beliefs([p[n] for _, p in seen.values()], n) for n in LOGGED}
        return cls(singles, pairs, tuple(sorted(seen)))

    def single(self, figure: str, technique: str) -> Belief | None:
        """The belief about a technique's effect on a figure, None when not learnt."""
        return self.singles.get(figure, {}).get(technique)

    def pair(self, figure: str, first: str, second: str) -> Belief | None:
        """The belief about a pair's interaction on a figure, None when not learnt."""
        return self.pairs.get(figure, {}).get(pair_key(first, second))

    def get_config(self) -> dict[str, Any]:
        """JSON-ready: what ``from_config`` rebuilds."""
        return {
            "singles": {n: {k: list(b) for k, b in v.items()} for n, v in self.singles.items()},
            "pairs": {n: {k: list(b) for k, b in v.items()} for n, v in self.pairs.items()},
            "networks": list(self.networks),
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> EffectPrior:
        """The prior ``get_config`` described."""

        def beliefs(kind: Mapping[str, Any]) -> dict[str, dict[str, Belief]]:
            return {
                n: {k: (float(m), float(s)) for k, (m, s) in v.items()} for n, v in kind.items()
            }

        return cls(
            beliefs(config.get("singles", {})),
            beliefs(config.get("pairs", {})),
            tuple(config.get("networks", ())),
        )


def _effects(
    rows: Sequence[Candidate],
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, float]]] | None:
    """One network's single effects and pair interactions per figure; None without a baseline."""
    by_plan = {c.plan: c for c in rows if c.complete}
    base = by_plan.get(BASELINE)
    if base is None:
        return None
    singles: dict[str, dict[str, float]] = {n: {} for n in LOGGED}
    pairs: dict[str, dict[str, float]] = {n: {} for n in LOGGED}
    for plan, candidate in by_plan.items():
        steps = steps_of(plan)
        if len(steps) == 1:
            for name, value in _relative(candidate, base).items():
                singles[name][steps[0]] = value
    for plan, candidate in by_plan.items():
        steps = steps_of(plan)
        if len(steps) != 2:
            continue
        for name, value in _relative(candidate, base).items():
            parts = [singles[name].get(step) for step in steps]
            if None not in parts:
                pairs[name][pair_key(*steps)] = value - sum(parts)  # type: ignore[arg-type]
    return singles, pairs


def _relative(candidate: Candidate, base: Candidate) -> dict[str, float]:
    """The candidate's figures against the baseline's, on the composition model's scales."""
    out = {}
    for name, logged in LOGGED.items():
        value, reference = getattr(candidate, name), getattr(base, name)
        if value is None or reference is None:
            continue
        if logged and (value <= 0 or reference <= 0):
            continue
        out[name] = math.log(value / reference) if logged else float(value - reference)
    return out


def _beliefs(per_network: Sequence[Mapping[str, float]], figure: str) -> dict[str, Belief]:
    """Mean and floored spread of each key seen on at least MIN_NETWORKS networks."""
    keys = sorted({key for effects in per_network for key in effects})
    beliefs = {}
    for key in keys:
        values = [effects[key] for effects in per_network if key in effects]
        if len(values) >= MIN_NETWORKS:
            spread = float(np.std(values, ddof=1))
            beliefs[key] = (float(np.mean(values)), max(spread, FLOORS[figure]))
    return beliefs
