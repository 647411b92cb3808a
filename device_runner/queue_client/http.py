"""The queue through ``/api/runner/``: a host that holds only the server's URL and a token.

A call the network or a restarting server interrupts (connection refused or
reset, 502/503/504) is repeated until ``patience`` seconds have passed; the
server's leases outlive its restarts, so a job in progress carries on. A 401
means the token was revoked: ``TokenRefused``, and the host stops. Files
come through the host's ``FileCache`` (resumed, verified by SHA-256) and go
up by SHA-256 (the server keeps them only when they hash to it).
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import requests

from device_runner.file_cache import FileCache, TransferError, file_sha256
from device_runner.queue_client.base import (
    CompressionTicket,
    DeviceSpec,
    JobTicket,
    QueueError,
    TokenRefused,
)

log = logging.getLogger(__name__)

RETRY_STATUSES = {502, 503, 504}
UPLOAD_ATTEMPTS = 4
TIMEOUT = (10, 120)  # connect, read (a large file streams slower than a JSON answer)


def runner_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("compresso")
    except PackageNotFoundError:
        return "0.1.0"


class HttpQueueClient:
    """Runner API client for one host and mode ("measure", "compress" or "both")."""

    def __init__(
        self,
        server: str,
        token: str,
        cache: FileCache,
        mode: str,
        owner: str,
        patience: float = 120.0,
    ) -> None:
        self.base = server.rstrip("/") + "/api/runner/"
        self.cache, self.mode, self.patience = cache, mode, patience
        self.headers = {
            "Authorization": f"Runner {token}",
            "X-Runner-Host": socket.gethostname(),
            "X-Runner-Version": runner_version(),
            "X-Runner-Mode": mode,
        }
        self._local = threading.local()  # one session per thread: the heartbeat has its own
        self.host_owner = owner  # our own name; the server prefixes it with the token's
        hello = self._json("post", "hello", {"mode": mode})
        self.lease_seconds = int(hello["lease_seconds"])
        self._devices = [DeviceSpec(**d) for d in hello["devices"]]
        self.owner = owner

    # Transport ------------------------------------------------------------

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        deadline = time.monotonic() + self.patience
        while True:
            body = kwargs.get("data")
            if hasattr(body, "seek"):
                body.seek(0)  # an upload repeated after a dropped connection starts over
            try:
                response = self._session().request(
                    method, self.base + path, timeout=TIMEOUT, **kwargs
                )
            except (requests.ConnectionError, requests.Timeout) as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code not in RETRY_STATUSES:
                    return self._checked(response)
                problem = f"HTTP {response.status_code}"
            if time.monotonic() > deadline:
                raise QueueError(f"The server at {self.base} did not answer: {problem}")
            log.warning("%s %s: %s; retrying", method.upper(), path, problem)
            time.sleep(1.0)

    def _session(self) -> requests.Session:
        if not hasattr(self._local, "session"):
            self._local.session = requests.Session()
            self._local.session.headers.update(self.headers)
        return self._local.session

    def _checked(self, response: requests.Response) -> requests.Response:
        if response.status_code == 401:
            raise TokenRefused(f"The server refused this host's token: {_detail(response)}")
        if response.status_code == 403:
            raise QueueError(f"Not allowed: {_detail(response)}")
        return response

    def _json(self, method: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self._send(method, path, json=body)
        if response.status_code >= 400:
            raise QueueError(f"{path}: HTTP {response.status_code}: {_detail(response)}")
        return response.json() if response.content else {}

    def _held(self, path: str, body: dict[str, Any]) -> dict[str, Any] | None:
        """POST on something this host holds; None when the lease is lost (409)."""
        response = self._send("post", path, json={"owner": self.host_owner, **body})
        if response.status_code == 409:
            return None
        if response.status_code >= 400:
            raise QueueError(f"{path}: HTTP {response.status_code}: {_detail(response)}")
        return response.json() if response.content else {}

    # Jobs -----------------------------------------------------------------

    def devices(self, names: list[str] | None) -> list[DeviceSpec]:
        if not names:
            return list(self._devices)
        mine = {d.name: d for d in self._devices}
        missing = sorted(set(names) - set(mine))
        if missing:
            raise QueueError(f"This token does not serve device(s): {', '.join(missing)}")
        return [mine[n] for n in names]

    def claim_job(self, devices: list[DeviceSpec], ready_only: bool) -> JobTicket | None:
        body = {"owner": self.host_owner, "devices": [d.name for d in devices]}
        response = self._send("post", "jobs/claim", json={**body, "ready_only": ready_only})
        if response.status_code == 204:
            return None
        if response.status_code >= 400:
            raise QueueError(f"jobs/claim: HTTP {response.status_code}: {_detail(response)}")
        data = response.json()
        self.owner = data["owner"]
        return _job_ticket(data["job"], data["owner"])

    def heartbeat(self, job: JobTicket) -> bool:
        return self._held(f"jobs/{job.id}/heartbeat", {}) is not None

    def progress(self, job: JobTicket, fraction: float, stage: str, line: str = "") -> bool:
        body = {"progress": min(max(fraction, 0.0), 1.0), "stage": stage[:50], "line": line[:2000]}
        return self._held(f"jobs/{job.id}/progress", body) is not None

    def artifact(self, job: JobTicket) -> JobTicket:
        data = self._json("get", f"artifacts/{job.artifact_id}", None)
        return replace(
            job,
            artifact_status=data["status"],
            artifact_error=data["error"],
            compressed_by=data["compressed_by"],
            tflite_sha256=data["tflite_sha256"],
        )

    def tflite_path(self, job: JobTicket) -> Path:
        return self.cache.get(job.tflite_sha256, self._source)

    def store_result(self, job: JobTicket, raw: dict[str, Any]) -> bool:
        return self._held(f"jobs/{job.id}/result", {"measurement": raw}) is not None

    def fail(
        self, job: JobTicket, error: str, retryable: bool, device_offline: bool, log: str = ""
    ) -> str | None:
        body = {"error": error[:5000], "retryable": retryable, "device_offline": device_offline}
        body["log"] = log[:5000]
        answer = self._held(f"jobs/{job.id}/fail", body)
        return None if answer is None else answer["status"]

    def release(self, job: JobTicket, reason: str) -> bool:
        return self._held(f"jobs/{job.id}/release", {"reason": reason[:500]}) is not None

    # Compression ----------------------------------------------------------

    def claim_compression(self, artifact_id: int | None) -> CompressionTicket | None:
        body = {"owner": self.host_owner, "artifact": artifact_id}
        response = self._send("post", "artifacts/claim", json=body)
        if response.status_code == 204:
            return None
        if response.status_code >= 400:
            raise QueueError(f"artifacts/claim: HTTP {response.status_code}: {_detail(response)}")
        data = response.json()
        return CompressionTicket(owner=data["owner"], **data["compression"])

    def renew_compression(self, ticket: CompressionTicket) -> bool:
        return self._held(f"artifacts/{ticket.artifact_id}/heartbeat", {}) is not None

    def release_compression(self, ticket: CompressionTicket) -> bool:
        return self._held(f"artifacts/{ticket.artifact_id}/release", {}) is not None

    def fail_compression(self, ticket: CompressionTicket, error: str) -> bool:
        body = {"error": error[:5000]}
        return self._held(f"artifacts/{ticket.artifact_id}/fail", body) is not None

    def model_path(self, ticket: CompressionTicket) -> Path:
        return self.cache.get(ticket.model_sha256, self._source)

    def converted_path(self, ticket: CompressionTicket) -> Path:
        return self.cache.get((ticket.conversion or {})["sha256"], self._source)

    def complete_compression(self, ticket: CompressionTicket, document: dict[str, Any]) -> bool:
        hashes = {"tflite_sha256": self.upload(Path(document["tflite_path"]))}
        if document.get("keras_path"):  # none for a .tflite or .pt2 model
            hashes["keras_sha256"] = self.upload(Path(document["keras_path"]))
        fields = ("key", "export_mode", "static_metrics", "accuracy_metrics", "seconds")
        body = {**hashes, **{name: document[name] for name in fields}}
        return self._held(f"artifacts/{ticket.artifact_id}/complete", body) is not None

    # Files ----------------------------------------------------------------

    def _source(self, sha256: str, offset: int) -> tuple[int, Any]:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self._send("get", f"files/{sha256}", headers=headers, stream=True)
        if response.status_code >= 400:
            raise QueueError(f"files/{sha256}: HTTP {response.status_code}: {_detail(response)}")
        if response.headers.get("X-Content-SHA256") != sha256:
            raise TransferError(f"the server sent a file for another hash ({sha256} asked)")
        start = offset if response.status_code == 206 else 0
        return start, _chunks(response)

    def upload(self, path: Path) -> str:
        """PUT a produced file under its SHA-256, again while the server finds it corrupted."""
        sha256 = file_sha256(path)
        for attempt in range(1, UPLOAD_ATTEMPTS + 1):
            with path.open("rb") as handle:
                response = self._send(
                    "put",
                    f"uploads/{sha256}",
                    data=handle,
                    headers={"Content-Type": "application/octet-stream"},
                )
            if response.status_code == 201:
                return sha256
            log.warning("upload of %s, attempt %d: %s", path.name, attempt, _detail(response))
        raise QueueError(f"The server never received {path.name} intact ({sha256}).")


def _chunks(response: requests.Response):
    try:
        yield from response.iter_content(chunk_size=1024 * 1024)
    except requests.RequestException as exc:
        raise TransferError(f"download cut short: {exc}") from exc
    finally:
        response.close()


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail") or response.json())
    except ValueError:
        return response.text[:300] or response.reason


def _job_ticket(data: dict[str, Any], owner: str) -> JobTicket:
    artifact = data["artifact"]
    return JobTicket(
        id=data["id"],
        owner=owner,
        attempts=data["attempts"],
        num_threads=data["num_threads"],
        protocol=data["protocol"],
        device=DeviceSpec(**data["device"]),
        artifact_id=artifact["id"],
        artifact_status=artifact["status"],
        plan=artifact["plan"],
        tflite_sha256=artifact["tflite_sha256"],
    )
