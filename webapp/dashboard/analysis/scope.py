"""Which results a page reads: dataset, models, devices and thread count from the URL.

Defaults make a bare URL useful: the first dataset (by name) that has
results, every model trained on it, every device, and one thread (or the
fewest threads measured). Unknown ids are a ``BadQuery``; a model of another
dataset is left out with a note, so changing the dataset never breaks a page.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, QuerySet
from django.http import QueryDict

from measurements.models import Artifact, Dataset, Device, DNNModel, Result
from measurements.results_cache import memoized
from webapp.dashboard.analysis import params
from webapp.dashboard.analysis.params import BadQuery

DEFAULT_THREADS = 1
ALL_THREADS = "all"  # ?threads=all: no thread-count filter


@dataclass
class Scope:
    """The chosen filters, the options a form offers, and notes about what was ignored."""

    datasets: list[Dataset]
    dataset: Dataset | None
    models: list[DNNModel]
    model_ids: list[int]
    devices: list[Device]
    device_ids: list[int]
    thread_options: list[int] = field(default_factory=list)
    threads: int | None = None
    notes: list[str] = field(default_factory=list)

    def results(self, *, by_threads: bool = True) -> QuerySet[Result]:
        """Results in scope, unordered (callers order only what they need)."""
        qs = Result.objects.order_by()
        if self.dataset is None:
            return qs.none()
        artifacts = Artifact.objects.order_by().filter(model__dataset=self.dataset)
        if self.model_ids:
            artifacts = artifacts.filter(model_id__in=self.model_ids)
        # A semi-join on the few artifacts, not two joins over every result: a third
        # less time at 100,000 results.
        qs = qs.filter(artifact_id__in=artifacts.values("pk"))
        if self.device_ids:
            qs = qs.filter(device_id__in=self.device_ids)
        if by_threads and self.threads is not None:
            qs = qs.filter(num_threads=self.threads)
        return qs

    @property
    def model_names(self) -> dict[int, str]:
        """Model id -> name, for every model of the dataset."""
        return {m.pk: m.name for m in self.models}

    @property
    def device_names(self) -> dict[int, str]:
        """Device id -> name, for every device."""
        return {d.pk: d.name for d in self.devices}

    def describe(self) -> str:
        """Where the results come from, in words, for headings and empty states."""
        names = self.model_names
        models = ", ".join(names[i] for i in self.model_ids) or "every model"
        devices = ", ".join(self.device_names[i] for i in self.device_ids) or "every device"
        threads = f" at {self.threads} thread{'s' * (self.threads != 1)}" if self.threads else ""
        dataset = self.dataset.name if self.dataset else "no dataset"
        return f"{models} on {dataset}, {devices}{threads}"


def resolve(
    query: QueryDict,
    *,
    single_model: bool = False,
    single_device: bool = False,
    by_threads: bool = True,
) -> Scope:
    """The page's Scope from its query string.

    Args:
        query: the request's GET parameters (dataset, model, device, threads).
        single_model: at most one model; defaults to the dataset's first with results.
        single_device: at most one device; defaults to the first with results.
        by_threads: whether the page filters on one thread count.

    Raises:
        BadQuery: a malformed or unknown id, or a malformed thread count.
    """
    model_ids = [params.one_id(query, "model")] if single_model else params.ids(query, "model")
    model_ids = [i for i in model_ids if i is not None]
    chosen_models = _existing(DNNModel, model_ids, "model")
    dataset = _dataset(params.one_id(query, "dataset"), chosen_models)
    scope = Scope(
        datasets=list(Dataset.objects.filter(_with_results())),
        dataset=dataset,
        models=list(DNNModel.objects.filter(dataset=dataset)) if dataset else [],
        model_ids=[],
        devices=list(Device.objects.all()),
        device_ids=[],
    )
    for model in chosen_models:
        if dataset is not None and model.dataset_id == dataset.pk:
            scope.model_ids.append(model.pk)
        else:
            scope.notes.append(f"Model {model.name} is not trained on {dataset}: left out.")
    device_ids = [params.one_id(query, "device")] if single_device else params.ids(query, "device")
    scope.device_ids = [d.pk for d in _existing(Device, [i for i in device_ids if i], "device")]
    if single_model and not scope.model_ids:
        scope.model_ids = _first_with_results(scope, "artifact__model_id")
    if single_device and not scope.device_ids:
        scope.device_ids = _first_with_results(scope, "device_id")
    if by_threads:
        scope.thread_options = thread_options(scope.results(by_threads=False))
        if (query.get("threads") or "").strip() == ALL_THREADS:
            scope.threads = None  # every thread count: results still pair by their own
        else:
            scope.threads = params.threads(query) or _default_threads(scope.thread_options)
    return scope


def thread_options(results: QuerySet[Result]) -> list[int]:
    """The thread counts ``results`` were measured at, kept until the results change.

    A DISTINCT over every result of a dataset costs tens of milliseconds at 100,000.
    """
    distinct = results.values_list("num_threads", flat=True).distinct()
    return memoized(results, "thread options", lambda: sorted(set(distinct)))


def _with_results() -> Exists:
    # Nested EXISTS: per artifact of the dataset, one probe of the result(artifact_id)
    # index, rather than a join over every result (10x faster at 100,000 results).
    measured = Result.objects.order_by().filter(artifact=OuterRef("pk"))
    return Exists(
        Artifact.objects.order_by().filter(model__dataset=OuterRef("pk")).filter(Exists(measured))
    )


def _existing(model: type, wanted: list[int], name: str) -> list:
    found = model.objects.in_bulk(wanted)
    missing = [i for i in wanted if i not in found]
    if missing:
        raise BadQuery(
            f"No {name} has id {missing[0]}; pick one from the list. Received: {name}={missing[0]}"
        )
    return [found[i] for i in wanted]


def _dataset(dataset_id: int | None, models: list[DNNModel]) -> Dataset | None:
    if dataset_id is not None:
        return _existing(Dataset, [dataset_id], "dataset")[0]
    if models:
        return models[0].dataset
    return Dataset.objects.filter(_with_results()).first()


def _first_with_results(scope: Scope, column: str) -> list[int]:
    # One id (the smallest) among the results in scope; none when there are none.
    first = scope.results(by_threads=False).order_by(column).values_list(column, flat=True).first()
    return [first] if first is not None else []


def _default_threads(options: list[int]) -> int:
    if not options or DEFAULT_THREADS in options:
        return DEFAULT_THREADS
    return options[0]
