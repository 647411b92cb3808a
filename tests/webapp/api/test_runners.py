"""/api/runner/…: a host with a runner token claims, heartbeats, stores and moves files.

Through real URLs, asserting both the answer and the database: a token only
serves its devices, a revoked token is refused at its next call and its jobs
go back to the queue, files move by SHA-256 (resumable, verified).
"""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from measurements import files
from measurements.actions.runner_tokens import issue_runner_token, revoke_runner_token
from measurements.models import Job, Result, RunnerToken
from tests.factories import make_artifact, make_device, make_job

pytestmark = pytest.mark.django_db

MEASUREMENT = {
    "latency": {
        "mean_ms": 1.5,
        "median_ms": 1.4,
        "p90_ms": 1.9,
        "std_ms": 0.2,
        "ci_half_width_ms": 0.05,
        "runs": 40,
        "stop_reason": "ci",
        "stable": True,
    },
    "init_ms": 3.0,
    "peak_memory_bytes": 1234,
    "energy": None,
    "provenance": {"host": "pi"},
}


def runner_client(key: str, host: str = "pi-3") -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Runner {key}",
        HTTP_X_RUNNER_HOST=host,
        HTTP_X_RUNNER_VERSION="0.1.0",
        HTTP_X_RUNNER_MODE="measure",
    )
    return client


@pytest.fixture
def lab():
    """Two devices, a ready artifact with a .tflite, a job queued on each device."""
    phone, board = make_device(name="phone"), make_device(name="board")
    artifact = make_artifact()
    artifact.tflite_file.save("a.tflite", ContentFile(b"tflite bytes " * 100))
    artifact.tflite_sha256 = hashlib.sha256(b"tflite bytes " * 100).hexdigest()
    artifact.save()
    token, key = issue_runner_token("pi-3", "measure", ["phone"])
    jobs = {
        name: make_job(artifact=artifact, device=dev)
        for name, dev in (("phone", phone), ("board", board))
    }
    return token, key, jobs, artifact


def claim(client: APIClient, **body) -> dict:
    response = client.post("/api/runner/jobs/claim", {"owner": "pi-3:1", **body}, format="json")
    assert response.status_code in (200, 204), response.content
    return response.json() if response.status_code == 200 else {}


def test_it_stores_only_the_keys_hash_and_shows_the_key_once(db):
    make_device(name="phone")
    token, key = issue_runner_token("pi-3", "measure", ["phone"])

    assert key.startswith("cr_") and len(key) > 40
    row = RunnerToken.objects.get(pk=token.pk)
    assert row.key_hash == hashlib.sha256(key.encode()).hexdigest()
    assert key not in {row.key_hash, row.key_prefix, row.name}
    assert list(row.devices.values_list("name", flat=True)) == ["phone"]


def test_it_refuses_a_measuring_token_without_devices_and_an_unknown_device(db):
    with pytest.raises(ValueError, match="needs at least one device"):
        issue_runner_token("pi-3", "measure", [])
    with pytest.raises(ValueError, match="Unknown device"):
        issue_runner_token("pi-3", "measure", ["nope"])
    assert not RunnerToken.objects.exists()


def test_it_claims_only_jobs_on_the_tokens_devices(lab):
    token, key, jobs, _ = lab
    client = runner_client(key)

    first = claim(client)
    second = claim(client)

    assert first["job"]["id"] == jobs["phone"].pk
    assert first["job"]["device"]["name"] == "phone"
    assert first["owner"] == f"token{token.pk}/pi-3:1"
    assert second == {}  # the board's job is not this token's
    phone_job, board_job = (Job.objects.get(pk=jobs[n].pk) for n in ("phone", "board"))
    assert (phone_job.status, phone_job.lease_owner) == ("running", f"token{token.pk}/pi-3:1")
    assert board_job.status == "queued"
    token.refresh_from_db()
    assert (token.host_name, token.version, token.mode) == ("pi-3", "0.1.0", "measure")
    assert token.last_heartbeat_at is not None


