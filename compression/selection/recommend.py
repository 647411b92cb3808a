"""The selector's entry point: a strategy's ranked plans, what binds, what to measure next."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from compression.selection.budgets import Budgets
from compression.selection.candidates import Candidate, by_plan
from compression.selection.compose import ComposeConfig, ComposeSearch, compose
from compression.selection.effect_prior import EffectPrior
from compression.selection.evaluator import TableEvaluator
from compression.selection.exhaustive import exhaustive
from compression.selection.greedy import greedy
from compression.selection.objective import Score, score_all
from compression.selection.outcome import Outcome, binding_budget, closest
from compression.selection.space import Space
from compression.selection.tpe import TPEConfig, TPESearch, tpe

STRATEGIES = ("exhaustive", "greedy", "dqn", "tpe", "compose")
# benchmarks/selector_strategies.py: compose returns the exhaustive optimum more often than
# TPE, greedy and the DQN on every measured table. With its prior learnt from the other
# tables: 0.84-1.00 of 50 budget settings on the 172-plan tables, 0.90-1.00 on the 48-plan
# real-network tables (seeds 0-2), evaluating <= 25 % of the plans.
DEFAULT_STRATEGY = "compose"
# The strategies an EffectPrior steers: the others need not learn one.
PRIOR_STRATEGIES = ("compose",)
# The strategies that can measure as they go (an ask/tell loop), the default first.
SEARCH_STRATEGIES = ("compose", "tpe")


def run_strategy(
    strategy: str,
    candidates: Sequence[Candidate],
    budgets: Budgets,
    space: Space | None = None,
    seed: int = 0,
    prior: EffectPrior | None = None,
) -> Outcome:
    """Run one strategy on the candidate table.

    The TPE and compose searches ask a table evaluator for each plan, so
    their evaluations are the plans they looked up (a quarter of the plans at
    most by default). TPE may ask for any of the space's singles and pairs
    (a plan the table lacks costs an evaluation and is named); compose asks
    only for the table's complete plans, so it needs no space; ``prior``
    (what the techniques did to other networks) steers it.

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
    if strategy == "compose":
        plans = [plan for plan, c in by_plan(list(candidates)).items() if c.complete]
        if not plans:
            return exhaustive(candidates, budgets)  # nothing to search: say why as it does
        config = ComposeConfig(seed=seed, prior=prior)
        return compose(TableEvaluator(candidates), budgets, None, config, plans)
    if space is None:
        raise ValueError(f"The {strategy} strategy needs a search space. Received: space=None")
    if strategy == "greedy":
        return greedy(candidates, budgets, space)
    if strategy == "tpe":
        return tpe(TableEvaluator(candidates), budgets, space, TPEConfig(seed=seed))
    from compression.selection.dqn import DQNConfig, dqn  # Keras: only when asked

    return dqn(candidates, budgets, space, DQNConfig(seed=seed))


def search_for(
    strategy: str,
    space: Space,
    budgets: Budgets,
    plans: Sequence[str],
    seed: int = 0,
    max_evaluations: int | None = None,
    history: Sequence[tuple[str, Candidate | None]] = (),
    prior: EffectPrior | None = None,
) -> ComposeSearch | TPESearch:
    """An ask/tell search (one of SEARCH_STRATEGIES) resumed from its history.

    ``prior`` (what the techniques did to other networks) steers compose; TPE has no use for it.

    Raises:
        ValueError: a strategy that cannot measure as it goes.
    """
    if strategy == "compose":
        config = ComposeConfig(seed=seed, max_evaluations=max_evaluations, prior=prior)
        return ComposeSearch(space, budgets, plans, config, history)
    if strategy == "tpe":
        config = TPEConfig(seed=seed, max_evaluations=max_evaluations)
        return TPESearch(space, budgets, plans, config, history)
    raise ValueError(
        f"A search that measures as it goes runs {' or '.join(SEARCH_STRATEGIES)}. "
        f"Received: strategy={strategy!r}"
    )


def recommend(
    candidates: Sequence[Candidate],
    budgets: Budgets,
    strategy: str = DEFAULT_STRATEGY,
    space: Space | None = None,
    unscored: Sequence[str] = (),
    top: int = 5,
    seed: int = 0,
    prior: EffectPrior | None = None,
) -> dict[str, Any]:
    """Recommend a plan for the budgets.

    Args:
        candidates: plans with measured, host-evaluated, estimated or predicted figures.
        budgets: limits and weights.
        strategy: "compose" (the default), "exhaustive", "greedy", "dqn" or "tpe".
        space: the slots greedy, dqn and tpe search.
        unscored: plans with no accuracy yet (never compressed): measure-next material.
        top: how many ranked plans, closest plans and measure-next plans to return.
        seed: the DQN's and the TPE search's seed.
        prior: what the techniques did to other networks (compose's start).

    Returns:
        A JSON-serialisable dict: ``best``, ``ranked`` (score parts and figures),
        ``binding``, ``evaluations``, ``closest`` (when nothing fits, with the
        budgets to relax), ``reasons`` (why nothing fits, which plans or
        figures were missing), ``measure_next`` and the budgets.
    """
    outcome = run_strategy(strategy, candidates, budgets, space, seed, prior)
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
