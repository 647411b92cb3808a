"""The same queue scenarios on the database and over the runner API (a live server).

Each test runs once with ``DirectQueueClient`` and once with
``HttpQueueClient`` talking to a real HTTP server on this test database, and
asserts what the queue holds afterwards.
"""

from __future__ import annotations

import hashlib

import pytest
from django.core.files.base import ContentFile

from device_runner.file_cache import CacheError, FileCache
from device_runner.queue_client import QueueError, TokenRefused
from device_runner.queue_client.direct import DirectQueueClient
from device_runner.queue_client.http import HttpQueueClient
from measurements import files
from measurements.actions.runner_tokens import issue_runner_token, revoke_runner_token
from measurements.models import Artifact, Job, Result
from tests.factories import make_artifact, make_device, make_job, make_model

pytestmark = pytest.mark.django_db(transaction=True)

TFLITE = b"TFL3 pretend model bytes " * 4000
MEASUREMENT = {
    "latency": {
        "mean_ms": 2.0,
        "median_ms": 2.0,
        "p90_ms": 2.5,
        "std_ms": 0.1,
        "runs": 30,
        "stop_reason": "max_runs",
        "stable": True,
    },
    "energy": None,
    "provenance": {},
}


def ready_artifact(data: bytes = TFLITE) -> Artifact:
    artifact = make_artifact(status="ready")
    artifact.tflite_file.save("m.tflite", ContentFile(data))
    artifact.tflite_sha256 = hashlib.sha256(data).hexdigest()
    artifact.save()
    return artifact


@pytest.fixture(params=["direct", "http"])
def connect(request, tmp_path):
    """Builds a client of the parametrised kind for a token role and device names."""

    def build(role: str = "both", devices: tuple[str, ...] = ("phone",), mode: str = "both"):
        cache = FileCache(tmp_path / f"cache-{role}-{mode}")
        if request.param == "direct":
            return DirectQueueClient("host:1:abc", cache, lease_seconds=30)
        live_server = request.getfixturevalue("live_server")
        token, key = issue_runner_token(f"host-{role}-{mode}", role, list(devices))
        client = HttpQueueClient(live_server.url, key, cache, mode, "host:1:abc", patience=3)
        client.token_row = token
        return client

    return build


def test_it_claims_reports_and_stores_one_result(connect):
    phone = make_device(name="phone")
    job = make_job(artifact=ready_artifact(), device=phone)
    client = connect()
    (spec,) = client.devices(["phone"])

    ticket = client.claim_job([spec], ready_only=False)
    assert ticket.id == job.pk and ticket.device.name == "phone"
    assert client.heartbeat(ticket)
    assert client.progress(ticket, 0.5, "measuring", "half way")
    assert client.store_result(ticket, MEASUREMENT)

    job.refresh_from_db()
    assert job.status == "succeeded" and "half way" in job.log
    assert Result.objects.get(job=job).latency_mean_ms == 2.0
    assert client.claim_job([spec], ready_only=False) is None


def test_it_gives_a_measure_only_host_only_jobs_whose_artifact_is_ready(connect):
    phone = make_device(name="phone")
    pending = make_job(artifact=make_artifact(status="pending"), device=phone)
    ready = make_job(artifact=ready_artifact(), device=phone)
    client = connect()
    (spec,) = client.devices(None)

    ticket = client.claim_job([spec], ready_only=True)

    assert ticket.id == ready.pk
    assert Job.objects.get(pk=pending.pk).status == "queued"


def test_it_fetches_the_tflite_verified_into_the_cache(connect):
    phone = make_device(name="phone")
    make_job(artifact=ready_artifact(), device=phone)
    client = connect()
    ticket = client.artifact(client.claim_job(client.devices(None), ready_only=False))

    path = client.tflite_path(ticket)

    assert path.read_bytes() == TFLITE and path.name == hashlib.sha256(TFLITE).hexdigest()


def test_it_refuses_a_stored_file_whose_bytes_changed(connect):
    phone = make_device(name="phone")
    artifact = ready_artifact()
    with artifact.tflite_file.open("wb") as handle:  # the stored copy rotted
        handle.write(TFLITE[:-1] + b"!")
    make_job(artifact=artifact, device=phone)
    client = connect()
    ticket = client.artifact(client.claim_job(client.devices(None), ready_only=False))

    with pytest.raises(CacheError, match="the bytes hash to"):
        client.tflite_path(ticket)


