"""Sweeps: accuracy, size vs W3 sparsity (seed 003 figs 3-4); latency vs threads (figs 5-6).

Sparsity sweeps read artifacts (accuracy is evaluated on the host through
the ``.tflite``, sizes are static): a series is one model and one plan shape
whose W3 step sets a target sparsity ``s`` (``W3(s=·)@fc1,fc2``, alone or
with other steps); its s = 0 point is the same plan without the W3 step (the
baseline for W3 alone), when it exists. Thread sweeps read results on one
device: the baseline and every quantized artifact (export mode other than
float32), the newest result with a latency per thread count.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.http import QueryDict

from measurements.models import Artifact
from webapp.dashboard.analysis import queries, scope, units
from webapp.dashboard.analysis.queries import PlanInfo, Row

# The technique whose `s` parameter is the target sparsity: compression/techniques/w3.py
# (registered as "W3"; its `sweep` lists the s values the standard sweep measures).
PRUNING_CODE = "W3"
FLOAT_EXPORT = "float32"


@dataclass
class SparsityPoint:
    """One artifact of a sparsity series."""

    s: float
    artifact_id: int
    plan: str
    accuracy: float | None
    file_size: int | None
    gzip_size: int | None


@dataclass
class Series:
    """Points that differ only by one value (sparsity, or thread count)."""

    model: str
    label: str
    points: list[Any] = field(default_factory=list)

    @property
    def name(self) -> str:
        """Legend text: the model and the plan shape."""
        return f"{self.model}: {self.label}"


@dataclass
class Sweeps:
    """What the sweeps page shows."""

    scope: scope.Scope
    sparsity: list[Series] = field(default_factory=list)
    threads: list[Series] = field(default_factory=list)


def build(query: QueryDict) -> Sweeps:
    """Both sweeps for the dataset's chosen models; threads on one device.

    Raises:
        BadQuery: a malformed or unknown id.
    """
    page = Sweeps(scope=scope.resolve(query, single_device=True, by_threads=False))
    if page.scope.dataset is not None:
        page.sparsity = sparsity_series(page.scope)
        page.threads = thread_series(page.scope)
    return page


def _shape(steps: list[dict[str, Any]], drop_s: bool) -> str:
    """A plan's steps as a comparable text, W3's `s` removed (or the W3 step dropped)."""
    kept = []
    for step in steps:
        params = dict(step.get("params") or {})
        if step.get("code") == PRUNING_CODE and "s" in params:
            if drop_s:
                continue
            params["s"] = "·"
        kept.append([step.get("code"), sorted(params.items()), list(step.get("targets") or [])])
    return json.dumps(kept, default=str)


def _sparsity(plan: PlanInfo) -> float | None:
    for step in plan.steps:
        s = (step.get("params") or {}).get("s") if step.get("code") == PRUNING_CODE else None
        if units.finite(s):
            return float(s)
    return None


def _label(plan: PlanInfo) -> str:
    """The plan's steps with W3's sparsity written as s=·, e.g. "W3(s=·)@fc1,fc2 + Q-int8"."""
    texts = []
    for step in plan.steps:
        params = step.get("params") or {}
        pruning = step.get("code") == PRUNING_CODE
        args = ", ".join(f"{k}={'·' if pruning and k == 's' else v}" for k, v in params.items())
        targets = ",".join(step.get("targets") or [])
        texts.append(
            f"{step.get('code')}{f'({args})' if args else ''}{f'@{targets}' if targets else ''}"
        )
    return " + ".join(texts)


def sparsity_series(sc: scope.Scope) -> list[Series]:
    """One series per (model, plan shape) with a W3 target sparsity, by increasing s."""
    artifacts = Artifact.objects.order_by().filter(model__dataset=sc.dataset)
    if sc.model_ids:
        artifacts = artifacts.filter(model_id__in=sc.model_ids)
    found = list(
        artifacts.values("pk", "model_id", "plan_id", "accuracy", "file_size", "gzip_size")
    )
    info = queries.plans({a["plan_id"] for a in found})
    by_shape = {(a["model_id"], _shape(info[a["plan_id"]].steps, drop_s=False)): a for a in found}
    series: dict[tuple[int, str], Series] = {}
    for a in found:
        plan = info[a["plan_id"]]
        s = _sparsity(plan)
        if s is None:
            continue
        model = sc.model_names[a["model_id"]]
        key = (a["model_id"], _shape(plan.steps, drop_s=False))
        line = series.setdefault(key, Series(model, _label(plan)))
        line.points.append(_point(s, a, plan.canonical))
        start = by_shape.get((a["model_id"], _shape(plan.steps, drop_s=True)))
        if start and not any(p.s == 0 for p in line.points):
            line.points.append(_point(0.0, start, info[start["plan_id"]].canonical))
    for line in series.values():
        line.points.sort(key=lambda p: p.s)
    return sorted(series.values(), key=lambda line: (line.model, line.label))


def _point(s: float, artifact: dict[str, Any], plan: str) -> SparsityPoint:
    return SparsityPoint(
        s, artifact["pk"], plan, artifact["accuracy"], artifact["file_size"], artifact["gzip_size"]
    )


def thread_series(sc: scope.Scope) -> list[Series]:
    """Latency against thread count for the baseline and quantized artifacts on one device."""
    if not sc.device_ids:
        return []
    # Only results with a latency: an accuracy-only row never hides a measured latency.
    results = sc.results(by_threads=False).filter(
        device_id=sc.device_ids[0], latency_mean_ms__isnull=False
    )
    chosen = results.exclude(artifact__export_mode=FLOAT_EXPORT) | results.filter(
        artifact__plan__canonical=queries.BASELINE
    )
    newest: dict[tuple[int, int], Row] = {}
    for row in chosen.order_by("created_at", "pk").values(*queries.ROW_FIELDS):
        newest[(row["artifact_id"], row["num_threads"])] = row  # the newest wins
    info = queries.plans({r["artifact__plan_id"] for r in newest.values()})
    series: dict[int, Series] = {}
    for (artifact_id, _), row in sorted(newest.items(), key=lambda kv: kv[0][1]):
        plan = info[row["artifact__plan_id"]]
        label = f"{plan.canonical} ({row['artifact__export_mode']})"
        if row["source"] == "imported":  # say so in the legend: not measured here
            label = f"{label}, {queries.figures_source(row)}"
        model = sc.model_names[row["artifact__model_id"]]
        series.setdefault(artifact_id, Series(model, label)).points.append(row)
    return sorted(
        series.values(),
        key=lambda line: (line.model, line.label != "baseline (float32)", line.label),
    )
