"""A search exploiting how techniques compose: predict every plan, measure those that could win.

A plan is a set of techniques and their effects compose (``composition.py``:
accuracy drops add; energy, latency and storage multiply), so every figure
evaluated teaches something about every plan sharing a technique. The search
asks for the baseline, then, one plan at a time, for the plan (single or
pair) with the largest constrained expected improvement under the
composition model: the predicted chance that the plan fits every budget
times how much its eq. 1 score is expected to beat the best feasible plan
evaluated so far. A plan whose techniques were never evaluated has a wide
spread, so it is worth looking at; one predicted far outside a budget or far
below the incumbent is not. Each answer refits the model and calibrates its
noise on how wrong the prediction was, so a surprising plan widens the
spreads and the search looks further. It stops when no plan left is expected
to improve eq. 1 by ``tolerance`` (the best evaluated plan beats every
remaining plan's prediction, margin included) or when the evaluation budget
(a quarter of the plans by default) is spent. With ``start="singles"`` it
measures every technique alone first.

Eq. 1 normalises against the baseline's figures (``objective.py``), which
the search evaluates first, so it scores every plan exactly as exhaustive
search over the whole table would.

Like the TPE search it is an ask/tell loop whose whole state is the list of
told plans, so it resumes from that history and always asks the same next
plan for the same history and seed. Ties are common early on (every pair of
two techniques never evaluated has the same prediction), and which one goes
first decides which techniques are learnt first; they go to the earliest
plan in an order drawn from the seed, never in the order the plans were
listed, which would smuggle in whatever sorted the list (a measured table's
rows come newest first, its pairs before its singles).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from compression.selection.ask_tell import AskTellSearch, EvaluationBudget
from compression.selection.budgets import Budgets
from compression.selection.candidates import Candidate
from compression.selection.composition import CompositionModel, Prediction
from compression.selection.effect_prior import EffectPrior
from compression.selection.evaluator import Evaluator
from compression.selection.objective import LIMITS, Scale, score
from compression.selection.outcome import Outcome, build_outcome
from compression.selection.space import Space, steps_of

NAME = "compose"
STARTS = ("baseline", "singles")
TIE = 1e-9  # gains this close (relative) are a tie: equal predictions up to rounding


@dataclass(frozen=True)
class ComposeConfig(EvaluationBudget):
    """Search settings (the evaluation budget's, and these).

    Attributes:
        seed: draws the order that breaks ties between equally promising plans.
        min_evaluations: the default budget's floor: on a small table a quarter of
            the plans is too few to learn the techniques' effects (it is below a
            quarter of any table of 40 plans or more).
        tolerance: stop when no plan's expected improvement of eq. 1 reaches this.
        start: "baseline" (the baseline first, then the expected improvement picks
            singles or pairs) or "singles" (the baseline and every technique alone first).
        prior: what the techniques did to other networks (``effect_prior``); None
            starts from "no effect".
    """

    min_evaluations: int = 10
    tolerance: float = 1e-4
    start: str = "baseline"
    prior: EffectPrior | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.start not in STARTS:
            raise ValueError(
                f"start must be one of {', '.join(STARTS)}. Received: start={self.start!r}"
            )
        if self.tolerance < 0:
            raise ValueError(
                f"tolerance cannot be negative. Received: tolerance={self.tolerance!r}"
            )


class ComposeSearch(AskTellSearch):
    """The ask/tell loop: the start (the baseline), then constrained expected improvement.

    Args:
        space: the slots; its singles and pairs are the default plans (None: give plans).
        budgets: limits (feasibility) and weights (eq. 1).
        plans: the plans that may be asked for; default the space's singles and pairs.
        config: evaluation budget and stopping tolerance.
        history: (plan, candidate or None) already told, to resume a search.

    Raises:
        ValueError: neither a space nor plans, or no plan at all.
    """

    def __init__(
        self,
        space: Space | None,
        budgets: Budgets,
        plans: Sequence[str] | None = None,
        config: ComposeConfig | None = None,
        history: Sequence[tuple[str, Candidate | None]] = (),
    ) -> None:
        self.space, self.budgets = space, budgets
        self.config = config or ComposeConfig()
        if plans is None and space is None:
            raise ValueError("The search needs a space or its plans. Received: neither")
        self.plans = list(dict.fromkeys(plans if plans is not None else space.singles_and_pairs()))
        if not self.plans:
            raise ValueError("The search needs at least one plan. Received: plans=[]")
        techniques = sorted({step for plan in self.plans for step in steps_of(plan)})
        self.model = CompositionModel(techniques, self.config.prior)
        # Drawn over the plans sorted by name, so the listing order cannot matter.
        order = np.random.default_rng(self.config.seed).permutation(len(self.plans))
        self.rank = {p: int(i) for p, i in zip(sorted(self.plans), order, strict=True)}
        self.budget = self.config.budget(len(self.plans))
        self.start = self._start()
        self.history: list[tuple[str, Candidate | None]] = []
        self.pending: list[str] = []
        self._next: tuple[int, str | None] | None = None  # proposal cached per step
        for plan, candidate in history:
            self.tell(plan, candidate)

    @property
    def done(self) -> bool:
        """Budget spent, every plan asked for, or no plan left that could improve."""
        if self.evaluations >= min(self.budget, len(self.plans)):
            return True
        return not self.pending and self._proposal() is None

    def ask(self) -> str | None:
        """The next plan to evaluate, or None when the search is done."""
        if self.done:
            return None
        plan = self._proposal()
        if plan is not None:
            self.pending.append(plan)
            self._next = None
        return plan

    name = NAME

    def known_plans(self) -> list[str]:
        """The plans this search may ask for."""
        return self.plans

    def told(self, plan: str, candidate: Candidate | None) -> None:
        """Fit the composition model on the new figures; the next proposal changes."""
        if candidate is not None:
            self.model.add(candidate)
        self._next = None

    def outcome(self, why: Mapping[str, str] | None = None) -> Outcome:
        """The evaluated plans ranked by eq. 1, with the reasons.

        Args:
            why: plan -> why it could not be evaluated (a failed compression);
                without it, a plan told None is one the table lacks.
        """
        scale = self._scale()
        scores = [score(c, self.budgets, scale) for c in self.evaluated() if c.complete]
        reasons = self.unread_reasons(why)
        if not any(s.feasible for s in scores):
            reasons += self._unlikely_to_fit()
        details = {
            "asked": [plan for plan, _ in self.history],
            "missing": self.lacking(),
            "budget": self.budget,
            "plans": len(self.plans),
            "stopped_early": self.done and self.evaluations < min(self.budget, len(self.plans)),
            "prior_networks": list(self.config.prior.networks) if self.config.prior else [],
        }
        return build_outcome(NAME, scores, len(self.history), None, details, reasons)

    def _start(self) -> list[str]:
        """The plans asked for first, in order, before the expected improvement takes over."""
        size = 1 if self.config.start == "singles" else 0
        return [p for p in self.plans if len(steps_of(p)) <= size]

    def _asked(self) -> set[str]:
        return {plan for plan, _ in self.history} | set(self.pending)

    def _proposal(self) -> str | None:
        """The start's next plan, else the plan of largest constrained expected improvement."""
        if self._next is not None and self._next[0] == self.evaluations:
            return self._next[1]
        asked = self._asked()
        plan = next((p for p in self.start if p not in asked), None)
        if plan is None and not any(c is not None for _, c in self.history):
            # Nothing learnt yet (the table lacks the start): the simplest plan left, but
            # past a size the table already lacked (an imported table may hold only pairs).
            lacking = {len(steps_of(p)) for p, _ in self.history}
            free = [p for p in self.plans if p not in asked]
            plan = min(
                free,
                key=lambda p: (len(steps_of(p)) in lacking, len(steps_of(p)), self.rank[p]),
                default=None,
            )
        elif plan is None:
            gains = self._gains([p for p in self.plans if p not in asked])
            best = max(gains.values(), default=0.0)
            tied = [p for p, g in gains.items() if g >= best - TIE * abs(best)]
            plan = min(tied, key=self.rank.__getitem__, default=None)
            plan = plan if best >= self.config.tolerance and best > 0 else None
        self._next = (self.evaluations, plan)
        return plan

    def _gains(self, free: Sequence[str]) -> dict[str, float]:
        """Each free plan's chance to fit times its expected improvement of eq. 1."""
        predictions = self.model.predict_all(free)
        scale = self._scale()
        told = [c for _, c in self.history if c is not None and c.complete]
        feasible = [s.total for s in (score(c, self.budgets, scale) for c in told) if s.feasible]
        incumbent = max(feasible, default=None)
        return {
            p: fit_chance(pred, self.budgets) * _improvement(pred, self.budgets, scale, incumbent)
            for p, pred in predictions.items()
        }

    def _scale(self) -> Scale:
        """Eq. 1's reference: the baseline's figures once told (the whole table's scale)."""
        return Scale.of([c for _, c in self.history if c is not None and c.complete])

    def _unlikely_to_fit(self) -> list[str]:
        """Why the plans not evaluated were left: their best predicted chance to fit."""
        free = [p for p in self.plans if p not in self._asked()]
        if not free or all(c is None for _, c in self.history):
            return []  # nothing learnt: no prediction worth a sentence
        predictions = self.model.predict_all(free)
        chances = {p: fit_chance(predictions[p], self.budgets) for p in free}
        likeliest = max(chances, key=chances.__getitem__)
        return [
            f"None of the {len(free)} plan(s) not evaluated is likely to fit, predicted from "
            f"the techniques evaluated alone: the likeliest, {likeliest}, fits with a "
            f"predicted chance of {chances[likeliest]:.0%}."
        ]


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2.0))


