"""One result in full: figures with their CI, provenance, where the time went, the verdict.

Everything shown is prepared here as text (units attached, ``—`` for what
was not recorded), so the template prints strings and never ``None``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from django.shortcuts import get_object_or_404

from measurements import op_breakdown
from measurements.models import Result
from measurements.op_breakdown import OpBreakdown
from measurements.provenance import (
    COMPARABLE_KEYS,
    IMPORTED,
    comparable,
    result_figure_source,
    static_figure_source,
)
from webapp.dashboard.analysis import breakdown, queries, speedup, units
from webapp.dashboard.analysis.breakdown import OpDiff, TypeDiff
from webapp.dashboard.analysis.queries import Normalised, PlanInfo

Line = tuple[str, str, str]  # (label, value, how it was obtained / note)


@dataclass
class Detail:
    """What the result page shows."""

    result: Result
    plan: PlanInfo
    baseline: Result | None
    norm: Normalised | None
    measured: list[Line] = field(default_factory=list)
    static: list[Line] = field(default_factory=list)
    provenance: list[tuple[str, str]] = field(default_factory=list)
    ops: OpBreakdown = field(default_factory=OpBreakdown)
    baseline_ops: OpBreakdown | None = None
    type_diffs: list[TypeDiff] = field(default_factory=list)
    op_diffs: list[OpDiff] = field(default_factory=list)
    not_comparable: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def figures_title(self) -> str:
        """The heading of the result's figures: measured here, or imported from where."""
        if self.result.source == IMPORTED:
            return f"Imported from {self.result.source_label or 'a source not named'}"
        return "Measured on the device"

    @property
    def steps(self) -> list[tuple[str, str, str, str]]:
        """The plan's steps as table rows."""
        return step_rows(self.plan)

    @property
    def verdict(self) -> str:
        """The real-speedup sentence, or why there is none."""
        if self.plan.is_baseline:
            return "This is the uncompressed baseline: compressed results are compared with it."
        if self.norm is None:
            return (
                "No baseline measured on this device at this thread count: queue the "
                "baseline plan for this model on /jobs/new/ to see the real speedup."
            )
        text = speedup.summary(self.norm.latency, self.norm.size_verdict)
        return text[0].upper() + text[1:]


def step_rows(plan: PlanInfo) -> list[tuple[str, str, str, str]]:
    """(code, category, parameters, target layers) per step, defaults said in words."""
    rows = []
    for step, category in zip(plan.steps, plan.categories, strict=False):
        args = ", ".join(f"{k}={v}" for k, v in (step.get("params") or {}).items())
        targets = ", ".join(step.get("targets") or [])
        rows.append(
            (
                str(step.get("code")),
                category,
                args or "defaults",
                targets or "the technique's default layers",
            )
        )
    return rows


def load(pk: int) -> Detail:
    """The result ``pk`` with its baseline and every table of the page (404 if absent)."""
    result = get_object_or_404(
        Result.objects.select_related(
            "artifact__model__dataset", "artifact__plan", "device", "job"
        ),
        pk=pk,
    )
    plan = queries.plans([result.artifact.plan_id])[result.artifact.plan_id]
    baseline = None if plan.is_baseline else queries.baseline_of(result)
    norm = None
    if baseline is not None:
        norm = queries.normalise(queries.result_row(result), queries.result_row(baseline))
    page = Detail(result, plan, baseline, norm)
    page.measured = measured_lines(result)
    page.static = static_lines(result)
    page.provenance = provenance_lines(result.provenance)
    page.ops = op_breakdown.read(result.op_breakdown)
    if baseline is not None:
        page.baseline_ops = op_breakdown.read(baseline.op_breakdown)
        page.type_diffs = breakdown.diff_types(page.ops, page.baseline_ops)
        page.op_diffs = breakdown.diff_ops(page.ops, page.baseline_ops)
        page.not_comparable = differences(result.provenance, baseline.provenance)
    return page


