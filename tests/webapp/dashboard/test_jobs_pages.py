"""Job pages: list, detail, the new-jobs form with its exact preview, cancel, retry, delete."""

from __future__ import annotations

import re

import pytest

from measurements import actions
from measurements.models import Job
from tests.factories import make_device, make_job, make_model, make_result

pytestmark = pytest.mark.django_db

NEW = "/jobs/new/"


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("dave")


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def catalogue():
    return actions.load_catalogue()


def request_data(models, devices, **fields) -> dict:
    data = {
        "models": [m.pk for m in models],
        "devices": [d.pk for d in devices],
        "threads": "1",
        "include_baseline": "on",
        "plans": "",
    }
    return {**data, **fields}


def test_it_lists_jobs_with_live_progress_and_status_tabs(logged_in):
    running = make_job(status="running", progress=0.42, stage="measuring")
    make_job(status="failed")
    body = logged_in.get("/jobs/").content.decode()
    assert f'data-job-id="{running.pk}" data-status="running"' in body
    assert 'aria-valuenow="42"' in body and "measuring" in body and "js/jobs.js" in body
    assert "running · 1" in body and "failed · 1" in body and "all · 2" in body
    filtered = logged_in.get("/jobs/?status=failed").content.decode()
    assert f'data-job-id="{running.pk}"' not in filtered


def test_it_says_how_to_queue_the_first_job(logged_in):
    body = logged_in.get("/jobs/").content.decode()
    assert "Queue a sweep" in body and "runjobs" in body


def test_it_shows_a_job_with_its_log_tail_error_and_actions(logged_in):
    lines = "\n".join(f"run {i}" for i in range(30))
    job = make_job(status="failed", log=lines, error="DriverError: boom", attempts=3)
    body = logged_in.get(f"/jobs/{job.pk}/").content.decode()
    assert "run 29" in body and "run 10" in body and "run 9\n" not in body  # last 20 lines
    assert "DriverError: boom" in body and job.artifact.plan.canonical in body
    retry = re.search(rf'<form[^>]*action="/jobs/{job.pk}/retry/"[^>]*>', body).group(0)
    cancel = re.search(rf'<form[^>]*action="/jobs/{job.pk}/cancel/"[^>]*>', body).group(0)
    assert "hidden" not in retry and "hidden" in cancel  # a failed job can be retried
    assert "/delete/" not in body  # not staff
    assert "None" not in body


def test_it_links_a_succeeded_job_to_its_result(logged_in):
    result = make_result(job=make_job(status="succeeded", progress=1.0))
    response = logged_in.get(f"/jobs/{result.job.pk}/result/")
    assert response.status_code == 302 and response["Location"] == f"/results/{result.pk}/"
    assert logged_in.get(f"/jobs/{make_job().pk}/result/").status_code == 404


def test_it_offers_every_model_device_technique_and_the_sweep(logged_in, catalogue):
    model = make_model(name="lenet-x")
    make_model(name="lenet-y")
    device = make_device(name="tx2")
    body = logged_in.get(f"{NEW}?models={model.pk}&techniques=Ps").content.decode()
    sweep = len(actions.standard_sweep_texts())
    assert f'data-sweep-count="{sweep}"' in body and f"Standard sweep ({sweep} plans)" in body
    assert "lenet-x" in body and "tx2" in body
    assert re.search(r'name="techniques" value="Ps"[^>]*checked', body)
    assert re.findall(r'name="models" value="(\d+)"[^>]*checked', body) == [str(model.pk)]
    # The only device has nothing to choose from: it comes ticked.
    assert re.search(rf'name="devices" value="{device.pk}"[^>]*checked', body)
    assert "lenet-x · digits-" in body and "61,706 parameters" in body


def test_it_previews_the_exact_count_without_queueing(logged_in, catalogue):
    models = [make_model(), make_model()]
    devices = [make_device()]
    # W3 at its default threshold is plain W3: one plan, whatever way it is written.
    typed = "W3\nW3(threshold=0.001)\n# a comment\n\nW3(s=0.5)@fc1 + Q-int8"
    data = request_data(models, devices, techniques=["Ps", "W3"], plans=typed, threads="1, 2, 2")
    actions.queue_jobs(models[:1], ["Ps"], devices, [2])  # one combination already queued
    before = Job.objects.count()
    response = logged_in.post(NEW, {**data, "action": "preview"})
    body = response.content.decode()
    # Plans: baseline, Ps, W3, W3(s=0.5)@fc1 + Q-int8 -> 2 models x 4 plans x 1 device x 2 threads.
    assert response.status_code == 200
    assert "<strong>15</strong> jobs will be queued" in body
    assert "1 of the 16 combinations are already queued" in body
    assert Job.objects.count() == before