def test_it_refuses_naming_a_device_the_token_does_not_serve(lab):
    _, key, jobs, _ = lab

    response = runner_client(key).post(
        "/api/runner/jobs/claim", {"owner": "x", "devices": ["board"]}, format="json"
    )

    assert response.status_code == 403
    assert "board" in response.json()["detail"]
    assert Job.objects.get(pk=jobs["board"].pk).status == "queued"


def test_it_hides_another_devices_job_from_every_job_route(lab):
    _, key, jobs, _ = lab
    client = runner_client(key)
    for route in ("heartbeat", "progress", "result", "fail", "release"):
        response = client.post(
            f"/api/runner/jobs/{jobs['board'].pk}/{route}", {"owner": "x"}, format="json"
        )
        assert response.status_code in (400, 404), (route, response.content)
    response = client.post(f"/api/runner/jobs/{jobs['board'].pk}/heartbeat", {"owner": "x"})
    assert response.status_code == 404


def test_it_runs_a_job_through_heartbeat_progress_and_result(lab):
    _, key, jobs, artifact = lab
    client = runner_client(key)
    job_id = claim(client)["job"]["id"]
    base = f"/api/runner/jobs/{job_id}"

    beat = client.post(f"{base}/heartbeat", {"owner": "pi-3:1"}, format="json")
    step = client.post(
        f"{base}/progress",
        {"owner": "pi-3:1", "progress": 0.5, "stage": "measuring", "line": "half way"},
        format="json",
    )
    done = client.post(
        f"{base}/result", {"owner": "pi-3:1", "measurement": MEASUREMENT}, format="json"
    )

    assert beat.status_code == 200 and step.status_code == 200
    assert done.status_code == 201, done.content
    job = Job.objects.get(pk=job_id)
    assert job.status == "succeeded" and "half way" in job.log
    result = Result.objects.get(job=job)
    assert done.json() == {"job": job_id, "result": result.pk}
    assert (result.latency_mean_ms, result.runs, result.artifact_id) == (1.5, 40, artifact.pk)


def test_it_answers_409_to_a_host_that_does_not_hold_the_lease(lab):
    _, key, _, _ = lab
    client = runner_client(key)
    job_id = claim(client)["job"]["id"]

    beat = client.post(f"/api/runner/jobs/{job_id}/heartbeat", {"owner": "pi-3:2"}, format="json")
    store = client.post(
        f"/api/runner/jobs/{job_id}/result",
        {"owner": "pi-3:2", "measurement": MEASUREMENT},
        format="json",
    )

    assert beat.status_code == 409 and store.status_code == 409
    assert not Result.objects.exists()
    assert Job.objects.get(pk=job_id).status == "running"


def test_it_refuses_a_malformed_measurement_with_a_400_and_stores_nothing(lab):
    _, key, _, _ = lab
    client = runner_client(key)
    job_id = claim(client)["job"]["id"]
    bad = {**MEASUREMENT, "latency": {**MEASUREMENT["latency"], "runs": 0, "mean_ms": "fast"}}

    response = client.post(
        f"/api/runner/jobs/{job_id}/result", {"owner": "pi-3:1", "measurement": bad}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["measurement"]["latency"]) == {"runs", "mean_ms"}
    assert not Result.objects.exists()
    assert Job.objects.get(pk=job_id).status == "running"


def test_it_requeues_a_failed_attempt_and_releases_without_spending_one(lab):
    _, key, _, _ = lab
    client = runner_client(key)
    job_id = claim(client)["job"]["id"]
    failed = client.post(
        f"/api/runner/jobs/{job_id}/fail",
        {"owner": "pi-3:1", "error": "adb: device gone"},
        format="json",
    )
    job = Job.objects.get(pk=job_id)
    assert (
        failed.json() == {"status": "queued"}
        and job.attempts == 1
        and job.error == "adb: device gone"
    )

    Job.objects.filter(pk=job_id).update(not_before=None)
    claim(client)
    released = client.post(f"/api/runner/jobs/{job_id}/release", {"owner": "pi-3:1"}, format="json")

    assert released.status_code == 200
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 1, "")


