"""Choosing a compression for a user's budgets (AdaDeep, seed 004): no Django here.

The DQN imports Keras only when the "dqn" strategy runs.
"""

from compression.selection.budgets import BudgetError, Budgets, budget_errors, device_weights
from compression.selection.candidates import Candidate
from compression.selection.effect_prior import EffectPrior
from compression.selection.recommend import (
    DEFAULT_STRATEGY,
    PRIOR_STRATEGIES,
    SEARCH_STRATEGIES,
    STRATEGIES,
    recommend,
    run_strategy,
    search_for,
)
from compression.selection.space import Slot, Space

__all__ = [
    "DEFAULT_STRATEGY",
    "PRIOR_STRATEGIES",
    "SEARCH_STRATEGIES",
    "STRATEGIES",
    "BudgetError",
    "Budgets",
    "Candidate",
    "EffectPrior",
    "Slot",
    "Space",
    "budget_errors",
    "device_weights",
    "recommend",
    "run_strategy",
    "search_for",
]
