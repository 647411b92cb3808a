"""The exhaustive optimizer: score every candidate with eq. 1 (seed 004, section 5.3.1)."""

from __future__ import annotations

from collections.abc import Sequence

from compression.selection.budgets import Budgets
from compression.selection.candidates import Candidate
from compression.selection.objective import score_all
from compression.selection.outcome import Outcome, build_outcome
from compression.selection.reasons import missing_figures


def exhaustive(candidates: Sequence[Candidate], budgets: Budgets) -> Outcome:
    """Evaluate every complete candidate; the best feasible eq. 1 score wins.

    Args:
        candidates: the table (incomplete ones, without accuracy, are skipped).
        budgets: limits and weights.

    Returns:
        The outcome; ``evaluations`` is the number of complete candidates.
    """
    scores = score_all(candidates, budgets)
    reasons = missing_figures(candidates)
    return build_outcome("exhaustive", scores, len(scores), reasons=reasons)
