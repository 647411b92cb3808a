"""A sample-efficient search: Bayesian optimisation with optuna's TPE sampler.

Each slot of the space is a categorical parameter (none or one of its
options); the objective is eq. 1 (against the baseline's figures, objective.py)
and the budgets are constraints (the summed relative excess over every set
budget, <= 0 when the plan fits), which the TPE sampler ranks infeasible
trials by. Only the plans given may be proposed (by default the space's
baseline, singles and pairs, what the table environment holds); a proposal
outside them, or one already asked, is moved to the nearest (fewest slots
changed) plan not yet asked.

The search is an ask/tell loop, so the figures can come from a table now and
from compressing and measuring through the job queue later: ``ask`` names
the next plan, ``tell`` hands its candidate back (None when it could not be
evaluated). Its whole state is the list of told plans, so a search resumes by
being built with that history. Until the baseline is told the scale is the
largest figures told, which moves as plans are added, so every ``ask``
rebuilds the optuna study from the history with the current scale; the
sampler's seed is derived from the seed and the step, so the same history
always gives the same next plan.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from compression.selection.ask_tell import AskTellSearch, EvaluationBudget
from compression.selection.budgets import Budgets
from compression.selection.candidates import Candidate
from compression.selection.evaluator import Evaluator
from compression.selection.objective import Scale, score, violations
from compression.selection.outcome import Outcome, build_outcome
from compression.selection.reasons import (
    plan_list,
)
from compression.selection.space import Space

NONE = "none"
# Below any eq. 1 score: those lie near 0..1, and a plan would need ten times the
# baseline's energy to score below -9 (the energy term is mu2 (E_base - E) / E_base).
UNEVALUATED_VALUE = -10.0
UNEVALUATED_EXCESS = 1e3  # a plan without figures counts as far outside the budgets
MAX_EXCESS = 1e3


@dataclass(frozen=True)
class TPEConfig(EvaluationBudget):
    """Search settings (the evaluation budget's, and these).

    Attributes:
        startup: random plans before TPE models the results; None = a third of the budget.
        ei_candidates: samples TPE draws to pick each proposal from.
    """

    startup: int | None = None
    ei_candidates: int = 24

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.startup is not None and self.startup < 1:
            raise ValueError(f"startup must be at least 1. Received: startup={self.startup!r}")


class TPESearch(AskTellSearch):
    """The ask/tell loop over a space's plans.

    Args:
        space: the slots (one categorical parameter each).
        budgets: limits (the constraints) and weights (eq. 1).
        plans: the plans that may be proposed; default the space's singles and pairs.
        config: seed and evaluation budget.
        history: (plan, candidate or None) already told, to resume a search.
    """

    def __init__(
        self,
        space: Space,
        budgets: Budgets,
        plans: Sequence[str] | None = None,
        config: TPEConfig | None = None,
        history: Sequence[tuple[str, Candidate | None]] = (),
    ) -> None:
        self.space, self.budgets = space, budgets
        self.config = config or TPEConfig()
        texts = list(dict.fromkeys(plans if plans is not None else space.singles_and_pairs()))
        self.choices = _choices_by_plan(space, texts)
        self.budget = self.config.budget(len(self.choices))
        self.history: list[tuple[str, Candidate | None]] = []
        self.pending: list[str] = []
        for plan, candidate in history:
            self.tell(plan, candidate)

    @property
    def done(self) -> bool:
        """Whether the evaluation budget is spent or every plan was asked for."""
        return self.evaluations >= self.budget or self.evaluations >= len(self.choices)

    def ask(self) -> str | None:
        """The next plan to evaluate, or None when the search is done."""
        if self.done:
            return None
        proposal = self._propose()
        plan = self._nearest_unasked(proposal)
        self.pending.append(plan)
        return plan

    name = "tpe"

    def known_plans(self) -> dict[str, tuple[int, ...]]:
        """The plans this search may ask for (with their choice indices)."""
        return self.choices

    def outcome(self, why: Mapping[str, str] | None = None) -> Outcome:
        """The evaluated plans ranked by eq. 1, with the reasons.

        Args:
            why: plan -> why it could not be evaluated (a failed compression);
                without it, a plan told None is one the table lacks.
        """
        complete = [c for c in self.evaluated() if c.complete]
        scale = Scale.of(complete)
        scores = [score(c, self.budgets, scale) for c in complete]
        reasons = self.unread_reasons(why)
        details = {
            "asked": [plan for plan, _ in self.history],
            "missing": self.lacking(),
            "budget": self.budget,
            "plans": len(self.choices),
        }
        return build_outcome("tpe", scores, len(self.history), None, details, reasons)

    def _propose(self) -> tuple[int, ...]:
        """The TPE sampler's next parameters, from a study rebuilt on the history."""
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        step = self.evaluations
        seed = int(np.random.SeedSequence([self.config.seed, step]).generate_state(1)[0])
        startup = self.config.startup or max(1, self.budget // 3)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # multivariate TPE is marked experimental
            sampler = optuna.samplers.TPESampler(
                seed=seed,
                n_startup_trials=startup,
                n_ei_candidates=self.config.ei_candidates,
                multivariate=True,
            )
            study = optuna.create_study(direction="maximize", sampler=sampler)
            distributions = self._distributions()
            for trial in self._trials(distributions):
                study.add_trial(trial)
            params = study.ask(distributions).params
        return tuple(
            0 if params[s.name] == NONE else s.options.index(params[s.name]) + 1
            for s in self.space.slots
        )

    def _distributions(self) -> dict:  # noqa: ANN202 (optuna distributions)
        from optuna.distributions import CategoricalDistribution

        return {s.name: CategoricalDistribution((NONE, *s.options)) for s in self.space.slots}

    def _trials(self, distributions: dict) -> list:  # noqa: ANN202 (optuna FrozenTrials)
        from optuna.trial import create_trial

        complete = [c for _, c in self.history if c is not None and c.complete]
        scale = Scale.of(complete)
        trials = []
        for plan, candidate in self.history:
            if candidate is None or not candidate.complete:
                value, excess = UNEVALUATED_VALUE, UNEVALUATED_EXCESS
            else:
                value = score(candidate, self.budgets, scale).total
                excess = sum(
                    min(v.relative, MAX_EXCESS) for v in violations(candidate, self.budgets)
                )
            params = {
                s.name: s.options[c - 1] if c else NONE
                for s, c in zip(self.space.slots, self.choices[plan], strict=True)
            }
            trials.append(
                create_trial(
                    params=params,
                    distributions=distributions,
                    value=value,
                    constraints={"excess": excess},
                )
            )
        return trials

    def _nearest_unasked(self, proposal: tuple[int, ...]) -> str:
        """The unasked plan with the fewest slots differing from the proposal."""
        asked = {plan for plan, _ in self.history} | set(self.pending)
        free = [plan for plan in self.choices if plan not in asked]
        distance = [
            sum(a != b for a, b in zip(self.choices[p], proposal, strict=True)) for p in free
        ]
        nearest = [p for p, d in zip(free, distance, strict=True) if d == min(distance)]
        if len(nearest) == 1:
            return nearest[0]
        seed = np.random.SeedSequence([self.config.seed, self.evaluations, 1])
        return nearest[int(np.random.default_rng(seed).integers(len(nearest)))]


def _choices_by_plan(space: Space, plans: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Each plan's per-slot choices; a plan the space cannot express is refused."""
    grid = [range(len(s.options) + 1) for s in space.slots]
    index = {space.plan_text(list(c)): tuple(c) for c in np.ndindex(*[len(g) for g in grid])}
    unknown = [p for p in plans if p not in index]
    if unknown:
        raise ValueError(
            f"Every plan must be expressible in the space's slots. Received: plans "
            f"including {plan_list(unknown)}"
        )
    if not plans:
        raise ValueError("The search needs at least one plan. Received: plans=[]")
    return {p: index[p] for p in plans}


def tpe(
    evaluator: Evaluator,
    budgets: Budgets,
    space: Space,
    config: TPEConfig | None = None,
    plans: Sequence[str] | None = None,
) -> Outcome:
    """Run the TPE search to its evaluation budget, asking ``evaluator`` for figures.

    Args:
        evaluator: answers a plan's candidate or None (a table, later the job queue).
        budgets: limits (constraints) and weights (eq. 1).
        space: the slots.
        config: seed and evaluation budget.
        plans: the plans that may be proposed; default the space's singles and pairs.

    Returns:
        The outcome over the evaluated plans; ``evaluations`` counts the plans asked for.
    """
    search = TPESearch(space, budgets, plans, config)
    while (plan := search.ask()) is not None:
        search.tell(plan, evaluator(plan))
    return search.outcome()
