"""The selector's Django side: candidates from the database, inputs from forms and requests.

For a model on a device, every plan measured there (or imported) becomes a
candidate with measured figures; every other compressed artifact of the model
becomes a candidate with predicted figures: storage and MACs exact from the
artifact's static figures, energy from seed 004 eq. 5, latency from the
device's kernel-level predictor where the device has per-operator timings
(results with an op breakdown of their .tflite's operators), else from the
whole-model forest, accuracy only from the host evaluation of the artifact
(a plan never compressed has no accuracy and is listed to measure).
Everything heavy (the registry, Keras) is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from measurements.candidate_rows import (
    latest_per_artifact,
    measured_candidate,
    predicted_candidate,
)
from measurements.models import Artifact, Device, DNNModel, Result

MIN_REPORT_ROWS = 5


def parse_budgets(data: Mapping[str, Any], device: Device | None) -> tuple[Any, dict[str, str]]:
    """Budgets from request or form data; (Budgets, {}) or (None, field -> message).

    Empty limits are open. ``weights`` = ``"device"`` derives mu1..mu4 from the
    device (seed 004 section 5.3.3); otherwise mu1..mu4 are read (default 0.5).
    The cache budget defaults to the device's cache size.
    """
    from compression.selection import Budgets, budget_errors, device_weights
    from compression.selection.budgets import LIMIT_FIELDS, WEIGHT_FIELDS

    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for name in (*LIMIT_FIELDS, *WEIGHT_FIELDS):
        raw = data.get(name)
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            values[name] = float(raw)
        except (TypeError, ValueError):
            errors[name] = f"{name} must be a number. Received: {name}={raw!r}"
    if data.get("weights") == "device":
        if device is None:
            errors["weights"] = "Weights from the device need a device. Received: device=None"
        else:
            derived = device_weights(device.battery_mah, device.cache_mb)
            values.update(zip(WEIGHT_FIELDS, derived, strict=True))
    if device is not None and "cache_mb" not in values and device.cache_mb is not None:
        values["cache_mb"] = float(device.cache_mb)
    errors.update(budget_errors(values))
    if errors:
        return None, errors
    return Budgets(**values), {}


TRUE_WORDS = ("1", "true", "yes", "on")
FALSE_WORDS = ("", "0", "false", "no", "off")


def parse_search_options(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """A search's own inputs: ``evaluations`` (N), ``allow_predicted``, ``techniques``.

    Returns:
        (values, field -> message); ``techniques`` is a list of codes (a list,
        or one comma-separated string), empty for every applicable technique.
    """
    from measurements.search import MAX_EVALUATIONS

    values: dict[str, Any] = {}
    errors: dict[str, str] = {}
    raw = data.get("evaluations")
    try:
        values["evaluations"] = int(raw) if not isinstance(raw, bool | float) else None
    except (TypeError, ValueError):
        values["evaluations"] = None
    if values["evaluations"] is None or not 1 <= values["evaluations"] <= MAX_EVALUATIONS:
        errors["evaluations"] = (
            "evaluations (the most plans to evaluate: read, predicted, or compressed and "
            f"measured) must be an integer from 1 to {MAX_EVALUATIONS}. Received: "
            f"evaluations={raw!r}"
        )
    allow = data.get("allow_predicted", False)
    if isinstance(allow, bool):
        values["allow_predicted"] = allow
    elif str(allow).strip().lower() in TRUE_WORDS + FALSE_WORDS:
        values["allow_predicted"] = str(allow).strip().lower() in TRUE_WORDS
    else:
        errors["allow_predicted"] = (
            f"allow_predicted must be true or false. Received: allow_predicted={allow!r}"
        )
    codes = data.get("techniques") or []
    if isinstance(codes, str):
        codes = [c.strip() for c in codes.split(",")]
    if not isinstance(codes, list | tuple) or not all(isinstance(c, str) for c in codes):
        errors["techniques"] = f"techniques must be a list of codes. Received: techniques={codes!r}"
        codes = []
    values["techniques"] = [c for c in codes if c]
    return values, errors


def _features(artifact: Artifact, threads: int) -> dict[str, Any]:
    return {
        "macs": artifact.macs,
        "params": artifact.params,
        "sp_bits": artifact.sp_bits,
        "sf_bits": artifact.sf_bits,
        "by_op_type": (artifact.static_metrics or {}).get("by_op_type") or {},
        "num_threads": threads,
    }


def device_rows(device: Device) -> list[dict[str, Any]]:
    """The device's measured results as predictor rows (every model measured there).

    A zero latency (the database allows it) is left out: the predictor learns
    log latency and drops such rows itself, so counting them here would let
    ``build_candidates`` fit on fewer rows than it needs, and raise.
    """
    results = Result.objects.filter(
        device=device, source=Result.Source.MEASURED, latency_mean_ms__gt=0
    ).select_related("artifact")
    return [
        {**_features(r.artifact, r.num_threads), "latency_ms": r.latency_mean_ms}
        for r in results
        if r.artifact.macs is not None
    ]


def _kernels(artifact: Artifact) -> list[Any] | None:
    """The artifact's kernels read from its .tflite, None when there is no readable file."""
    from compression.errors import ModelFileError
    from compression.selection.kernels import kernels_of

    if not artifact.tflite_file:
        return None
    try:
        return kernels_of(artifact.tflite_file.path)
    except (ModelFileError, OSError, ValueError):
        return None


