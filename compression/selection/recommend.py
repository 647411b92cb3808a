"""The selector's entry point: a strategy's ranked plans, what binds, what to measure next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compression.selection.budgets import Budgets
from compression.selection.candidates import Candidate
from compression.selection.compose import ComposeConfig, compose
from compression.selection.evaluator import TableEvaluator
from compression.selection.exhaustive import exhaustive
from compression.selection.greedy import greedy
from compression.selection.objective import Score, score_all
from compression.selection.outcome import Outcome, binding_budget, closest
from compression.selection.space import Space
from compression.selection.tpe import TPEConfig, tpe

STRATEGIES = ("exhaustive", "greedy", "dqn", "tpe", "compose")


def run_strategy(
    strategy: str,
    candidates: Sequence[Candidate],
    budgets: Budgets,
    space: Space | None = None,
    seed: int = 0,
) -> Outcome:
    """Run one strategy on the candidate table.

    The TPE search asks a table evaluator for each plan, so its evaluations
    are the plans it looked up (a quarter of the space's plans by default).

    Raises:
        ValueError: an unknown strategy, or greedy/dqn/tpe without a space.
    """
    if strategy not in STRATEGIES:
        raise ValueError(
            f"Unknown strategy; choose one of {', '.join(STRATEGIES)}. "
            f"Received: strategy={strategy!r}"
        )
    if strategy == "exhaustive":
        return exhaustive(candidates, budgets)
    if space is None:
        raise ValueError(f"The {strategy} strategy needs a search space. Received: space=None")
    if strategy == "greedy":
        return greedy(candidates, budgets, space)
    if strategy == "tpe":
        return tpe(TableEvaluator(candidates), budgets, space, TPEConfig(seed=seed))
    if strategy == "compose":
        return compose(TableEvaluator(candidates), budgets, space, ComposeConfig(seed=seed))
    from compression.selection.dqn import DQNConfig, dqn  # Keras: only when asked

    return dqn(candidates, budgets, space, DQNConfig(seed=seed))


def recommend(
    candidates: Sequence[Candidate],
    budgets: Budgets,
    strategy: str = "exhaustive",
    space: Space | None = None,
    unscored: Sequence[str] = (),
    top: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """Recommend a plan for the budgets.

    Args:
        candidates: plans with measured, host-evaluated, estimated or predicted figures.
        budgets: limits and weights.
        strategy: "exhaustive", "greedy", "dqn" or "tpe".
        space: the slots greedy, dqn and tpe search.
        unscored: plans with no accuracy yet (never compressed): measure-next material.
        top: how many ranked plans, closest plans and measure-next plans to return.
        seed: the DQN's and the TPE search's seed.

    Returns:
        A JSON-serialisable dict: ``best``, ``ranked`` (score parts and figures),
        ``binding``, ``evaluations``, ``closest`` (when nothing fits, with the
        budgets to relax), ``reasons`` (why nothing fits, which plans or
        figures were missing), ``measure_next`` and the budgets.
    """
    outcome = run_strategy(strategy, candidates, budgets, space, seed)
    best = outcome.chosen
    near = [] if best else closest(outcome.infeasible, top)
    return {
        "strategy": strategy,
        "budgets": budgets.to_dict(),
        "best": score_dict(best) if best else None,
        "ranked": [score_dict(s) for s in outcome.ranked[:top]],
        "binding": binding_budget(best, budgets) if best else None,
        "evaluations": outcome.evaluations,
        "closest": [{**score_dict(c["score"]), "relax": c["relax"]} for c in near],
        "reasons": outcome.reasons,
        "measure_next": measure_next(candidates, budgets, unscored, top),
        "details": outcome.details,
    }


def measure_next(
    candidates: Sequence[Candidate], budgets: Budgets, unscored: Sequence[str], count: int
) -> list[dict[str, Any]]:
    """The most promising plans not measured on the device.

    Feasible predicted candidates first (best eq. 1 score first), then plans
    that have no accuracy yet, in the order given.
    """
    predicted = [s for s in score_all(candidates, budgets) if not s.candidate.measured]
    picks = [
        {"plan": s.candidate.plan, "reason": "predicted to fit", "score": s.total}
        for s in predicted
        if s.feasible
    ]
    picks += [{"plan": p, "reason": "not evaluated yet", "score": None} for p in unscored]
    return picks[:count]


def score_dict(s: Score) -> dict[str, Any]:
    """A score as JSON: the candidate's figures, total, parts and violations."""
    return {
        **s.candidate.to_dict(),
        "score": s.total,
        "parts": s.parts,
        "feasible": s.feasible,
        "violations": [
            {"budget": v.budget, "value": v.value, "limit": v.limit} for v in s.violations
        ],
    }
