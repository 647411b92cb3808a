"""What runner hosts send: one serializer per route, and the Range header they resume with."""

from __future__ import annotations

import re

from rest_framework import serializers

from device_runner.api_queue import MAX_OWNER_LENGTH

RANGE_PATTERN = re.compile(r"^bytes=(\d{1,18})-$")


class OwnerInput(serializers.Serializer):
    owner = serializers.CharField(max_length=MAX_OWNER_LENGTH)


class HelloInput(serializers.Serializer):
    mode = serializers.ChoiceField(choices=["measure", "compress", "both"])


class ClaimInput(OwnerInput):
    devices = serializers.ListField(
        child=serializers.CharField(max_length=100), required=False, max_length=100, default=None
    )
    ready_only = serializers.BooleanField(default=False)


class ProgressInput(OwnerInput):
    progress = serializers.FloatField(min_value=0.0, max_value=1.0)
    stage = serializers.CharField(max_length=50)
    line = serializers.CharField(max_length=2000, allow_blank=True, default="")


class LatencyInput(serializers.Serializer):
    mean_ms = serializers.FloatField(min_value=0)
    median_ms = serializers.FloatField(min_value=0)
    p90_ms = serializers.FloatField(min_value=0)
    std_ms = serializers.FloatField(min_value=0)
    ci_half_width_ms = serializers.FloatField(min_value=0, allow_null=True, required=False)
    runs = serializers.IntegerField(min_value=1)
    stop_reason = serializers.CharField(max_length=20)
    stable = serializers.BooleanField()


class EnergyInput(serializers.Serializer):
    energy_mj = serializers.FloatField(allow_null=True, required=False)
    method = serializers.CharField(max_length=100, allow_blank=True, required=False)
    average_power_w = serializers.FloatField(min_value=0, allow_null=True, required=False)


class MeasurementInput(serializers.Serializer):
    """A driver's measurement document, as ``measurements.actions.store_result`` reads it."""

    latency = LatencyInput()
    init_ms = serializers.FloatField(min_value=0, allow_null=True, required=False)
    first_inference_ms = serializers.FloatField(min_value=0, allow_null=True, required=False)
    peak_memory_bytes = serializers.IntegerField(min_value=0, allow_null=True, required=False)
    energy = EnergyInput(allow_null=True, required=False)
    op_breakdown = serializers.DictField(allow_null=True, required=False)
    op_breakdown_method = serializers.CharField(
        max_length=100, allow_null=True, allow_blank=True, required=False
    )
    op_breakdown_reason = serializers.CharField(
        max_length=2000, allow_null=True, allow_blank=True, required=False
    )
    provenance = serializers.DictField(required=False)
    protocol = serializers.DictField(required=False)

    def validate_op_breakdown_reason(self, value: str | None) -> str | None:
        # Stored in Result.op_breakdown_method (100 characters) when there is no breakdown.
        return value[:100] if value else value


class ResultInput(OwnerInput):
    measurement = MeasurementInput()


class FailInput(OwnerInput):
    error = serializers.CharField(max_length=5000)
    retryable = serializers.BooleanField(default=True)
    device_offline = serializers.BooleanField(default=False)
    log = serializers.CharField(max_length=5000, allow_blank=True, default="")


class ReleaseInput(OwnerInput):
    reason = serializers.CharField(max_length=500, default="host stopping")


def range_start(header: str, size: int) -> int | None:
    """The offset a ``Range: bytes=N-`` header asks for (0 without one); None if unsatisfiable.

    Only the open-ended form a resuming download sends is honoured; any
    other form is answered with the whole file, as RFC 9110 allows.
    """
    match = RANGE_PATTERN.match(header.strip())
    if not match:
        return 0
    start = int(match.group(1))
    return start if start < size or (start == 0 and size == 0) else None