def test_it_queues_what_the_preview_promised_and_skips_repeats(logged_in, user, catalogue):
    models, devices = [make_model()], [make_device(), make_device()]
    data = request_data(models, devices, plans="W3(s=0.6)@fc1", threads="1,4", min_runs="5")
    response = logged_in.post(NEW, {**data, "action": "queue"})
    assert response.status_code == 302 and response["Location"] == "/jobs/?status=queued"
    jobs = Job.objects.all()
    # baseline + W3(s=0.6)@fc1, on 2 devices, at 1 and 4 threads.
    assert jobs.count() == 2 * 2 * 2
    assert {j.artifact.plan.canonical for j in jobs} == {"baseline", "W3(s=0.6)@fc1"}
    assert {j.num_threads for j in jobs} == {1, 4}
    assert all(j.protocol == {"min_runs": 5} and j.created_by == user for j in jobs)
    again = logged_in.post(NEW, {**data, "action": "queue"}, follow=True)
    assert "Queued 0 jobs (8 already queued or done were skipped)" in again.content.decode()
    assert Job.objects.count() == 8


def test_it_queues_the_standard_sweep(logged_in, catalogue):
    models, devices = [make_model()], [make_device()]
    data = request_data(models, devices, standard_sweep="on")
    logged_in.post(NEW, {**data, "action": "queue"})
    queued = set(Job.objects.values_list("artifact__plan__canonical", flat=True))
    assert queued == set(actions.standard_sweep_texts())


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"plans": "W3@fc1\nW3(s=2)"}, "Line 2, plan &#x27;W3(s=2)&#x27;: s must be a sparsity"),
        ({"plans": "ZZ9"}, "Line 1, plan &#x27;ZZ9&#x27;: Unknown technique code"),
        ({"plans": "C2(alpha=0.5"}, "Line 1, plan &#x27;C2(alpha=0.5&#x27;: Expected"),
        ({"plans": "Q-int8 + W3"}, "Line 1, plan &#x27;Q-int8 + W3&#x27;"),
        ({"include_baseline": ""}, "Choose at least one plan"),
        ({"threads": "0, two"}, "Thread counts are whole numbers from 1 to 256"),
        ({"min_runs": "10", "max_runs": "5"}, "Protocol: max_runs must be &gt;= min_runs"),
        ({"models": []}, "This field is required"),
    ],
)
def test_it_refuses_a_bad_request_naming_the_problem(logged_in, catalogue, fields, message):
    data = {**request_data([make_model()], [make_device()]), **fields}
    for action in ("preview", "queue"):
        response = logged_in.post(NEW, {**data, "action": action})
        assert response.status_code == 400
        assert message in response.content.decode()
    assert not Job.objects.exists()


def test_it_cancels_a_queued_job_and_refuses_to_cancel_a_finished_one(logged_in):
    queued, done = make_job(), make_job(status="succeeded")
    response = logged_in.post(f"/jobs/{queued.pk}/cancel/", {"next": "/jobs/"})
    assert response.status_code == 302 and response["Location"] == "/jobs/"
    refused = logged_in.post(f"/jobs/{done.pk}/cancel/", follow=True).content.decode()
    assert "is succeeded; only queued or running jobs can be cancelled" in refused
    queued.refresh_from_db(), done.refresh_from_db()
    assert (queued.status, done.status) == ("cancelled", "succeeded")


def test_it_retries_a_failed_job_with_a_fresh_attempt_budget(logged_in):
    job = make_job(status="failed", attempts=3, error="boom")
    response = logged_in.post(f"/jobs/{job.pk}/retry/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/jobs/{job.pk}/"  # an outside "next" is ignored
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error) == ("queued", 0, "")


def test_it_lets_staff_delete_a_job_but_not_a_running_one(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("root", is_staff=True))
    finished, running = make_job(status="failed"), make_job(status="running")
    assert client.post(f"/jobs/{finished.pk}/delete/")["Location"] == "/jobs/"
    refused = client.post(f"/jobs/{running.pk}/delete/", follow=True).content.decode()
    assert "cancel it before deleting it" in refused
    assert list(Job.objects.values_list("pk", flat=True)) == [running.pk]