def measured_lines(r: Result) -> list[Line]:
    """The result's figures, each with its unit and how it was obtained.

    An imported result claims no runs, stop reason or stability it did not state.
    """
    imported = r.source == IMPORTED
    origin = result_figure_source(r.source, r.source_label, "latency")
    ci = (
        f"± {units.number(r.latency_ci95_ms)} ms (95 % CI)"
        if units.finite(r.latency_ci95_ms)
        else "no CI recorded"
    )
    energy_how = queries.energy_label(
        {
            "energy_mj": r.energy_mj,
            "energy_measured": r.energy_measured,
            "energy_method": r.energy_method,
            "source": r.source,
            "source_label": r.source_label,
        }
    )
    if r.stable is None:
        stable = ("Stable", "not stated", "no stability was recorded with this result")
    else:
        care = "the CI rule was not met: treat the latency with care"
        stable = ("Stable", "yes" if r.stable else "no", "" if r.stable else care)
    stopped = "not stated" if imported and not r.stop_reason else units.text(r.stop_reason)
    lines = [
        ("Latency, mean", units.with_unit(r.latency_mean_ms, "ms"), f"{origin}; {ci}"),
        ("Latency, median", units.with_unit(r.latency_median_ms, "ms"), ""),
        ("Latency, 90th percentile", units.with_unit(r.latency_p90_ms, "ms"), ""),
        ("Latency, standard deviation", units.with_unit(r.latency_std_ms, "ms"), ""),
        ("Timed runs", units.count(r.runs), f"stopped: {stopped}"),
        stable,
        ("Interpreter set-up", units.with_unit(r.init_ms, "ms"), ""),
        ("First inference", units.with_unit(r.first_inference_ms, "ms"), "not counted in the mean"),
        ("Energy per inference", units.with_unit(r.energy_mj, "mJ"), energy_how),
        ("Average power", units.with_unit(r.avg_power_w, "W"), ""),
        ("Peak memory", units.size(r.peak_memory_bytes), "resident set of the measuring process"),
        ("Accuracy", units.percent(r.accuracy), _quality_how(r, origin)),
        ("Precision (macro)", units.percent(r.precision), ""),
        ("Recall (macro)", units.percent(r.recall), ""),
        ("F1 (macro)", units.percent(r.f1), ""),
    ]
    if imported:  # the peak-memory note describes the local driver's measurement
        lines = [line if line[0] != "Peak memory" else (*line[:2], origin) for line in lines]
    return lines


def _quality_how(r: Result, origin: str) -> str:
    method = r.accuracy_method or ("method not stated" if r.source == IMPORTED else "")
    return f"{origin}; {method}" if method else origin


def static_lines(r: Result) -> list[Line]:
    """The artifact's static figures: exact from its files (measured), or imported (label)."""
    a = r.artifact

    def how(name: str, note: str = "") -> str:
        if getattr(a, name) is None:
            return note
        origin = static_figure_source(a.static_metrics, name)
        origin = "measured from the file" if origin == "measured" else origin
        return f"{origin}; {note}" if note else origin

    return [
        ("Parameters", units.count(a.params), how("params")),
        ("Non-zero parameters", units.count(a.nonzero_params), how("nonzero_params")),
        ("Weight storage Sp", units.bits(a.sp_bits), how("sp_bits", "seed 004 eq. 3")),
        ("Activation storage Sf", units.bits(a.sf_bits), how("sf_bits", "seed 004 eq. 3")),
        ("Multiply-accumulates", units.macs(a.macs), how("macs")),
        (".tflite file", units.size(a.file_size), how("file_size", f"export mode {a.export_mode}")),
        ("gzip -9 of the file", units.size(a.gzip_size), how("gzip_size")),
        ("Compression time", units.with_unit(a.compress_seconds, "s"), ""),
    ]


def differences(mine: Any, theirs: Any) -> list[tuple[str, str, str]]:
    """(key, this result's value, the baseline's) for each provenance key that differs.

    Whether they differ is measurements.provenance.comparable's call; the values
    are printed here without repr quotes, "—" for what was not recorded.
    """
    mine = mine if isinstance(mine, dict) else {}
    theirs = theirs if isinstance(theirs, dict) else {}
    if not comparable(mine, theirs):
        return []
    keys = [k for k in COMPARABLE_KEYS if mine.get(k) != theirs.get(k)]
    return [(k, units.text(mine.get(k)), units.text(theirs.get(k))) for k in keys]


def provenance_lines(provenance: Any) -> list[tuple[str, str]]:
    """Provenance as (key, text) rows; nested values as compact JSON."""
    if not isinstance(provenance, dict):
        return []
    rows = []
    for k, v in sorted(provenance.items()):
        shown = json.dumps(v, sort_keys=True) if isinstance(v, dict) and v else units.text(v)
        rows.append((str(k), shown))
    return rows
