"""Forms of the management pages: upload a model, register a device, request jobs."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MinValueValidator, RegexValidator
from django.template.defaultfilters import filesizeformat

from compression.formats.registry import format_for_filename
from measurements.device_kinds import JOB_KINDS, address_help
from measurements.models import Dataset, Device, DNNModel, Technique
from measurements.protocol import ProtocolConfig
from webapp.dashboard.manage import planning

# Model names become file names (<name>.keras, .tflite, .pt2): no path separators, no spaces.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
NAME_HELP = "Letters, digits, '.', '_' and '-'; it names the stored file."
BUNDLED_CHOICE = "bundled"
MAX_THREADS = 256


class ModelUploadForm(forms.Form):
    """A trained model file (.keras, .tflite or .pt2) with its name, family and dataset."""

    file = forms.FileField(
        label="Model file (.keras, .tflite or .pt2)",
        required=False,
        help_text="Leave empty to register a reference model (a paper's or another lab's: "
        "reference: no file; its results are imported, it is never compressed).",
    )
    param_count = forms.IntegerField(
        required=False, min_value=0, label="Parameters (reference models only)"
    )
    name = forms.CharField(max_length=100, validators=[RegexValidator(NAME_PATTERN, NAME_HELP)])
    architecture = forms.CharField(
        max_length=100, initial="custom", help_text="Family, e.g. lenet, alexnet or custom."
    )
    dataset = forms.ChoiceField(help_text="Accuracy is evaluated on this dataset's test split.")

    def __init__(self, *args: Any, too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.too_large = too_large
        rows = list(Dataset.objects.all())
        choices = [(str(row.pk), dataset_label(row)) for row in rows]
        if not any(row.name == "digits" for row in rows):
            choices.append(
                (BUNDLED_CHOICE, "digits · bundled scikit-learn digits · 8×8×1 · 10 classes")
            )
        self.fields["dataset"].choices = choices

    @staticmethod
    def limit_text() -> str:
        return filesizeformat(settings.MAX_MODEL_UPLOAD_BYTES)

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload is None:  # a reference model
            return None
        try:
            format_for_filename(upload.name)
        except ValueError:
            raise forms.ValidationError(
                "Upload a Keras v3 .keras file (model.save('name.keras')), a .tflite, or a "
                "PyTorch program saved with torch.export.save (.pt2). "
                f"Received: {upload.name}"
            ) from None
        if upload.size > settings.MAX_MODEL_UPLOAD_BYTES:
            raise forms.ValidationError(self._too_large_message())
        return upload

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if DNNModel.objects.filter(name=name).exists():
            raise forms.ValidationError(
                f"A model named {name!r} already exists; pick another name."
            )
        return name

    def clean(self) -> dict[str, Any]:
        # The size handler skipped the file, so Django only sees "required": say why.
        if self.too_large:
            self.errors.pop("file", None)
            self.add_error("file", self._too_large_message())
        data = super().clean()
        if not data.get("file") and data.get("dataset") == BUNDLED_CHOICE and not self.too_large:
            self.add_error("dataset", "A reference model needs a registered dataset.")
        return data

    def _too_large_message(self) -> str:
        return (
            f"The file is larger than the {self.limit_text()} upload limit "
            "(settings.MAX_MODEL_UPLOAD_BYTES)."
        )

    def dataset_row(self) -> Dataset | None:
        """The chosen Dataset row; None for the bundled digits not registered yet."""
        choice = self.cleaned_data["dataset"]
        return None if choice == BUNDLED_CHOICE else Dataset.objects.get(pk=int(choice))


def dataset_label(row: Dataset) -> str:
    shape = "×".join(str(n) for n in row.input_shape)
    return f"{row.name} · {row.get_source_display()} · {shape} · {row.num_classes} classes"


class DeviceForm(forms.ModelForm):
    """A device to measure on; the address is checked against the kind."""

    power_source = forms.ChoiceField(
        choices=[("mains", "Mains powered"), ("battery", "Battery powered")],
        initial="mains",
        widget=forms.RadioSelect,
    )

    class Meta:
        model = Device
        fields = [
            "name",
            "kind",
            "address",
            "power_sensor",
            "processor",
            "dram_mb",
            "cache_mb",
            "battery_mah",
            "idle_power_w",
            "settings",
        ]
        labels = {
            "dram_mb": "DRAM (MB)",
            "cache_mb": "Last-level cache (MB)",
            "battery_mah": "Battery capacity (mAh)",
            "idle_power_w": "Idle power (W)",
            "settings": "Driver settings (JSON)",
        }
        help_texts = {
            "address": address_help(),
            "idle_power_w": "Leave empty to have it measured.",
            "settings": 'Optional, e.g. {"port": 2222, "key_path": "jetson_ed25519"}; '
            "executables by their name in the lab's allow-list (DEVICE_EXECUTABLES).",
        }
        widgets = {
            "settings": forms.Textarea(attrs={"rows": 3}),
            # Negative sizes and powers would only surface as a constraint name.
            "cache_mb": forms.NumberInput(attrs={"min": 0, "step": "any"}),
            "idle_power_w": forms.NumberInput(attrs={"min": 0, "step": "any"}),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("cache_mb", "idle_power_w"):
            self.fields[name].validators.append(MinValueValidator(0))
        self.fields["kind"].initial = Device.Kind.LOCAL

    def clean_settings(self) -> dict[str, Any]:
        value = self.cleaned_data.get("settings")
        if value in (None, ""):
            return {}
        if not isinstance(value, dict):
            raise forms.ValidationError(
                f"Driver settings must be a JSON object. Received: {type(value).__name__}"
            )
        return value

    def clean(self) -> dict[str, Any]:
        from device_runner.devices import check_device
        from device_runner.drivers.settings_schema import DeviceSettingsError

        data = super().clean()
        kind, address = data.get("kind"), (data.get("address") or "").strip()
        data["address"] = address
        if kind and "settings" in data:
            try:
                check_device(kind, address, data["settings"])
            except DeviceSettingsError as exc:
                self.add_error(exc.field if exc.field in self.fields else None, str(exc))
        if data.get("power_source") == "battery":
            if not data.get("battery_mah"):
                self.add_error("battery_mah", "A battery-powered device needs its capacity.")
        else:
            data["battery_mah"] = None
        return data


class ThreadsField(forms.CharField):
    """Thread counts typed as ``1, 2, 4``: distinct whole numbers from 1 to MAX_THREADS."""

    def to_python(self, value: Any) -> list[int]:
        text = super().to_python(value)
        parts = [p for p in re.split(r"[,\s]+", text) if p]
        if not parts or not all(p.isdigit() and 1 <= int(p) <= MAX_THREADS for p in parts):
            raise forms.ValidationError(
                f"Thread counts are whole numbers from 1 to {MAX_THREADS}, separated by commas."
                f" Received: threads={text!r}"
            )
        return sorted({int(p) for p in parts})


class ModelChoices(forms.ModelMultipleChoiceField):
    """Models as checkboxes labelled with their dataset and size."""

    def label_from_instance(self, obj: DNNModel) -> str:
        return f"{obj.name} · {obj.dataset.name} · {obj.param_count:,} parameters"


class JobRequestForm(forms.Form):
    """Models x plans x devices x thread counts, with optional protocol overrides."""

    # Reference models (no file) and devices whose kind runs no jobs (external) are not offered.
    models = ModelChoices(
        queryset=DNNModel.objects.select_related("dataset").exclude(file=""),
        widget=forms.CheckboxSelectMultiple,
    )
    standard_sweep = forms.BooleanField(
        required=False, help_text="The baseline and every technique at each sweep setting."
    )
    include_baseline = forms.BooleanField(
        required=False,
        initial=True,
        label="Include the uncompressed baseline",
        help_text="Needed to compare against on the same device.",
    )
    techniques = forms.MultipleChoiceField(
        required=False, widget=forms.CheckboxSelectMultiple, label="Single techniques (defaults)"
    )
    plans = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 4, "spellcheck": "false"}),
        label="Combination plans, one per line",
        help_text="e.g. C2(alpha=0.5)@conv2 + W3(s=0.6)@fc1,fc2 + Q-int8. Lines starting "
        "with # are ignored.",
    )
    devices = forms.ModelMultipleChoiceField(
        queryset=Device.objects.filter(kind__in=JOB_KINDS),
        widget=forms.CheckboxSelectMultiple,
    )
    threads = ThreadsField(initial="1", help_text="Comma-separated, e.g. 1, 2, 4.")
    min_runs = forms.IntegerField(required=False, min_value=2, label="Minimum timed runs")
    max_runs = forms.IntegerField(required=False, min_value=2, label="Maximum timed runs")
    max_seconds = forms.FloatField(required=False, min_value=0.001, label="Time cap (s)")

    PROTOCOL_FIELDS = ("min_runs", "max_runs", "max_seconds")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["techniques"].choices = [
            (t.code, f"{t.code} · {t.name}{' (Keras only)' if t.keras_only else ''}")
            for t in Technique.objects.all()
        ]

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        sources = self._plan_sources(data)
        if not sources and "plans" not in self.errors:
            raise forms.ValidationError(
                "Choose at least one plan: the standard sweep, a technique, or a typed plan."
            )
        plans, errors = planning.parse_plans(sources)
        for message in errors:
            self.add_error("plans" if message.startswith("Line") else None, message)
        for message in planning.inapplicable(data.get("models") or [], plans):
            self.add_error(None, message)
        data["plan_list"] = plans
        data["protocol"] = self._protocol(data)
        return data

    def _plan_sources(self, data: dict[str, Any]) -> list[tuple[str, str]]:
        sources: list[tuple[str, str]] = []
        if data.get("standard_sweep"):
            formats = [model.format for model in data.get("models") or []]
            sources += [("standard sweep", t) for t in planning.sweep_texts_for(formats)]
        if data.get("include_baseline"):
            sources.append(("baseline", "baseline"))
        sources += [("catalogue", code) for code in data.get("techniques") or []]
        return sources + planning.typed_lines(data.get("plans") or "")

    def _protocol(self, data: dict[str, Any]) -> dict[str, Any]:
        overrides = {k: data[k] for k in self.PROTOCOL_FIELDS if data.get(k) is not None}
        try:
            ProtocolConfig(**overrides)
        except ValueError as exc:
            self.add_error(None, f"Protocol: {exc}")
        return overrides

    def preview(self) -> planning.Preview:
        """The exact number of jobs submitting this (valid) form would queue."""
        data = self.cleaned_data
        return planning.plan_jobs(
            data["models"], data["plan_list"], data["devices"], data["threads"]
        )

    def plan_texts(self) -> list[str]:
        return [plan.canonical for plan in self.cleaned_data["plan_list"]]
