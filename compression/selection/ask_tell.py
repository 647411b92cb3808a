"""What every search that asks for one plan at a time keeps: its history and pending plans.

A search (``ComposeSearch``, ``TPESearch``) names the next plan with ``ask`` and
is handed its figures with ``tell``, so it can be driven by a table, by the job
queue as results land, or rebuilt from a recorded history. This base class holds
that bookkeeping and the reasons an outcome gives for plans it could not read;
subclasses decide what to ask next.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from compression.selection.candidates import Candidate
from compression.selection.reasons import missing_figures, missing_plans, plan_list, unevaluated


@dataclass(frozen=True)
class EvaluationBudget:
    """How many plans a search may ask for: its settings' shared part.

    Attributes:
        seed: makes the search reproducible.
        max_evaluations: plans to ask for at most; None = ``share`` of the plans, but
            at least ``min_evaluations``.
        share: the default evaluation budget as a share of the plans, 0..1.
        min_evaluations: the default budget's floor.
    """

    seed: int = 0
    max_evaluations: int | None = None
    share: float = 0.25
    min_evaluations: int = 1

    def __post_init__(self) -> None:
        if not 0 < self.share <= 1:
            raise ValueError(f"share must be in (0, 1]. Received: share={self.share!r}")
        if self.max_evaluations is not None and self.max_evaluations < 1:
            raise ValueError(
                f"max_evaluations must be at least 1. Received: "
                f"max_evaluations={self.max_evaluations!r}"
            )

    def budget(self, plans: int) -> int:
        """The evaluation budget for ``plans`` plans."""
        # Rounded down: "a quarter of the plans" never means more than a quarter.
        wanted = self.max_evaluations or max(math.floor(self.share * plans), self.min_evaluations)
        return max(1, min(wanted, plans))


class AskTellSearch:
    """History, pending plans and ``tell`` for a search over a fixed set of plans.

    Subclasses set ``history`` and ``pending`` to empty lists before replaying a
    history, and implement ``known_plans``.
    """

    name: str
    history: list[tuple[str, Candidate | None]]
    pending: list[str]

    def known_plans(self) -> Collection[str]:
        """The plans this search may ask for."""
        raise NotImplementedError

    @property
    def evaluations(self) -> int:
        """Plans asked for so far (told or pending)."""
        return len(self.history) + len(self.pending)

    def tell(self, plan: str, candidate: Candidate | None) -> None:
        """Hand back a plan's figures (None: it could not be evaluated).

        Raises:
            ValueError: a plan outside the search's plans, or told twice.
        """
        if plan not in self.known_plans():
            raise ValueError(f"The plan is not in this search's plans. Received: plan={plan!r}")
        if any(told == plan for told, _ in self.history):
            raise ValueError(f"The plan was already told. Received: plan={plan!r}")
        if plan in self.pending:
            self.pending.remove(plan)
        self.history.append((plan, candidate))
        self.told(plan, candidate)

    def told(self, plan: str, candidate: Candidate | None) -> None:
        """Hook: a subclass learns from a told plan here."""

    def evaluated(self) -> list[Candidate]:
        """The figures of every told plan that had some."""
        return [c for _, c in self.history if c is not None]

    def lacking(self) -> list[str]:
        """Told plans that had no figures."""
        return [plan for plan, c in self.history if c is None]

    def unread_reasons(self, why: Mapping[str, str] | None) -> list[str]:
        """Why plans have no or partial figures, and which are still being evaluated.

        Args:
            why: plan -> why it could not be evaluated (a failed compression);
                without it, a plan told None is one the table lacks.
        """
        lacking = self.lacking()
        if why is None:
            reasons = missing_plans(lacking, self.name)
        else:
            reasons = unevaluated({p: why.get(p, "no figures") for p in lacking})
        reasons += missing_figures(self.evaluated())
        if self.pending:
            reasons.append(
                f"{len(self.pending)} plan(s) still being evaluated: {plan_list(self.pending)}."
            )
        return reasons
