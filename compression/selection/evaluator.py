"""Where a search gets a plan's figures: an evaluator answers one plan at a time.

A strategy that measures as it goes asks an evaluator for a plan's
candidate; the table evaluator answers from figures already measured (or
imported, or predicted), and a job-queue evaluator (phase 2) compresses and
measures the plan when the table lacks it. ``None`` means the plan could not
be evaluated. Every evaluator counts the distinct plans it was asked about,
which is the cost a search reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from compression.selection.candidates import Candidate, by_plan


class Evaluator(Protocol):
    """Answers a plan's figures, or None when the plan cannot be evaluated."""

    def __call__(self, plan: str) -> Candidate | None:
        """The plan's candidate (figures with their provenance), or None."""
        ...


class TableEvaluator:
    """An evaluator backed by a candidate table (measured first, as ``by_plan`` keeps).

    Attributes:
        table: plan text -> candidate.
        asked: the distinct plans asked about, in order.
    """

    def __init__(self, candidates: Sequence[Candidate]) -> None:
        self.table = by_plan(list(candidates))
        self.asked: list[str] = []

    def __call__(self, plan: str) -> Candidate | None:
        """The table's candidate for ``plan``, or None when the table lacks it."""
        if plan not in self.asked:
            self.asked.append(plan)
        return self.table.get(plan)

    @property
    def evaluations(self) -> int:
        """Distinct plans asked about."""
        return len(self.asked)
