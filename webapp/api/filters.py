"""Query-parameter filters and ordering, with plain querysets (no django-filter).

Each endpoint declares its parameters as ``Param`` objects: a parser that
turns one text value into a Python value (raising ValueError with a message)
and a condition that turns the parsed values into a ``Q``. A parameter may be
repeated or hold comma-separated values (``?model=1,2``), which match any of
them. A value that does not parse, or a parameter the endpoint does not know,
is a 400 naming the parameter, never a 500.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from typing import Any

from django.db.models import F, Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime
from drf_spectacular.utils import OpenApiParameter
from rest_framework.exceptions import ValidationError

from compression.categories import CATEGORIES, SCOPES
from measurements.models import Artifact, Dataset, Device, Job, Plan, Result

# Technique codes as compression.plan writes them (W3, Q-int8); copied to avoid importing it.
CODE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
# Parameters every list endpoint understands besides its filters.
COMMON = ("ordering", "page", "page_size", "format")
MAX_ID = 2**63 - 1


@dataclass(frozen=True)
class Param:
    """One filter parameter.

    Attributes:
        name: the query parameter.
        parse: text -> value; raises ValueError with the reason.
        condition: parsed values -> the Q rows must satisfy.
        description: shown in the schema.
        schema: the OpenAPI schema of one value.
        many: whether several values may be given (any of them matches).
    """

    name: str
    parse: Callable[[str], Any]
    condition: Callable[[list[Any]], Q]
    description: str
    schema: dict[str, Any]
    many: bool = True

    def openapi(self) -> OpenApiParameter:
        """The parameter as drf-spectacular describes it."""
        schema = {"type": "array", "items": self.schema} if self.many else self.schema
        return OpenApiParameter(
            self.name, type=schema, description=self.description, explode=False, style="form"
        )


def parse_id(text: str) -> int:
    """A positive integer id."""
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise ValueError(f"must be a positive integer id, got {text!r}")
    return int(text)


def parse_count(text: str) -> int:
    """A thread count: an integer from 1 to 32767."""
    if not text.isdigit() or not 0 < int(text) <= 32767:
        raise ValueError(f"must be an integer from 1 to 32767, got {text!r}")
    return int(text)


def parse_code(text: str) -> str:
    """A technique code such as W3 or Q-int8."""
    if not CODE.fullmatch(text):
        raise ValueError(f"must be a technique code such as W3 or Q-int8, got {text!r}")
    return text


def parse_bool(text: str) -> bool:
    """true/false (also 1/0)."""
    if text.lower() not in ("true", "false", "1", "0"):
        raise ValueError(f"must be true or false, got {text!r}")
    return text.lower() in ("true", "1")


def parse_text(text: str) -> str:
    """Any text but NUL, which PostgreSQL cannot compare."""
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


def choice_parser(choices: Sequence[str]) -> Callable[[str], str]:
    """A parser accepting only ``choices``."""

    def parse(text: str) -> str:
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {text!r}")
        return text

    return parse


def parse_moment(text: str, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time; a bare date means its start (or its end)."""
    # A bare date first: parse_datetime would read it as midnight.
    try:
        day = parse_date(text)
        moment = None if day else parse_datetime(text)
    except ValueError:
        day = moment = None
    if day is not None:
        moment = datetime.combine(day, time.max if end_of_day else time.min)
    if moment is None:
        raise ValueError(f"must be an ISO date or date-time such as 2025-01-31, got {text!r}")
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    # In UTC: PostgreSQL refuses offsets beyond +-15:59 that ISO 8601 text may carry.
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"is out of the supported date range, got {text!r}") from None


def _in(lookup: str) -> Callable[[list[Any]], Q]:
    return lambda values: Q(**{f"{lookup}__in": values})


def _plans_with(lookup: str, plan_path: str) -> Callable[[list[Any]], Q]:
    # Through a subquery so a plan with several matching techniques is one row, not many.
    def condition(values: list[Any]) -> Q:
        plans = Plan.objects.filter(**{f"techniques__{lookup}__in": values}).values("pk")
        return Q(**{f"{plan_path}__in": plans})

    return condition


ID = {"type": "integer", "minimum": 1}
TEXT = {"type": "string", "minLength": 1}


def ids(name: str, lookup: str, what: str) -> Param:
    """``?name=1,2``: rows whose ``lookup`` is one of these ids."""
    return Param(name, parse_id, _in(lookup), f"{what} id(s), comma-separated.", ID)


