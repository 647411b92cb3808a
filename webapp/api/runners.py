"""/api/runner/…: what a runner host on another machine calls, with its runner token.

A host says hello, claims a job (the server takes the lease), heartbeats,
reports progress, downloads the .tflite by its SHA-256, and stores the
result, or fails or releases the job. A compressing host claims an
artifact, downloads its base model, uploads the two files it produced by
SHA-256 and completes the artifact. Every job route answers 404 for a job
on a device the token does not serve, and 409 once the host's lease is lost
(cancelled, expired and taken, or released by revoking its token).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import StreamingHttpResponse
from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from device_runner import api_queue
from measurements import files
from measurements.actions.results import LeaseLost
from measurements.models import Job, RunnerToken
from webapp.api import runner_inputs as inputs
from webapp.api.runner_auth import IsRunner, MayCompress, MayMeasure, RunnerTokenAuthentication

LOST = {"detail": "This host no longer holds the job's lease; drop the job."}


@extend_schema(exclude=True)  # a host protocol, not the lab's public API (see the README)
class RunnerView(APIView):
    """Base of the runner routes: runner-token authentication only."""

    # A deliberate exception to the API's defaults (REST_FRAMEWORK in webapp/settings.py):
    # a host protocol, where a user's session or token must never be accepted. Named and
    # held to this rule in tests/webapp/api/test_api_rules.py.
    authentication_classes = [RunnerTokenAuthentication]
    permission_classes = [IsRunner]

    @property
    def token(self) -> RunnerToken:
        return self.request.auth

    def valid(self, form_class: type[serializers.Serializer]) -> dict[str, Any]:
        form = form_class(data=self.request.data)
        form.is_valid(raise_exception=True)
        return form.validated_data

    def owner(self, data: dict[str, Any]) -> str:
        try:
            return api_queue.lease_owner(self.token, data["owner"])
        except ValueError as exc:
            raise ValidationError({"owner": [str(exc)]}) from exc


class HelloView(RunnerView):
    """The host's token, role and devices (with what their drivers need)."""

    def post(self, request: Request) -> Response:
        data = self.valid(inputs.HelloInput)
        mode, token = data["mode"], self.token
        if (mode != "compress" and not token.may_measure) or (
            mode != "measure" and not token.may_compress
        ):
            raise PermissionDenied(f"Token {token.name!r} has role {token.role!r}, not {mode!r}.")
        devices = api_queue.token_devices(token) if mode != "compress" else []
        return Response(
            {
                "token": token.name,
                "role": token.role,
                "lease_seconds": settings.JOB_LEASE_SECONDS,
                "devices": [api_queue.device_document(d) for d in devices],
            }
        )


class ClaimJobView(RunnerView):
    """Lease the oldest claimable job on the token's devices; 204 when there is none."""

    permission_classes = [MayMeasure]

    def post(self, request: Request) -> Response:
        data = self.valid(inputs.ClaimInput)
        owner = self.owner(data)
        try:
            job = api_queue.claim_job(self.token, owner, data["devices"], data["ready_only"])
        except PermissionError as exc:
            raise PermissionDenied(str(exc)) from exc
        if job is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        return Response({"owner": owner, "job": api_queue.job_document(job)})


class HeldJobView(RunnerView):
    """A route on one job the host holds."""

    permission_classes = [MayMeasure]

    def job(self, pk: int) -> Job:
        job = api_queue.visible_job(self.token, pk)
        if job is None:
            raise NotFound(f"No job {pk} on this token's devices.")
        return job


class JobHeartbeatView(HeldJobView):
    def post(self, request: Request, pk: int) -> Response:
        owner = self.owner(self.valid(inputs.OwnerInput))
        if not api_queue.heartbeat(self.job(pk), owner):
            return Response(LOST, status=status.HTTP_409_CONFLICT)
        return Response({"lease_seconds": settings.JOB_LEASE_SECONDS})


class JobProgressView(HeldJobView):
    def post(self, request: Request, pk: int) -> Response:
        data = self.valid(inputs.ProgressInput)
        job, owner = self.job(pk), self.owner(data)
        if not api_queue.report_progress(job, owner, data["progress"], data["stage"], data["line"]):
            return Response(LOST, status=status.HTTP_409_CONFLICT)
        return Response({"progress": job.progress, "stage": job.stage})


