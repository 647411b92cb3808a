import pytest

from measurements.models import Technique
from tests.factories import make_device, make_job, make_result

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(client, django_user_model):
    client.force_login(django_user_model.objects.create_user("viewer"))
    return client


def test_it_lists_models_devices_techniques_and_jobs(viewer):
    Technique.objects.create(
        code="W3", name="Magnitude pruning", category="pruning", applies_to="fc", description="d"
    )
    job = make_job(device=make_device(name="jetson-tx2"))
    response = viewer.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Magnitude pruning" in body and "jetson-tx2" in body
    assert job.artifact.model.name in body and job.artifact.plan.canonical in body
    assert "None" not in body


def test_it_shows_running_jobs_with_a_live_progress_bar(viewer):
    running = make_job(status="running", progress=0.25)
    finished = make_job(status="succeeded", progress=1.0)
    body = viewer.get("/").content.decode()
    assert f'data-job-id="{running.pk}" data-status="running"' in body
    assert 'aria-valuenow="25"' in body and "width: 25%" in body
    assert f'data-job-id="{finished.pk}"' not in body  # only jobs still moving are watched
    assert "js/jobs.js" in body


def test_it_shows_the_newest_results_and_whether_energy_was_measured(viewer):
    make_result(latency_mean_ms=2.5, energy_mj=0.75, energy_measured=False, accuracy=0.9)
    body = viewer.get("/").content.decode()
    assert "2.500 ms" in body and "0.750 mJ" in body and "estimated" in body and "90%" in body
    assert "None" not in body


def test_it_shows_which_devices_are_online(viewer):
    make_device(name="phone", online=False)
    make_device(name="board", online=True)
    body = viewer.get("/").content.decode()
    assert body.index("board") < body.index('class="ok">online') < body.index("phone")


def test_it_says_what_to_do_next_when_empty(viewer):
    body = viewer.get("/").content.decode()
    assert "make demo" in body and "loadcatalogue" in body


def test_it_sends_anonymous_visitors_to_the_login_page(client):
    response = client.get("/")
    assert response.status_code == 302 and response["Location"] == "/accounts/login/?next=/"


def test_it_serves_the_admin_login(client):
    assert client.get("/admin/login/").status_code == 200
