"""In a real browser: a search that measures as it goes, end to end through the job queue.

From the Recommend page a user starts a search over a real network (an
untrained keras.applications MobileNet at width 0.25, the smallest the
application builds, on the bundled digits at 32x32, its smallest input) with
an evaluation budget of 20; the server (Daphne, a subprocess) queues the first plan.
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

# 20 compressions bound this test's time: about 3.5 to 6 minutes on a busy 2-core
# machine, some 85% of it in compress() (mostly the SavedModel -> .tflite export).
EVALUATIONS = 20
# Two convolution techniques (pruning, structured pruning) and six export-time
# quantizations: 1 + 2 + 6 + 2 x 6 = 21 plans, each compressed in seconds. Every
# one applies to MobileNet (no Dense layer, so no fc technique; L1, L2 and C2
# refuse its 1x1 convolutions).
TECHNIQUES = "W1c, Ps, Q-dyn, Q-f16, Q-int8, AQ-dyn, AQ-f16, AQ-w8"
PLANS = 21
# TPE spends the whole budget; compose (the default) stops once no plan left could
# beat the best, which on an untrained network may be well before 20.
STRATEGY = "tpe"
RUNNER_SECONDS = 900


@pytest.fixture
def mobilenet(tmp_path, settings):
    """An untrained MobileNet (alpha 0.25) on 32x32 digits, registered as a user would."""
    from compression.modelio import save_model
    from compression.zoo import build

    # The search, not fine-tuning, is under test here (fine-tuning is tested in
    # tests/compression); an untrained network has no accuracy to recover.
    settings.COMPRESSION_FINE_TUNE_EPOCHS = 0
    dataset = actions.register_dataset("digits32", "bundled", {"seed": 0, "resize_to": 32})
    path = tmp_path / "mobilenet.keras"
    save_model(build("MobileNet", (32, 32, 1), 10, alpha=0.25), path)
    return actions.register_model_file("mobilenet-0.25", "MobileNet", dataset, path)


def test_it_runs_a_search_from_the_recommend_page_through_the_job_queue(
    live_asgi,  # noqa: F811
    browser_page,  # noqa: F811
    mobilenet,
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
    page.select_option("#id_model", str(mobilenet.pk))
    page.select_option("#id_device", str(device.pk))
    page.fill("#id_latency_ms", "1000")
    page.fill("#id_evaluations", str(EVALUATIONS))
    page.select_option("#id_strategy", STRATEGY)
    page.fill("#id_techniques", TECHNIQUES)
    page.click("#start-search", timeout=SLOW_MS)  # the server imports the plan parser here
    expect(page.locator("#search-spent")).to_have_text(f"1 / {EVALUATIONS}", timeout=SLOW_MS)
    expect(page.locator("#search-status")).to_have_text("running")
    search = Search.objects.get()
    assert search.strategy == STRATEGY and len(search.plans) == PLANS
    assert Job.objects.filter(status="queued").count() == 1

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
    bar = page.locator('#search-progress [role="progressbar"]')
    expect(bar).to_have_attribute("aria-valuenow", str(EVALUATIONS))
    expect(page.locator("#search-progress")).to_contain_text(f"{PLANS} plans in the space")
    expect(page.locator("#search-best")).to_have_text(search.best_plan)
    expect(page.locator('#search-evaluations tr[data-state="measured"]')).to_have_count(EVALUATIONS)
    expect(page.locator("#search-ranked tr.best")).to_contain_text("measured")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "search-done.png"), full_page=True)

    jobs = Job.objects.filter(artifact__model=mobilenet, device=device)
    assert sorted(jobs.values_list("status", flat=True)) == ["succeeded"] * EVALUATIONS
    assert Result.objects.filter(job__in=jobs).count() == EVALUATIONS
    assert [e["state"] for e in search.evaluations] == ["measured"] * EVALUATIONS
    assert {e["job"] for e in search.evaluations} == set(jobs.values_list("pk", flat=True))
    asked = {e["plan"] for e in search.evaluations}
    assert len(asked) == EVALUATIONS and asked <= set(search.plans)
    assert asked == set(jobs.values_list("artifact__plan__canonical", flat=True))
    assert search.answer["best"]["figures"]["latency_ms"]["source"] == "measured"
