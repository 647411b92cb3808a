"""benchmarks/pair_interactions.py: how far pairs stray from the sum of their parts."""

from __future__ import annotations

import dataclasses
import math

import pytest

from benchmarks import pair_interactions
from compression.selection.table_csv import save_table
from tests.compression.selection.tables import SPACE, structured_table


def test_it_finds_no_miss_on_a_table_whose_pairs_compose_exactly():
    table = structured_table(0, SPACE, noise=0.0)
    for name in ("accuracy_pct", "energy_mj", "latency_ms", "storage_mb"):
        values = pair_interactions.misses(table, name)
        assert len(values) == 11  # the pairs of SPACE
        assert max(abs(v) for v in values) < 1e-9


def test_it_measures_a_collapsed_pair_in_points_and_a_slow_one_as_a_log_factor():
    table = structured_table(0, SPACE, noise=0.0)
    by_plan = {c.plan: c for c in table}
    collapsed = by_plan["C1 + W3"]
    changed = dataclasses.replace(
        collapsed, accuracy_pct=collapsed.accuracy_pct - 40.0, latency_ms=collapsed.latency_ms * 2
    )
    table = [changed if c.plan == "C1 + W3" else c for c in table]
    accuracy = pair_interactions.misses(table, "accuracy_pct")
    latency = pair_interactions.misses(table, "latency_ms")
    assert min(accuracy) == pytest.approx(-40.0)
    assert max(latency) == pytest.approx(math.log(2))
    stats = pair_interactions.summary(accuracy)
    assert stats["pairs"] == 11 and stats["robust sd"] < 1e-6 < stats["sd"]  # one heavy tail


def test_it_reports_no_pairs_for_a_table_without_a_baseline(tmp_path, capsys):
    table = [c for c in structured_table(0, SPACE, noise=0.0) if c.plan != "baseline"]
    assert pair_interactions.misses(table, "accuracy_pct") == []
    path = save_table(table, tmp_path / "imported.csv")
    pair_interactions.main([str(path)])
    rows = [line.split() for line in capsys.readouterr().out.splitlines() if "imported" in line]
    assert len(rows) == 4 and all(row[2] == "0" and row[3] == "NaN" for row in rows)
