"""ORM reads of the analysis pages, and the normalisation to the uncompressed baseline.

Results are read with ``values()`` (plain dicts, one query, no model
instances) because a lab's database holds hundreds of thousands of them; the
few plans, models and devices they point at are read once and joined in
Python. The baseline of a result is the newest result of the same model's
baseline artifact (the plan with no steps, canonical ``baseline``) on the same
device at the same thread count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from django.db.models import QuerySet

from measurements.models import Plan, Result, Technique
from measurements.provenance import result_figure_source
from webapp.dashboard.analysis import speedup, units
from webapp.dashboard.analysis.speedup import Interval

# compression.plan.BASELINE; copied so the dashboard does not import Keras.
BASELINE = "baseline"
COMBINATION = "combination"

# Every figure the analysis pages read from a result, as values() keys.
ROW_FIELDS = (
    "pk",
    "device_id",
    "num_threads",
    "artifact_id",
    "artifact__model_id",
    "artifact__plan_id",
    "artifact__export_mode",
    "latency_mean_ms",
    "latency_ci95_ms",
    "energy_mj",
    "energy_measured",
    "energy_method",
    "peak_memory_bytes",
    "accuracy",
    "f1",
    "stable",
    "artifact__file_size",
    "artifact__gzip_size",
    "artifact__macs",
    "artifact__sp_bits",
    "source",
    "source_label",
)
Row = dict[str, Any]
Key = tuple[int, int, int]  # (model id, device id, threads)


def rows(results: QuerySet[Result]) -> list[Row]:
    """Every result of ``results`` as a dict of ROW_FIELDS."""
    return list(results.values(*ROW_FIELDS))


def key(row: Row) -> Key:
    """The (model, device, threads) a result and its baseline share."""
    return (row["artifact__model_id"], row["device_id"], row["num_threads"])


def figures_source(row: Row, group: str = "latency") -> str:
    """How a result's figures of ``group`` were obtained: measured, estimated, imported."""
    return result_figure_source(
        row.get("source") or "measured",
        row.get("source_label") or "",
        group,
        bool(row.get("energy_measured")),
    )


def energy_kind(row: Row) -> str:
    """measured, estimated or imported: the kind of a result's energy figure (no label)."""
    return figures_source(row, "energy").split(" ", 1)[0]


def energy_label(row: Row) -> str:
    """How a result's energy was obtained, with its method.

    e.g. "measured (rapl)", "estimated (TDP x latency)", "imported (Smith 2024; method
    not stated)"; "not available" without a figure.
    """
    if not units.finite(row.get("energy_mj")):
        return "not available"
    how = figures_source(row, "energy")
    method = row.get("energy_method") or ""
    if how.startswith("imported"):
        return f"{how[:-1]}; {method or 'method not stated'})"
    return f"{how} ({method})" if method and not method.startswith(how) else method or how


@dataclass(frozen=True)
class PlanInfo:
    """A plan's text, steps, technique codes and categories."""

    pk: int
    canonical: str
    steps: list[dict[str, Any]]
    codes: tuple[str, ...]
    categories: tuple[str, ...]

    @property
    def is_baseline(self) -> bool:
        """The empty plan: the uncompressed model."""
        return not self.steps

    @cached_property
    def group(self) -> str:
        """The colour group: "baseline", the one category used, or "combination"."""
        if self.is_baseline:
            return BASELINE
        return self.categories[0] if len(set(self.categories)) == 1 else COMBINATION


def plans(plan_ids: Iterable[int]) -> dict[int, PlanInfo]:
    """PlanInfo for each plan id; categories come from the Technique catalogue."""
    category = dict(Technique.objects.values_list("code", "category"))
    out = {}
    for pk, canonical, steps in Plan.objects.filter(pk__in=set(plan_ids)).values_list(
        "pk", "canonical", "steps"
    ):
        steps = steps if isinstance(steps, list) else []
        codes = tuple(str(s.get("code", "?")) for s in steps if isinstance(s, dict))
        cats = tuple(category.get(c, "uncategorised") for c in codes)
        out[pk] = PlanInfo(pk, canonical, steps, codes, cats)
    return out


# The figures a baseline row lends its comparisons, each from the newest result that has it.
BASELINE_FIGURES = (
    ("latency_mean_ms", "latency_ci95_ms", "stable"),
    ("energy_mj", "energy_measured", "energy_method"),
    ("peak_memory_bytes",),
    ("accuracy",),
    ("f1",),
)


def baselines(results: QuerySet[Result]) -> dict[Key, Row]:
    """The baseline per (model, device, threads) among ``results``, figure by figure.

    The row is the newest baseline result with a latency (the newest of all if
    none has one); a figure it lacks comes from the newest baseline result that
    has it: an accuracy-only row imported later never hides a measured latency.
    """
    found: dict[Key, list[Row]] = {}
    base = results.filter(artifact__plan__canonical=BASELINE).order_by("-created_at", "-pk")
    for row in base.values(*ROW_FIELDS):
        found.setdefault(key(row), []).append(row)  # newest first
    return {k: merge_newest(rows) for k, rows in found.items()}


