"""Dashboard pages: thin views that query, then render."""

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from measurements.models import Device, DNNModel, Job, Result, Technique

ACTIVE = (Job.Status.RUNNING, Job.Status.QUEUED)
ACTIVE_SHOWN = 15


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    """Counts, jobs running now (live), the newest results, devices and the catalogue."""
    jobs = Job.objects.select_related("artifact__model", "artifact__plan", "device")
    active = jobs.filter(status__in=ACTIVE)
    active_count = active.count()
    context = {
        "counts": {
            "models": DNNModel.objects.count(),
            "devices": Device.objects.count(),
            "techniques": Technique.objects.count(),
            "results": Result.objects.count(),
            "active_jobs": active_count,
        },
        "more_active": max(active_count - ACTIVE_SHOWN, 0),
        # Running first (the ones moving), then the queue in the order it will run.
        "active_jobs": active.order_by("-status", "created_at", "id")[:ACTIVE_SHOWN],
        "recent_jobs": jobs.exclude(status__in=ACTIVE)[:5],
        "results": Result.objects.select_related("artifact__model", "artifact__plan", "device")[
            :10
        ],
        "models": DNNModel.objects.select_related("dataset")[:20],
        "devices": Device.objects.all()[:20],
        "techniques": Technique.objects.all(),
    }
    return render(request, "dashboard/overview.html", context)
