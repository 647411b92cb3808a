"""Dashboard pages: thin views that query, then render."""

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from measurements.models import Device, DNNModel, Job, Result, Technique


def overview(request: HttpRequest) -> HttpResponse:
    """Counts, models, devices, the technique catalogue and recent jobs."""
    context = {
        "counts": {
            "models": DNNModel.objects.count(),
            "devices": Device.objects.count(),
            "techniques": Technique.objects.count(),
            "results": Result.objects.count(),
        },
        "models": DNNModel.objects.select_related("dataset")[:20],
        "devices": Device.objects.all()[:20],
        "techniques": Technique.objects.all(),
        "jobs": Job.objects.select_related("artifact__model", "artifact__plan", "device")[:20],
    }
    return render(request, "dashboard/overview.html", context)
