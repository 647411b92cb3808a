"""Why a strategy found nothing, or what it could not look at: sentences for the user.

Every outcome carries its reasons: the plans a strategy asked for that the
table lacks, the plans whose figures are missing, and, when nothing fits,
which budget binds (broken by the most evaluated plans, with the best value
any of them reached).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from compression.selection.candidates import Candidate
from compression.selection.objective import LIMITS, Score

SCORED_FIGURES = ("accuracy_pct", "energy_mj", "latency_ms", "storage_mb")
LISTED = 5  # plans named in a sentence before "and N more"


def plan_list(plans: Sequence[str]) -> str:
    """Plans joined for a sentence, the first few named."""
    shown = ", ".join(plans[:LISTED])
    more = len(plans) - LISTED
    return f"{shown} and {more} more" if more > 0 else shown


def missing_figures(candidates: Sequence[Candidate]) -> list[str]:
    """One sentence per figure that some plans lack (they cannot be scored)."""
    sentences = []
    for name in SCORED_FIGURES:
        lacking = sorted({c.plan for c in candidates if getattr(c, name) is None})
        if lacking:
            sentences.append(
                f"{len(lacking)} plan(s) have no {name} and cannot be scored: {plan_list(lacking)}."
            )
    return sentences


def missing_plans(asked: Sequence[str], strategy: str) -> list[str]:
    """A sentence for the plans a strategy asked for and could not evaluate."""
    if not asked:
        return []
    return [
        f"{strategy} asked for {len(asked)} plan(s) the table lacks (never compressed, "
        f"measured or imported): {plan_list(list(asked))}."
    ]


def unevaluated(why: Mapping[str, str]) -> list[str]:
    """A sentence for the plans that could not be evaluated, each with its reason."""
    if not why:
        return []
    named = [f"{plan} ({reason})" for plan, reason in list(why.items())[:LISTED]]
    more = len(why) - LISTED
    listed = "; ".join(named) + (f"; and {more} more" if more > 0 else "")
    return [f"{len(why)} plan(s) could not be evaluated: {listed}."]


def nothing_fits(infeasible: Sequence[Score]) -> list[str]:
    """Why no evaluated plan is feasible: each broken budget, the binding one first."""
    if not infeasible:
        return ["No plan could be evaluated, so nothing can be recommended."]
    broken: dict[str, list[float]] = {}
    limits: dict[str, float] = {}
    for s in infeasible:
        for v in s.violations:
            broken.setdefault(v.budget, []).append(v.value)
            limits[v.budget] = v.limit
    order = sorted(broken, key=lambda b: -len(broken[b]))
    sentences = []
    for rank, budget in enumerate(order):
        kind = LIMITS[budget][1]
        best = max(broken[budget]) if kind == "min" else min(broken[budget])
        limit = limits[budget]
        lead = "binds" if rank == 0 else "also breaks"
        sentences.append(
            f"{budget} {lead}: {len(broken[budget])} of {len(infeasible)} evaluated plan(s) "
            f"break it (the best of them reaches {best:.4g} against {limit:.4g})."
        )
    return sentences
