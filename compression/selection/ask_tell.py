"""What every search that asks for one plan at a time keeps: its history and pending plans.

A search (``ComposeSearch``, ``TPESearch``) names the next plan with ``ask`` and
is handed its figures with ``tell``, so it can be driven by a table, by the job
queue as results land, or rebuilt from a recorded history. This base class holds
that bookkeeping and the reasons an outcome gives for plans it could not read;
subclasses decide what to ask next.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from compression.selection.candidates import Candidate
from compression.selection.reasons import missing_figures, missing_plans, plan_list, unevaluated


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
