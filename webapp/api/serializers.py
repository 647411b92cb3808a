"""How the API shows each row, and what the write endpoints accept.

Read serializers expect the querysets the views build (``select_related``
for the names they show). Figures keep the model's units: milliseconds,
millijoules per inference, watts, bytes, fractions 0..1.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.validators import UniqueValidator

from device_runner.drivers.settings_schema import DeviceSettingsError
from measurements.figures import has_nul
from measurements.models import Artifact, Dataset, Device, DNNModel, Job, Plan, Result, Technique
from measurements.op_breakdown import ms_by_type
from measurements.provenance import figure_sources
from webapp.api.inputs import NOT_BLANK


def plan_codes(steps: list[dict[str, Any]]) -> list[str]:
    """The technique codes of a plan's steps, in order, each once."""
    return list(dict.fromkeys(step.get("code", "") for step in steps))


def anonymous_reader(serializer: serializers.Serializer) -> bool:
    """Whether the row is shown to an anonymous visitor of a public lab."""
    request = serializer.context.get("request")
    return request is not None and not request.user.is_authenticated


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


class DNNModelSerializer(serializers.ModelSerializer):
    dataset_name = serializers.CharField(source="dataset.name", read_only=True)
    is_reference = serializers.BooleanField(read_only=True, help_text="Registered without a file.")
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
            "format",
            "input_layout",
            "converted_file",
            "conversion_max_abs_diff",
            "conversion_seconds",
            "param_count",
            "is_baseline",
            "is_reference",
            "created_by",
            "created_at",
        ]
        read_only_fields = fields


class TechniqueSerializer(serializers.ModelSerializer):
    class Meta:
        model = Technique
        fields = [
            "code",
            "name",
            "category",
            "applies_to",
            "acts_on",
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
    accuracy_shortfall = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text="Percentage points the compression stayed below the model it started from, "
        "when it did not recover (more than 3 points); null when it recovered or is unknown.",
    )

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
            "accuracy_shortfall",
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
    """A device; its address and settings are checked against its kind's driver schema.

    Anonymous readers of a public lab get ``settings: null``: they may hold key paths.
    """

    mains_powered = serializers.BooleanField(read_only=True)
    settings = serializers.JSONField(
        required=False,
        validators=[refuse_nul],
        help_text="Driver settings for the kind (device_runner.drivers.settings_schema); "
        "executables by allow-list name. null when read anonymously.",
    )

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
            "name": {"validators": [NOT_BLANK, UniqueValidator(Device.objects.all())]},
            "cache_mb": {"min_value": 0},
            "idle_power_w": {"min_value": 0},
            "dram_mb": {"max_value": 2147483647},
            "battery_mah": {"max_value": 2147483647},
        }

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        from device_runner.devices import check_device

        current = self.instance
        kind = attrs.get("kind", getattr(current, "kind", ""))
        address = attrs.get("address", getattr(current, "address", ""))
        options = attrs.get("settings", getattr(current, "settings", {}))
        try:
            check_device(kind, address, options)
        except DeviceSettingsError as exc:
            raise serializers.ValidationError({exc.field: [str(exc)]}) from None
        return attrs

    def to_representation(self, instance: Device) -> dict[str, Any]:
        data = super().to_representation(instance)
        if anonymous_reader(self):
            data["settings"] = None
        return data


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
    """A job with its log (left out of lists: logs grow long).

    Anonymous readers of a public lab get ``log`` and ``lease_owner`` (the
    runner's host and pid) as null.
    """

    log = serializers.CharField(read_only=True, allow_null=True)
    lease_owner = serializers.CharField(read_only=True, allow_null=True)

    class Meta(JobSerializer.Meta):
        fields = [*JobSerializer.Meta.fields, "log", "lease_owner", "lease_expires_at"]
        read_only_fields = fields

    def to_representation(self, instance: Job) -> dict[str, Any]:
        data = super().to_representation(instance)
        if anonymous_reader(self):
            data["log"] = data["lease_owner"] = None
        return data


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
    stable = serializers.BooleanField(allow_null=True, help_text="null: not stated (imported).")
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
    ms_by_op = serializers.SerializerMethodField(help_text="op type -> ms.")
    method = serializers.CharField(source="op_breakdown_method")

    @extend_schema_field(
        serializers.DictField(child=serializers.FloatField(), help_text="op type -> ms.")
    )
    def get_ms_by_op(self, result) -> dict[str, float]:
        # The local driver stores a richer document than an import: read either.
        return ms_by_type(result.op_breakdown)


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
    figure_sources = serializers.SerializerMethodField(
        help_text="measured / estimated / predicted / imported (source label), per figure group "
        "and per static figure."
    )

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
            "figure_sources",
            "provenance",
            "created_at",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.DictField())
    def get_figure_sources(self, result: Result) -> dict[str, Any]:
        return figure_sources(result)

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_techniques(self, result: Result) -> list[str]:
        return plan_codes(result.artifact.plan.steps)


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
