"""Compresso's data model: what was compressed, where it ran, and what it measured.

Units (DESIGN.md): latency in milliseconds, energy in millijoules per
inference, power in watts, sizes in bytes, storage in bits, MACs as a count,
accuracy-like figures as fractions 0..1. Every energy figure carries how it
was obtained (measured by which sensor, or estimated by which model).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from compression.categories import category_choices, scope_choices
from compression.formats.registry import format_choices
from measurements.artifact_leases import ArtifactLeaseMixin
from measurements.device_kinds import DEVICE_KINDS, DeviceKind, get_kind
from measurements.jobs import JobQueueMixin


def _non_negative(*fields: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(**{f"{field}__gte": 0}) | Q(**{f"{field}__isnull": True}),
            name=f"%(app_label)s_%(class)s_{field}_non_negative",
        )
        for field in fields
    ]


def _fraction(*fields: str) -> list[models.CheckConstraint]:
    return [
        models.CheckConstraint(
            condition=Q(**{f"{field}__gte": 0, f"{field}__lte": 1})
            | Q(**{f"{field}__isnull": True}),
            name=f"%(app_label)s_%(class)s_{field}_fraction",
        )
        for field in fields
    ]


class Dataset(models.Model):
    class Source(models.TextChoices):
        BUNDLED = "bundled", "bundled (scikit-learn digits)"
        KERAS = "keras", "keras.datasets"
        NPZ = "npz", "user .npz file"

    name = models.CharField(max_length=100, unique=True)
    task = models.CharField(max_length=50, default="image classification")
    input_shape = models.JSONField(help_text="One sample's shape, e.g. [8, 8, 1].")
    num_classes = models.PositiveIntegerField()
    source = models.CharField(max_length=10, choices=Source.choices)
    source_options = models.JSONField(
        default=dict, blank=True, help_text="Loader options: path, name, seed, resize_to."
    )
    train_size = models.PositiveIntegerField(default=0)
    val_size = models.PositiveIntegerField(default=0)
    test_size = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(num_classes__gte=2), name="measurements_dataset_two_classes"
            )
        ]

    def __str__(self) -> str:
        return self.name


class DNNModel(models.Model):
    name = models.CharField(max_length=100, unique=True)
    architecture = models.CharField(max_length=100, help_text="Family, e.g. lenet, alexnet.")
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="models")
    file = models.FileField(
        upload_to="models/",
        blank=True,
        help_text="The trained .keras, .tflite or .pt2 file; empty for a reference model "
        "(reference: no file).",
    )
    sha256 = models.CharField(max_length=64, blank=True)
    format = models.CharField(
        max_length=16,
        choices=format_choices(),
        default="keras",
        help_text="How the file arrived: Keras, a ready-made .tflite or a PyTorch program.",
    )
    # A .pt2 model's conversion to .tflite, made and checked against PyTorch once, at
    # upload (in a torch child process); runners compress and measure from it.
    converted_file = models.FileField(upload_to="models/converted/", blank=True)
    converted_sha256 = models.CharField(max_length=64, blank=True)
    conversion_max_abs_diff = models.FloatField(
        null=True, blank=True, help_text="Measured: largest |PyTorch - LiteRT| output gap."
    )
    conversion_seconds = models.FloatField(null=True, blank=True)
    input_layout = models.CharField(
        max_length=4, blank=True, help_text="NHWC or NCHW, as the model's input expects."
    )
    param_count = models.BigIntegerField(default=0)
    is_baseline = models.BooleanField(default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "DNN model"
        constraints = _non_negative("param_count", "conversion_max_abs_diff", "conversion_seconds")

    def __str__(self) -> str:
        return self.name

    @property
    def is_reference(self) -> bool:
        """A model registered without a file (a paper's or another lab's): never compressed."""
        return not self.file


class Technique(models.Model):
    code = models.CharField(max_length=16, unique=True)
    name = models.CharField(max_length=100)
    # Choices from the compression library's registry (TensorFlow-free), written once there.
    category = models.CharField(max_length=30, choices=category_choices())
    applies_to = models.CharField(max_length=5, choices=scope_choices())
    acts_on = models.TextField(
        blank=True, help_text="Which layer types it rewrites, from the technique's module."
    )
    accepts = models.JSONField(
        default=list, blank=True, help_text='Model formats it compresses, e.g. ["keras"].'
    )
    default_params = models.JSONField(default=dict, blank=True)
    description = models.TextField()
    reference = models.TextField(blank=True)

    class Meta:
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} ({self.name})"

    @property
    def keras_only(self) -> bool:
        """Whether it compresses Keras models only (the Techniques page says so)."""
        return list(self.accepts) == ["keras"]


class Plan(models.Model):
    """An ordered combination of technique steps; one row per canonical form."""

    canonical = models.TextField(help_text="e.g. C2@conv2 + W3(s=0.6)@fc1,fc2 + Q-int8")
    sha256 = models.CharField(max_length=64, unique=True)
    steps = models.JSONField(default=list, help_text="[{code, params, targets}, …]")
    techniques = models.ManyToManyField(Technique, related_name="plans", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["canonical"]

    def __str__(self) -> str:
        return self.canonical

    @property
    def is_baseline(self) -> bool:
        return not self.steps


class Artifact(ArtifactLeaseMixin, models.Model):
    """A base model compressed by a plan: files, static metrics, host-evaluated accuracy.

    While a runner compresses it, the artifact carries that runner's lease
    (``measurements.artifact_leases``), renewed like a job's.
    """

    class Status(models.TextChoices):
        PENDING = "pending"
        COMPRESSING = "compressing"
        READY = "ready"
        FAILED = "failed"
        # Figures imported, no files: a job for it compresses it like a pending one.
        IMPORTED = "imported"

    model = models.ForeignKey(DNNModel, on_delete=models.CASCADE, related_name="artifacts")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="artifacts")
    content_key = models.CharField(max_length=64, blank=True, db_index=True)
    keras_file = models.FileField(upload_to="artifacts/", blank=True)
    tflite_file = models.FileField(upload_to="artifacts/", blank=True)
    tflite_sha256 = models.CharField(max_length=64, blank=True)
    export_mode = models.CharField(max_length=10, default="float32")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    # Static figures (exact, from the files): copied out of static_metrics for queries.
    params = models.BigIntegerField(null=True, blank=True)
    nonzero_params = models.BigIntegerField(null=True, blank=True)
    sp_bits = models.BigIntegerField(null=True, blank=True, help_text="Weight storage, bits.")
    sf_bits = models.BigIntegerField(null=True, blank=True, help_text="Activation storage, bits.")
    macs = models.BigIntegerField(null=True, blank=True)
    file_size = models.BigIntegerField(null=True, blank=True, help_text="Bytes of the .tflite.")
    gzip_size = models.BigIntegerField(null=True, blank=True, help_text="Bytes, gzip -9.")
    static_metrics = models.JSONField(default=dict, blank=True)
    # Evaluated on the host through the .tflite file, on the dataset's test split.
    accuracy = models.FloatField(null=True, blank=True)
    top5_accuracy = models.FloatField(null=True, blank=True)
    precision = models.FloatField(null=True, blank=True)
    recall = models.FloatField(null=True, blank=True)
    f1 = models.FloatField(null=True, blank=True)
    compress_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # The compressor's lease: who compresses it, until when (renewed while it works).
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "plan"], name="unique_artifact_per_model_plan"
            ),
            *_non_negative(
                "params", "nonzero_params", "sp_bits", "sf_bits", "macs", "file_size", "gzip_size"
            ),
            *_fraction("accuracy", "top5_accuracy", "precision", "recall", "f1"),
        ]

    def __str__(self) -> str:
        return f"{self.model} + {self.plan}"

    @property
    def accuracy_shortfall(self) -> float | None:
        """Points the compression stayed below the model it started from, when it did not
        recover (more than ``compression.pipeline.RECOVERY_POINTS``); None otherwise."""
        said = (self.static_metrics or {}).get("recovery") or {}
        return None if said.get("recovered", True) else said.get("gap_points")


class Device(models.Model):
    # Built from the kinds table (measurements.device_kinds), so Device.Kind.LOCAL and the
    # column's choices are that table's, written once.
    Kind = models.TextChoices(
        "Kind", [(kind.code.upper(), (kind.code, kind.label)) for kind in DEVICE_KINDS]
    )

    class Sensor(models.TextChoices):
        NONE = "none", "no sensor (energy estimated)"
        RAPL = "rapl", "Intel RAPL"
        INA3221 = "ina3221", "Jetson INA3221 (L4T 32)"
        HWMON = "hwmon", "Jetson INA3221 hwmon (L4T 34+)"
        TEGRASTATS = "tegrastats", "tegrastats"
        BATTERY = "battery", "Android battery current x voltage"

    name = models.CharField(max_length=100, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices)
    address = models.CharField(
        max_length=255, blank=True, help_text="user@host for ssh, the serial for adb."
    )
    settings = models.JSONField(default=dict, blank=True, help_text="Driver settings.")
    processor = models.CharField(max_length=200, blank=True)
    dram_mb = models.PositiveIntegerField(null=True, blank=True)
    cache_mb = models.FloatField(null=True, blank=True)
    battery_mah = models.PositiveIntegerField(
        null=True, blank=True, help_text="Empty for mains-powered devices."
    )
    power_sensor = models.CharField(max_length=12, choices=Sensor.choices, default=Sensor.NONE)
    idle_power_w = models.FloatField(null=True, blank=True)
    online = models.BooleanField(default=False)
    last_seen = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = _non_negative("cache_mb", "idle_power_w")

    def __str__(self) -> str:
        return self.name

    @property
    def kind_info(self) -> DeviceKind:
        """What this device's kind is: its address, whether it runs jobs."""
        return get_kind(self.kind)

    @property
    def runs_jobs(self) -> bool:
        """Whether jobs may be queued on it (it has a driver)."""
        return self.kind_info.runs_jobs

    @property
    def is_external(self) -> bool:
        """Measured elsewhere: no driver, never runs jobs."""
        return self.kind == self.Kind.EXTERNAL

    @property
    def mains_powered(self) -> bool:
        return self.battery_mah is None


