"""Django admin for every table: searchable, filterable, read-mostly for figures."""

from django.contrib import admin, messages

from measurements.actions.runner_tokens import revoke_runner_token, set_new_key
from measurements.models import (
    Artifact,
    Dataset,
    Device,
    DNNModel,
    Job,
    Plan,
    Result,
    RunnerToken,
    Search,
    Technique,
)


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "task", "source", "num_classes", "train_size", "test_size"]
    list_filter = ["source", "task"]
    search_fields = ["name"]


@admin.register(DNNModel)
class DNNModelAdmin(admin.ModelAdmin):
    list_display = ["name", "architecture", "dataset", "param_count", "is_baseline", "created_at"]
    list_filter = ["architecture", "is_baseline", "dataset"]
    search_fields = ["name", "architecture", "sha256"]
    readonly_fields = ["sha256", "created_at"]


@admin.register(Technique)
class TechniqueAdmin(admin.ModelAdmin):
    list_display = ["code", "name", "category", "applies_to"]
    list_filter = ["category", "applies_to"]
    search_fields = ["code", "name", "description"]


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = ["canonical", "sha256", "created_at"]
    list_filter = ["techniques__category"]
    search_fields = ["canonical", "sha256"]
    readonly_fields = ["sha256", "created_at"]


@admin.register(Artifact)
class ArtifactAdmin(admin.ModelAdmin):
    list_display = ["model", "plan", "status", "export_mode", "accuracy", "file_size", "gzip_size"]
    list_filter = ["status", "export_mode", "model"]
    search_fields = ["plan__canonical", "model__name", "content_key"]
    readonly_fields = ["content_key", "tflite_sha256", "created_at", "updated_at"]
    list_select_related = ["model", "plan"]


@admin.register(Device)
class DeviceAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "address", "power_sensor", "online", "last_seen"]
    list_filter = ["kind", "online", "power_sensor"]
    search_fields = ["name", "address", "processor"]


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    list_display = ["id", "artifact", "device", "num_threads", "status", "attempts", "progress"]
    list_filter = ["status", "device"]
    search_fields = ["artifact__plan__canonical", "lease_owner", "error"]
    readonly_fields = ["lease_owner", "lease_expires_at", "started_at", "finished_at", "log"]
    list_select_related = ["artifact__model", "artifact__plan", "device"]


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "artifact",
        "device",
        "num_threads",
        "latency_mean_ms",
        "energy_mj",
        "energy_method",
        "accuracy",
        "source",
    ]
    list_filter = ["device", "source", "energy_measured", "stable", "num_threads"]
    search_fields = ["artifact__plan__canonical", "artifact__model__name", "source_label"]
    list_select_related = ["artifact__model", "artifact__plan", "device"]


@admin.register(RunnerToken)
class RunnerTokenAdmin(admin.ModelAdmin):
    """Runner tokens: the key is shown once, when the token is added; revoke, never delete."""

    list_display = [
        "name",
        "role",
        "host_name",
        "version",
        "mode",
        "last_heartbeat_at",
        "revoked_at",
    ]
    list_filter = ["role", "revoked_at"]
    search_fields = ["name", "host_name", "key_prefix"]
    fields = ["name", "role", "devices"]
    filter_horizontal = ["devices"]
    actions = ["revoke"]

    def save_model(self, request, obj: RunnerToken, form, change: bool) -> None:
        if not change:
            key = set_new_key(obj)
            obj.created_by = request.user
            message = f"Runner key for {obj.name} (shown once, keep it now): {key}"
            self.message_user(request, message, messages.WARNING)
        super().save_model(request, obj, form, change)

    @admin.action(description="Revoke (its running jobs go back to the queue)")
    def revoke(self, request, queryset) -> None:
        released = sum(revoke_runner_token(token) for token in queryset)
        self.message_user(request, f"Revoked; {released} running job(s) back in the queue.")


@admin.register(Search)
class SearchAdmin(admin.ModelAdmin):
    """Searches: read-only here (the Recommend page starts and stops them)."""

    list_display = ["pk", "model", "device", "owner", "status", "max_evaluations", "best_plan"]
    list_filter = ["status", "device"]
    search_fields = ["model__name", "best_plan"]
    readonly_fields = [f.name for f in Search._meta.fields]
