"""The greedy optimizer of seed 004 section 5.3.1.

It walks the network part by part (the space's slots, in order) and at each
part keeps the option (or none) whose plan has the largest eq. 6 reward; it
stops when the chosen plan violates the latency or storage budget, keeping
the plan before that step. Plans missing from the table cannot be evaluated
and are passed over.
"""

from __future__ import annotations

from collections.abc import Sequence

from compression.selection.budgets import Budgets
from compression.selection.candidates import Candidate, by_plan
from compression.selection.objective import Scale, reward_eq6, score, violations
from compression.selection.outcome import Outcome, build_outcome
from compression.selection.space import Space

STOPPING_BUDGETS = ("latency_ms", "storage_mb")


def greedy(candidates: Sequence[Candidate], budgets: Budgets, space: Space) -> Outcome:
    """Choose slot by slot by eq. 6, stopping when T or S break their budget.

    Args:
        candidates: the table; plans are looked up by text.
        budgets: limits and weights.
        space: the slots to walk.

    Returns:
        The outcome; ``details["path"]`` lists the plan after each slot.
    """
    table = {plan: c for plan, c in by_plan(list(candidates)).items() if c.complete}
    scale = Scale.of(list(table.values()))
    seen: dict[str, Candidate] = {}
    choices = [0] * len(space.slots)
    path = [space.plan_text(choices)]
    for index, slot in enumerate(space.slots):
        best, best_reward = None, None
        for option in range(len(slot.options) + 1):
            trial = choices[:index] + [option] + choices[index + 1 :]
            candidate = table.get(space.plan_text(trial))
            if candidate is None:
                continue
            seen[candidate.plan] = candidate
            reward = reward_eq6(candidate, budgets, scale)
            if best_reward is None or reward > best_reward:
                best, best_reward = option, reward
        if best is None:
            continue
        trial = choices[:index] + [best] + choices[index + 1 :]
        broken = violations(table[space.plan_text(trial)], budgets)
        if any(v.budget in STOPPING_BUDGETS for v in broken):
            break
        choices = trial
        path.append(space.plan_text(choices))
    scores = [score(c, budgets, scale) for c in seen.values()]
    pick = space.plan_text(choices)
    return build_outcome("greedy", scores, len(seen), pick, {"path": path})