def choices(name: str, lookup: str, options: Sequence[str], what: str) -> Param:
    """``?name=a,b``: rows whose ``lookup`` is one of these choices."""
    schema = {"type": "string", "enum": list(options)}
    return Param(name, choice_parser(options), _in(lookup), what, schema)


def texts(name: str, lookup: str, what: str) -> Param:
    """``?name=a,b``: rows whose ``lookup`` is one of these texts."""
    return Param(name, parse_text, _in(lookup), what, TEXT)


def flag(name: str, field: str, what: str) -> Param:
    """``?name=true|false``: rows whose boolean ``field`` has that value."""
    return Param(
        name, parse_bool, lambda v: Q(**{field: v[0]}), what, {"type": "boolean"}, many=False
    )


def thread_counts(lookup: str = "num_threads") -> Param:
    """``?threads=1,4``: rows measured at any of these thread counts."""
    schema = {"type": "integer", "minimum": 1, "maximum": 32767}
    return Param("threads", parse_count, _in(lookup), "Thread count(s).", schema)


def created_range(lookup: str = "created_at") -> list[Param]:
    """``created_after`` / ``created_before`` (inclusive; a bare date covers its day)."""
    schema = {"type": "string", "format": "date-time"}
    return [
        Param(
            "created_after",
            parse_moment,
            lambda v: Q(**{f"{lookup}__gte": v[0]}),
            "Created at or after this ISO date or date-time.",
            schema,
            many=False,
        ),
        Param(
            "created_before",
            lambda text: parse_moment(text, end_of_day=True),
            lambda v: Q(**{f"{lookup}__lte": v[0]}),
            "Created at or before this ISO date or date-time (a date includes its whole day).",
            schema,
            many=False,
        ),
    ]


def technique_params(plan_path: str) -> list[Param]:
    """``technique`` (codes) and ``category`` filters on the plan at ``plan_path``."""
    categories = list(CATEGORIES)
    return [
        Param(
            "technique",
            parse_code,
            _plans_with("code", plan_path),
            "Plans using any of these technique codes (e.g. W3,Q-int8).",
            {"type": "string", "pattern": f"^{CODE.pattern}$"},
        ),
        Param(
            "category",
            choice_parser(categories),
            _plans_with("category", plan_path),
            "Plans using a technique of any of these categories.",
            {"type": "string", "enum": categories},
        ),
    ]


def apply_filters(queryset: QuerySet, query: QueryDict, params: Iterable[Param]) -> QuerySet:
    """Filter ``queryset`` by the query's values of ``params``.

    Raises:
        ValidationError: (a 400) naming each parameter whose value is bad.
    """
    errors: dict[str, list[str]] = {}
    for param in params:
        raw = [part.strip() for value in query.getlist(param.name) for part in value.split(",")]
        if not raw:
            continue
        if not param.many and len(raw) > 1:
            errors[param.name] = [f"{param.name} takes one value, got {len(raw)}."]
            continue
        try:
            values = [param.parse(text) for text in raw]
        except ValueError as exc:
            errors[param.name] = [f"{param.name} {exc}."]
            continue
        queryset = queryset.filter(param.condition(values))
    if errors:
        raise ValidationError(errors)
    return queryset


def check_known(query: QueryDict, known: Iterable[str]) -> None:
    """Refuse parameters the endpoint does not understand (a typo would filter nothing).

    Raises:
        ValidationError: naming the unknown parameters and the known ones.
    """
    known = set(known)
    unknown = sorted(set(query) - known)
    if unknown:
        listing = ", ".join(sorted(known))
        raise ValidationError({name: [f"Unknown parameter. Known: {listing}."] for name in unknown})


def apply_ordering(queryset: QuerySet, query: QueryDict, fields: dict[str, str]) -> QuerySet:
    """Order by ``?ordering=a,-b`` over the public names in ``fields`` (empty figures last).

    Raises:
        ValidationError: naming ``ordering`` when a field is not orderable.
    """
    text = query.get("ordering", "").strip()
    if not text:
        return queryset
    terms = []
    for part in (p.strip() for p in text.split(",")):
        name = part.removeprefix("-")
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise ValidationError({"ordering": [f"Cannot order by {name!r}. Known: {known}."]})
        expression = F(fields[name])
        terms.append(
            expression.desc(nulls_last=True)
            if part.startswith("-")
            else expression.asc(nulls_last=True)
        )
    # The primary key last keeps pages stable when the chosen fields tie.
    return queryset.order_by(*terms, "pk")