class Job(JobQueueMixin, models.Model):
    """One measurement of an artifact on a device at a thread count; a queue entry."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        CANCELLED = "cancelled"

    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="jobs")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="jobs")
    num_threads = models.PositiveSmallIntegerField(default=1)
    protocol = models.JSONField(default=dict, blank=True, help_text="ProtocolConfig overrides.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    not_before = models.DateTimeField(null=True, blank=True, help_text="Retry backoff.")
    lease_owner = models.CharField(max_length=200, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    progress = models.FloatField(default=0.0)
    stage = models.CharField(max_length=50, blank=True)
    log = models.TextField(blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["device", "status"], name="job_device_status")]
        constraints = [
            *_fraction("progress"),
            models.CheckConstraint(condition=Q(num_threads__gte=1), name="job_threads_positive"),
        ]

    def __str__(self) -> str:
        return f"job {self.pk}: {self.artifact} on {self.device} x{self.num_threads}"


class Result(models.Model):
    """The figures of one job (or one imported row measured elsewhere)."""

    class Source(models.TextChoices):
        MEASURED = "measured"
        IMPORTED = "imported"

    job = models.OneToOneField(
        Job, null=True, blank=True, on_delete=models.CASCADE, related_name="result"
    )
    artifact = models.ForeignKey(Artifact, on_delete=models.CASCADE, related_name="results")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="results")
    num_threads = models.PositiveSmallIntegerField(default=1)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MEASURED)
    source_label = models.CharField(max_length=200, blank=True, help_text="Where imported from.")
    # Latency of one inference, milliseconds, over `runs` timed runs after warm-up.
    latency_mean_ms = models.FloatField(null=True, blank=True)
    latency_median_ms = models.FloatField(null=True, blank=True)
    latency_p90_ms = models.FloatField(null=True, blank=True)
    latency_std_ms = models.FloatField(null=True, blank=True)
    latency_ci95_ms = models.FloatField(null=True, blank=True, help_text="CI half-width.")
    runs = models.PositiveIntegerField(null=True, blank=True)
    stop_reason = models.CharField(max_length=20, blank=True)
    # None: not stated (an imported row that says nothing about stability).
    stable = models.BooleanField(null=True, blank=True, default=True)
    init_ms = models.FloatField(null=True, blank=True)
    first_inference_ms = models.FloatField(null=True, blank=True)
    energy_mj = models.FloatField(null=True, blank=True, help_text="Per inference.")
    energy_measured = models.BooleanField(default=False)
    energy_method = models.CharField(max_length=100, blank=True)
    avg_power_w = models.FloatField(null=True, blank=True)
    peak_memory_bytes = models.BigIntegerField(null=True, blank=True)
    op_breakdown = models.JSONField(default=dict, blank=True, help_text="op type -> ms.")
    op_breakdown_method = models.CharField(max_length=100, blank=True)
    accuracy = models.FloatField(null=True, blank=True)
    precision = models.FloatField(null=True, blank=True)
    recall = models.FloatField(null=True, blank=True)
    f1 = models.FloatField(null=True, blank=True)
    accuracy_method = models.CharField(max_length=100, blank=True)
    provenance = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["device", "num_threads"], name="result_device_threads"),
            # The explorer and compare pages pick results by artifact, threads and device.
            models.Index(
                fields=["artifact", "num_threads", "device"], name="result_artifact_threads_dev"
            ),
        ]
        constraints = [
            *_non_negative(
                "latency_mean_ms",
                "latency_median_ms",
                "latency_p90_ms",
                "latency_std_ms",
                "latency_ci95_ms",
                "init_ms",
                "first_inference_ms",
                "energy_mj",
                "avg_power_w",
                "peak_memory_bytes",
            ),
            *_fraction("accuracy", "precision", "recall", "f1"),
        ]

    def __str__(self) -> str:
        return f"result {self.pk}: {self.artifact} on {self.device} x{self.num_threads}"


class RunnerToken(models.Model):
    """A device host's credential for the runner API: staff-made, device-scoped, revocable.

    Only the key's SHA-256 is stored (the key is shown once, when issued); a
    key is 32 random bytes, so an unsalted hash cannot be reversed by search.
    ``role`` says what the host may do: measure on its ``devices``, compress
    pending artifacts (any device's: compression needs compute, not a
    device), or both. The host reports its name and version with every call.
    """

    class Role(models.TextChoices):
        MEASURE = "measure", "measure on its devices"
        COMPRESS = "compress", "compress artifacts"
        BOTH = "both", "compress and measure"

    name = models.CharField(max_length=100, unique=True, help_text="Which host, e.g. pi-lab-3.")
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    key_prefix = models.CharField(max_length=8, editable=False, help_text="To recognise a key.")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.BOTH)
    devices = models.ManyToManyField(Device, blank=True, related_name="runner_tokens")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_heartbeat_at = models.DateTimeField(null=True, blank=True)
    host_name = models.CharField(max_length=200, blank=True)
    version = models.CharField(max_length=50, blank=True)
    mode = models.CharField(max_length=12, blank=True, help_text="What the host last ran as.")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def may_measure(self) -> bool:
        return self.role in (self.Role.MEASURE, self.Role.BOTH)

    @property
    def may_compress(self) -> bool:
        return self.role in (self.Role.COMPRESS, self.Role.BOTH)

    @property
    def connected(self) -> bool:
        """Called within two lease lengths: a host that is up polls far more often."""
        from datetime import timedelta

        from django.utils import timezone

        if self.revoked or self.last_heartbeat_at is None:
            return False
        window = timedelta(seconds=2 * settings.JOB_LEASE_SECONDS)
        return timezone.now() - self.last_heartbeat_at <= window

    @property
    def owner_prefix(self) -> str:
        """Every lease this token's hosts take is named with this prefix."""
        return f"token{self.pk}/"


# The search's model lives in its own module; Django finds it through this import.
from measurements.search import Search  # noqa: E402

__all__ = [
    "Artifact",
    "Dataset",
    "Device",
    "DNNModel",
    "Job",
    "Plan",
    "Result",
    "RunnerToken",
    "Search",
    "Technique",
]
