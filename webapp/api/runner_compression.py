"""/api/runner/artifacts/…: compression where the compute is, for hosts whose token may compress.

A host claims an artifact (the server takes its compression lease, the same
lease a runner on the database takes), downloads the base model by SHA-256,
renews the lease while it works, uploads the two files by SHA-256 and
completes the artifact; or gives it back, or marks it failed. Answers 409
once the lease is lost (expired and taken over, or its token revoked).
"""

from __future__ import annotations

from django.conf import settings
from django.urls import path
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.request import Request
from rest_framework.response import Response

from device_runner import api_queue
from measurements.actions.artifacts import ArtifactBusy
from measurements.models import Artifact
from webapp.api.runner_auth import MayCompress
from webapp.api.runner_inputs import OwnerInput
from webapp.api.runners import LOST, RunnerView

KEY_PATTERN = r"^[A-Za-z0-9_.-]{1,100}$"


class ClaimCompressionInput(OwnerInput):
    artifact = serializers.IntegerField(min_value=1, allow_null=True, default=None)


class FailCompressionInput(OwnerInput):
    error = serializers.CharField(max_length=5000)


class CompleteInput(OwnerInput):
    # Absent for a .tflite or .pt2 model: its compression writes no Keras file.
    keras_sha256 = serializers.RegexField(r"^[0-9a-f]{64}$", required=False)
    tflite_sha256 = serializers.RegexField(r"^[0-9a-f]{64}$")
    key = serializers.RegexField(KEY_PATTERN)
    export_mode = serializers.CharField(max_length=10)
    static_metrics = serializers.DictField()
    accuracy_metrics = serializers.DictField()
    seconds = serializers.FloatField(min_value=0)


class ArtifactStateView(RunnerView):
    """An artifact's status and .tflite hash, for a host holding one of its jobs."""

    def get(self, request: Request, pk: int) -> Response:
        artifact = api_queue.visible_artifact(self.token, pk)
        if artifact is None:
            raise NotFound(f"No artifact {pk} for this token.")
        return Response(api_queue.artifact_state(artifact))


class ClaimCompressionView(RunnerView):
    """Take an artifact's compression lease; 204 when there is nothing to compress."""

    permission_classes = [MayCompress]

    def post(self, request: Request) -> Response:
        data = self.valid(ClaimCompressionInput)
        owner = self.owner(data)
        artifact = api_queue.claim_compression(owner, data["artifact"])
        if artifact is None:
            return Response(status=status.HTTP_204_NO_CONTENT)
        document = api_queue.compression_document(artifact)
        return Response({"owner": owner, "compression": document})


class HeldArtifactView(RunnerView):
    """A route on an artifact the host compresses; 404 for an unknown one."""

    permission_classes = [MayCompress]

    def artifact(self, pk: int) -> Artifact:
        artifact = Artifact.objects.filter(pk=pk).first()
        if artifact is None:
            raise NotFound(f"No artifact {pk}.")
        return artifact


class CompressionHeartbeatView(HeldArtifactView):
    def post(self, request: Request, pk: int) -> Response:
        owner = self.owner(self.valid(OwnerInput))
        if not self.artifact(pk).renew_compression(owner, settings.JOB_LEASE_SECONDS):
            return Response(LOST, status=status.HTTP_409_CONFLICT)
        return Response({"lease_seconds": settings.JOB_LEASE_SECONDS})


class CompressionReleaseView(HeldArtifactView):
    def post(self, request: Request, pk: int) -> Response:
        owner = self.owner(self.valid(OwnerInput))
        if not self.artifact(pk).release_compression(owner):
            return Response(LOST, status=status.HTTP_409_CONFLICT)
        return Response({"status": Artifact.Status.PENDING})


class CompressionFailView(HeldArtifactView):
    def post(self, request: Request, pk: int) -> Response:
        data = self.valid(FailCompressionInput)
        if not self.artifact(pk).fail_compression(self.owner(data), data["error"]):
            return Response(LOST, status=status.HTTP_409_CONFLICT)
        return Response({"status": Artifact.Status.FAILED})


class CompressionCompleteView(HeldArtifactView):
    """Store the uploaded files and the metrics; the artifact becomes ready."""

    def post(self, request: Request, pk: int) -> Response:
        data = self.valid(CompleteInput)
        artifact, owner = self.artifact(pk), self.owner(data)
        if artifact.model.format == "keras" and "keras_sha256" not in data:
            raise ValidationError({"keras_sha256": ["A Keras model's compression sends a .keras."]})
        try:
            api_queue.complete_compression(artifact, owner, data)
        except FileNotFoundError as exc:
            raise ValidationError({"files": [str(exc)]}) from exc
        except ArtifactBusy:
            return Response(LOST, status=status.HTTP_409_CONFLICT)
        artifact.refresh_from_db()
        return Response(api_queue.artifact_state(artifact))


compression_patterns = [
    path("runner/artifacts/claim", ClaimCompressionView.as_view(), name="runner-artifact-claim"),
    path("runner/artifacts/<int:pk>", ArtifactStateView.as_view(), name="runner-artifact"),
    path(
        "runner/artifacts/<int:pk>/heartbeat",
        CompressionHeartbeatView.as_view(),
        name="runner-artifact-heartbeat",
    ),
    path(
        "runner/artifacts/<int:pk>/release",
        CompressionReleaseView.as_view(),
        name="runner-artifact-release",
    ),
    path(
        "runner/artifacts/<int:pk>/fail", CompressionFailView.as_view(), name="runner-artifact-fail"
    ),
    path(
        "runner/artifacts/<int:pk>/complete",
        CompressionCompleteView.as_view(),
        name="runner-artifact-complete",
    ),
]