class JobResultView(HeldJobView):
    def post(self, request: Request, pk: int) -> Response:
        data = self.valid(inputs.ResultInput)
        job, owner = self.job(pk), self.owner(data)
        try:
            api_queue.finish_job(job, owner, data["measurement"])
        except LeaseLost:
            return Response(LOST, status=status.HTTP_409_CONFLICT)
        return Response({"job": job.pk, "result": job.result.pk}, status=status.HTTP_201_CREATED)


class JobFailView(HeldJobView):
    def post(self, request: Request, pk: int) -> Response:
        data = self.valid(inputs.FailInput)
        job, owner = self.job(pk), self.owner(data)
        state = api_queue.fail_job(
            job, owner, data["error"], data["retryable"], data["device_offline"], data["log"]
        )
        if state is None:
            return Response(LOST, status=status.HTTP_409_CONFLICT)
        return Response({"status": state})


class JobReleaseView(HeldJobView):
    def post(self, request: Request, pk: int) -> Response:
        data = self.valid(inputs.ReleaseInput)
        job, owner = self.job(pk), self.owner(data)
        if not api_queue.release_job(job, owner, data["reason"]):
            return Response(LOST, status=status.HTTP_409_CONFLICT)
        return Response({"status": "queued"})


class FileView(RunnerView):
    """GET a model or artifact file by SHA-256, streamed; ``Range: bytes=N-`` resumes."""

    def get(self, request: Request, sha256: str) -> Any:
        try:
            files.check_sha256(sha256)
        except ValueError as exc:
            raise ValidationError({"sha256": [str(exc)]}) from exc
        stored = api_queue.may_download(self.token, sha256)
        if stored is None:
            raise NotFound(f"No file with SHA-256 {sha256} for this token.")
        size = stored.size
        offset = inputs.range_start(request.headers.get("Range", ""), size)
        if offset is None:
            return Response(
                {"detail": f"Range not satisfiable; the file has {size} bytes."},
                status=status.HTTP_416_REQUESTED_RANGE_NOT_SATISFIABLE,
                headers={"Content-Range": f"bytes */{size}"},
            )
        response = StreamingHttpResponse(
            files.read_from(stored, offset), content_type="application/octet-stream"
        )
        response["X-Content-SHA256"] = sha256
        response["Accept-Ranges"] = "bytes"
        response["Content-Length"] = str(size - offset)
        if offset:
            response.status_code = status.HTTP_206_PARTIAL_CONTENT
            response["Content-Range"] = f"bytes {offset}-{size - 1}/{size}"
        return response


class UploadView(RunnerView):
    """PUT a produced file's bytes under its SHA-256; kept only when they hash to it."""

    permission_classes = [MayCompress]

    def put(self, request: Request, sha256: str) -> Response:
        django_request = request._request
        chunks = iter(lambda: django_request.read(files.CHUNK), b"")
        try:
            size = files.receive_upload(sha256, chunks, settings.MAX_MODEL_UPLOAD_BYTES)
        except files.ChecksumMismatch as exc:
            return Response({"detail": str(exc), "code": "checksum_mismatch"}, status=400)
        except ValueError as exc:
            raise ValidationError({"sha256": [str(exc)]}) from exc
        return Response({"sha256": sha256, "size": size}, status=status.HTTP_201_CREATED)


runner_patterns = [
    path("runner/hello", HelloView.as_view(), name="runner-hello"),
    path("runner/jobs/claim", ClaimJobView.as_view(), name="runner-job-claim"),
    path("runner/jobs/<int:pk>/heartbeat", JobHeartbeatView.as_view(), name="runner-job-heartbeat"),
    path("runner/jobs/<int:pk>/progress", JobProgressView.as_view(), name="runner-job-progress"),
    path("runner/jobs/<int:pk>/result", JobResultView.as_view(), name="runner-job-result"),
    path("runner/jobs/<int:pk>/fail", JobFailView.as_view(), name="runner-job-fail"),
    path("runner/jobs/<int:pk>/release", JobReleaseView.as_view(), name="runner-job-release"),
    path("runner/files/<str:sha256>", FileView.as_view(), name="runner-file"),
    path("runner/uploads/<str:sha256>", UploadView.as_view(), name="runner-upload"),
]
