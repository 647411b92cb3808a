"""In a real browser: a search that measures as it goes, end to end through the job queue.

From the Recommend page a user starts a search over a tiny LeNet with an
evaluation budget; the server (Daphne, a subprocess) queues the first plan.
This test then plays ``runjobs``: a runner in this process claims each job,
compresses the plan for real, measures it on this host and stores the
result, which advances the search (the next plan is asked for and queued).
The page, refreshing itself, follows the search to its end: evaluations spent
of N, the best plan with each figure's provenance, each evaluation measured
by the search's own job.
"""

from __future__ import annotations

import time

import pytest

from device_runner.runner import Runner
from measurements import actions
from measurements.models import Device, Job, Result, Search
from tests.webapp.dashboard.test_browser_flow import (  # noqa: F401 - fixtures
    ARTIFACTS,
    PASSWORD,
    SLOW_MS,
    browser_page,
    database_url,
    live_asgi,
)

pytestmark = [pytest.mark.browser]

EVALUATIONS = 3
# Export-time quantizations and one factorization: quick to compress (6 plans in the space).
TECHNIQUES = "W3, Q-dyn, Q-f16"
RUNNER_SECONDS = 60


@pytest.fixture
def tiny_lenet(tmp_path):
    """An untrained LeNet on 8x8 digits, registered (the model a user would upload)."""
    from compression.modelio import save_model
    from compression.zoo import build

    dataset = actions.register_dataset("digits", "bundled", {"seed": 0})
    path = tmp_path / "lenet.keras"
    save_model(build("lenet", (8, 8, 1), 10), path)
    return actions.register_model_file("lenet-tiny", "lenet", dataset, path)


def test_it_runs_a_search_from_the_recommend_page_through_the_job_queue(
    live_asgi,  # noqa: F811
    browser_page,  # noqa: F811
    tiny_lenet,
    django_user_model,
    tmp_path,
):
    from playwright.sync_api import expect

    base, page = live_asgi, browser_page
    django_user_model.objects.create_user("searcher", password=PASSWORD)
    actions.load_catalogue()
    device = Device.objects.create(name="this-host", kind="local", settings={"op_breakdown": False})

    page.goto(f"{base}/accounts/login/?next=/recommend/")
    page.fill("#id_username", "searcher")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(f"{base}/recommend/")
    page.select_option("#id_model", str(tiny_lenet.pk))
    page.select_option("#id_device", str(device.pk))
    page.fill("#id_latency_ms", "1000")
    page.fill("#id_evaluations", str(EVALUATIONS))
    page.fill("#id_techniques", TECHNIQUES)
    page.click("#start-search", timeout=SLOW_MS)  # the server imports the plan parser here
    expect(page.locator("#search-spent")).to_have_text(f"1 / {EVALUATIONS}", timeout=SLOW_MS)
    expect(page.locator("#search-status")).to_have_text("running")
    search = Search.objects.get()
    assert len(search.plans) == 6 and Job.objects.filter(status="queued").count() == 1

    # Play runjobs: each stored result advances the search, which queues the next plan.
    runner = Runner(devices=[device], compress_in_child=False, cache_dir=tmp_path / "cache")
    deadline = time.monotonic() + RUNNER_SECONDS
    while not search.finished and time.monotonic() < deadline:
        if not runner.step():
            time.sleep(0.3)
        search.refresh_from_db()
    assert search.status == "done", search.evaluations

    expect(page.locator("#search-status")).to_have_text("done", timeout=15_000)
    expect(page.locator("#search-spent")).to_have_text(f"{EVALUATIONS} / {EVALUATIONS}")
    expect(page.locator("#search-best")).to_have_text(search.best_plan)
    expect(page.locator('#search-evaluations tr[data-state="measured"]')).to_have_count(EVALUATIONS)
    expect(page.locator("#search-ranked tr.best")).to_contain_text("measured")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search-done.png"), full_page=True)

    jobs = Job.objects.filter(artifact__model=tiny_lenet, device=device)
    assert sorted(jobs.values_list("status", flat=True)) == ["succeeded"] * EVALUATIONS
    assert Result.objects.filter(job__in=jobs).count() == EVALUATIONS
    asked = {e["plan"] for e in search.evaluations}
    assert asked == set(jobs.values_list("artifact__plan__canonical", flat=True))
    assert search.answer["best"]["figures"]["latency_ms"]["source"] == "measured"
