"""The device-host runner behind ``manage.py runjobs``, built from small steps.

``Runner.step()`` claims one job and runs it, returning whether there may be
more work; ``Runner.run()`` loops over steps until told to stop. Signal
handlers only set ``stopping``: the current job finishes, or, when it is
still compressing, the compression child is terminated and the job released
(its attempt not counted); then the loop exits.

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

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from device_runner import progress
from device_runner.devices import driver_for
from device_runner.drivers import DriverError
from measurements import actions
from measurements.models import Device, Job

log = logging.getLogger(__name__)


class JobCancelled(Exception):
    """The job was cancelled, or its lease lost, while this runner held it."""


def runner_identity() -> str:
    """A lease owner name unique to this process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Runner:
    """Serves the jobs of some devices from the shared queue.

    Attributes:
        devices: the devices this host has attached.
        owner: lease owner name written on claimed jobs.
        lease_seconds: lease length; heartbeats renew it every third of it.
        on_progress: called with (job, fraction, stage) for the terminal bar.
        compress_in_child: compress in a child process that a stop terminates
            (default); False compresses in this process, for a caller that has
            TensorFlow loaded already and needs no prompt stop (``demo``).
    """

    devices: Sequence[Device]
    owner: str = field(default_factory=runner_identity)
    lease_seconds: int = field(default_factory=lambda: settings.JOB_LEASE_SECONDS)
    on_progress: Callable[[Job, float, str], None] | None = None
    compress_in_child: bool = True
    stopping: bool = False
    jobs_done: int = 0

    def request_stop(self, *_: object) -> None:
        """Signal handler: only sets the flag; the loop checks it between steps."""
        self.stopping = True

    def run(self, max_jobs: int | None = None, once: bool = False, poll: float = 2.0) -> int:
        """Claim and run jobs until stopped, out of work (``once``) or ``max_jobs`` done.

        Returns:
            The number of jobs this runner finished (succeeded or failed).
        """
        while not self.stopping:
            if max_jobs is not None and self.jobs_done >= max_jobs:
                break
            more = self.step()
            if not more:
                if once:
                    break
                self._sleep(poll)
        return self.jobs_done

    def step(self) -> bool:
        """Claim one job and run it. Returns False when nothing was claimable."""
        close_old_connections()
        Job.reap_exhausted()
        job = Job.claim(self.owner, [d.pk for d in self.devices], self.lease_seconds)
        if job is None:
            return False
        if self.run_job(job):
            self.jobs_done += 1
        return True

    def run_job(self, job: Job) -> bool:
        """Compress (if needed), measure and store one job, with a heartbeat alongside.

        Returns:
            False when the job was given back to the queue untouched (its
            artifact is compressed elsewhere, or this runner is stopping).
        """
        beat = Heartbeat(job, self.owner, self.lease_seconds)
        beat.start()
        try:
            self._report(job, 0.02, "claimed", f"claimed by {self.owner} (attempt {job.attempts})")
            artifact = self._ready_artifact(job, beat)
            self._check(beat)
            self._report(job, 0.3, "measuring", f"measuring on {job.device.name}")
            raw = self.measure(job, artifact)
            self._check(beat)
            actions.store_result(job, self.owner, raw)
            self._report_done(job)
        except (actions.ArtifactBusy, actions.CompressionInterrupted) as exc:
            return not self._release(job, str(exc))
        except (JobCancelled, actions.LeaseLost):
            log.info("job %s cancelled or lease lost; leaving it", job.pk)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the job
            self._record_failure(job, exc)
        finally:
            beat.stop()
        return True

    def _ready_artifact(self, job: Job, beat: Heartbeat):
        """The job's artifact compressed; compressing stops when told to stop or the job is lost."""
        plan = job.artifact.plan
        return actions.ensure_artifact_ready(
            job.artifact,
            owner=self.owner,
            lease_seconds=self.lease_seconds,
            should_stop=lambda: self.stopping or beat.lost.is_set(),
            on_compress=lambda: self._report(job, 0.05, "compressing", f"compressing {plan}"),
            in_child=self.compress_in_child,
        )

    def _release(self, job: Job, reason: str) -> bool:
        """Give the job back without spending an attempt. False if it was no longer ours."""
        job.report(self.owner, 0.0, "released", f"{reason}; released by {self.owner}")
        released = job.release(self.owner)
        log.info("job %s %s: %s", job.pk, "released" if released else "lost", reason)
        if released:
            progress.broadcast(job.pk, job.device_id, {"progress": 0.0, "stage": "released"})
        return released

    def measure(self, job: Job, artifact) -> dict:
        """Run the device's driver on the artifact's .tflite file."""
        from measurements.protocol import ProtocolConfig

        driver = driver_for(job.device)
        try:
            prepared = driver.prepare(artifact.tflite_file.path)
            config = ProtocolConfig.from_config(job.protocol or {})
            return driver.measure(prepared, job.num_threads, config)
        finally:
            driver.cleanup()

    def _check(self, beat: Heartbeat) -> None:
        if beat.lost.is_set():
            raise JobCancelled()

    def _report(self, job: Job, fraction: float, stage: str, line: str) -> None:
        if not progress.publish(job, self.owner, fraction, stage, line):
            raise JobCancelled()
        if self.on_progress:
            self.on_progress(job, fraction, stage)

    def _report_done(self, job: Job) -> None:
        progress.broadcast(job.pk, job.device_id, {"progress": 1.0, "stage": "done"})
        if self.on_progress:
            self.on_progress(job, 1.0, "done")

    def _record_failure(self, job: Job, exc: BaseException) -> None:
        retryable = not isinstance(exc, DriverError | ValueError)
        message = f"{type(exc).__name__}: {exc}"
        log.warning("job %s failed: %s", job.pk, message)
        job.report(self.owner, job.progress, "failed", traceback.format_exc(limit=3))
        status = job.fail(self.owner, message, retryable=retryable)
        if isinstance(exc, DriverError) and getattr(exc, "device_offline", False):
            Device.objects.filter(pk=job.device_id).update(online=False)
        progress.broadcast(job.pk, job.device_id, {"stage": status or "lost", "error": message})

    def _sleep(self, seconds: float) -> None:
        # Sleep in short slices so a stop request is honoured quickly.
        deadline = time.monotonic() + seconds
        while not self.stopping and time.monotonic() < deadline:
            time.sleep(min(0.2, seconds))


class Heartbeat:
    """Renews a job's lease from a thread; sets ``lost`` when cancelled or taken."""

    def __init__(self, job: Job, owner: str, lease_seconds: int) -> None:
        self.job, self.owner, self.lease_seconds = job, owner, lease_seconds
        self.lost = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{job.pk}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.lease_seconds / 3):
                if not self.job.heartbeat(self.owner, self.lease_seconds):
                    self.lost.set()
                    return
                Device.objects.filter(pk=self.job.device_id).update(
                    online=True, last_seen=timezone.now()
                )
        finally:
            connection.close()  # this thread's own database connection
