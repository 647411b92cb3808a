"""The device-host runner behind ``manage.py runjobs``, built from small steps.

``Runner.step()`` claims one piece of work and does it, returning whether
there may be more; ``Runner.run()`` loops over steps until told to stop.
Signal handlers only set ``stopping``: the current job finishes, or, when it
is still compressing, the compression child is terminated and the job
released (its attempt not counted); then the loop exits.

Every step goes through a ``QueueClient``: on the database
(``DirectQueueClient``, the default) or over the runner API with a token
(``HttpQueueClient``); the steps are the same. A runner measures and
compresses (the default), only measures (takes jobs whose artifact is
ready), or only compresses (any pending artifact a job waits for).

A job whose artifact another runner is compressing is released at once, so
this runner takes other work instead of waiting on it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from device_runner import compressing
from device_runner.devices import driver_for
from device_runner.drivers import DriverError
from device_runner.file_cache import FileCache
from device_runner.queue_client import (
    DeviceSpec,
    JobTicket,
    QueueClient,
    QueueError,
    TokenRefused,
)
from device_runner.queue_client.direct import DirectQueueClient
from measurements.actions.artifacts import ArtifactBusy, ArtifactFailed, CompressionInterrupted
from measurements.models import Device, Job

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """The job was cancelled, or its lease lost, while this runner held it."""


def runner_identity() -> str:
    """A lease owner name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Runner:
    """Serves the jobs of some devices, and compresses, from the shared queue.

    Attributes:
        devices: the devices this host has attached (none for a compress-only host).
        owner: lease owner name written on claimed jobs.
        lease_seconds: lease length; heartbeats renew it every third of it.
        on_progress: called with (job, fraction, stage) for the terminal bar.
        client: the queue (default: the database, under ``owner``).
        measure: take jobs and measure them.
        compress: compress artifacts (a measuring runner: its jobs' artifacts).
        cache_dir: where files fetched by hash are kept (default RUNNER_CACHE_DIR).
        compress_in_child: compress in a child process that a stop terminates
            (default); False compresses in this process, for a caller that has
            TensorFlow loaded already and needs no prompt stop (``demo``).
    """

    devices: Sequence[Device | DeviceSpec] = ()
    owner: str = field(default_factory=runner_identity)
    lease_seconds: int = field(default_factory=lambda: settings.JOB_LEASE_SECONDS)
    on_progress: Callable[[JobTicket, float, str], None] | None = None
    client: QueueClient | None = None
    measure: bool = True
    compress: bool = True
    cache_dir: Path | None = None
    compress_in_child: bool = True
    stopping: bool = False
    jobs_done: int = 0
    refusal: str = ""  # why the server refused this host's token, once it has

    def __post_init__(self) -> None:
        if not (self.measure or self.compress):
            raise ValueError("A runner must measure, compress or both. Received: neither")
        if self.client is None:
            cache = FileCache(self.cache_dir or settings.RUNNER_CACHE_DIR)
            self.client = DirectQueueClient(self.owner, cache, self.lease_seconds)
        self.lease_seconds = self.client.lease_seconds
        self.specs = [
            d if isinstance(d, DeviceSpec) else DeviceSpec.from_row(d) for d in self.devices
        ]

    def request_stop(self, *_: object) -> None:
        """Signal handler: only sets the flag; the loop checks it between steps."""
        self.stopping = True

    def run(self, max_jobs: int | None = None, once: bool = False, poll: float = 2.0) -> int:
        """Claim and run work until stopped, out of work (``once``) or ``max_jobs`` done.

        Returns:
            The number of jobs (and compressions) this runner finished.
        """
        while not self.stopping:
            if max_jobs is not None and self.jobs_done >= max_jobs:
                break
            try:
                more = self.step()
            except TokenRefused as exc:
                self._refused(exc)
                break
            except QueueError as exc:  # the server stayed away past the client's patience
                log.warning("%s; trying again in %.0f s", exc, poll)
                more = False
            if not more:
                if once:
                    break
                self._sleep(poll)
        return self.jobs_done

    def step(self) -> bool:
        """Do one job (or, compress-only, one compression). False when there was none."""
        if not self.measure:
            return self.compress_step()
        ticket = self.client.claim_job(self.specs, ready_only=not self.compress)
        if ticket is None:
            return False
        if self.run_job(ticket):
            self.jobs_done += 1
        return True

    def compress_step(self) -> bool:
        """Compress the pending artifact the oldest queued job waits for."""
        ticket = self.client.claim_compression(None)
        if ticket is None:
            return False
        try:
            compressing.compress(
                self.client, ticket, lambda: self.stopping, in_child=self.compress_in_child
            )
        except CompressionInterrupted as exc:
            log.info("%s", exc)
            return True
        except (ArtifactBusy, ArtifactFailed) as exc:
            log.warning("artifact %s: %s", ticket.artifact_id, exc)
        self.jobs_done += 1
        return True

    def run_job(self, job: JobTicket | Job) -> bool:
        """Compress (if needed), measure and store one job, with a heartbeat alongside.

        Returns:
            False when the job was given back to the queue untouched (its
            artifact is compressed elsewhere, or this runner is stopping).
        """
        job = self.client.ticket(job) if isinstance(job, Job) else job
        beat = Heartbeat(self.client, job)
        beat.start()
        try:
            self._report(job, 0.02, "claimed", f"claimed by {job.owner} (attempt {job.attempts})")
            job = self._ready_artifact(job, beat)
            self._check(beat)
            self._report(job, 0.3, "measuring", f"measuring on {job.device.name}")
            raw = self.measure_job(job)
            self._check(beat)
            if not self.client.store_result(job, raw):
                raise JobCancelled()
            self._report_done(job)
        except (ArtifactBusy, CompressionInterrupted) as exc:
            return not self._release(job, str(exc))
        except JobCancelled:
            log.info("job %s cancelled or lease lost; leaving it", job.id)
            if beat.refusal:
                self._refused(beat.refusal)
        except TokenRefused as exc:
            self._refused(exc)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
            self._record_failure(job, exc)
        finally:
            beat.stop()
        return True

    def _ready_artifact(self, job: JobTicket, beat: Heartbeat) -> JobTicket:
        """The job's ticket once its artifact is compressed, here if nobody else is."""
        job = self.client.artifact(job)
        if job.artifact_status == "ready":
            return job
        if self.compress and job.artifact_status != "failed":
            ticket = self.client.claim_compression(job.artifact_id)
            if ticket is not None:
                try:
                    self._report(job, 0.05, "compressing", f"compressing {job.plan}")
                except BaseException:
                    self.client.release_compression(ticket)  # not compressing after all
                    raise
                stop = lambda: self.stopping or beat.lost.is_set()  # noqa: E731
                compressing.compress(self.client, ticket, stop, in_child=self.compress_in_child)
                job = self.client.artifact(job)
        if job.artifact_status == "ready":
            return job
        if job.artifact_status == "failed":
            raise ArtifactFailed(f"Compression failed: {job.artifact_error}")
        holder = job.compressed_by or "another runner"
        raise ArtifactBusy(f"Artifact {job.artifact_id} is being compressed by {holder}")

    def _refused(self, reason: object) -> None:
        # The token was revoked: its jobs went back to the queue; stop taking work.
        self.refusal = str(reason)
        log.error("%s; stopping", reason)
        self.stopping = True

    def _release(self, job: JobTicket, reason: str) -> bool:
        """Give the job back without spending an attempt. False if it was no longer ours."""
        released = self.client.release(job, reason)
        log.info("job %s %s: %s", job.id, "released" if released else "lost", reason)
        return released

    def measure_job(self, job: JobTicket) -> dict[str, Any]:
        """Run the device's driver on a verified local copy of the job's .tflite file."""
        from measurements.protocol import ProtocolConfig

        path = self.client.tflite_path(job)
        driver = driver_for(job.device.as_device())
        try:
            prepared = driver.prepare(str(path))
            config = ProtocolConfig.from_config(job.protocol or {})
            return driver.measure(prepared, job.num_threads, config)
        finally:
            driver.cleanup()

    def _check(self, beat: Heartbeat) -> None:
        if beat.lost.is_set():
            raise JobCancelled()

    def _report(self, job: JobTicket, fraction: float, stage: str, line: str) -> None:
        if not self.client.progress(job, fraction, stage, line):
            raise JobCancelled()
        job.progress = fraction
        if self.on_progress:
            self.on_progress(job, fraction, stage)

    def _report_done(self, job: JobTicket) -> None:
        if self.on_progress:
            self.on_progress(job, 1.0, "done")

    def _record_failure(self, job: JobTicket, exc: BaseException) -> None:
        retryable = not isinstance(exc, DriverError | ValueError)
        message = f"{type(exc).__name__}: {exc}"
        log.warning("job %s failed: %s", job.id, message)
        offline = isinstance(exc, DriverError) and getattr(exc, "device_offline", False)
        detail = f"{message}\n{traceback.format_exc(limit=3)}"
        self.client.fail(job, message, retryable=retryable, device_offline=offline, log=detail)

    def _sleep(self, seconds: float) -> None:
        # Sleep in short slices so a stop request is honoured quickly.
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))


class Heartbeat:
    """Renews a job's lease from a thread; sets ``lost`` when cancelled, taken or refused."""

    def __init__(self, client: QueueClient, job: JobTicket) -> None:
        self.client, self.job = client, job
        self.lost = threading.Event()
        self.refusal = ""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{job.id}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.client.lease_seconds / 3):
                if not self.client.heartbeat(self.job):
                    self.lost.set()
                    return
        except TokenRefused as exc:
            self.refusal = str(exc)
            self.lost.set()
        except Exception as exc:  # noqa: BLE001 - a heartbeat that cannot go through is a loss
            log.warning("heartbeat of job %s failed: %s", self.job.id, exc)
            self.lost.set()
        finally:
            connection.close()  # this thread's own database connection (direct mode)