def fit_chance(prediction: Prediction, budgets: Budgets) -> float:
    """The predicted chance that a plan meets every set budget (figures taken as independent)."""
    chance = 1.0
    for budget, limit in budgets.limits().items():
        name, kind = LIMITS[budget]
        logged = name != "accuracy_pct"
        if logged and limit <= 0:
            return 0.0
        bound = math.log(limit) if logged else limit
        z = (prediction.mean[name] - bound) / prediction.sd[name]
        chance *= _normal_cdf(z if kind == "min" else -z)
    return chance


def _improvement(
    prediction: Prediction, budgets: Budgets, scale: Scale, incumbent: float | None
) -> float:
    """Expected improvement of eq. 1 over the incumbent (a normal approximation of the score)."""
    accuracy_span = scale.hi.get("accuracy_pct", 0.0) - scale.lo.get("accuracy_pct", 0.0)
    energy_span = scale.hi.get("energy_mj", 0.0) - scale.lo.get("energy_mj", 0.0)
    mean, variance = 0.0, 0.0
    if accuracy_span > 0:
        weight = budgets.mu1 / accuracy_span
        mean += weight * (prediction.mean["accuracy_pct"] - scale.lo["accuracy_pct"])
        variance += (weight * prediction.sd["accuracy_pct"]) ** 2
    if energy_span > 0:
        energy = prediction.value("energy_mj")
        weight = budgets.mu2 / energy_span
        mean += weight * (scale.hi["energy_mj"] - energy)
        variance += (weight * energy * prediction.sd["energy_mj"]) ** 2  # delta method
    target = 0.0 if incumbent is None else incumbent
    sd = math.sqrt(variance)
    if sd == 0:
        return max(mean - target, 0.0)
    z = (mean - target) / sd
    return sd * (z * _normal_cdf(z) + math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi))


def compose(
    evaluator: Evaluator,
    budgets: Budgets,
    space: Space | None,
    config: ComposeConfig | None = None,
    plans: Sequence[str] | None = None,
) -> Outcome:
    """Run the composition search until it stops, asking ``evaluator`` for figures.

    Args:
        evaluator: answers a plan's candidate or None (a table, later the job queue).
        budgets: limits and weights (eq. 1).
        space: the slots (None when ``plans`` are given).
        config: evaluation budget and stopping tolerance.
        plans: the plans that may be asked for; default the space's singles and pairs.

    Returns:
        The outcome over the evaluated plans; ``evaluations`` counts the plans asked
        for, the start's singles included.
    """
    search = ComposeSearch(space, budgets, plans, config)
    while (plan := search.ask()) is not None:
        search.tell(plan, evaluator(plan))
    return search.outcome()
