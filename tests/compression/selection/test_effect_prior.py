import math

import pytest

from compression.selection import Candidate, EffectPrior
from compression.selection.composition import CompositionModel
from compression.selection.effect_prior import FLOORS


def row(plan: str, accuracy: float, storage: float, latency: float = 2.0) -> Candidate:
    return Candidate(plan, accuracy, 1.0, latency, storage, sources={})


# Two networks. A: -2 and -8 points, storage / 4 on both; B: -5 and -4 points;
# the pair A + B loses 3 and 2 points more than its parts.
FIRST = [row("baseline", 90, 4), row("A", 88, 1), row("B", 85, 4), row("A + B", 80, 1)]
SECOND = [row("baseline", 80, 2), row("A", 72, 0.5), row("B", 76, 2), row("A + B", 66, 0.5)]


def test_it_learns_each_techniques_mean_effect_and_floored_spread():
    prior = EffectPrior.learn({"first": FIRST, "second": SECOND})

    assert prior.networks == ("first", "second")
    mean, sd = prior.single("accuracy_pct", "A")
    assert mean == pytest.approx(-5.0) and sd == pytest.approx(math.sqrt(18.0))
    assert prior.single("accuracy_pct", "B") == pytest.approx((-4.5, FLOORS["accuracy_pct"]))
    assert prior.single("storage_mb", "A") == pytest.approx((math.log(0.25), 0.1))
    # The pair's interaction: how far it strays from the sum of its parts.
    assert prior.pair("accuracy_pct", "B", "A") == pytest.approx((-2.5, FLOORS["accuracy_pct"]))


def test_it_learns_nothing_from_a_network_without_its_baseline_or_a_technique_seen_once():
    lone = [row("baseline", 70, 3), row("C", 60, 3)]
    headless = [row("A", 10, 1), row("B", 10, 1)]
    prior = EffectPrior.learn({"first": FIRST, "lone": lone, "headless": headless})

    assert prior.networks == ("first", "lone")
    assert prior.single("accuracy_pct", "C") is None  # one network cannot give a spread
    assert prior.single("accuracy_pct", "A") is None
    assert EffectPrior.learn({}).networks == ()


def test_it_round_trips_through_its_config():
    prior = EffectPrior.learn({"first": FIRST, "second": SECOND})
    assert EffectPrior.from_config(prior.get_config()) == prior


@pytest.mark.parametrize(
    ("singles", "message"),
    [
        ({"accuracy_pct": {"A": (-1.0, 0.0)}}, r"sd positive. Received: accuracy_pct 'A'"),
        ({"speed": {"A": (1.0, 1.0)}}, "Unknown figure.*Received: 'speed'"),
        ({"latency_ms": {"A": (math.nan, 1.0)}}, "mean must be finite"),
    ],
)
def test_it_refuses_beliefs_it_cannot_use(singles, message):
    with pytest.raises(ValueError, match=message):
        EffectPrior(singles=singles)


def test_the_composition_model_starts_unseen_techniques_from_the_prior():
    prior = EffectPrior.learn({"first": FIRST, "second": SECOND})
    informed = CompositionModel(["A", "B"], prior)
    blank = CompositionModel(["A", "B"])
    for model in (informed, blank):
        model.add(row("baseline", 60, 8))  # a third network: only its baseline is known

    assert informed.predict("A").value("storage_mb") == pytest.approx(2.0, rel=0.05)
    assert informed.predict("A").mean["accuracy_pct"] == pytest.approx(55.0, abs=0.5)
    # -5 - 4.5 for the techniques, -2.5 for the pair's interaction.
    assert informed.predict("A + B").mean["accuracy_pct"] == pytest.approx(48.0, abs=1.0)
    assert blank.predict("A").value("storage_mb") == pytest.approx(8.0)
    assert blank.predict("A + B").mean["accuracy_pct"] == pytest.approx(60.0)


def test_a_pairs_own_figures_teach_its_interaction_under_a_prior():
    prior = EffectPrior.learn({"first": FIRST, "second": SECOND})
    model = CompositionModel(["A", "B"], prior)
    for candidate in (row("baseline", 60, 8), row("A", 58, 2), row("B", 57, 8)):
        model.add(candidate)
    before = model.predict("A + B").mean["accuracy_pct"]
    single_before = model.predict("A").mean["accuracy_pct"]
    model.add(row("A + B", 40, 2))  # far worse than its parts and the prior said

    after = model.predict("A + B").mean["accuracy_pct"]
    assert after < before - 2
    # Its own interaction term took more of the surprise than the single technique did.
    assert before - after > single_before - model.predict("A").mean["accuracy_pct"]


def test_it_lets_this_networks_figures_overrule_a_prior_they_contradict():
    # The other networks lost 2-8 points to A; this one loses about 50 to it.
    prior = EffectPrior.learn({"first": FIRST, "second": SECOND})
    model = CompositionModel(["A", "B"], prior)
    for candidate in (row("baseline", 60, 8), row("B", 57, 8), row("A + B", 5, 2)):
        model.add(candidate)

    # A takes the blame (a Student t prior lets go), not the pair's interaction term ...
    assert model.predict("A").mean["accuracy_pct"] < 30
    # ... nor the baseline, whose figure has no parts to stray from ...
    assert model.predict("baseline").mean["accuracy_pct"] == pytest.approx(60.0, abs=0.5)
    # ... nor the noise: A + B was predicted from the prior, not from this network's data.
    assert model.noise["accuracy_pct"] == pytest.approx(7.0)
