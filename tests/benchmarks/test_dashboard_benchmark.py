"""The dashboard benchmark: a goal is met only if the first request after a write meets it."""

from __future__ import annotations

import pytest

from benchmarks.dashboard import _report


def _timing(median: float, changed: float) -> dict[str, float]:
    return {
        "median_ms": median, "reference_ms": float("nan"), "changed_ms": changed,
        "min_ms": median, "cpu_ms": median, "queries": 4, "sql_ms": 1.0, "kib": 10.0,
    }  # fmt: skip


@pytest.mark.parametrize(
    ("median", "changed", "verdict"),
    [
        (40.0, 120.0, "yes"),
        (40.0, 180.0, "NO"),
        (160.0, float("nan"), "NO"),
        (90.0, float("nan"), "yes"),
    ],
)
def test_it_judges_a_page_by_its_slower_of_steady_and_after_a_write(
    capsys: pytest.CaptureFixture[str], median: float, changed: float, verdict: str
) -> None:
    _report([("/api/pareto, all results", "/api/pareto/", _timing(median, changed))], repeat=3)

    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("/api/pareto"))
    assert line.split()[-1] == verdict
