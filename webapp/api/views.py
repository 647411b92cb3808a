"""The API's resources: read signed in (or in a public lab), write signed in, delete for staff.

Devices and datasets are staff-only to create or change: a device's settings
reach a driver on the server, and a dataset is read from a server path.

Workflows that touch the compression library (and so TensorFlow) are imported
inside the methods that run them: the web process starts without TensorFlow.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError, QuerySet
from django.utils.text import get_valid_filename
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from measurements.models import Artifact, Dataset, Device, DNNModel, Job, Plan, Result, Technique
from webapp.api import filters, inputs
from webapp.api import serializers as s
from webapp.api.permissions import STAFF_WRITE_PERMISSIONS

BAD_REQUEST = OpenApiResponse(OpenApiTypes.OBJECT, description="The body names what is wrong.")
NOT_FOUND = OpenApiResponse(inputs.DetailSerializer, description="No such row (or page).")
CONFLICT = OpenApiResponse(
    inputs.DetailSerializer, description="The row's state does not allow it."
)


def listing(
    params: list[filters.Param], ordering: dict[str, str], serializer: type[serializers.Serializer]
) -> Any:
    """Schema of a filtered, ordered, paginated list endpoint."""
    return extend_schema(
        parameters=[*(p.openapi() for p in params), filters.ordering_param(ordering)],
        responses={200: serializer(many=True), 400: BAD_REQUEST, 404: NOT_FOUND},
    )


ID_IN_PATH = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The row's id.")


def showing(serializer: type[serializers.Serializer], lookup: OpenApiParameter = ID_IN_PATH) -> Any:
    """Schema of a detail endpoint: the row, or a 404."""
    return extend_schema(parameters=[lookup], responses={200: serializer, 404: NOT_FOUND})


def deleting(what: str) -> Any:
    """Schema of a staff-only delete that a protected relation may refuse."""
    return extend_schema(
        description=f"Delete a {what} (staff only).",
        responses={204: None, 404: NOT_FOUND, 409: CONFLICT},
    )


class ApiViewSet(viewsets.GenericViewSet):
    """Filtering and ordering shared by every resource.

    Authentication, permissions and pagination are the API's defaults
    (``REST_FRAMEWORK`` in webapp/settings.py).
    """

    # Any path segment reaches the view, so a malformed id is DRF's JSON 404, not an HTML one.
    lookup_value_regex = r"[^/]+"
    filter_params: list[filters.Param] = []
    ordering_fields: dict[str, str] = {}

    def filter_queryset(self, queryset: QuerySet) -> QuerySet:
        if self.action != "list":
            return queryset
        query = self.request.query_params
        filters.check_known(query, [*filters.COMMON, *(p.name for p in self.filter_params)])
        queryset = filters.apply_filters(queryset, query, self.filter_params)
        return filters.apply_ordering(queryset, query, self.ordering_fields)


class DestroyMixin:
    """Delete a row (the permission allows staff only); a protected relation is a 409."""

    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        row = self.get_object()
        try:
            row.delete()
        except ProtectedError as exc:
            names = ", ".join(sorted({str(obj) for obj in exc.protected_objects})[:5])
            return Response(
                {"detail": f"{row} is still used by: {names}. Delete those first."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


@extend_schema_view(
    list=listing(filters.DATASET_PARAMS, filters.DATASET_ORDERING, s.DatasetSerializer),
    retrieve=showing(s.DatasetSerializer),
    create=extend_schema(
        description="Register a dataset (staff only: an npz path is read on the server).",
        request=inputs.DatasetCreateSerializer,
        responses={201: s.DatasetSerializer, 400: BAD_REQUEST},
    ),
    destroy=deleting("dataset (refused while models use it)"),
)
class DatasetViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DestroyMixin, ApiViewSet):
    """Datasets models were trained on; registering one loads it once to record its splits."""

    queryset = Dataset.objects.all()
    serializer_class = s.DatasetSerializer
    permission_classes = STAFF_WRITE_PERMISSIONS
    filter_params = filters.DATASET_PARAMS
    ordering_fields = filters.DATASET_ORDERING

    def create(self, request: Request) -> Response:
        from measurements.actions import register_dataset

        form = inputs.DatasetCreateSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if Dataset.objects.filter(name=data["name"]).exists():
            return _bad("name", f"A dataset called {data['name']!r} exists already.")
        try:
            row = register_dataset(data["name"], data["source"], data["options"])
        except (TypeError, ValueError, OSError) as exc:  # DatasetError, bad option, bad path
            return _bad("options", str(exc))
        return Response(s.DatasetSerializer(row).data, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=listing(filters.MODEL_PARAMS, filters.MODEL_ORDERING, s.DNNModelSerializer),
    retrieve=showing(s.DNNModelSerializer),
    create=extend_schema(
        request={"multipart/form-data": inputs.DNNModelUploadSerializer},
        responses={201: s.DNNModelSerializer, 400: BAD_REQUEST},
    ),
    destroy=deleting("model with its artifacts, jobs and results"),
)
class DNNModelViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DestroyMixin, ApiViewSet):
    """Trained base models. Upload a .keras file; it is loaded in Keras safe mode first."""

    queryset = DNNModel.objects.select_related("dataset", "created_by")
    serializer_class = s.DNNModelSerializer
    filter_params = filters.MODEL_PARAMS
    ordering_fields = filters.MODEL_ORDERING

    def create(self, request: Request) -> Response:
        from measurements.actions.model_intake import register_uploaded_model

        form = inputs.DNNModelUploadSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        if "file" not in data:
            return self._reference(data)
        with tempfile.TemporaryDirectory() as tmp:
            # The upload's own name, so the loader's messages name the file the user sent.
            path = Path(tmp) / get_valid_filename(Path(data["file"].name).name)
            with path.open("wb") as out:
                for chunk in data["file"].chunks():
                    out.write(chunk)
            try:
                with transaction.atomic():
                    row = register_uploaded_model(
                        data["name"], data["architecture"], data["dataset"], path,
                        baseline=data["is_baseline"], user=request.user,
                    )  # fmt: skip
            except ValueError as exc:  # ModelFileError (corrupt, Lambda layer), wrong shape
                return _bad("file", str(exc))
            except IntegrityError:
                return _bad("name", f"A model called {data['name']!r} exists already.")
        row = self.get_queryset().get(pk=row.pk)
        body = s.DNNModelSerializer(row, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    def _reference(self, data: dict) -> Response:
        """A model registered without a file (reference: no file)."""
        from measurements.actions import register_reference_model

        try:
            row = register_reference_model(
                data["name"], data["architecture"], data["dataset"],
                data.get("param_count", 0), user=self.request.user,
            )  # fmt: skip
        except IntegrityError:
            return _bad("name", f"A model called {data['name']!r} exists already.")
        body = s.DNNModelSerializer(row, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)


@extend_schema_view(
    list=listing(filters.TECHNIQUE_PARAMS, filters.TECHNIQUE_ORDERING, s.TechniqueSerializer),
    retrieve=showing(
        s.TechniqueSerializer,
        OpenApiParameter("code", str, OpenApiParameter.PATH, pattern=f"^{filters.CODE.pattern}$"),
    ),
)
class TechniqueViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """The technique catalogue, looked up by code (W3, Q-int8, …)."""

    queryset = Technique.objects.all()
    serializer_class = s.TechniqueSerializer
    lookup_field = "code"
    filter_params = filters.TECHNIQUE_PARAMS
    ordering_fields = filters.TECHNIQUE_ORDERING


@extend_schema_view(
    list=listing(filters.PLAN_PARAMS, filters.PLAN_ORDERING, s.PlanSerializer),
    retrieve=showing(s.PlanSerializer),
)
class PlanViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Technique combinations, one per canonical text."""

    queryset = Plan.objects.all()
    serializer_class = s.PlanSerializer
    filter_params = filters.PLAN_PARAMS
    ordering_fields = filters.PLAN_ORDERING


