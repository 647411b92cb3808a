"""A search that measures as it goes: its settings, the plans it evaluated, its answer so far.

The rows of ``evaluations`` are the search's whole state (a search resumes
by replaying them into the strategy): one per plan the strategy asked for,
``{"plan", "state", "job", "candidate", "note"}``, where ``state`` is
``pending`` (a job compresses and measures it), ``read`` (figures already in
the database: measured or imported), ``measured`` (by a job this search
queued), ``predicted`` (the user allowed predicted figures; they say so) or
``failed`` (it could not be evaluated; ``note`` says why). ``candidate`` is
the plan's figures with their provenance, as ``Candidate.to_dict`` writes
them.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q

MAX_EVALUATIONS = 500  # a search's evaluation budget at most (each one may be a compression)


class Search(models.Model):
    """One user's search for the best compression of a model on a device under budgets."""

    class Status(models.TextChoices):
        RUNNING = "running", "running"
        DONE = "done", "done"
        STOPPED = "stopped", "stopped by the user"
        FAILED = "failed", "could not run"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    model = models.ForeignKey("measurements.DNNModel", on_delete=models.CASCADE)
    device = models.ForeignKey("measurements.Device", on_delete=models.CASCADE)
    num_threads = models.PositiveSmallIntegerField(default=1)
    budgets = models.JSONField(help_text="Budgets.to_dict(): limits and weights mu1..mu4.")
    strategy = models.CharField(
        max_length=16, default="compose", help_text="compose (the default) or tpe."
    )
    seed = models.PositiveIntegerField(default=0)
    max_evaluations = models.PositiveIntegerField(help_text="N: plans evaluated at most.")
    allow_predicted = models.BooleanField(
        default=False, help_text="Use predicted figures (labelled so) instead of measuring."
    )
    techniques = models.JSONField(
        default=list, blank=True, help_text="Technique codes searched over; empty = all."
    )
    plans = models.JSONField(default=list, help_text="The plans the strategy may ask for.")
    prior = models.JSONField(
        default=dict,
        blank=True,
        help_text="EffectPrior.get_config(): what the techniques did to the other models on "
        "the device when the search started (compose's start); empty = none.",
    )
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.RUNNING)
    evaluations = models.JSONField(default=list, blank=True)
    best_plan = models.TextField(blank=True)
    answer = models.JSONField(
        default=dict, blank=True, help_text="Best so far, ranked plans, binding budget, reasons."
    )
    reasons = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(max_evaluations__gte=1, max_evaluations__lte=MAX_EVALUATIONS),
                name="search_evaluations_in_range",
            ),
            models.CheckConstraint(condition=Q(num_threads__gte=1), name="search_threads_positive"),
        ]

    def __str__(self) -> str:
        return f"search {self.pk}: {self.model} on {self.device} ({self.status})"

    @property
    def spent(self) -> int:
        """Evaluations spent: every plan asked for (read, predicted, failed, pending ones too)."""
        return len(self.evaluations)

    @property
    def pending(self) -> list[dict[str, Any]]:
        """The evaluations still waiting for a job."""
        return [e for e in self.evaluations if e["state"] == "pending"]

    @property
    def budget(self) -> int:
        """The evaluation budget: N, or every plan when there are fewer."""
        return min(self.max_evaluations, len(self.plans)) if self.plans else self.max_evaluations

    @property
    def finished(self) -> bool:
        return self.status != self.Status.RUNNING

    def visible_to(self, user: Any) -> bool:
        """Its owner and staff may see and stop it."""
        if not getattr(user, "is_authenticated", False):
            return False
        return bool(user.is_staff or (self.owner_id is not None and self.owner_id == user.pk))

    def to_dict(self) -> dict[str, Any]:
        """The search's progress as JSON: spent / N, status, best so far, every evaluation.

        Each evaluated plan's figures carry their provenance (measured,
        imported, estimated, predicted, static) and how the search got them
        (``read`` from results, ``measured`` by its own job, ``predicted``).
        """
        answer = self.answer or {}
        return {
            "id": self.pk,
            "status": self.status,
            "model": self.model.name,
            "device": self.device.name,
            "threads": self.num_threads,
            "strategy": self.strategy,
            "budgets": self.budgets,
            "evaluations_spent": self.spent,
            "max_evaluations": self.max_evaluations,
            "evaluation_budget": self.budget,
            "plans": len(self.plans),
            "pending": len(self.pending),
            "allow_predicted": self.allow_predicted,
            "techniques": self.techniques,
            "prior_networks": (self.prior or {}).get("networks", []),
            "best": answer.get("best"),
            "ranked": answer.get("ranked", []),
            "binding": answer.get("binding"),
            "closest": answer.get("closest", []),
            "reasons": self.reasons,
            "evaluations": [
                {k: e.get(k) for k in ("plan", "state", "job", "note", "candidate")}
                for e in self.evaluations
            ],
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }
