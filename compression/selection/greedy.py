"""The greedy optimizer of seed 004 section 5.3.1.

It walks the network part by part (the space's slots, in order) and at each
part keeps the option (or none) whose plan has the largest eq. 6 reward; it
stops when the chosen plan violates the latency or storage budget, keeping
the plan before that step.

Plans missing from the table cannot be evaluated and are passed over, and
the outcome names them. When none of a slot's one-step plans is in the table
(an imported table often holds pairs but no single techniques), the step
looks one slot further: it considers the plans that also set one later slot,
so a table without the baseline and the singles still gets walked instead of
returning the untouched baseline.
"""

from __future__ import annotations

from collections.abc import Sequence

from compression.selection.budgets import Budgets
from compression.selection.candidates import Candidate, by_plan
from compression.selection.objective import Scale, reward_eq6, score, violations
from compression.selection.outcome import Outcome, build_outcome
from compression.selection.reasons import missing_figures, missing_plans
from compression.selection.space import Space

STOPPING_BUDGETS = ("latency_ms", "storage_mb")


def _one_step(choices: list[int], index: int, space: Space) -> list[list[int]]:
    """Every option (or none) at slot ``index``, the rest as chosen."""
    width = len(space.slots[index].options) + 1
    return [choices[:index] + [o] + choices[index + 1 :] for o in range(width)]


def _two_steps(choices: list[int], index: int, space: Space) -> list[list[int]]:
    """Slot ``index`` set to any option (or none) and one later, unset slot to an option."""
    trials = []
    for first in _one_step(choices, index, space):
        for later in range(index + 1, len(space.slots)):
            if choices[later]:
                continue
            for option in range(1, len(space.slots[later].options) + 1):
                trials.append(first[:later] + [option] + first[later + 1 :])
    return trials


def greedy(candidates: Sequence[Candidate], budgets: Budgets, space: Space) -> Outcome:
    """Choose slot by slot by eq. 6, stopping when T or S break their budget.

    Args:
        candidates: the table; plans are looked up by text.
        budgets: limits and weights.
        space: the slots to walk.

    Returns:
        The outcome; ``details["path"]`` lists the plan after each step and
        ``details["missing"]`` the plans the walk asked for that the table lacks.
    """
    table = {plan: c for plan, c in by_plan(list(candidates)).items() if c.complete}
    scale = Scale.of(list(table.values()))
    seen: dict[str, Candidate] = {}
    missing: list[str] = []

    def best_of(trials: list[list[int]]) -> list[int] | None:
        best, best_reward = None, None
        for trial in trials:
            text = space.plan_text(trial)
            candidate = table.get(text)
            if candidate is None:
                missing.extend([text] if text not in missing else [])
                continue
            seen[candidate.plan] = candidate
            reward = reward_eq6(candidate, budgets, scale)
            if best_reward is None or reward > best_reward:
                best, best_reward = trial, reward
        return best

    choices = [0] * len(space.slots)
    path = [space.plan_text(choices)]
    for index in range(len(space.slots)):
        if choices[index]:  # already set by a look-ahead step
            continue
        steps = _one_step(choices, index, space)
        if all(space.plan_text(t) not in table for t in steps[1:]):
            steps += _two_steps(choices, index, space)
        best = best_of(steps)
        if best is None or best == choices:
            continue
        broken = violations(table[space.plan_text(best)], budgets)
        if any(v.budget in STOPPING_BUDGETS for v in broken):
            break
        choices = best
        path.append(space.plan_text(choices))
    scores = [score(c, budgets, scale) for c in seen.values()]
    pick = space.plan_text(choices)
    reasons = missing_plans(missing, "greedy") + missing_figures(list(candidates))
    details = {"path": path, "missing": missing}
    return build_outcome("greedy", scores, len(seen), pick, details, reasons)
