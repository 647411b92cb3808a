"""Workflows across models, as verb-named functions (fat models, thin views).

Each module holds one workflow; this package re-exports them so callers write
``from measurements import actions`` and ``actions.queue_jobs(...)``.
"""

from measurements.actions.artifacts import (
    ACCURACY_METHOD,
    LOADER_BY_SOURCE,
    ArtifactBusy,
    ArtifactFailed,
    CompressionInterrupted,
    compress_artifact,
    ensure_artifact_ready,
    store_compression,
)
from measurements.actions.catalogue import (
    describe_this_host,
    ensure_local_device,
    get_or_create_plan,
    load_catalogue,
)
from measurements.actions.queueing import (
    REQUEUABLE,
    ParsedPlan,
    Preview,
    parse_plans,
    plan_jobs,
    queue_jobs,
    standard_sweep_texts,
)
from measurements.actions.registration import (
    check_model_fits,
    register_dataset,
    register_model_file,
    register_reference_model,
    train_and_register_baseline,
)
from measurements.actions.results import LeaseLost, store_result
from measurements.actions.searching import (
    advance_search,
    advance_searches,
    start_search,
    stop_search,
)

__all__ = [
    "advance_search",
    "advance_searches",
    "start_search",
    "stop_search",
    "ACCURACY_METHOD",
    "LOADER_BY_SOURCE",
    "ArtifactBusy",
    "ArtifactFailed",
    "CompressionInterrupted",
    "REQUEUABLE",
    "LeaseLost",
    "ParsedPlan",
    "Preview",
    "check_model_fits",
    "compress_artifact",
    "describe_this_host",
    "ensure_artifact_ready",
    "ensure_local_device",
    "get_or_create_plan",
    "load_catalogue",
    "parse_plans",
    "plan_jobs",
    "queue_jobs",
    "register_dataset",
    "register_model_file",
    "register_reference_model",
    "standard_sweep_texts",
    "store_compression",
    "store_result",
    "train_and_register_baseline",
]
