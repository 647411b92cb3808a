"""Predict a combination's figures from its techniques': a Bayesian linear model per figure.

A plan is a set of techniques, and their effects compose: the accuracy drops
roughly add, and energy, latency and storage roughly multiply (a pair costs
about what its two techniques cost together). So each figure is modelled as
an intercept (the baseline) plus one effect per technique, on accuracy in
points and on the logarithm of the others, and fitted by Bayesian linear
regression on the plans evaluated so far. The posterior gives every other
plan a predicted mean and a spread; a plan whose techniques were never
evaluated gets the prior's wide spread.

The noise (how far a plan strays from the sum of its parts: measurement noise
plus the techniques' interaction) starts at a prior guess and is calibrated
on the plans the data predicted well before they were evaluated: each such
plan's squared error, divided by its predicted spread in units of the noise,
estimates the noise's variance (shrunk towards the prior by a few
pseudo-observations). The prior noise is what measured tables show
(FIGURES): about 7 accuracy points and 15-30 % on the other figures per pair.

Given what the techniques did to other networks (``effect_prior``), each
effect is shrunk towards that mean instead of towards none, with that spread,
and every pair gets an interaction term of its own, shrunk towards the
interaction the other networks showed (or none); a pair's own figures then
teach its interaction rather than only widening the noise. A learnt effect's
prior is a Student t rather than a normal, so a technique this network
reacts to unlike the others (pruning costs 67 points on MobileNetV2 alpha
0.35, 1-7 on three other networks) lets go of it after a plan or two; and
only predictions this network's own figures pinned down calibrate the noise,
so the prior's misses are not mistaken for plans straying from their parts.
The baseline has no parts to stray from, so it weighs as a measurement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from compression.selection.candidates import Candidate
from compression.selection.effect_prior import EffectPrior, pair_key
from compression.selection.space import steps_of

# Figure -> (on a log scale?, prior noise, prior spread of one technique's effect).
# Accuracy in points; the others as log factors (0.15 = about 15 %, 1.0 = a factor e).
# The prior noise is the standard deviation of how far the measured LeNet and
# AlexNet-13 pairs stray from the sum of their parts, the larger of the two tables,
# rounded (benchmarks/pair_interactions.py: accuracy 6.9 and 7.3 points; energy 0.07
# and 0.15, latency 0.26 and 0.24, storage 0.17 and 0.31). Most pairs compose far
# closer than that and a few collapse; a prior fitted to the many would call a
# near-tie settled and stop before the pair that wins.
FIGURES = {
    "accuracy_pct": (False, 7.0, 10.0),
    "energy_mj": (True, 0.15, 1.0),
    "latency_ms": (True, 0.25, 1.0),
    "storage_mb": (True, 0.3, 1.0),
}
PSEUDO_OBSERVATIONS = 3.0  # weight of the prior noise against the calibration errors
INTERCEPT_RIDGE = 1e-8  # the baseline's level is left to the data
# The baseline's noise is a tenth of a combination's: measurement noise, no composition
# error. Without it one surprising pair moved the intercept, and with it every
# prediction (MobileNetV2 alpha 0.35, seed 1: 0.86 of the settings, 0.92 with it).
BASELINE_WEIGHT = 100.0
# A prediction calibrates the noise only when the data pinned it down: its spread beyond
# the noise is at most this many noise variances (a pair predicted from the baseline and
# its two techniques alone has 3); a guess from the prior would only dilute the estimate.
CALIBRATION_SPREAD = 8.0
# With a learnt prior, a pair's interaction term gets this share of the spread the
# networks showed (or of the noise, for a pair no network measured); the rest stays
# noise. Half: benchmarks/selector_strategies.py (seed 0, leave-one-table-out priors,
# normal priors) found the optimum in 0.90-1.00 of the settings on all four measured
# tables with it, and in 0.86 on MobileNetV2 alpha 0.35 with the whole spread; with
# the Student t, a quarter or the whole spread moved seed 1's shares by 0.04 at most.
PAIR_SPREAD = 0.5
# A learnt effect's prior is a Student t of this many degrees of freedom, not a
# normal: the predictive distribution of a new network's effect from n networks'
# mean and spread is a t with n - 1 degrees of freedom, and a lab has two or three.
# Fitted by EM (T_ITERATIONS reweighted ridge fits). One or four degrees moved seed
# 1's shares by 0.04 at most (benchmarks/selector_strategies.py).
T_DOF = 2.0
T_ITERATIONS = 6


@dataclass(frozen=True)
class Prediction:
    """A plan's predicted figures: mean and spread on the modelled scale.

    Attributes:
        mean: figure -> accuracy in points, or the log of the figure.
        sd: figure -> the predictive standard deviation on the same scale.
    """

    mean: dict[str, float]
    sd: dict[str, float]

    def value(self, name: str) -> float:
        """The predicted figure in its own unit (the median for log-modelled ones)."""
        logged = FIGURES[name][0]
        return math.exp(self.mean[name]) if logged else self.mean[name]


class CompositionModel:
    """Per-figure Bayesian linear models over technique indicators.

    Args:
        techniques: every technique a plan may use (the model's features).
        prior: what the techniques did to other networks; None shrinks every
            effect towards none, with no interaction terms.
    """

    def __init__(self, techniques: Sequence[str], prior: EffectPrior | None = None) -> None:
        self.techniques = list(dict.fromkeys(techniques))
        self.prior = prior
        self.column = {t: i + 1 for i, t in enumerate(self.techniques)}
        pairs = [
            pair_key(a, b) for i, a in enumerate(self.techniques) for b in self.techniques[i + 1 :]
        ]
        offset = len(self.column) + 1
        self.pair_column = {p: offset + i for i, p in enumerate(pairs)} if prior else {}
        self.noise = {name: noise for name, (_, noise, _) in FIGURES.items()}
        self._errors: dict[str, list[float]] = {name: [] for name in FIGURES}
        self._rows: dict[str, list[tuple[np.ndarray, float]]] = {name: [] for name in FIGURES}
        self._fits: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._priors = {name: self._prior_of(name) for name in FIGURES}
        self._pinned: dict[str, np.ndarray] = {}

    def features(self, plan: str) -> np.ndarray:
        """The intercept and one indicator per technique; unknown techniques are refused.

        Raises:
            ValueError: the plan uses a technique the model was not built with.
        """
        x = np.zeros(len(self.techniques) + len(self.pair_column) + 1)
        x[0] = 1.0
        steps = steps_of(plan)
        for step in steps:
            if step not in self.column:
                raise ValueError(
                    f"The plan uses a technique outside the search's. Received: plan={plan!r}"
                )
            x[self.column[step]] = 1.0
        if len(steps) == 2 and self.pair_column:
            x[self.pair_column[pair_key(*steps)]] = 1.0
        return x

    def add(self, candidate: Candidate) -> None:
        """Learn from an evaluated plan, first scoring the prediction made for it."""
        x = self.features(candidate.plan)
        for name, (logged, _, _) in FIGURES.items():
            value = getattr(candidate, name)
            if value is None or (logged and value <= 0):
                continue
            y = math.log(value) if logged else float(value)
            if self._rows[name]:
                mean = float(x @ self._fits[name][0])
                unit_var = float(x @ self._pinned[name] @ x)
                if unit_var <= CALIBRATION_SPREAD:
                    self._errors[name].append((y - mean) ** 2 / (1.0 + unit_var))
            self._rows[name].append((x, y))
            self._refit(name)

    def predict(self, plan: str) -> Prediction:
        """The plan's predicted figures (wide spreads where nothing was learnt)."""
        return self.predict_all([plan])[plan]

    def predict_all(self, plans: Sequence[str]) -> dict[str, Prediction]:
        """Every plan's predicted figures, computed together (a search asks for all of them)."""
        xs = np.array([self.features(plan) for plan in plans]).reshape(len(plans), -1)
        means, sds = {}, {}
        for name, (_, _, effect) in FIGURES.items():
            if self._rows[name]:
                weights, inverse = self._fits[name]
                unit_var = ((xs @ inverse) * xs).sum(axis=1)
                means[name], sds[name] = xs @ weights, self.noise[name] * np.sqrt(1.0 + unit_var)
            else:
                means[name], sds[name] = np.zeros(len(plans)), np.full(len(plans), 1e6 * effect)
        return {
            plan: Prediction(
                {name: float(means[name][i]) for name in FIGURES},
                {name: float(sds[name][i]) for name in FIGURES},
            )
            for i, plan in enumerate(plans)
        }

    def _refit(self, name: str) -> None:
        """Posterior over the effects: ridge regression, the calibrated noise against the prior.

        The ridge is the noise variance over an effect's prior variance, so effects
        seen in one plan are shrunk towards none while the noise is large, and less
        once the plans evaluated show the techniques compose closely.
        """
        _, prior_noise, effect = FIGURES[name]
        errors = self._errors[name]
        variance = (PSEUDO_OBSERVATIONS * prior_noise**2 + sum(errors)) / (
            PSEUDO_OBSERVATIONS + len(errors)
        )
        self.noise[name] = math.sqrt(variance)
        xs = np.array([x for x, _ in self._rows[name]])
        ys = np.array([y for _, y in self._rows[name]])
        # The baseline has no parts to stray from: its figure is the intercept, up to
        # measurement noise only (weighted least squares: rows scaled by sqrt(weight)).
        rooted = np.sqrt(np.where(xs[:, 1:].any(axis=1), 1.0, BASELINE_WEIGHT))
        xs, ys = xs * rooted[:, None], ys * rooted
        means, spreads = self._priors[name]
        ridge = variance / spreads**2
        ridge[0] = INTERCEPT_RIDGE
        self._fits[name] = _posterior(xs, ys, ridge, means, spreads, variance, bool(self.prior))
        self._pinned[name] = self._fits[name][1]
        if self.prior:
            # What the data pin: the posterior without the techniques' learnt priors. A
            # prediction resting on what other networks showed is no test of how closely
            # this network's plans compose; a wrong one is the prior's error, which the
            # Student t absorbs, not the noise's. The pairs' interactions keep theirs.
            ridge[: len(self.column) + 1] = INTERCEPT_RIDGE
            self._pinned[name] = _posterior(xs, ys, ridge, means, spreads, variance, False)[1]

    def _prior_of(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Each column's prior mean and spread (the intercept's are unused)."""
        _, noise, effect = FIGURES[name]
        means = np.zeros(len(self.techniques) + len(self.pair_column) + 1)
        spreads = np.full(len(means), float(effect))
        if self.prior is None:
            return means, spreads
        for technique, column in self.column.items():
            belief = self.prior.single(name, technique)
            if belief is not None:
                means[column], spreads[column] = belief
        for pair, column in self.pair_column.items():
            belief = self.prior.pair(name, *steps_of(pair))
            means[column], spreads[column] = belief if belief else (0.0, noise)
            spreads[column] *= PAIR_SPREAD
        return means, spreads


def _posterior(
    xs: np.ndarray,
    ys: np.ndarray,
    ridge: np.ndarray,
    means: np.ndarray,
    spreads: np.ndarray,
    variance: float,
    robust: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge towards the prior's means: the weights and (X'X + R)^-1, in noise-variance units.

    Only the columns some row uses are solved for; the others are independent of
    the data and keep their prior (mean, 1 / ridge): a search over 22 techniques
    has 231 pair columns, most never evaluated. With ``robust`` each prior is a
    Student t (T_DOF), fitted by EM: an effect far from what the other networks
    showed, in their spreads and its posterior spread included, loosens its prior.
    """
    weights, inverse = means.copy(), np.diag(1.0 / ridge)
    used = xs.any(axis=0)
    x, base, m, s = xs[:, used], ridge[used], means[used], spreads[used]
    scale = np.ones(len(base))  # each prior's precision relative to the normal's
    for _ in range(T_ITERATIONS if robust else 1):
        r = base * scale
        r[0] = base[0]  # the intercept (always used) is left to the data
        block = np.linalg.inv(x.T @ x + np.diag(r))
        # argmin |Xw - y|^2 + sum r_i (w_i - m_i)^2
        w = block @ (x.T @ ys + r * m)
        strayed = ((w - m) ** 2 + variance * np.diag(block)) / s**2
        scale = (T_DOF + 1.0) / (T_DOF + strayed)
    weights[used] = w
    inverse[np.ix_(used, used)] = block
    return weights, inverse
