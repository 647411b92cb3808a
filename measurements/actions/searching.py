"""Search that measures as it goes: start a search, advance it one step, stop it.

The strategy (compose by default, ``compression.selection.compose``, or
optuna's TPE) asks for a plan's figures. A plan with a result on the device
(measured, or imported) is read; otherwise, when the user allows predictions
and the plan's compressed artifact has a predicted latency, those figures
are used and say ``predicted``; otherwise the plan is queued (``queue_jobs``: compression and
measurement through the normal job queue) and the search waits. Each call of
``advance_search`` settles the jobs that finished, tells the strategy their
figures and asks for the next plan, so it may be called as often as anyone
likes: after a runner finishes a job, and whenever someone looks at the
search's progress. The strategy is rebuilt from the recorded evaluations at
every step, so a restarted server resumes where it stopped.

One plan is in flight at a time: each measurement informs the next proposal,
which is the point of a sample-efficient search.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from measurements.actions.queueing import REQUEUABLE, queue_jobs, refuse_unrunnable
from measurements.actions.search_space import resolve_techniques, space_of
from measurements.effect_priors import effect_prior_for
from measurements.models import Device, DNNModel, Job, Result
from measurements.search import MAX_EVALUATIONS, Search

log = logging.getLogger(__name__)

PENDING, READ, MEASURED, PREDICTED, FAILED = "pending", "read", "measured", "predicted", "failed"
TOP = 5


def start_search(
    owner: Any,
    model: DNNModel,
    device: Device,
    budgets: Any,
    max_evaluations: int,
    threads: int = 1,
    techniques: Sequence[str] = (),
    seed: int = 0,
    allow_predicted: bool = False,
    strategy: str | None = None,
) -> Search:
    """Create a search and take its first step (read or queue the first plan).

    Args:
        owner: the user who asked (who may see and stop it, with staff).
        model: the base model to compress.
        device: where it will run (jobs are queued on it).
        budgets: a ``compression.selection.Budgets``.
        max_evaluations: N, the plans evaluated at most.
        threads: the thread count measured at.
        techniques: codes to search over; empty = every applicable one.
        seed: the strategy's seed.
        allow_predicted: use predicted figures (labelled) rather than queue a plan.
        strategy: one of ``SEARCH_STRATEGIES``; None = the default (compose).

    Raises:
        ValueError: N or threads out of range, a strategy that cannot measure as
            it goes, an external device, a reference model, or techniques that
            cannot compress the model.
    """
    from compression.selection import DEFAULT_STRATEGY, PRIOR_STRATEGIES, SEARCH_STRATEGIES

    strategy = strategy or DEFAULT_STRATEGY
    if strategy not in SEARCH_STRATEGIES:
        raise ValueError(
            f"A search that measures as it goes runs {' or '.join(SEARCH_STRATEGIES)}. "
            f"Received: strategy={strategy!r}"
        )
    if not 1 <= max_evaluations <= MAX_EVALUATIONS:
        raise ValueError(
            f"The evaluation budget must be from 1 to {MAX_EVALUATIONS}. "
            f"Received: max_evaluations={max_evaluations!r}"
        )
    if threads < 1:
        raise ValueError(f"Thread counts must be at least 1. Received: threads={threads!r}")
    refuse_unrunnable([model], [device])
    codes = resolve_techniques(model, techniques)
    plans = space_of(codes).singles_and_pairs()
    # Learnt once, when the search starts: it resumes with the same start, however
    # the other models' results change while it runs.
    prior = effect_prior_for(model, device, threads) if strategy in PRIOR_STRATEGIES else None
    with transaction.atomic():  # a first step that fails leaves no half-started search
        search = Search.objects.create(
            owner=owner if getattr(owner, "is_authenticated", False) else None,
            model=model,
            device=device,
            num_threads=threads,
            budgets=budgets.to_dict(),
            strategy=strategy,
            seed=seed,
            max_evaluations=max_evaluations,
            allow_predicted=allow_predicted,
            techniques=codes,
            plans=plans,
            prior=prior.get_config() if prior else {},
        )
        return advance_search(search)


def advance_search(search: Search) -> Search:
    """One step: settle finished jobs, then ask for plans until one waits on the queue.

    Cheap when nothing changed (no job of the search finished): the strategy
    is only rebuilt when there is something to tell it or ask it.
    """
    with transaction.atomic():
        search = Search.objects.select_for_update().get(pk=search.pk)
        if search.finished:
            return search
        changed = _settle(search)
        if search.pending and not changed:
            return search
        strategy = _strategy(search)
        predictions = _Predictions(search)
        while not strategy.done and not search.pending:
            plan = strategy.ask()
            entry = _evaluate(search, plan, predictions)
            search.evaluations.append(entry)
            if entry["state"] != PENDING:
                strategy.tell(plan, _candidate(entry))
        if not search.pending:
            search.status = Search.Status.DONE
            search.finished_at = timezone.now()
        _summarise(search, strategy)
        search.save()
    return search


def advance_searches(job_id: int | None = None) -> int:
    """Advance every running search (only those waiting on ``job_id`` when given).

    A failure is logged and never propagates: a runner calls this after its
    job is stored, and a search's trouble must not fail the job.

    Returns:
        How many searches were advanced.
    """
    advanced = 0
    for search in Search.objects.filter(status=Search.Status.RUNNING):
        if job_id is not None and all(e.get("job") != job_id for e in search.pending):
            continue
        try:
            advance_search(search)
            advanced += 1
        except Exception:  # noqa: BLE001 - logged; the caller's work must go on
            log.exception("could not advance search %s", search.pk)
    return advanced


def stop_search(search: Search) -> Search:
    """Stop a running search; the jobs it queued that have not started are cancelled."""
    with transaction.atomic():
        search = Search.objects.select_for_update().get(pk=search.pk)
        if search.finished:
            return search
        for entry in search.pending:
            if entry.get("queued"):
                Job.objects.filter(pk=entry["job"], status=Job.Status.QUEUED).update(
                    status=Job.Status.CANCELLED, finished_at=timezone.now()
                )
            entry.update(state=FAILED, note="the search was stopped before its job finished")
        search.status = Search.Status.STOPPED
        search.finished_at = timezone.now()
        _summarise(search, _strategy(search))
        search.save()
    return search


def _strategy(search: Search) -> Any:
    """The search's strategy (compose or TPE) rebuilt from the evaluations recorded so far."""
    from compression.selection import Budgets, EffectPrior, search_for

    told = [(e["plan"], _candidate(e)) for e in search.evaluations if e["state"] != PENDING]
    prior = EffectPrior.from_config(search.prior) if search.prior else None
    strategy = search_for(
        search.strategy, space_of(search.techniques), Budgets(**search.budgets), search.plans,
        search.seed, search.max_evaluations, told, prior,
    )  # fmt: skip
    strategy.pending.extend(e["plan"] for e in search.pending)
    return strategy


