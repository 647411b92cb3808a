"""Compress one artifact on this host, whichever queue client leased it.

The base model comes through the client (a verified local copy); the plan
runs in ``measurements.compression_child``, stoppable at any moment; while
it runs the client renews the artifact's lease every third of its length;
the files (no Keras file for a .tflite or .pt2 model) and the metrics go
back through the client.
"""

from __future__ import annotations

import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from compression.formats.registry import get_format
from device_runner.queue_client import CompressionTicket, QueueClient
from measurements.actions.artifacts import ArtifactBusy, CompressionInterrupted, run_compression

log = logging.getLogger(__name__)


def compress(
    client: QueueClient,
    ticket: CompressionTicket,
    should_stop: Callable[[], bool] | None = None,
    in_child: bool = True,
) -> None:
    """Compress the leased artifact and hand the result to the client.

    ``in_child`` False compresses in this process (a caller with TensorFlow
    loaded already); it cannot be stopped part way.

    Raises:
        ArtifactFailed: the plan cannot be applied; the artifact is marked failed.
        ArtifactBusy: the lease was lost to another host; nothing is stored.
        CompressionInterrupted: ``should_stop`` said stop; the lease was given back.
    """
    keeper = _LeaseKeeper(client, ticket, should_stop)
    try:
        model_path = client.model_path(ticket)
        conversion = _conversion(client, ticket)
    except BaseException:
        client.release_compression(ticket)  # the model never arrived: another host may try
        raise
    with tempfile.TemporaryDirectory(prefix="compresso-compress-") as tmp:
        # Keras reads only files named .keras; the cache names files by their hash.
        named = Path(tmp) / "model" / f"model{get_format(ticket.model_format).suffix}"
        named.parent.mkdir()
        named.symlink_to(model_path)
        args = {
            "model_path": str(named),
            "model_format": ticket.model_format,
            "conversion": conversion,
            "plan_steps": ticket.plan_steps,
            "loader": ticket.loader,
            "loader_options": ticket.loader_options,
            "fine_tune_epochs": ticket.fine_tune_epochs,
            "fine_tune_patience": ticket.fine_tune_patience,
            "out_dir": tmp,
            "label": f"artifact {ticket.artifact_id} for {ticket.owner}",
        }
        document = run_compression(
            args,
            keeper.check if in_child else None,
            lambda error: client.fail_compression(ticket, error),
        )
        try:
            stored = client.complete_compression(ticket, document)
        except BaseException:
            client.release_compression(ticket)  # not stored: another host may compress it
            raise
        if not stored:
            raise ArtifactBusy(f"Artifact {ticket.artifact_id}'s compression lease was lost")
    log.info("artifact %s compressed (%s)", ticket.artifact_id, ticket.plan)


def _conversion(client: QueueClient, ticket: CompressionTicket) -> dict[str, Any] | None:
    """The ticket's conversion made at upload, with a local copy of its .tflite."""
    if not ticket.conversion:
        return None
    return {**ticket.conversion, "tflite_path": str(client.converted_path(ticket))}


class _LeaseKeeper:
    """Between polls of the child: stop when told to, renew the lease when due."""

    def __init__(
        self,
        client: QueueClient,
        ticket: CompressionTicket,
        should_stop: Callable[[], bool] | None,
    ) -> None:
        self.client, self.ticket, self.should_stop = client, ticket, should_stop
        self.renew_at = time.monotonic() + client.lease_seconds / 3

    def check(self) -> None:
        if self.should_stop and self.should_stop():
            self.client.release_compression(self.ticket)
            raise CompressionInterrupted(
                f"Compression of artifact {self.ticket.artifact_id} stopped"
            )
        if time.monotonic() >= self.renew_at:
            if not self.client.renew_compression(self.ticket):
                raise ArtifactBusy(
                    f"Artifact {self.ticket.artifact_id}'s compression lease was lost"
                )
            self.renew_at = time.monotonic() + self.client.lease_seconds / 3