@extend_schema_view(
    list=listing(filters.ARTIFACT_PARAMS, filters.ARTIFACT_ORDERING, s.ArtifactSerializer),
    retrieve=showing(s.ArtifactSerializer),
)
class ArtifactViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    """Compressed models (model + plan): files, static figures, host-evaluated accuracy."""

    queryset = Artifact.objects.select_related("model", "plan")
    serializer_class = s.ArtifactSerializer
    filter_params = filters.ARTIFACT_PARAMS
    ordering_fields = filters.ARTIFACT_ORDERING


@extend_schema_view(
    list=listing(filters.DEVICE_PARAMS, filters.DEVICE_ORDERING, s.DeviceSerializer),
    retrieve=showing(s.DeviceSerializer),
    create=extend_schema(
        description="Register a device (staff only).",
        responses={201: s.DeviceSerializer, 400: BAD_REQUEST},
    ),
    update=extend_schema(
        description="Replace a device (staff only).",
        responses={200: s.DeviceSerializer, 400: BAD_REQUEST, 404: NOT_FOUND},
    ),
    partial_update=extend_schema(
        description="Change a device (staff only).",
        responses={200: s.DeviceSerializer, 400: BAD_REQUEST, 404: NOT_FOUND},
    ),
    destroy=deleting("device with its jobs and results"),
)
class DeviceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    DestroyMixin,
    ApiViewSet,
):
    """Target devices; registering, changing and deleting one is staff only."""

    queryset = Device.objects.all()
    serializer_class = s.DeviceSerializer
    permission_classes = STAFF_WRITE_PERMISSIONS
    filter_params = filters.DEVICE_PARAMS
    ordering_fields = filters.DEVICE_ORDERING


