import pytest

from compression.selection import Budgets, Candidate
from compression.selection.exhaustive import exhaustive
from compression.selection.objective import Scale, rewards_eq8, violations
from tests.compression.selection.tables import random_table


def brute_force(table, budgets):
    """Eq. 1 written out: the share of the baseline's accuracy kept plus of its energy saved."""
    base = next(c for c in table if c.plan == "baseline")
    best, best_value = None, None
    for c in table:
        fits = (
            (budgets.min_accuracy_pct is None or c.accuracy_pct >= budgets.min_accuracy_pct)
            and (budgets.max_energy_mj is None or c.energy_mj <= budgets.max_energy_mj)
            and (budgets.latency_ms is None or c.latency_ms <= budgets.latency_ms)
            and (budgets.storage_mb is None or c.storage_mb <= budgets.storage_mb)
        )
        value = budgets.mu1 * c.accuracy_pct / base.accuracy_pct
        value += budgets.mu2 * (base.energy_mj - c.energy_mj) / base.energy_mj
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
    baseline = next(s for s in outcome.ranked if s.candidate.plan == "baseline")
    assert baseline.parts == pytest.approx({"accuracy": 0.6, "energy": 0.0})


def test_it_never_reorders_two_plans_when_a_third_is_added():
    table = random_table(5)
    budgets = Budgets(mu1=0.6, mu2=0.4)
    before = [s.candidate.plan for s in exhaustive(table, budgets).ranked]
    collapsed = Candidate("W1c + L3", 4.0, 80.0, 1.0, 0.1)  # far outside every range
    after = [s.candidate.plan for s in exhaustive([*table, collapsed], budgets).ranked]
    assert [p for p in after if p != "W1c + L3"] == before


def test_it_takes_the_largest_figures_as_reference_without_a_baseline():
    pairs = [Candidate("a + b", 80.0, 2.0, 1.0, 1.0), Candidate("a + c", 60.0, 4.0, 1.0, 1.0)]
    scale = Scale.of(pairs)
    assert (scale.lo["accuracy_pct"], scale.hi["accuracy_pct"]) == (0.0, 80.0)
    assert (scale.lo["energy_mj"], scale.hi["energy_mj"]) == (0.0, 4.0)
    assert scale.higher("accuracy_pct", 60.0) == pytest.approx(0.75)
    assert scale.lower("energy_mj", 2.0) == pytest.approx(0.5)


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
