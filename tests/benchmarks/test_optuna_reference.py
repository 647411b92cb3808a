"""The optuna-dashboard reference: every point a trial, timed as its page requests them."""

from __future__ import annotations

from pathlib import Path

from benchmarks.optuna_reference import load_study, time_optuna


def test_it_stores_each_point_as_a_two_objective_trial_and_serves_them_all(tmp_path: Path) -> None:
    import optuna

    storage = f"sqlite:///{tmp_path / 'optuna.sqlite3'}"
    points = [(0.1 * (i + 1), 0.5 + i / 100, i % 7, 1 + i % 3, 1 + i % 4) for i in range(30)]

    study_id = load_study(storage, points)
    first, poll = time_optuna(storage, study_id, len(points))

    study = optuna.load_study(study_name="compresso-bench-dashboard", storage=storage)
    assert study._study_id == study_id
    assert [t.values for t in study.trials] == [[p[0], p[1]] for p in points]
    assert study.trials[3].params == {"plan": 3, "device": 1, "threads": 4}
    assert first > 0 and poll > 0
    # A second load replaces the study rather than adding to it.
    load_study(storage, points[:5])
    assert (
        len(optuna.load_study(study_name="compresso-bench-dashboard", storage=storage).trials) == 5
    )