@extend_schema_view(
    list=listing(filters.JOB_PARAMS, filters.JOB_ORDERING, s.JobSerializer),
    retrieve=showing(s.JobDetailSerializer),
    create=extend_schema(
        request=inputs.JobQueueSerializer,
        responses={201: inputs.QueuedSerializer, 400: BAD_REQUEST},
    ),
    cancel=extend_schema(
        parameters=[ID_IN_PATH],
        request=None,
        responses={200: s.JobDetailSerializer, 404: NOT_FOUND, 409: CONFLICT},
    ),
    retry=extend_schema(
        parameters=[ID_IN_PATH],
        request=None,
        responses={200: s.JobDetailSerializer, 404: NOT_FOUND, 409: CONFLICT},
    ),
    destroy=deleting("job with its result"),
)
class JobViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DestroyMixin, ApiViewSet):
    """Measurement jobs: queue model x plan x device x threads, cancel, retry."""

    queryset = Job.objects.select_related(
        "artifact__model", "artifact__plan", "device", "created_by"
    )
    filter_params = filters.JOB_PARAMS
    ordering_fields = filters.JOB_ORDERING

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return s.JobSerializer if self.action == "list" else s.JobDetailSerializer

    def create(self, request: Request) -> Response:
        from measurements.actions import parse_plans, queue_jobs

        form = inputs.JobQueueSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        models = list({m.pk: m for m in data["models"]}.values())
        devices = list({d.pk: d for d in data["devices"]}.values())
        # The same distinct plans the dashboard's preview counts (W3 and W3(s=0.5) are one).
        parsed, _ = parse_plans(("", text) for text in data["plans"])
        plans, threads = [p.canonical for p in parsed], sorted(set(data["threads"]))
        try:
            jobs = queue_jobs(models, plans, devices, threads, data["protocol"], request.user)
        except ValueError as exc:  # validated above; kept so a race still answers 400
            return _bad("plans", str(exc))
        asked = len(models) * len(plans) * len(devices) * len(threads)
        body = {"count": len(jobs), "skipped": asked - len(jobs), "ids": [j.pk for j in jobs]}
        return Response(body, status=status.HTTP_201_CREATED)

    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str | None = None) -> Response:
        """Cancel a queued or running job (a runner notices at its next heartbeat)."""
        job = self.get_object()
        return self._change(job, job.cancel(), "only queued or running jobs can be cancelled")

    @action(detail=True, methods=["post"])
    def retry(self, request: Request, pk: str | None = None) -> Response:
        """Queue a failed or cancelled job again with a fresh attempt budget."""
        job = self.get_object()
        return self._change(job, job.retry(), "only failed or cancelled jobs can be retried")

    def _change(self, job: Job, changed: bool, rule: str) -> Response:
        job.refresh_from_db()
        if not changed:
            return Response(
                {"detail": f"Job {job.pk} is {job.status}; {rule}."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(s.JobDetailSerializer(job).data)


RESULT_QUERYSET = Result.objects.select_related(
    "artifact__model__dataset", "artifact__plan", "device"
)


@extend_schema_view(
    list=listing(filters.RESULT_PARAMS, filters.RESULT_ORDERING, s.ResultSerializer),
    retrieve=showing(s.ResultSerializer),
    destroy=deleting("result"),
)
class ResultViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, DestroyMixin, ApiViewSet):
    """Measured and imported figures, nested by kind (latency, energy, memory, quality)."""

    queryset = RESULT_QUERYSET
    serializer_class = s.ResultSerializer
    filter_params = filters.RESULT_PARAMS
    ordering_fields = filters.RESULT_ORDERING


def _bad(field: str, message: str) -> Response:
    return Response({field: [message]}, status=status.HTTP_400_BAD_REQUEST)