def kernel_timings(device: Device, threads: int) -> list[Any]:
    """The device's measured results with per-operator timings, as kernel-predictor data.

    A result counts when its breakdown lists every operator (the local
    driver's ``ops``) and its artifact's .tflite is readable and matches it.
    Times taken inside whole runs (``scope`` "in-graph") and operators timed
    alone differ by the inter-op cache reuse the latter miss, so when the
    device has any of the former, only those are used.
    """
    results = Result.objects.filter(
        device=device,
        source=Result.Source.MEASURED,
        num_threads=threads,
        latency_mean_ms__isnull=False,
    ).select_related("artifact__model", "artifact__plan")
    timings: dict[bool, list[Any]] = {True: [], False: []}
    for result in results:
        breakdown = result.op_breakdown
        if not isinstance(breakdown, dict) or not breakdown.get("ops"):
            continue
        # Only now: reading kernels imports the flatbuffer schema and Keras.
        from compression.selection.kernel_predictor import ModelTiming
        from compression.selection.kernels import timings_from_breakdown

        kernels = _kernels(result.artifact)
        if not kernels:
            continue
        try:
            ms = timings_from_breakdown(breakdown, kernels or [])
        except ValueError:  # a breakdown of other operators (another file version)
            continue
        name = f"{result.artifact.model.name}: {result.artifact.plan.canonical}"
        architecture = result.artifact.model.architecture
        timing = ModelTiming(name, architecture, tuple(kernels), tuple(ms), result.latency_mean_ms)
        timings[breakdown.get("scope") == "in-graph"].append(timing)
    return timings[True] or timings[False]


def kernel_predictions(artifacts: list[Artifact], device: Device, threads: int) -> dict[int, float]:
    """Latency (ms) by artifact id from the device's kernel predictor, for those with a .tflite."""
    timings = kernel_timings(device, threads)
    if not timings:
        return {}
    from compression.selection.kernel_predictor import KernelPredictor

    predictor = KernelPredictor().fit(timings)
    predictions = {}
    for artifact in artifacts:
        kernels = _kernels(artifact)
        if kernels:
            predictions[artifact.pk] = max(predictor.predict(kernels), 0.0)
    return predictions


