import numpy as np
import pytest

from compression.selection import Budgets, Candidate, Slot, Space, run_strategy
from compression.selection.evaluator import TableEvaluator
from compression.selection.objective import violations
from compression.selection.tpe import TPEConfig, TPESearch, tpe
from tests.compression.selection.tables import SPACE, WIDE_SPACE, random_table, structured_table


def random_budgets(table: list[Candidate], rng: np.random.Generator) -> Budgets:
    accuracy = sorted(c.accuracy_pct for c in table)
    latency = sorted(c.latency_ms for c in table)
    return Budgets(
        min_accuracy_pct=float(rng.choice(accuracy[: len(accuracy) // 2 + 1])),
        latency_ms=float(rng.choice(latency[len(latency) // 4 :])),
        mu1=0.6,
        mu2=0.4,
    )


def test_it_finds_the_optimum_of_a_small_table_within_a_bounded_number_of_evaluations():
    table = structured_table(3, SPACE)  # 18 plans
    budgets = Budgets(min_accuracy_pct=80.0, mu1=0.6, mu2=0.4)
    best = run_strategy("exhaustive", table, budgets).chosen.candidate.plan
    evaluator = TableEvaluator(table)
    outcome = tpe(evaluator, budgets, SPACE, TPEConfig(seed=0, max_evaluations=9))
    assert outcome.chosen.candidate.plan == best
    assert outcome.evaluations == evaluator.evaluations == 9
    assert len(set(outcome.details["asked"])) == 9


def test_it_beats_random_search_on_structured_tables_with_a_quarter_of_the_plans():
    rng = np.random.default_rng(0)
    hits, random_hits = 0, 0
    for seed in range(8):
        table = structured_table(seed)
        budgets = random_budgets(table, rng)
        best = run_strategy("exhaustive", table, budgets).chosen.candidate.plan
        outcome = tpe(TableEvaluator(table), budgets, WIDE_SPACE, TPEConfig(seed=seed))
        assert outcome.evaluations == 28  # 0.25 * 112
        hits += outcome.chosen is not None and outcome.chosen.candidate.plan == best
        picked = rng.choice(len(table), 28, replace=False)
        random_hits += best in {table[i].plan for i in picked}
    assert hits >= 4 and hits > random_hits


def test_it_is_deterministic_under_a_seed():
    table = structured_table(1)
    budgets = Budgets(min_accuracy_pct=80.0)
    first = tpe(TableEvaluator(table), budgets, WIDE_SPACE, TPEConfig(seed=5))
    second = tpe(TableEvaluator(table), budgets, WIDE_SPACE, TPEConfig(seed=5))
    assert first.details["asked"] == second.details["asked"]


def test_it_resumes_from_its_history_where_it_left_off():
    table = {c.plan: c for c in structured_table(2)}
    budgets = Budgets(latency_ms=5.0)
    config = TPEConfig(seed=1, max_evaluations=20)
    whole = TPESearch(WIDE_SPACE, budgets, config=config)
    while (plan := whole.ask()) is not None:
        whole.tell(plan, table.get(plan))
    first = TPESearch(WIDE_SPACE, budgets, config=config)
    for _ in range(8):
        plan = first.ask()
        first.tell(plan, table.get(plan))
    resumed = TPESearch(WIDE_SPACE, budgets, config=config, history=first.history)
    while (plan := resumed.ask()) is not None:
        resumed.tell(plan, table.get(plan))
    assert [p for p, _ in resumed.history] == [p for p, _ in whole.history]
    assert resumed.outcome().chosen.candidate.plan == whole.outcome().chosen.candidate.plan


def test_it_never_asks_twice_for_a_plan_even_with_plans_pending():
    search = TPESearch(SPACE, Budgets(), config=TPEConfig(max_evaluations=18))
    asked = [search.ask() for _ in range(18)]
    assert len(set(asked)) == 18 and search.ask() is None
    assert set(asked) == set(SPACE.singles_and_pairs())


@pytest.mark.parametrize("seed", range(12))
def test_it_never_recommends_a_plan_that_breaks_a_budget(seed):
    rng = np.random.default_rng(seed)
    table = random_table(seed)
    budgets = Budgets(
        min_accuracy_pct=float(rng.uniform(40, 90)),
        max_energy_mj=float(rng.uniform(2, 20)),
        latency_ms=float(rng.uniform(2, 30)),
        storage_mb=float(rng.uniform(0.3, 3)),
    )
    outcome = run_strategy("tpe", table, budgets, SPACE, seed)
    for ranked in outcome.ranked:
        assert not violations(ranked.candidate, budgets)
    if outcome.chosen is None:
        assert outcome.reasons and "binds" in " ".join(outcome.reasons)


def test_it_names_the_plans_the_table_lacks():
    table = [c for c in structured_table(0, SPACE) if " + " not in c.plan]  # no pairs
    outcome = run_strategy("tpe", table, Budgets(), SPACE)
    lacking = outcome.details["missing"]
    assert lacking and all(" + " in plan for plan in lacking)
    assert any("the table lacks" in r and lacking[0] in r for r in outcome.reasons)


def test_it_refuses_a_plan_the_space_cannot_express():
    with pytest.raises(ValueError, match="Received: plans including KD"):
        TPESearch(SPACE, Budgets(), plans=["baseline", "KD"])
    search = TPESearch(SPACE, Budgets())
    with pytest.raises(ValueError, match="Received: plan='W9'"):
        search.tell("W9", None)


def test_its_budget_defaults_to_a_quarter_of_the_plans():
    small = Space((Slot("conv", ("C1",)),))
    assert TPESearch(small, Budgets()).budget == 1
    assert TPESearch(WIDE_SPACE, Budgets()).budget == 28
    with pytest.raises(ValueError, match="Received: share=0"):
        TPEConfig(share=0)
