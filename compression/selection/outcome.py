"""What every strategy returns: ranked feasible plans, the binding budget, the cost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from compression.selection.budgets import Budgets
from compression.selection.objective import Score, slack
from compression.selection.reasons import nothing_fits


@dataclass
class Outcome:
    """A strategy's answer.

    Attributes:
        strategy: "exhaustive", "greedy", "dqn", "tpe" or "compose".
        chosen: the strategy's pick (always feasible), None when nothing fits.
        ranked: the feasible plans it evaluated, best eq. 1 score first.
        evaluations: distinct candidates it looked at.
        infeasible: the evaluated plans that broke a budget, scored.
        details: strategy-specific extras (the DQN's Q-values, greedy's path).
        reasons: sentences saying why nothing was chosen, which plans the
            strategy asked for and the table lacks, which figures are missing.
    """

    strategy: str
    chosen: Score | None
    ranked: list[Score]
    evaluations: int
    infeasible: list[Score] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)


def build_outcome(
    strategy: str,
    scores: Sequence[Score],
    evaluations: int,
    pick: str | None = None,
    details: dict[str, Any] | None = None,
    reasons: Sequence[str] = (),
) -> Outcome:
    """Rank ``scores``; the chosen plan is ``pick`` when feasible, else the best feasible.

    When nothing is feasible the reasons gain why: each broken budget, the
    binding one (broken by the most evaluated plans) first.
    """
    ordered = sorted(scores, key=lambda s: (-s.total, s.candidate.plan))
    feasible = [s for s in ordered if s.feasible]
    chosen = next((s for s in feasible if s.candidate.plan == pick), None)
    chosen = chosen or (feasible[0] if feasible else None)
    if chosen is not None:
        feasible = [chosen] + [s for s in feasible if s is not chosen]
    infeasible = [s for s in ordered if not s.feasible]
    reasons = list(reasons) + ([] if chosen else nothing_fits(infeasible))
    return Outcome(strategy, chosen, feasible, evaluations, infeasible, details or {}, reasons)


def binding_budget(chosen: Score, budgets: Budgets) -> str | None:
    """The set budget with the least relative room left for the chosen plan."""
    room = slack(chosen.candidate, budgets)
    return min(room, key=room.__getitem__) if room else None


def closest(infeasible: Sequence[Score], count: int = 3) -> list[dict[str, Any]]:
    """The plans nearest to fitting, with each budget to relax and by how much.

    Nearness is the sum of relative excesses over the broken budgets.
    """
    ranked = sorted(infeasible, key=lambda s: (sum(v.relative for v in s.violations), -s.total))
    return [
        {
            "score": score,
            "relax": {v.budget: {"to": v.value, "by": v.excess} for v in score.violations},
        }
        for score in ranked[:count]
    ]