def _candidate(entry: dict[str, Any]) -> Any:
    from compression.selection.candidates import candidate_from_dict

    return candidate_from_dict(entry["candidate"]) if entry.get("candidate") else None


def _entry(plan: str, state: str, candidate: Any = None, job: int | None = None, **more) -> dict:
    return {
        "plan": plan,
        "state": state,
        "job": job,
        "candidate": candidate.to_dict() if candidate is not None else None,
        "note": "",
        **more,
    }


def _settle(search: Search) -> bool:
    """Record the pending plans whose job finished; whether any did."""
    from measurements.candidate_rows import measured_candidate

    changed = False
    for entry in search.pending:
        job = Job.objects.filter(pk=entry["job"]).first()
        if job is None:
            entry.update(state=FAILED, note=f"job {entry['job']} was deleted")
        elif job.status == Job.Status.SUCCEEDED:
            result = Result.objects.filter(job=job).select_related("artifact__plan").first()
            if result is None or result.latency_mean_ms is None:
                entry.update(state=FAILED, note=f"job {job.pk} stored no latency")
            else:
                entry.update(state=MEASURED, candidate=measured_candidate(result).to_dict())
        elif job.status in REQUEUABLE:
            reason = job.error.splitlines()[0] if job.error else "no error recorded"
            entry.update(state=FAILED, note=f"job {job.pk} {job.status}: {reason}")
        else:
            continue
        changed = True
    return changed