def ordering_param(fields: dict[str, str]) -> OpenApiParameter:
    """The ``ordering`` parameter as drf-spectacular describes it: names, '-' for descending."""
    names = sorted(fields)
    return OpenApiParameter(
        "ordering",
        type={
            "type": "array",
            "items": {"type": "string", "enum": [*names, *(f"-{n}" for n in names)]},
        },
        explode=False,
        style="form",
        description=f"Comma-separated, '-' for descending. Fields: {', '.join(names)}.",
    )


# --- Each endpoint's parameters and orderable fields ----------------------------------

DATASET_PARAMS = [
    choices("source", "source", Dataset.Source.values, "Dataset source(s)."),
    *created_range(),
]
MODEL_PARAMS = [
    ids("dataset", "dataset_id", "Dataset"),
    texts("architecture", "architecture", "Architecture family name(s), e.g. lenet."),
    flag("baseline", "is_baseline", "true: baselines only; false: derived models only."),
    *created_range(),
]
TECHNIQUE_PARAMS = [
    choices("category", "category", list(CATEGORIES), "Technique category(ies)."),
    choices("applies_to", "applies_to", list(SCOPES), "Layer scope(s)."),
]
PLAN_PARAMS = [*technique_params("pk"), *created_range()]
ARTIFACT_PARAMS = [
    ids("model", "model_id", "Base model"),
    ids("dataset", "model__dataset_id", "Dataset"),
    ids("plan", "plan_id", "Plan"),
    *technique_params("plan"),
    choices("status", "status", Artifact.Status.values, "Artifact status(es)."),
    *created_range(),
]
DEVICE_PARAMS = [
    choices("kind", "kind", Device.Kind.values, "Device kind(s)."),
    flag("online", "online", "true: online devices only; false: offline ones."),
    *created_range(),
]
JOB_PARAMS = [
    ids("model", "artifact__model_id", "Base model"),
    ids("dataset", "artifact__model__dataset_id", "Dataset"),
    ids("plan", "artifact__plan_id", "Plan"),
    ids("artifact", "artifact_id", "Artifact"),
    ids("device", "device_id", "Device"),
    *technique_params("artifact__plan"),
    choices("status", "status", Job.Status.values, "Job status(es)."),
    thread_counts(),
    *created_range(),
]
RESULT_PARAMS = [
    ids("model", "artifact__model_id", "Base model"),
    ids("dataset", "artifact__model__dataset_id", "Dataset"),
    ids("plan", "artifact__plan_id", "Plan"),
    ids("artifact", "artifact_id", "Artifact"),
    ids("device", "device_id", "Device"),
    *technique_params("artifact__plan"),
    choices("status", "job__status", Job.Status.values, "Status(es) of the measuring job."),
    choices("source", "source", Result.Source.values, "measured and/or imported."),
    texts("source_label", "source_label", "Import label(s)."),
    thread_counts(),
    *created_range(),
]

DATASET_ORDERING = {"name": "name", "created_at": "created_at", "id": "pk"}
MODEL_ORDERING = {**DATASET_ORDERING, "param_count": "param_count", "architecture": "architecture"}
TECHNIQUE_ORDERING = {"code": "code", "name": "name", "category": "category"}
PLAN_ORDERING = {"canonical": "canonical", "created_at": "created_at", "id": "pk"}
ARTIFACT_ORDERING = {
    "created_at": "created_at",
    "id": "pk",
    "model": "model__name",
    "plan": "plan__canonical",
    "status": "status",
    "size": "file_size",
    "params": "params",
    "macs": "macs",
    "accuracy": "accuracy",
}
DEVICE_ORDERING = {**DATASET_ORDERING, "kind": "kind", "last_seen": "last_seen"}
JOB_ORDERING = {
    "created_at": "created_at",
    "id": "pk",
    "status": "status",
    "device": "device__name",
    "threads": "num_threads",
    "started_at": "started_at",
    "finished_at": "finished_at",
}
RESULT_ORDERING = {
    "created_at": "created_at",
    "id": "pk",
    "model": "artifact__model__name",
    "plan": "artifact__plan__canonical",
    "device": "device__name",
    "threads": "num_threads",
    "latency": "latency_mean_ms",
    "energy": "energy_mj",
    "memory": "peak_memory_bytes",
    "accuracy": "accuracy",
    "f1": "f1",
    "size": "artifact__file_size",
}
