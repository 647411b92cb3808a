import itertools
import random

import numpy as np
import pytest

from measurements.pareto import METRICS, front_mask, get_metric, pareto_front


def brute_force(points, goals):
    def better_or_equal(a, b):
        pairs = zip(a, b, goals, strict=True)
        return all((x <= y) if g == "min" else (x >= y) for x, y, g in pairs)

    def dominates(a, b):
        return better_or_equal(a, b) and a != b

    return [i for i, p in enumerate(points) if not any(dominates(q, p) for q in points)]


@pytest.mark.parametrize("goals", [("min", "max"), ("min", "min"), ("max", "max"), ("max", "min")])
def test_it_agrees_with_brute_force_on_random_pairs(goals):
    rng = random.Random(7)
    for _ in range(200):
        n = rng.randint(1, 40)
        # Coarse values so ties and duplicates happen often.
        points = [(rng.randint(0, 8), rng.randint(0, 8)) for _ in range(n)]
        assert pareto_front(points, goals) == brute_force(points, goals)


def test_it_agrees_with_brute_force_in_three_dimensions():
    rng = random.Random(3)
    for _ in range(100):
        points = [tuple(rng.randint(0, 5) for _ in range(3)) for _ in range(25)]
        goals = ("min", "max", "min")
        assert pareto_front(points, goals) == brute_force(points, goals)


def test_it_leaves_out_points_with_a_missing_figure():
    points = [(1.0, 0.9), (None, 0.99), (2.0, float("nan")), (0.5, 0.5)]
    assert pareto_front(points, ("min", "max")) == [0, 3]


def test_it_names_unknown_goals_and_metrics():
    with pytest.raises(ValueError, match="'min' or 'max'"):
        pareto_front([(1, 2)], ("min", "up"))
    with pytest.raises(ValueError, match="metric='speed'"):
        get_metric("speed")


def test_it_defines_every_metric_pair_the_dashboard_offers():
    for a, b in itertools.permutations(METRICS, 2):
        assert {METRICS[a].goal, METRICS[b].goal} <= {"min", "max"}


def test_it_finds_each_groups_front_as_brute_force_does_on_random_floats():
    rng = np.random.default_rng(11)
    for _ in range(50):
        n = int(rng.integers(1, 400))
        # Half coarse (ties, exact twins), half fine floats; a few groups.
        coarse = rng.integers(0, 6, size=(n, 2)).astype(float)
        fine = rng.uniform(0, 1, size=(n, 2))
        costs = np.where(rng.random((n, 1)) < 0.5, coarse, fine)
        groups = rng.integers(100, 104, size=n)
        got = front_mask(costs[:, 0], costs[:, 1], groups)
        for group in np.unique(groups):
            members = np.flatnonzero(groups == group)
            points = [tuple(costs[i]) for i in members]
            expected = {int(members[i]) for i in brute_force(points, ("min", "min"))}
            assert set(np.flatnonzero(got & (groups == group)).tolist()) == expected
        whole = brute_force([tuple(row) for row in costs], ("min", "min"))
        assert np.flatnonzero(front_mask(costs[:, 0], costs[:, 1])).tolist() == whole


def test_it_gives_an_empty_front_for_no_points():
    assert front_mask(np.zeros(0), np.zeros(0)).tolist() == []
    assert front_mask(np.zeros(0), np.zeros(0), np.zeros(0, dtype=int)).tolist() == []
