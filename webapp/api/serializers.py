"""How the API shows each row, and what the write endpoints accept.

Read serializers expect the querysets the views build (``select_related``
for the names they show). Figures keep the model's units: milliseconds,
millijoules per inference, watts, bytes, fractions 0..1.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from measurements.imports import has_nul
from measurements.models import Artifact, Dataset, Device, DNNModel, Job, Plan, Result, Technique

# A queue request larger than this is almost surely a mistake (and would block the queue).
MAX_JOBS_PER_REQUEST = 10_000
MAX_THREADS = 256


def plan_codes(steps: list[dict[str, Any]]) -> list[str]:
    """The technique codes of a plan's steps, in order, each once."""
    return list(dict.fromkeys(step.get("code", "") for step in steps))


def refuse_nul(value: Any) -> Any:
    """Refuse JSON holding a NUL character (PostgreSQL's jsonb cannot store one)."""
    if has_nul(value):
        raise serializers.ValidationError("Must not contain NUL characters.")
    return value


class DatasetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Dataset
        fields = [
            "id",
            "name",
            "task",
            "input_shape",
            "num_classes",
            "source",
            "source_options",
            "train_size",
            "val_size",
            "test_size",
            "created_at",
        ]


class DatasetCreateSerializer(serializers.Serializer):
    """Register a dataset by loader: it is loaded once to record its shape and splits."""

    name = serializers.CharField(max_length=100)
    source = serializers.ChoiceField(choices=Dataset.Source.choices)
    options = serializers.DictField(
        required=False, default=dict, help_text="Loader options: path, name, seed, resize_to."
    )


class DNNModelSerializer(serializers.ModelSerializer):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = DNNModel
        fields = [
            "id",
            "name",
            "architecture",
            "dataset",
            "dataset_name",
            "file",
            "sha256",
            "param_count",
            "is_baseline",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class DNNModelUploadSerializer(serializers.Serializer):
    """A trained .keras file; it is loaded in Keras safe mode before it is stored."""

    file = serializers.FileField(help_text="The trained .keras file.")
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all())
    name = serializers.CharField(max_length=100)
    architecture = serializers.CharField(max_length=100)
    is_baseline = serializers.BooleanField(default=True)

    def validate_name(self, name: str) -> str:
        if DNNModel.objects.filter(name=name).exists():
            raise serializers.ValidationError(f"A model called {name!r} exists already.")
        return name

    def validate_file(self, upload: Any) -> Any:
        limit = settings.MAX_MODEL_UPLOAD_BYTES
        if upload.size > limit:
            raise serializers.ValidationError(
                f"The file is {upload.size} bytes; the limit is {limit} (MAX_MODEL_UPLOAD_BYTES)."
            )
        if not upload.name.endswith(".keras"):
            raise serializers.ValidationError(f"Expected a .keras file. Received: {upload.name!r}")
        return upload


class TechniqueSerializer(serializers.ModelSerializer):
    class Meta:
        model = Technique
        fields = [
            "code",
            "name",
            "category",
            "applies_to",
            "default_params",
            "description",
            "reference",
        ]


class PlanSerializer(serializers.ModelSerializer):
    techniques = serializers.SerializerMethodField()
    is_baseline = serializers.BooleanField(read_only=True)

    class Meta:
        model = Plan
        fields = ["id", "canonical", "sha256", "steps", "techniques", "is_baseline", "created_at"]

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_techniques(self, plan: Plan) -> list[str]:
        return plan_codes(plan.steps)


class ArtifactSerializer(serializers.ModelSerializer):
    model_name = serializers.CharField(source="model.name", read_only=True)
    plan_canonical = serializers.CharField(source="plan.canonical", read_only=True)

    class Meta:
        model = Artifact
        fields = [
            "id",
            "model",
            "model_name",
            "plan",
            "plan_canonical",
            "status",
            "error",
            "export_mode",
            "keras_file",
            "tflite_file",
            "tflite_sha256",
            "params",
            "nonzero_params",
            "sp_bits",
            "sf_bits",
            "macs",
            "file_size",
            "gzip_size",
            "static_metrics",
            "accuracy",
            "top5_accuracy",
            "precision",
            "recall",
            "f1",
            "compress_seconds",
            "created_at",
            "updated_at",
        ]