def _evaluate(search: Search, plan: str, predictions: _Predictions) -> dict[str, Any]:
    """A plan's evaluation: read from results, predicted if allowed, else queued."""
    from measurements.candidate_rows import measured_candidate

    result = (
        _of_plan(Result.objects, search, plan)
        .filter(latency_mean_ms__isnull=False)
        .select_related("artifact__plan")
        .order_by("-created_at")
        .first()
    )
    if result is not None:
        return _entry(plan, READ, measured_candidate(result))
    predicted = predictions.get(plan)
    if predicted is not None:
        return _entry(plan, PREDICTED, predicted)
    return _queue(search, plan)


def _queue(search: Search, plan: str) -> dict[str, Any]:
    """Queue the plan's compression and measurement; wait on a live job if there is one."""
    try:
        jobs = queue_jobs(
            [search.model], [plan], [search.device], [search.num_threads], user=search.owner
        )
    except ValueError as error:
        return _entry(plan, FAILED, note=f"could not be queued: {error}")
    if jobs:
        return _entry(plan, PENDING, job=jobs[0].pk, queued=True)
    live = (
        _of_plan(Job.objects, search, plan)
        .exclude(status__in=REQUEUABLE)
        .order_by("-created_at")
        .first()
    )
    if live is None:  # succeeded without a result (imported artifacts): nothing to wait on
        return _entry(plan, FAILED, note="its job succeeded but stored no result")
    return _entry(plan, PENDING, job=live.pk, queued=False)


def _of_plan(manager: Any, search: Search, plan: str) -> Any:
    """Rows (results or jobs) of ``plan`` on the search's model, device and thread count."""
    return manager.filter(
        artifact__model=search.model,
        artifact__plan__canonical=plan,
        device=search.device,
        num_threads=search.num_threads,
    )


class _Predictions:
    """Predicted candidates of the model's compressed, unmeasured plans, built when first asked."""

    def __init__(self, search: Search) -> None:
        self.search = search
        self._table: dict[str, Any] | None = None

    def get(self, plan: str) -> Any:
        if not self.search.allow_predicted:
            return None
        if self._table is None:
            from measurements.recommend import build_candidates

            candidates, _ = build_candidates(
                self.search.model, self.search.device, self.search.num_threads
            )
            self._table = {
                c.plan: c
                for c in candidates
                if c.complete and c.sources.get("latency_ms") == "predicted"
            }
        return self._table.get(plan)


def _summarise(search: Search, strategy: Any) -> None:
    """The best plan so far, the ranked plans, what binds, and why nothing fits."""
    from compression.selection import Budgets
    from compression.selection.outcome import binding_budget, closest
    from compression.selection.recommend import score_dict

    failed = {e["plan"]: e["note"] for e in search.evaluations if e["state"] == FAILED}
    outcome = strategy.outcome(why=failed)
    budgets = Budgets(**search.budgets)
    best = outcome.chosen
    states = {e["plan"]: e["state"] for e in search.evaluations}

    def scored(score: Any) -> dict[str, Any]:
        return {**score_dict(score), "evaluation": states.get(score.candidate.plan, "")}

    search.best_plan = best.candidate.plan if best else ""
    search.reasons = outcome.reasons
    search.answer = {
        "best": scored(best) if best else None,
        "ranked": [scored(s) for s in outcome.ranked[:TOP]],
        "binding": binding_budget(best, budgets) if best else None,
        "closest": [
            {**scored(c["score"]), "relax": c["relax"]} for c in closest(outcome.infeasible, TOP)
        ]
        if not best
        else [],
    }
