"""Management pages: thin views that check access, validate a form, act, then render.

Access: every page needs a logged-in user (anonymous users are sent to the
login page); uploading models, queueing, cancelling and retrying need only
that; registering a device and testing its connection (which runs its driver
on this server) and deleting need a staff account (403 otherwise). Actions
are POST-only and CSRF-protected.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_POST

from measurements.models import Device, DNNModel, Job, Plan, Result, RunnerToken, Technique
from webapp.dashboard.consumers import job_state
from webapp.dashboard.manage import uploads
from webapp.dashboard.manage.forms import DeviceForm, JobRequestForm, ModelUploadForm
from webapp.dashboard.manage.health import ConnectionTest, check_connection

JOBS_PER_PAGE = 50
ACTIVE = (Job.Status.QUEUED, Job.Status.RUNNING)


def staff_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anonymous users go to the login page; logged-in users who are not staff get 403."""

    @wraps(view)
    @login_required
    def wrapped(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not request.user.is_staff:
            raise PermissionDenied("Only staff accounts may do this.")
        return view(request, *args, **kwargs)

    return wrapped


def _back(request: HttpRequest, default: str) -> HttpResponseRedirect:
    """Redirect to the form's ``next`` when it is a local URL, else to ``default``."""
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(
        target, {request.get_host()}, require_https=request.is_secure()
    ):
        target = default
    return redirect(target)


# --- Models -----------------------------------------------------------------------------


@login_required
def model_list(request: HttpRequest) -> HttpResponse:
    models = DNNModel.objects.select_related("dataset").annotate(
        artifact_count=Count("artifacts", distinct=True),
        result_count=Count("artifacts__results", distinct=True),
    )
    return render(request, "dashboard/manage/model_list.html", {"models": models})


@login_required
def model_detail(request: HttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(DNNModel.objects.select_related("dataset", "created_by"), pk=pk)
    artifacts = model.artifacts.select_related("plan").annotate(result_count=Count("results"))
    context = {"model": model, "artifacts": artifacts[:200], "artifact_count": artifacts.count()}
    return render(request, "dashboard/manage/model_detail.html", context)


@csrf_exempt  # the handler below must be installed before CSRF reads the body…
@login_required
def model_upload(request: HttpRequest) -> HttpResponse:
    request.upload_handlers.insert(
        0, uploads.SizeLimitHandler(request, settings.MAX_MODEL_UPLOAD_BYTES)
    )
    return _model_upload(request)


def _reference_model(request: HttpRequest, form: ModelUploadForm) -> HttpResponse:
    from measurements.actions import register_reference_model

    data = form.cleaned_data
    model = register_reference_model(
        data["name"], data["architecture"], form.dataset_row(), data["param_count"] or 0,
        user=request.user,
    )  # fmt: skip
    messages.success(request, f"Reference model {model.name} registered (reference: no file).")
    return redirect("dashboard:manage:model", pk=model.pk)


@csrf_protect  # …so the CSRF check runs here, after it.
def _model_upload(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        form = ModelUploadForm()
        return render(request, "dashboard/manage/model_upload.html", {"form": form})
    form = ModelUploadForm(request.POST, request.FILES, too_large=uploads.too_large(request))
    if form.is_valid() and not form.cleaned_data["file"]:
        return _reference_model(request, form)
    if form.is_valid():
        data = form.cleaned_data
        try:
            model = uploads.register_upload(
                data["file"], data["name"], data["architecture"], form.dataset_row(), request.user
            )
        except ValueError as exc:  # ModelFileError: corrupt, Lambda layer, pickled module…
            form.add_error("file", str(exc))
        else:
            messages.success(
                request, f"Model {model.name} registered ({model.param_count:,} parameters)."
            )
            return redirect("dashboard:manage:model", pk=model.pk)
    return render(request, "dashboard/manage/model_upload.html", {"form": form}, status=400)


# --- Devices ----------------------------------------------------------------------------


@login_required
def device_list(request: HttpRequest) -> HttpResponse:
    devices = Device.objects.annotate(
        active_jobs=Count("jobs", filter=Q(jobs__status__in=ACTIVE), distinct=True),
        result_count=Count("results", distinct=True),
    )
    hosts = RunnerToken.objects.prefetch_related("devices").order_by("revoked_at", "name")
    context = {"devices": devices, "hosts": hosts}
    return render(request, "dashboard/manage/device_list.html", context)


@login_required
def device_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _render_device(request, get_object_or_404(Device, pk=pk))


@require_POST
@staff_required
def device_test(request: HttpRequest, pk: int) -> HttpResponse:
    device = get_object_or_404(Device, pk=pk)
    health = check_connection(device)
    device.refresh_from_db()
    return _render_device(request, device, health)


def _render_device(
    request: HttpRequest, device: Device, health: ConnectionTest | None = None
) -> HttpResponse:
    context = {
        "device": device,
        "health": health,
        "jobs": device.jobs.select_related("artifact__model", "artifact__plan")[:10],
        "job_counts": dict(device.jobs.values_list("status").annotate(n=Count("id"))),
        "result_count": device.results.count(),
    }
    return render(request, "dashboard/manage/device_detail.html", context)


@staff_required
def device_new(request: HttpRequest) -> HttpResponse:
    form = DeviceForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            device = form.save()
            messages.success(request, f"Device {device.name} registered. Test its connection.")
            return redirect("dashboard:manage:device", pk=device.pk)
        return render(request, "dashboard/manage/device_form.html", {"form": form}, status=400)
    return render(request, "dashboard/manage/device_form.html", {"form": form})


# --- Techniques -------------------------------------------------------------------------


@login_required
def technique_list(request: HttpRequest) -> HttpResponse:
    techniques = Technique.objects.annotate(plan_count=Count("plans", distinct=True))
    groups: dict[str, list[Technique]] = {}
    for technique in techniques.order_by("category", "code"):
        groups.setdefault(technique.get_category_display(), []).append(technique)
    return render(request, "dashboard/manage/technique_list.html", {"groups": groups})


@login_required
def technique_detail(request: HttpRequest, code: str) -> HttpResponse:
    technique = get_object_or_404(Technique, code=code)
    plans = Plan.objects.filter(techniques=technique).annotate(
        artifact_count=Count("artifacts", distinct=True),
        result_count=Count("artifacts__results", distinct=True),
    )
    context = {"technique": technique, "plans": plans[:100], "plan_count": plans.count()}
    return render(request, "dashboard/manage/technique_detail.html", context)


# --- Jobs -------------------------------------------------------------------------------


@login_required
def job_list(request: HttpRequest) -> HttpResponse:
    status = request.GET.get("status", "")
    jobs = Job.objects.select_related("artifact__model", "artifact__plan", "device")
    if status in Job.Status.values:
        jobs = jobs.filter(status=status)
    else:
        status = ""
    page = Paginator(jobs, JOBS_PER_PAGE).get_page(request.GET.get("page"))
    counts = dict(Job.objects.values_list("status").annotate(n=Count("id")))
    tabs = [(s, counts.get(s, 0)) for s in Job.Status.values]
    context = {"page": page, "status": status, "tabs": tabs, "total": sum(counts.values())}
    return render(request, "dashboard/manage/job_list.html", context)


@login_required
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(
        Job.objects.select_related(
            "artifact__model__dataset", "artifact__plan", "device", "created_by"
        ),
        pk=pk,
    )
    # The same log tail the WebSocket sends, so the first paint matches the live updates.
    state = job_state(job.pk) or {}
    context = {"job": job, "log_tail": state.get("log_tail", "")}
    return render(request, "dashboard/manage/job_detail.html", context)


@login_required
def job_new(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        form = JobRequestForm(initial=_job_initial(request))
        return render(request, "dashboard/manage/job_form.html", _job_form_context(form))
    form = JobRequestForm(request.POST)
    if not form.is_valid():
        return render(
            request, "dashboard/manage/job_form.html", _job_form_context(form), status=400
        )
    if request.POST.get("action") == "preview":
        context = _job_form_context(form, preview=form.preview())
        return render(request, "dashboard/manage/job_form.html", context)
    return _queue(request, form)


def _queue(request: HttpRequest, form: JobRequestForm) -> HttpResponse:
    from measurements.actions import queue_jobs

    data = form.cleaned_data
    expected = form.preview()
    jobs = queue_jobs(
        list(data["models"]),
        form.plan_texts(),
        list(data["devices"]),
        data["threads"],
        data["protocol"],
        request.user,
    )
    skipped = expected.combinations - len(jobs)
    note = f" ({skipped} already queued or done were skipped)" if skipped else ""
    messages.success(request, f"Queued {len(jobs)} job{'s' if len(jobs) != 1 else ''}{note}.")
    return redirect(reverse("dashboard:manage:jobs") + ("?status=queued" if jobs else ""))


def _job_initial(request: HttpRequest) -> dict:
    """Pre-selections from links such as /jobs/new/?models=3&techniques=W3.

    With a single model or device there is nothing to choose: it is ticked.
    """
    initial: dict[str, list] = {"techniques": request.GET.getlist("techniques")}
    for name, rows in (("models", DNNModel.objects), ("devices", Device.objects)):
        given = [v for v in request.GET.getlist(name) if v.isdigit()]
        only = list(rows.values_list("pk", flat=True)[:2])
        initial[name] = given or (only if len(only) == 1 else [])
    return initial


def _job_form_context(form: JobRequestForm, preview=None) -> dict:
    from webapp.dashboard.manage.planning import sweep_texts

    return {"form": form, "preview": preview, "sweep_count": len(sweep_texts())}


@require_POST
@login_required
def job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=pk)
    if job.cancel():
        messages.success(request, f"Job {job.pk} cancelled.")
    else:
        job.refresh_from_db(fields=["status"])
        messages.error(
            request, f"Job {job.pk} is {job.status}; only queued or running jobs can be cancelled."
        )
    return _back(request, reverse("dashboard:manage:job", args=[job.pk]))


@require_POST
@login_required
def job_retry(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=pk)
    if job.retry():
        messages.success(request, f"Job {job.pk} queued again.")
    else:
        job.refresh_from_db(fields=["status"])
        messages.error(
            request, f"Job {job.pk} is {job.status}; only failed or cancelled jobs can be retried."
        )
    return _back(request, reverse("dashboard:manage:job", args=[job.pk]))


@require_POST
@staff_required
def job_delete(request: HttpRequest, pk: int) -> HttpResponse:
    job = get_object_or_404(Job, pk=pk)
    if job.status == Job.Status.RUNNING:
        messages.error(request, f"Job {job.pk} is running; cancel it before deleting it.")
        return redirect("dashboard:manage:job", pk=job.pk)
    job.delete()  # its Result, if any, goes with it (Result.job cascades)
    messages.success(request, f"Job {pk} deleted.")
    return redirect("dashboard:manage:jobs")


@login_required
def job_result(request: HttpRequest, pk: int) -> HttpResponse:
    """The result page of a finished job (a stable link for the live job page)."""
    result = get_object_or_404(Result, job_id=pk)
    return redirect(f"/results/{result.pk}/")
