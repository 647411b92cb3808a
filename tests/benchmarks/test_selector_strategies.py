from benchmarks.selector_strategies import (
    _near,
    compare,
    main,
    priors,
    random_settings,
    space_for,
)
from compression.selection import run_strategy
from compression.selection.objective import violations
from compression.selection.table_csv import save_table
from tests.compression.selection.tables import SPACE, WIDE_SPACE, structured_table


def test_it_infers_the_space_from_the_tables_plans():
    assert space_for(structured_table(0, SPACE)) == SPACE
    assert space_for(structured_table(0, WIDE_SPACE)) == WIDE_SPACE


def test_its_budget_settings_bind_inside_the_tables_range():
    table = structured_table(1)
    settings = random_settings(table, 50, seed=3)
    assert settings == random_settings(table, 50, seed=3)
    latencies = [c.latency_ms for c in table]
    limits = [b.latency_ms for b in settings if b.latency_ms is not None]
    assert 20 <= len(limits) <= 50
    assert all(min(latencies) <= t <= max(latencies) for t in limits)
    fitting = [any(not violations(c, b) for c in table) for b in settings]
    assert 0 < sum(fitting) < 50  # some settings leave room, some rule everything out


def test_it_scores_each_strategy_against_the_exhaustive_optimum():
    table = structured_table(2)
    settings = random_settings(table, 10, seed=0)
    rows = {r["strategy"]: r for r in compare(table, settings, ["exhaustive", "greedy", "tpe"])}
    assert rows["exhaustive"]["optimum share"] == 1.0
    assert rows["exhaustive"]["share of plans"] == 1.0
    assert rows["tpe"]["evaluations (mean)"] == 28
    hits = 0
    for index, budgets in enumerate(settings):
        best = run_strategy("exhaustive", table, budgets).chosen
        found = run_strategy("tpe", table, budgets, WIDE_SPACE, index).chosen
        hits += (best and best.candidate.plan) == (found and found.candidate.plan)
    assert rows["tpe"]["optimum share"] == hits / 10
    assert rows["exhaustive"]["within 0.01 of its score"] == 1.0
    assert rows["tpe"]["within 0.01 of its score"] >= rows["tpe"]["optimum share"]


def test_it_counts_a_miss_as_near_only_when_a_feasible_plan_scores_within_a_hundredth():
    totals = {"a": 0.80, "b": 0.795, "c": 0.70}
    assert _near("a", "a", totals) and _near("b", "a", totals)
    assert not _near("c", "a", totals)
    assert not _near("d", "a", totals)  # chosen, but infeasible under these budgets
    assert not _near(None, "a", totals) and not _near("a", None, {})
    assert _near(None, None, {})  # nothing fits and nothing was chosen: right


def test_it_runs_on_tables_saved_as_csv(tmp_path, capsys):
    paths = [save_table(structured_table(s, SPACE), tmp_path / f"t{s}.csv") for s in (0, 1)]
    rows = main([str(p) for p in paths] + ["--settings", "5", "--strategies", "exhaustive", "tpe"])
    assert [(r["table"], r["strategy"]) for r in rows] == [
        ("t0", "exhaustive"),
        ("t0", "tpe"),
        ("t1", "exhaustive"),
        ("t1", "tpe"),
    ]
    assert all(r["plans"] == 18 for r in rows)
    printed = capsys.readouterr().out
    assert "optimum share" in printed and "t1" in printed


def test_it_learns_each_tables_prior_from_the_other_tables_of_its_group_only():
    files = {f"t{s}": structured_table(s, SPACE) for s in (0, 1, 2)}
    synthetic = {f"structured-{s}": structured_table(s, SPACE) for s in (3, 4)}
    learnt = priors([files, synthetic])
    assert learnt["t0"].networks == ("t1", "t2")
    assert learnt["structured-3"].networks == ("structured-4",)


def test_it_runs_compose_with_and_without_the_prior(tmp_path, capsys):
    paths = [save_table(structured_table(s, SPACE), tmp_path / f"t{s}.csv") for s in (0, 1, 2)]
    strategies = ["exhaustive", "compose", "compose-alone"]
    rows = main([str(p) for p in paths] + ["--settings", "4", "--strategies", *strategies])
    assert [r["strategy"] for r in rows if r["table"] == "t0"] == strategies
    printed = capsys.readouterr().out
    assert "t0: compose's prior from t1, t2" in printed
