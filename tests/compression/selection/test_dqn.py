import numpy as np
import pytest

from compression.selection import Budgets, Candidate, Slot, Space
from compression.selection.dqn import DQNConfig, dqn
from compression.selection.objective import violations
from tests.compression.selection.tables import SPACE, random_table


def test_it_is_deterministic_under_a_seed():
    table, budgets = random_table(5), Budgets(latency_ms=20, mu1=0.6, mu2=0.4)
    first = dqn(table, budgets, SPACE, DQNConfig(episodes=30, batch_size=16, seed=3))
    second = dqn(table, budgets, SPACE, DQNConfig(episodes=30, batch_size=16, seed=3))
    assert first.details["policy"] == second.details["policy"]
    assert first.chosen.candidate.plan == second.chosen.candidate.plan
    np.testing.assert_array_equal(first.details["q_values"], second.details["q_values"])


def test_it_learns_the_one_good_plan_of_a_small_table():
    space = Space((Slot("conv", ("C1", "C2")), Slot("fc", ("W3",))))
    table = [Candidate(p, 50.0, 10.0, 5.0, 1.0) for p in space.singles_and_pairs()]
    table = [c for c in table if c.plan != "C2 + W3"] + [Candidate("C2 + W3", 95.0, 1.0, 5.0, 1.0)]
    config = DQNConfig(episodes=40, batch_size=16, seed=0)
    outcome = dqn(table, Budgets(latency_ms=10), space, config)
    assert outcome.details["policy"] == "C2 + W3"
    assert outcome.chosen.candidate.plan == "C2 + W3"


@pytest.mark.parametrize("seed", [2])
def test_its_choice_keeps_every_budget(seed):
    table = random_table(seed)
    budgets = Budgets(min_accuracy_pct=50, latency_ms=15, storage_mb=2.0)
    outcome = dqn(table, budgets, SPACE, DQNConfig(episodes=30, batch_size=16, seed=seed))
    if outcome.chosen is not None:
        assert violations(outcome.chosen.candidate, budgets) == []
    assert 0 < outcome.evaluations <= len(table)
