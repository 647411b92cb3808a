"""The stored side of an import: conflicts with stored figures, duplicates, and the writing.

``check_against_stored`` compares validated rows with what the database
holds (an artifact's static figures must agree; a row identical to a stored
result, or to an earlier row, is a duplicate); ``write_rows`` stores
everything in one transaction. An artifact an import creates is marked
``imported``: it has figures but no files, and a job that needs it
compresses it like a pending one.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.db import transaction

from measurements.actions import get_or_create_plan
from measurements.figures import FIGURES, STATIC_FIGURES
from measurements.import_rows import ImportOptions, ImportReport, Problem, ValidRow
from measurements.models import Artifact, Device, DNNModel, Result
from measurements.provenance import IMPORTED, IMPORTED_STATIC_KEY, imported_static

ArtifactKey = tuple[str, str]  # (model name, plan sha256)


def stored_figures(figures: dict[str, Any]) -> dict[str, Any]:
    """Every Result figure as the row will be stored: given ones, the rest at their defaults.

    A figure the row does not give stays empty: an imported row claims no
    stability and no method it did not state (pages say "imported (label)" and
    "method not stated"), so an export imports back to the same values.
    """
    filled = {name: _default(name) for name in FIGURES}
    filled.update(figures)
    return filled


def _default(name: str) -> Any:
    if name == "stable":
        return None
    return Result._meta.get_field(name).get_default()


def _signature(figures: dict[str, Any]) -> tuple:
    # op_breakdown is a dict: compare its JSON text with sorted keys.
    return tuple(
        json.dumps(figures[n], sort_keys=True) if n == "op_breakdown" else figures[n]
        for n in FIGURES
    )


def check_against_stored(
    rows: list[ValidRow], plans: dict[str, Any], options: ImportOptions
) -> list[Problem]:
    """Static figures that conflict, and duplicates (marked on the rows; problems under "error").

    Returns:
        One Problem per conflicting static figure and, with ``on_duplicate="error"``,
        per duplicate row.
    """
    keys = {id(r): (r.model_name, plans[r.plan_text].sha256()) for r in rows}
    artifacts = _stored_artifacts(keys.values())
    problems = _static_conflicts(rows, keys, artifacts)
    _mark_duplicates(rows, keys, artifacts)
    if options.on_duplicate == "error":
        problems += [_duplicate_problem(r) for r in rows if _is_duplicate(r)]
    return problems


def _stored_artifacts(keys: Iterable[ArtifactKey]) -> dict[ArtifactKey, dict[str, Any]]:
    keys = set(keys)
    found = Artifact.objects.filter(
        model__name__in={m for m, _ in keys}, plan__sha256__in={p for _, p in keys}
    ).values("pk", "model__name", "plan__sha256", *STATIC_FIGURES)
    return {(a["model__name"], a["plan__sha256"]): a for a in found}


def _static_conflicts(
    rows: list[ValidRow], keys: dict[int, ArtifactKey], stored: dict[ArtifactKey, dict]
) -> list[Problem]:
    problems = []
    first: dict[tuple[ArtifactKey, str], tuple[int, int]] = {}  # -> (value, row number)
    for row in rows:
        key = keys[id(row)]
        for name, value in row.static.items():
            known = stored.get(key, {}).get(name)
            if known is not None and known != value:
                message = f"The stored artifact {row.model_name} + {row.plan_text} has {name}"
                problems.append(Problem(row.number, name, f"{message} {known}. Received: {value}"))
                continue
            seen = first.setdefault((key, name), (value, row.number))
            if seen[0] != value:
                message = f"Row {seen[1]} gives this artifact {name} {seen[0]}"
                problems.append(Problem(row.number, name, f"{message}. Received: {value}"))
    return problems


def _mark_duplicates(
    rows: list[ValidRow], keys: dict[int, ArtifactKey], stored: dict[ArtifactKey, dict]
) -> None:
    by_pk = {a["pk"]: key for key, a in stored.items()}
    known: dict[tuple, tuple[int | None, int | None]] = {}
    found = Result.objects.filter(artifact_id__in=by_pk).order_by("pk")
    for r in found.values("pk", "artifact_id", "device__name", "num_threads", *FIGURES):
        where = (by_pk[r["artifact_id"]], r["device__name"], r["num_threads"])
        known.setdefault((*where, _signature(r)), (r["pk"], None))
    for row in rows:
        where = (keys[id(row)], row.device_name, row.threads)
        signature = (*where, _signature(stored_figures(row.figures)))
        if signature in known:
            row.duplicate_of, row.duplicate_row = known[signature]
        else:
            known[signature] = (None, row.number)


def _is_duplicate(row: ValidRow) -> bool:
    return row.duplicate_of is not None or row.duplicate_row is not None


def _duplicate_problem(row: ValidRow) -> Problem:
    same = f"result {row.duplicate_of}" if row.duplicate_of else f"row {row.duplicate_row}"
    return Problem(row.number, "row", f"Identical to {same} (on_duplicate=error).")


def write_rows(rows: list[ValidRow], options: ImportOptions | None = None) -> ImportReport:
    """Store validated rows in one transaction: references, Plans, Artifacts, then Results.

    Returns:
        What was created, and the rows skipped as duplicates (``on_duplicate="skip"``).
    """
    options = options or ImportOptions()
    report = ImportReport()
    with transaction.atomic():
        _create_missing(rows, report)
        plans = {text: _plan(text) for text in dict.fromkeys(r.plan_text for r in rows)}
        artifacts = _artifacts(rows, plans)
        stored = []
        for row in rows:
            if options.on_duplicate == "skip" and _is_duplicate(row):
                report.duplicates.append(row)
                continue
            stored.append(
                Result(
                    artifact=artifacts[(row.model.pk, plans[row.plan_text].pk)],
                    device=row.device,
                    num_threads=row.threads,
                    source=IMPORTED,
                    source_label=row.source_label,
                    **stored_figures(row.figures),
                )
            )
        report.created = Result.objects.bulk_create(stored, batch_size=1000)
    return report


def _plan(text: str) -> Any:
    from compression.plan import Plan as CompressionPlan

    return get_or_create_plan(CompressionPlan.parse(text))


def _create_missing(rows: list[ValidRow], report: ImportReport) -> None:
    """Create the reference models and external devices the rows name (create_missing)."""
    models: dict[str, DNNModel] = {}
    devices: dict[str, Device] = {}
    for row in rows:
        if row.model is None:
            if row.model_name not in models:
                models[row.model_name] = DNNModel.objects.create(
                    name=row.model_name,
                    architecture=row.architecture,
                    dataset=row.dataset,
                    is_baseline=False,
                )
                report.created_models.append(row.model_name)
            row.model = models[row.model_name]
        if row.device is None:
            if row.device_name not in devices:
                devices[row.device_name] = Device.objects.create(
                    name=row.device_name, kind=Device.Kind.EXTERNAL
                )
                report.created_devices.append(row.device_name)
            row.device = devices[row.device_name]


def _artifacts(rows: list[ValidRow], plans: dict[str, Any]) -> dict[tuple[int, int], Artifact]:
    """Each row's artifact, created as imported when new; static figures filled in."""
    from compression.plan import Plan as CompressionPlan

    artifacts: dict[tuple[int, int], Artifact] = {}
    changed: dict[tuple[int, int], set[str]] = {}
    for row in rows:
        plan = plans[row.plan_text]
        key = (row.model.pk, plan.pk)
        if key not in artifacts:
            # The export mode follows from the plan, never the field's default.
            mode = CompressionPlan.from_json(plan.steps).export_mode
            artifacts[key], _ = Artifact.objects.get_or_create(
                model=row.model,
                plan=plan,
                defaults={"status": Artifact.Status.IMPORTED, "export_mode": mode},
            )
            changed[key] = set()
            if not artifacts[key].tflite_file and artifacts[key].export_mode != mode:
                artifacts[key].export_mode = mode
                changed[key].add("export_mode")
        changed[key] |= _add_static(artifacts[key], row)
    for key, fields in changed.items():
        if fields:  # only these columns: a runner may be compressing the artifact meanwhile
            artifacts[key].save(update_fields=[*sorted(fields), "updated_at"])
    return artifacts


def _add_static(artifact: Artifact, row: ValidRow) -> set[str]:
    """Fill the artifact's missing static figures from the row, remembering they were imported.

    Returns:
        The fields changed.
    """
    new = {n: v for n, v in row.static.items() if getattr(artifact, n) is None}
    if not new:
        return set()
    for name, value in new.items():
        setattr(artifact, name, value)
    imported = imported_static(artifact.static_metrics)
    figures = sorted({*(imported.get("figures") or []), *new})
    label = imported.get("source_label") or row.source_label
    metrics = artifact.static_metrics if isinstance(artifact.static_metrics, dict) else {}
    artifact.static_metrics = {
        **metrics,
        IMPORTED_STATIC_KEY: {"source_label": label, "figures": figures},
    }
    return {*new, "static_metrics"}
