"""Live job progress over WebSockets.

The Job row is the source of truth: the consumer sends the row's state on
connect and whenever it changes (polled once a second), and forwards the
faster Channels events that ``runjobs`` broadcasts when a shared layer
(channels-redis) connects the processes. Without Redis, as in ``make demo``,
the polling alone still brings progress to the browser.
"""

from __future__ import annotations

import asyncio
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from device_runner.progress import job_group
from measurements.models import Job

POLL_SECONDS = 1.0
FINAL = {"succeeded", "failed", "cancelled"}


def job_state(job_id: int) -> dict[str, Any] | None:
    """The fields a page shows for a job, or None if it does not exist."""
    row = (
        Job.objects.filter(pk=job_id)
        .values("id", "status", "progress", "stage", "error", "attempts", "log")
        .first()
    )
    if row is None:
        return None
    row["log_tail"] = "\n".join(row.pop("log").splitlines()[-20:])
    return row


class JobProgressConsumer(AsyncJsonWebsocketConsumer):
    """``ws/jobs/<id>/``: the job's state now, then every change until it ends."""

    async def connect(self) -> None:
        self.job_id = int(self.scope["url_route"]["kwargs"]["job_id"])
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=4401)  # pages need a login; so do their live updates
            return
        state = await database_sync_to_async(job_state)(self.job_id)
        if state is None:
            await self.close(code=4404)
            return
        await self.accept()
        await self.channel_layer.group_add(job_group(self.job_id), self.channel_name)
        self.last: dict[str, Any] | None = None
        await self._send_if_changed(state)
        self.poller = asyncio.ensure_future(self._poll())

    async def disconnect(self, code: int) -> None:
        if hasattr(self, "poller"):
            self.poller.cancel()
        if not hasattr(self, "last"):
            return  # closed before joining the group
        await self.channel_layer.group_discard(job_group(self.job_id), self.channel_name)

    async def job_progress(self, event: dict[str, Any]) -> None:
        """A runner's broadcast: forward it at once."""
        await self.send_json({"event": "progress", **event})

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS)
            state = await database_sync_to_async(job_state)(self.job_id)
            if state is not None:
                await self._send_if_changed(state)

    async def _send_if_changed(self, state: dict[str, Any]) -> None:
        if state != self.last:
            self.last = state
            await self.send_json({"event": "state", **state})
