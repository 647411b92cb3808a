import pytest

from compression.selection import Budgets, Candidate, Slot, Space, recommend, run_strategy
from compression.selection.greedy import greedy
from compression.selection.objective import violations
from tests.compression.selection.tables import SPACE, random_table, structured_table


def random_budgets(seed: int) -> Budgets:
    return Budgets(
        min_accuracy_pct=45 + (seed * 7) % 40,
        max_energy_mj=3 + (seed * 5) % 17,
        latency_ms=2 + (seed * 3) % 25,
        storage_mb=0.3 + (seed % 6) * 0.4,
        mu1=0.6,
        mu2=0.4,
    )


@pytest.mark.parametrize("strategy", ["exhaustive", "greedy", "tpe"])
@pytest.mark.parametrize("seed", range(60))
def test_it_never_recommends_a_plan_that_breaks_a_budget(strategy, seed):
    budgets = random_budgets(seed)
    answer = recommend(random_table(seed), budgets, strategy, SPACE)
    for plan in answer["ranked"]:
        assert plan["feasible"] and not plan["violations"]
        figures = {k: v["value"] for k, v in plan["figures"].items()}
        assert figures["accuracy_pct"] >= budgets.min_accuracy_pct
        assert figures["energy_mj"] <= budgets.max_energy_mj
        assert figures["latency_ms"] <= budgets.latency_ms
        assert figures["storage_mb"] <= budgets.storage_mb
    if answer["best"] is None:
        assert answer["ranked"] == [] and answer["closest"]


def test_it_names_the_budget_to_relax_when_nothing_fits():
    table = [Candidate("C1", 80.0, 2.0, 12.0, 1.0), Candidate("W3", 85.0, 3.0, 20.0, 1.0)]
    answer = recommend(table, Budgets(latency_ms=10.0), "exhaustive")
    assert answer["best"] is None
    nearest = answer["closest"][0]
    assert nearest["plan"] == "C1"
    assert nearest["relax"]["latency_ms"] == {"to": 12.0, "by": pytest.approx(2.0)}


def test_it_says_which_budget_binds():
    table = [Candidate("C1", 90.0, 2.0, 9.5, 0.2), Candidate("W3", 80.0, 3.0, 20.0, 0.1)]
    answer = recommend(table, Budgets(latency_ms=10.0, storage_mb=5.0), "exhaustive")
    assert answer["best"]["plan"] == "C1"
    assert answer["binding"] == "latency_ms"


def test_greedy_walks_slot_by_slot_and_stops_at_a_broken_budget():
    space = Space((Slot("conv", ("C1",)), Slot("fc", ("W3",))))
    table = [
        Candidate("baseline", 90.0, 5.0, 5.0, 2.0),
        Candidate("C1", 91.0, 4.0, 4.0, 2.0),
        Candidate("W3", 80.0, 3.0, 5.0, 0.5),
        Candidate("C1 + W3", 99.0, 1.0, 50.0, 0.4),  # best reward but far too slow
    ]
    outcome = greedy(table, Budgets(latency_ms=10.0), space)
    assert outcome.chosen.candidate.plan == "C1"
    assert outcome.details["path"] == ["baseline", "C1"]
    assert outcome.evaluations == 3  # baseline, C1, C1 + W3: W3 alone is off the path


def test_it_refuses_an_unknown_strategy():
    with pytest.raises(ValueError, match="Received: strategy='anneal'"):
        run_strategy("anneal", [], Budgets())


def test_measure_next_lists_promising_predicted_plans_then_unevaluated_ones():
    table = random_table(1, measured=False)[:4] + random_table(2)[4:]
    answer = recommend(table, Budgets(), "exhaustive", unscored=["KD"], top=20)
    plans = [p["plan"] for p in answer["measure_next"]]
    assert set(plans[:-1]) == {c.plan for c in table[:4]}
    assert plans[-1] == "KD"
    assert all(not violations(c, Budgets()) for c in table[:4])


def test_greedy_walks_a_table_without_the_baseline_and_singles():
    table = [c for c in structured_table(4, SPACE) if " + " in c.plan]
    budgets = Budgets(mu1=0.6, mu2=0.4)
    outcome = greedy(table, budgets, SPACE)
    assert outcome.chosen is not None and " + " in outcome.chosen.candidate.plan
    assert outcome.evaluations > 1
    assert "baseline" in outcome.details["missing"]
    assert any("greedy asked for" in r and "the table lacks" in r for r in outcome.reasons)


def test_every_strategy_says_which_budget_binds_when_nothing_fits():
    table = structured_table(5, SPACE)
    budgets = Budgets(latency_ms=0.01, min_accuracy_pct=50.0)
    for strategy in ("exhaustive", "greedy", "tpe"):
        answer = recommend(table, budgets, strategy, SPACE)
        assert answer["best"] is None
        assert answer["reasons"][0].startswith("latency_ms binds:")
        assert "against 0.01" in answer["reasons"][0]


def test_it_says_which_figures_are_missing():
    table = [Candidate("C1", None, 2.0, 3.0, 1.0), Candidate("W3", 80.0, 3.0, 5.0, 1.0)]
    answer = recommend(table, Budgets(), "exhaustive")
    assert answer["best"]["plan"] == "W3"
    assert "1 plan(s) have no accuracy_pct and cannot be scored: C1." in answer["reasons"]