def test_it_reports_a_lost_lease_and_stores_nothing(connect):
    phone = make_device(name="phone")
    job = make_job(artifact=ready_artifact(), device=phone)
    client = connect()
    ticket = client.claim_job(client.devices(None), ready_only=False)
    Job.objects.filter(pk=job.pk).update(lease_owner="someone-else")

    assert not client.heartbeat(ticket)
    assert not client.store_result(ticket, MEASUREMENT)
    assert client.fail(ticket, "boom", retryable=True, device_offline=False) is None
    assert not Result.objects.exists()


def test_it_requeues_a_failure_and_releases_without_spending_an_attempt(connect):
    phone = make_device(name="phone")
    job = make_job(artifact=ready_artifact(), device=phone)
    client = connect()
    ticket = client.claim_job(client.devices(None), ready_only=False)

    assert client.fail(ticket, "RuntimeError: flaky", True, False, log="trace") == "queued"
    Job.objects.filter(pk=job.pk).update(not_before=None)
    ticket = client.claim_job(client.devices(None), ready_only=False)
    assert client.release(ticket, "host stopping")

    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("queued", 1, "RuntimeError: flaky")
    assert "trace" in job.log and "host stopping; released by" in job.log


def test_it_leases_compresses_and_stores_an_artifact(connect, tmp_path):
    phone = make_device(name="phone")
    artifact = make_artifact(status="pending")
    artifact.model.sha256 = files.field_sha256(artifact.model.file)
    artifact.model.save()
    make_job(artifact=artifact, device=phone)
    client = connect()

    ticket = client.claim_compression(None)
    assert ticket.artifact_id == artifact.pk
    assert client.claim_compression(None) is None  # leased: nobody else takes it
    assert client.model_path(ticket).read_bytes() == b"not a real model"
    assert client.renew_compression(ticket)
    keras, tflite = tmp_path / "k1.keras", tmp_path / "k1.tflite"
    keras.write_bytes(b"keras bytes")
    tflite.write_bytes(b"tflite bytes")
    document = {
        "keras_path": str(keras),
        "tflite_path": str(tflite),
        "key": "k1",
        "export_mode": "float32",
        "static_metrics": {"params": 10, "macs": 100, "file_size_bytes": 12},
        "accuracy_metrics": {"accuracy": 0.5},
        "seconds": 1.5,
    }
    assert client.complete_compression(ticket, document)

    artifact.refresh_from_db()
    assert (artifact.status, artifact.params, artifact.accuracy) == ("ready", 10, 0.5)
    assert artifact.tflite_sha256 == hashlib.sha256(b"tflite bytes").hexdigest()
    with artifact.tflite_file.open("rb") as handle:
        assert handle.read() == b"tflite bytes"
    assert not files.has_upload(artifact.tflite_sha256)


def test_it_hands_over_a_programs_conversion_and_stores_a_compression_without_keras(
    connect, tmp_path
):
    """A .pt2 model: the ticket names its format and its upload-time conversion, the
    converted .tflite downloads by hash, and the artifact is stored from the .tflite alone."""
    converted = b"TFL3 converted at upload " * 100
    artifact = make_artifact(status="pending", model=make_model(format="pt2"))
    model = artifact.model
    model.sha256 = files.field_sha256(model.file)
    model.converted_file.save("net.tflite", ContentFile(converted), save=False)
    model.converted_sha256 = hashlib.sha256(converted).hexdigest()
    model.input_layout, model.conversion_seconds, model.conversion_max_abs_diff = "NCHW", 1.5, 2e-8
    model.save()
    make_job(artifact=artifact, device=make_device(name="phone"))
    client = connect()

    ticket = client.claim_compression(None)
    assert ticket.model_format == "pt2"
    assert ticket.conversion == {
        "sha256": model.converted_sha256, "layout": "NCHW", "seconds": 1.5, "max_abs_diff": 2e-8,
    }  # fmt: skip
    assert client.converted_path(ticket).read_bytes() == converted
    tflite = tmp_path / "k2.tflite"
    tflite.write_bytes(b"quantized tflite")
    document = {
        "keras_path": None,
        "tflite_path": str(tflite),
        "key": "k2",
        "export_mode": "aq-dyn",
        "static_metrics": {"params": 10, "file_size_bytes": 16, "conversion": {"max_abs_diff": 0}},
        "accuracy_metrics": {"accuracy": 0.9},
        "seconds": 2.0,
    }
    assert client.complete_compression(ticket, document)

    artifact.refresh_from_db()
    assert (artifact.status, artifact.export_mode, artifact.accuracy) == ("ready", "aq-dyn", 0.9)
    assert not artifact.keras_file and artifact.static_metrics["conversion"]["max_abs_diff"] == 0
    with artifact.tflite_file.open("rb") as handle:
        assert handle.read() == b"quantized tflite"