class DeviceSerializer(serializers.ModelSerializer):
    mains_powered = serializers.BooleanField(read_only=True)

    class Meta:
        model = Device
        fields = [
            "id",
            "name",
            "kind",
            "address",
            "settings",
            "processor",
            "dram_mb",
            "cache_mb",
            "battery_mah",
            "mains_powered",
            "power_sensor",
            "idle_power_w",
            "online",
            "last_seen",
            "created_at",
        ]
        read_only_fields = ["online", "last_seen", "created_at"]
        extra_kwargs = {
            "settings": {"validators": [refuse_nul]},
            "cache_mb": {"min_value": 0},
            "idle_power_w": {"min_value": 0},
            "dram_mb": {"max_value": 2147483647},
            "battery_mah": {"max_value": 2147483647},
        }


class JobSerializer(serializers.ModelSerializer):
    model = serializers.CharField(source="artifact.model.name", read_only=True)
    plan = serializers.CharField(source="artifact.plan.canonical", read_only=True)
    device_name = serializers.CharField(source="device.name", read_only=True)
    created_by = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )

    class Meta:
        model = Job
        fields = [
            "id",
            "artifact",
            "model",
            "plan",
            "device",
            "device_name",
            "num_threads",
            "protocol",
            "status",
            "attempts",
            "max_attempts",
            "progress",
            "stage",
            "error",
            "created_by",
            "created_at",
            "started_at",
            "finished_at",
        ]
        read_only_fields = fields


class JobDetailSerializer(JobSerializer):
    """A job with its log (left out of lists: logs grow long)."""

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "log", "lease_owner", "lease_expires_at"]
        read_only_fields = fields


class JobQueueSerializer(serializers.Serializer):
    """Models x plans x devices x thread counts; combinations already queued or done are skipped."""

    models = serializers.PrimaryKeyRelatedField(
        queryset=DNNModel.objects.all(), many=True, allow_empty=False
    )
    plans = serializers.ListField(
        child=serializers.CharField(max_length=2000),
        allow_empty=False,
        help_text="Plan texts, e.g. 'baseline', 'W3(s=0.6)@fc1,fc2 + Q-int8'.",
    )
    devices = serializers.PrimaryKeyRelatedField(
        queryset=Device.objects.all(), many=True, allow_empty=False
    )
    threads = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=MAX_THREADS),
        default=[1],
        allow_empty=False,
    )
    protocol = serializers.DictField(
        required=False, default=dict, help_text="Measurement protocol overrides."
    )

    def validate_plans(self, texts: list[str]) -> list[str]:
        from compression.plan import Plan as CompressionPlan

        problems = []
        for text in texts:
            try:
                CompressionPlan.parse(text)
            except ValueError as exc:  # PlanSyntaxError, UnknownTechniqueError, bad value
                problems.append(f"Plan {text!r}: {exc}")
        if problems:
            raise serializers.ValidationError(problems)
        return texts

    def validate_protocol(self, overrides: dict[str, Any]) -> dict[str, Any]:
        from measurements.protocol import ProtocolConfig

        unknown = sorted(set(overrides) - set(ProtocolConfig.param_names))
        if unknown:
            known = ", ".join(ProtocolConfig.param_names)
            raise serializers.ValidationError(f"Unknown setting {unknown[0]!r}. Known: {known}.")
        try:
            ProtocolConfig(**overrides)
        except (TypeError, ValueError) as exc:
            raise serializers.ValidationError(str(exc)) from exc
        return overrides

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        count = len(attrs["models"]) * len(attrs["plans"]) * len(attrs["devices"])
        count *= len(attrs["threads"])
        if count > MAX_JOBS_PER_REQUEST:
            raise serializers.ValidationError(
                f"{count} combinations; at most {MAX_JOBS_PER_REQUEST} per request."
            )
        return attrs


class QueuedSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Jobs queued now.")
    skipped = serializers.IntegerField(help_text="Combinations already queued or done.")
    ids = serializers.ListField(child=serializers.IntegerField())


class LatencySerializer(serializers.Serializer):
    mean_ms = serializers.FloatField(source="latency_mean_ms", allow_null=True)
    median_ms = serializers.FloatField(source="latency_median_ms", allow_null=True)
    p90_ms = serializers.FloatField(source="latency_p90_ms", allow_null=True)
    std_ms = serializers.FloatField(source="latency_std_ms", allow_null=True)
    ci95_ms = serializers.FloatField(
        source="latency_ci95_ms", allow_null=True, help_text="95% CI half-width of the mean."
    )
    runs = serializers.IntegerField(allow_null=True)
    stop_reason = serializers.CharField()
    stable = serializers.BooleanField()
    init_ms = serializers.FloatField(allow_null=True)
    first_inference_ms = serializers.FloatField(allow_null=True)


