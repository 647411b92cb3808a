"""What the write endpoints accept, and the shapes of their answers.

Plans are parsed with the compression library (TensorFlow), imported inside
the validator that needs it, never at module import.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.validators import RegexValidator
from rest_framework import serializers

from compression.formats.registry import format_for_filename
from measurements.models import Dataset, Device, DNNModel

# A queue request larger than this is almost surely a mistake (and would block the queue).
MAX_JOBS_PER_REQUEST = 10_000
MAX_THREADS = 256
# DRF trims whitespace, so "  " is blank: the schema says so with a pattern (not only minLength).
NOT_BLANK = RegexValidator(r"\S", "This field may not be blank.")


class DatasetCreateSerializer(serializers.Serializer):
    """Register a dataset by loader: it is loaded once to record its shape and splits."""

    name = serializers.CharField(max_length=100, validators=[NOT_BLANK])
    source = serializers.ChoiceField(choices=Dataset.Source.choices)
    options = serializers.DictField(
        required=False, default=dict, help_text="Loader options: path, name, seed, resize_to."
    )


class DNNModelUploadSerializer(serializers.Serializer):
    """A trained model file, checked before it is stored: a .keras (Keras safe mode), a
    .tflite (LiteRT) or a torch.export .pt2 (converted to .tflite in a child process)."""

    file = serializers.FileField(
        required=False,
        help_text="The trained .keras, .tflite or torch.export .pt2 file; leave it out to "
        "register a reference model (a paper's or another lab's: no file, its results "
        "imported, never compressed).",
    )
    dataset = serializers.PrimaryKeyRelatedField(queryset=Dataset.objects.all())
    name = serializers.CharField(max_length=100, validators=[NOT_BLANK])
    architecture = serializers.CharField(max_length=100, validators=[NOT_BLANK])
    is_baseline = serializers.BooleanField(default=True)
    param_count = serializers.IntegerField(
        required=False, min_value=0, max_value=2**63 - 1, help_text="Reference models only."
    )

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
        try:
            format_for_filename(upload.name)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from None
        return upload


class JobQueueSerializer(serializers.Serializer):
    """Models x plans x devices x thread counts; combinations already queued or done are skipped."""

    models = serializers.PrimaryKeyRelatedField(
        queryset=DNNModel.objects.all(), many=True, allow_empty=False
    )
    plans = serializers.ListField(
        child=serializers.CharField(max_length=2000, validators=[NOT_BLANK]),
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

    def validate_models(self, models: list[DNNModel]) -> list[DNNModel]:
        references = [m.name for m in models if m.is_reference]
        if references:
            raise serializers.ValidationError(
                f"Reference models have no file to compress. Received: {references}"
            )
        return models

    def validate_devices(self, devices: list[Device]) -> list[Device]:
        external = [d.name for d in devices if not d.runs_jobs]
        if external:
            raise serializers.ValidationError(
                f"External devices never run jobs. Received: {external}"
            )
        return devices

    def validate_plans(self, texts: list[str]) -> list[str]:
        from measurements.actions import parse_plans

        _, problems = parse_plans(("", text) for text in texts)
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


class DuplicateRowSerializer(serializers.Serializer):
    row = serializers.IntegerField(help_text="1 = first data row.")
    result = serializers.IntegerField(allow_null=True, help_text="The stored result it repeats.")
    same_as_row = serializers.IntegerField(allow_null=True, help_text="An earlier row it repeats.")


class ImportedSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    ids = serializers.ListField(child=serializers.IntegerField())
    duplicates = DuplicateRowSerializer(many=True, help_text="Rows skipped: identical results.")
    created_models = serializers.ListField(child=serializers.CharField())
    created_devices = serializers.ListField(child=serializers.CharField())


class ImportUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV, JSON array, or JSON Lines (.csv/.json/.jsonl).")
    source_label = serializers.CharField(
        max_length=200,
        required=False,
        default="",
        allow_blank=True,
        help_text="Where the rows come from, for rows without a source_label column value.",
    )
    on_duplicate = serializers.ChoiceField(
        choices=["skip", "error", "keep"],
        default="skip",
        help_text="A row identical to a stored result or an earlier row: skip it (reported), "
        "refuse the file, or keep it.",
    )
    create_missing = serializers.BooleanField(
        default=False,
        help_text="Create unknown devices as external devices and unknown models as reference "
        "models (no file; the row's dataset column names a registered dataset).",
    )


class ProblemSerializer(serializers.Serializer):
    row = serializers.IntegerField(allow_null=True, help_text="1 = first data row; null: file.")
    column = serializers.CharField()
    message = serializers.CharField()


class ImportRefusedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    errors = ProblemSerializer(many=True)


class DetailSerializer(serializers.Serializer):
    detail = serializers.CharField()
