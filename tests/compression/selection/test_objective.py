import pytest

from compression.selection import Budgets, Candidate
from compression.selection.exhaustive import exhaustive
from compression.selection.objective import Scale, rewards_eq8, violations
from tests.compression.selection.tables import random_table


def brute_force(table, budgets):
    """Eq. 1 written out: N(x) = (x - min) / (max - min) over the whole table."""
    acc = [c.accuracy_pct - (budgets.min_accuracy_pct or 0) for c in table]
    energy = [(budgets.max_energy_mj or 0) - c.energy_mj for c in table]
    best, best_value = None, None
    for c, a, e in zip(table, acc, energy, strict=True):
        fits = (
            (budgets.min_accuracy_pct is None or c.accuracy_pct >= budgets.min_accuracy_pct)
            and (budgets.max_energy_mj is None or c.energy_mj <= budgets.max_energy_mj)
            and (budgets.latency_ms is None or c.latency_ms <= budgets.latency_ms)
            and (budgets.storage_mb is None or c.storage_mb <= budgets.storage_mb)
        )
        value = budgets.mu1 * (a - min(acc)) / (max(acc) - min(acc)) + budgets.mu2 * (
            e - min(energy)
        ) / (max(energy) - min(energy))
        if fits and (best_value is None or value > best_value):
            best, best_value = c.plan, value
    return best, best_value


@pytest.mark.parametrize("seed", range(40))
def test_it_agrees_with_a_brute_force_evaluation_of_eq_1(seed):
    table = random_table(seed)
    budgets = Budgets(
        min_accuracy_pct=50 + seed % 30,
        max_energy_mj=5 + seed % 15,
        latency_ms=5 + seed % 20,
        storage_mb=0.5 + (seed % 5) * 0.5,
        mu1=0.7,
        mu2=0.3,
    )
    outcome = exhaustive(table, budgets)
    plan, value = brute_force(table, budgets)
    if plan is None:
        assert outcome.chosen is None and outcome.ranked == []
    else:
        assert outcome.chosen.candidate.plan == plan
        assert outcome.chosen.total == pytest.approx(value)
    assert outcome.evaluations == len(table)


def test_it_scores_parts_that_sum_to_the_total():
    outcome = exhaustive(random_table(3), Budgets(mu1=0.6, mu2=0.4))
    for scored in outcome.ranked:
        assert sum(scored.parts.values()) == pytest.approx(scored.total)
        assert 0 <= scored.parts["accuracy"] <= 0.6 and 0 <= scored.parts["energy"] <= 0.4


def test_it_rewards_saving_energy_in_r1():
    # Equal accuracy: the lower-energy plan must get the larger R1 (eq. 1's sign, not eq. 8's).
    frugal = Candidate("a", 90.0, 1.0, 5.0, 1.0)
    hungry = Candidate("b", 90.0, 9.0, 5.0, 1.0)
    budgets = Budgets(latency_ms=10)
    scale = Scale.of([frugal, hungry])
    assert rewards_eq8(frugal, budgets, scale)[0] > rewards_eq8(hungry, budgets, scale)[0]


def test_it_penalises_a_broken_budget_in_r2():
    fits = Candidate("a", 90.0, 1.0, 5.0, 1.0)
    late = Candidate("b", 90.0, 1.0, 5.0000001, 1.0)
    budgets = Budgets(latency_ms=5.0)
    scale = Scale.of([fits, late])
    assert [v.budget for v in violations(late, budgets)] == ["latency_ms"]
    assert rewards_eq8(fits, budgets, scale)[1] - rewards_eq8(late, budgets, scale)[1] >= 1.0