class EnergySerializer(serializers.Serializer):
    mj = serializers.FloatField(source="energy_mj", allow_null=True, help_text="Per inference.")
    measured = serializers.BooleanField(
        source="energy_measured", help_text="False: estimated (method says by what)."
    )
    method = serializers.CharField(source="energy_method")
    avg_power_w = serializers.FloatField(allow_null=True)


class MemorySerializer(serializers.Serializer):
    peak_bytes = serializers.IntegerField(source="peak_memory_bytes", allow_null=True)


class QualitySerializer(serializers.Serializer):
    accuracy = serializers.FloatField(allow_null=True)
    precision = serializers.FloatField(allow_null=True)
    recall = serializers.FloatField(allow_null=True)
    f1 = serializers.FloatField(allow_null=True)
    method = serializers.CharField(source="accuracy_method")


class OpBreakdownSerializer(serializers.Serializer):
    ms_by_op = serializers.DictField(
        source="op_breakdown", child=serializers.FloatField(), help_text="op type -> ms."
    )
    method = serializers.CharField(source="op_breakdown_method")


class StaticSerializer(serializers.Serializer):
    """The artifact's exact figures, from its files."""

    params = serializers.IntegerField(allow_null=True)
    nonzero_params = serializers.IntegerField(allow_null=True)
    sp_bits = serializers.IntegerField(allow_null=True, help_text="Weight storage, bits.")
    sf_bits = serializers.IntegerField(allow_null=True, help_text="Activation storage, bits.")
    macs = serializers.IntegerField(allow_null=True)
    file_size = serializers.IntegerField(allow_null=True, help_text="Bytes of the .tflite.")
    gzip_size = serializers.IntegerField(allow_null=True)


class ResultSerializer(serializers.ModelSerializer):
    model_id = serializers.IntegerField(source="artifact.model_id", read_only=True)
    model = serializers.CharField(source="artifact.model.name", read_only=True)
    dataset = serializers.CharField(source="artifact.model.dataset.name", read_only=True)
    plan_id = serializers.IntegerField(source="artifact.plan_id", read_only=True)
    plan = serializers.CharField(source="artifact.plan.canonical", read_only=True)
    techniques = serializers.SerializerMethodField()
    device_id = serializers.IntegerField(read_only=True)
    device = serializers.CharField(source="device.name", read_only=True)
    threads = serializers.IntegerField(source="num_threads", read_only=True)
    latency = LatencySerializer(source="*", read_only=True)
    energy = EnergySerializer(source="*", read_only=True)
    memory = MemorySerializer(source="*", read_only=True)
    quality = QualitySerializer(source="*", read_only=True)
    op_breakdown = OpBreakdownSerializer(source="*", read_only=True)
    static = StaticSerializer(source="artifact", read_only=True)

    class Meta:
        model = Result
        fields = [
            "id",
            "job",
            "artifact",
            "model_id",
            "model",
            "dataset",
            "plan_id",
            "plan",
            "techniques",
            "device_id",
            "device",
            "threads",
            "source",
            "source_label",
            "latency",
            "energy",
            "memory",
            "quality",
            "op_breakdown",
            "static",
            "provenance",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_techniques(self, result: Result) -> list[str]:
        return plan_codes(result.artifact.plan.steps)


class ImportedSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, JSON array, or JSON Lines (.csv/.json/.jsonl).")
    source_label = serializers.CharField(
        max_length=200,
        required=False,
        default="",
        allow_blank=True,
        help_text="Where the rows come from, for rows without a source_label column value.",
    )


class ProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="1 = first data row; null: file.")
    column = serializers.CharField()
    message = serializers.CharField()


class ImportRefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = ProblemSerializer(many=True)


class MetricSerializer(serializers.Serializer):
    name = serializers.CharField()
    field = serializers.CharField()
    goal = serializers.ChoiceField(choices=["min", "max"])
    unit = serializers.CharField(allow_blank=True)
    label = serializers.CharField()


class ParetoSerializer(serializers.Serializer):
    x = MetricSerializer()
    y = MetricSerializer()
    candidates = serializers.IntegerField(help_text="Results with both figures.")
    front = ResultSerializer(many=True, help_text="Non-dominated results, by x.")


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
