import itertools
import random

import pytest

from measurements.pareto import METRICS, get_metric, pareto_front


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