def merge_newest(rows: list[Row]) -> Row:
    """One row from several results of one thing (newest first), each figure its newest."""
    timed = [r for r in rows if r["latency_mean_ms"] is not None]
    merged = dict(timed[0] if timed else rows[0])
    for group in BASELINE_FIGURES:
        if merged[group[0]] is None:
            donor = next((r for r in rows if r[group[0]] is not None), None)
            if donor is not None:
                merged.update({name: donor[name] for name in group})
    return merged


def baseline_of(result: Result) -> Result | None:
    """The newest baseline result with a latency for ``result``'s model, device and threads.

    The newest of all when none has a latency; None when there is no baseline.
    """
    found = (
        Result.objects.filter(
            artifact__model_id=result.artifact.model_id,
            artifact__plan__canonical=BASELINE,
            device_id=result.device_id,
            num_threads=result.num_threads,
        )
        .select_related("artifact")
        .order_by("-created_at", "-pk")
    )
    return found.filter(latency_mean_ms__isnull=False).first() or found.first()


class Normalised:
    """A compressed result beside its baseline, as seed 004 tables 5 to 7 report it.

    Reductions are baseline / compressed ("x": 2× = half); the accuracy loss is
    in percentage points (negative = a gain). Each figure is computed when first
    read: sorting thousands of rows by one column computes only that column.
    """

    def __init__(self, row: Row, base: Row) -> None:
        self.row = row
        self.base = base

    def _reduction(self, field_name: str) -> float | None:
        return speedup.reduction(self.base[field_name], self.row[field_name])

    @cached_property
    def accuracy_loss(self) -> float | None:
        """Baseline minus compressed accuracy, in points (not a relative %)."""
        after, before = self.row["accuracy"], self.base["accuracy"]
        return (before - after) * 100 if units.finite(after) and units.finite(before) else None

    @cached_property
    def sp(self) -> float | None:
        """Weight-storage (Sp, seed 004 eq. 3) reduction."""
        return self._reduction("artifact__sp_bits")

    @cached_property
    def macs(self) -> float | None:
        """Multiply-accumulate reduction."""
        return self._reduction("artifact__macs")

    @cached_property
    def latency(self) -> Interval | None:
        """The speedup with its conservative interval (see speedup.py)."""
        b, c = self.base, self.row
        return speedup.speedup(
            b["latency_mean_ms"], b["latency_ci95_ms"], c["latency_mean_ms"], c["latency_ci95_ms"]
        )

    @cached_property
    def energy(self) -> float | None:
        """Energy-per-inference reduction."""
        return self._reduction("energy_mj")

    @cached_property
    def file(self) -> float | None:
        """.tflite file-size reduction."""
        return self._reduction("artifact__file_size")

    @cached_property
    def gzip(self) -> float | None:
        """gzip -9 size reduction."""
        return self._reduction("artifact__gzip_size")

    @cached_property
    def size_verdict(self) -> str | None:
        """SMALLER, GZIP_ONLY or NOT_SMALLER (speedup.size_verdict)."""
        b, c = self.base, self.row
        return speedup.size_verdict(
            b["artifact__file_size"], c["artifact__file_size"],
            b["artifact__gzip_size"], c["artifact__gzip_size"],
        )  # fmt: skip

    @property
    def flags(self) -> list[str]:
        """Plain warnings: slower than the baseline, or no smaller."""
        return speedup.flags(self.latency, self.size_verdict)

    @property
    def energy_how(self) -> str:
        """Whether the energy ratio compares measured, estimated, imported or mixed figures."""
        mine, theirs = energy_kind(self.row), energy_kind(self.base)
        return mine if mine == theirs else f"mixed: this {mine}, baseline {theirs}"

    @cached_property
    def text(self) -> dict[str, str]:
        """Every figure as the tables print it (units attached, MISSING when absent)."""
        latency = self.latency
        energy = units.times(self.energy)
        return {
            "accuracy": units.percent(self.row["accuracy"]),
            "loss": units.points(self.accuracy_loss),
            "sp": units.times(self.sp),
            "macs": units.times(self.macs),
            "speedup": latency.show() if latency else units.MISSING,
            "speedup_verdict": latency.verdict if latency else "not comparable",
            "energy": f"{energy} ({self.energy_how})" if self.energy else units.MISSING,
            "file": units.times(self.file),
            "gzip": units.times(self.gzip),
            "size_verdict": self.size_verdict or "not comparable",
        }


def normalise(row: Row, base: Row) -> Normalised:
    """``row`` against its baseline ``base`` (both ROW_FIELDS dicts)."""
    return Normalised(row, base)


def result_row(result: Result) -> Row:
    """One result as a ROW_FIELDS dict, for the pure helpers above."""
    return Result.objects.filter(pk=result.pk).values(*ROW_FIELDS).get()