def build_candidates(
    model: DNNModel, device: Device, threads: int = 1
) -> tuple[list[Any], dict[str, Any] | None]:
    """Measured candidates for the model on the device, predicted ones for the rest.

    Latency is predicted per kernel where the device has op timings and the
    artifact a .tflite; the whole-model forest covers the rest.

    Returns:
        (candidates, predictor report as a dict or None when too few results).
    """
    from compression.selection.predictor import MIN_ROWS, LatencyPredictor, evaluate

    results = (
        Result.objects.filter(artifact__model=model, device=device, num_threads=threads)
        .select_related("artifact__plan")
        .order_by("-created_at")
    )
    latest = latest_per_artifact(results)
    candidates = [measured_candidate(r) for r in latest]
    others = Artifact.objects.filter(model=model, status=Artifact.Status.READY).exclude(
        pk__in=[r.artifact_id for r in latest]
    )
    others = list(others.select_related("plan"))
    rows = device_rows(device)
    report = None
    predictions: list[float | None] = [None] * len(others)
    if len(rows) >= MIN_ROWS and others:
        predictor = LatencyPredictor().fit(rows)
        predictable = [a for a in others if a.macs is not None]
        values = iter(predictor.predict([_features(a, threads) for a in predictable]))
        predictions = [float(next(values)) if a.macs is not None else None for a in others]
    if len(rows) >= MIN_REPORT_ROWS:
        found = evaluate(rows)
        report = {
            "median_ape_pct": found.median_ape_pct,
            "within_10_pct": found.within_10_pct,
            "n_train": found.n_train,
            "n_test": found.n_test,
        }
    by_kernels = kernel_predictions(others, device, threads) if others else {}
    candidates += [
        predicted_candidate(a, by_kernels[a.pk], threads, "kernel")
        if a.pk in by_kernels
        else predicted_candidate(a, t, threads)
        for a, t in zip(others, predictions, strict=True)
    ]
    return candidates, report


def recommend_for(
    model: DNNModel,
    device: Device,
    budgets: Any,
    strategy: str = "compose",
    threads: int = 1,
    top: int = 5,
    seed: int = 0,
) -> dict[str, Any]:
    """The selector's answer for a model on a device, with the chart's Pareto data.

    Args:
        model: the base model.
        device: where it will run.
        budgets: a ``compression.selection.Budgets``.
        strategy: "compose" (the default, ``DEFAULT_STRATEGY``), "exhaustive", "greedy",
            "dqn" or "tpe".
        threads: the thread count measured results are taken at and predictions made for.
        top: plans per list.
        seed: the DQN's seed.
    """
    from compression.selection import PRIOR_STRATEGIES, recommend
    from compression.selection.space import registry_space

    candidates, report = build_candidates(model, device, threads)
    space = registry_space()
    known = {c.plan for c in candidates}
    # Compressed but not scorable first (a measurement completes them), then new plans.
    unscored = [c.plan for c in candidates if not c.complete]
    unscored += [p for p in space.singles_and_pairs() if p not in known]
    from measurements.effect_priors import effect_prior_for

    prior = effect_prior_for(model, device, threads) if strategy in PRIOR_STRATEGIES else None
    answer = recommend(candidates, budgets, strategy, space, unscored, top, seed, prior)
    answer.update(
        model=model.name,
        device=device.name,
        threads=threads,
        predictor=report,
        candidates=len(candidates),
        front=front_points(candidates),
    )
    return answer


def front_points(candidates: list[Any]) -> list[dict[str, Any]]:
    """Every complete candidate's latency and accuracy, flagged when on the Pareto front."""
    from measurements.pareto import pareto_front

    complete = [c for c in candidates if c.complete]
    points = [(c.latency_ms, c.accuracy_pct) for c in complete]
    front = set(pareto_front(points, ["min", "max"]))
    return [
        {
            "plan": c.plan,
            "latency_ms": c.latency_ms,
            "accuracy_pct": c.accuracy_pct,
            "measured": c.measured,
            "front": i in front,
        }
        for i, c in enumerate(complete)
    ]


def finite_json(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [finite_json(v) for v in value]
    return value