def test_it_refuses_a_keras_models_compression_without_its_keras_file(live_server, tmp_path):
    artifact = make_artifact(status="pending")
    make_job(artifact=artifact, device=make_device(name="phone"))
    token, key = issue_runner_token("host", "both", ["phone"])
    client = HttpQueueClient(live_server.url, key, FileCache(tmp_path), "both", "h:1", patience=3)
    ticket = client.claim_compression(None)
    tflite = tmp_path / "k3.tflite"
    tflite.write_bytes(b"tflite only")
    document = {
        "keras_path": None, "tflite_path": str(tflite), "key": "k3", "export_mode": "float32",
        "static_metrics": {}, "accuracy_metrics": {"accuracy": 0.5}, "seconds": 1.0,
    }  # fmt: skip

    with pytest.raises(QueueError, match="A Keras model's compression sends a .keras"):
        client.complete_compression(ticket, document)
    artifact.refresh_from_db()
    assert artifact.status == "compressing" and not artifact.tflite_file


def test_it_stops_a_host_whose_token_was_revoked(live_server, tmp_path):
    make_device(name="phone")
    token, key = issue_runner_token("pi", "measure", ["phone"])
    client = HttpQueueClient(live_server.url, key, FileCache(tmp_path), "measure", "pi:1")

    revoke_runner_token(token)

    with pytest.raises(TokenRefused, match="revoked"):
        client.claim_job(client.devices(None), ready_only=True)


def test_it_compresses_then_measures_a_job_through_either_client(connect, tmp_path):
    """A runner with neither flag: compresses its job's artifact (in the child), measures it."""
    from compression.modelio import save_model
    from compression.plan import Plan
    from compression.zoo import build
    from device_runner.runner import Runner
    from measurements import actions

    dataset = actions.register_dataset("digits", "bundled", {"seed": 0})
    path = tmp_path / "lenet.keras"
    save_model(build("lenet", (8, 8, 1), 10), path)
    model = actions.register_model_file("lenet", "lenet", dataset, path)
    plan = actions.get_or_create_plan(Plan.baseline())
    artifact = Artifact.objects.create(model=model, plan=plan)
    device = make_device(name="phone", settings={"op_breakdown": False})
    quick = {"warmup_runs": 1, "min_runs": 3, "max_runs": 10, "max_seconds": 0.2}
    job = make_job(artifact=artifact, device=device, protocol=quick)
    client = connect()

    runner = Runner(devices=client.devices(None), client=client, owner=client.owner)
    assert runner.run(once=True) == 1

    job.refresh_from_db()
    artifact.refresh_from_db()
    assert (job.status, job.attempts) == ("succeeded", 1), job.error
    assert artifact.status == "ready" and artifact.lease_owner == ""
    with artifact.tflite_file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).hexdigest() == artifact.tflite_sha256
    assert Result.objects.get(job=job).runs >= 3


def test_it_keeps_a_host_running_while_the_server_stays_away(live_server, tmp_path, caplog):
    from device_runner.runner import Runner
    from tests.device_runner.lab_network import free_port

    make_device(name="phone")
    _, key = issue_runner_token("pi", "measure", ["phone"])
    client = HttpQueueClient(live_server.url, key, FileCache(tmp_path), "measure", "pi:1")
    client.base = f"http://127.0.0.1:{free_port()}/api/runner/"  # the server went away
    client.patience = 0.5
    runner = Runner(devices=client.devices(None), client=client, measure=True, compress=False)

    assert runner.run(once=True) == 0

    assert not runner.stopping and runner.refusal == ""
    assert "did not answer" in caplog.text and "trying again" in caplog.text