def test_it_refuses_a_revoked_token_at_once_and_gives_its_job_back(lab):
    token, key, _, _ = lab
    client = runner_client(key)
    job_id = claim(client)["job"]["id"]

    released = revoke_runner_token(token)
    beat = client.post(f"/api/runner/jobs/{job_id}/heartbeat", {"owner": "pi-3:1"}, format="json")

    assert released == 1
    assert beat.status_code == 401
    assert "revoked" in beat.json()["detail"]
    job = Job.objects.get(pk=job_id)
    assert (job.status, job.attempts, job.lease_owner) == ("queued", 0, "")


def test_it_refuses_no_key_a_wrong_key_and_a_user_token(lab, signed_in):
    _, _, _, artifact = lab
    url = "/api/runner/jobs/claim"
    assert APIClient().post(url, {"owner": "x"}, format="json").status_code == 401
    assert runner_client("cr_wrong").post(url, {"owner": "x"}, format="json").status_code == 401
    assert signed_in.post(url, {"owner": "x"}, format="json").status_code in (401, 403)
    assert Job.objects.filter(status="running").count() == 0


def test_it_keeps_a_measure_token_from_compressing_and_uploading(lab):
    _, key, _, _ = lab
    client = runner_client(key)
    hello = client.post("/api/runner/hello", {"mode": "compress"}, format="json")
    upload = client.put(
        f"/api/runner/uploads/{'0' * 64}", b"x", content_type="application/octet-stream"
    )

    assert hello.status_code == 403 and upload.status_code == 403
    assert (
        client.post("/api/runner/hello", {"mode": "measure"}, format="json").json()["devices"][0][
            "name"
        ]
        == "phone"
    )


def test_it_streams_a_file_by_hash_and_resumes_from_a_range(lab):
    _, key, _, artifact = lab
    client = runner_client(key)
    url = f"/api/runner/files/{artifact.tflite_sha256}"

    whole = client.get(url)
    tail = client.get(url, HTTP_RANGE="bytes=1000-")
    beyond = client.get(url, HTTP_RANGE="bytes=5000-")

    body = b"".join(whole.streaming_content)
    assert whole.status_code == 200 and hashlib.sha256(body).hexdigest() == artifact.tflite_sha256
    assert whole["X-Content-SHA256"] == artifact.tflite_sha256
    assert tail.status_code == 206 and b"".join(tail.streaming_content) == body[1000:]
    assert tail["Content-Range"] == f"bytes 1000-{len(body) - 1}/{len(body)}"
    assert beyond.status_code == 416


def test_it_does_not_serve_a_file_of_another_devices_artifact(lab):
    _, key, _, _ = lab
    other = make_artifact()
    other.tflite_file.save("b.tflite", ContentFile(b"other"))
    other.tflite_sha256 = hashlib.sha256(b"other").hexdigest()
    other.save()
    make_job(artifact=other, device=make_device(name="elsewhere"))

    assert runner_client(key).get(f"/api/runner/files/{other.tflite_sha256}").status_code == 404
    assert runner_client(key).get("/api/runner/files/not-a-hash").status_code == 400


def test_it_keeps_an_upload_only_when_its_bytes_hash_to_its_name(db):
    _, key = issue_runner_token("gpu-box", "compress")
    client = runner_client(key)
    data = b"compressed model" * 50
    sha = hashlib.sha256(data).hexdigest()

    corrupt = client.put(
        f"/api/runner/uploads/{sha}", data[:-1] + b"!", content_type="application/octet-stream"
    )
    assert corrupt.status_code == 400 and corrupt.json()["code"] == "checksum_mismatch"
    assert not files.has_upload(sha)

    good = client.put(f"/api/runner/uploads/{sha}", data, content_type="application/octet-stream")
    assert good.status_code == 201 and good.json() == {"sha256": sha, "size": len(data)}
    with files.open_upload(sha) as handle:
        assert handle.read() == data


def test_it_lets_a_runner_upload_a_model_sized_file_and_nothing_larger(settings):
    from webapp.body_limit import body_limit

    settings.MAX_MODEL_UPLOAD_BYTES, settings.MAX_REQUEST_BODY_BYTES = 50_000_000, 1_000_000
    assert body_limit(f"/api/runner/uploads/{'a' * 64}") == 50_000_000
    assert body_limit("/api/runner/jobs/1/result") == 1_000_000
