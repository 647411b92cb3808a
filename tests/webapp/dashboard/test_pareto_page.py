"""The Pareto explorer through its URL: the front on random data, budgets, bad parameters."""

from __future__ import annotations

import itertools
import os
import random
import re
from pathlib import Path

import pytest

from measurements.models import Result
from measurements.pareto import METRICS
from tests.factories import make_dataset, make_device, make_model
from tests.webapp.dashboard.helpers_analysis import (
    artifact,
    assert_clean,
    baseline_plan,
    catalogue,
    embedded_json,
    logged_in,
    measure,
    plan,
    row_ids,
    step,
)
from webapp.dashboard.analysis.pareto_page import X_METRICS, Y_METRICS

pytestmark = pytest.mark.django_db
CODES = ("W1f", "W3", "C2", "L3", "Cl", "Q-int8")
CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright never downloads a browser here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[3] / "test-artifacts"


@pytest.fixture
def viewer():
    return logged_in()


def random_world(seed: int, devices: int = 2, per_device: int = 18) -> dict:
    """Results with random figures on a coarse grid (ties and duplicates happen), some missing."""
    rng = random.Random(seed)
    catalogue()
    model = make_model(dataset=make_dataset())
    boards = [make_device(name=f"board-{i}") for i in range(devices)]
    for n, board in itertools.product(range(per_device), boards):
        code = rng.choice(CODES)
        art = artifact(
            model,
            plan(f"{code}(k={n})@fc1 #{board.pk}", [step(code, ("fc1",), k=n)]),
            file_size=rng.choice([None, *range(1000, 9000, 1000)]),
            gzip_size=rng.randrange(500, 5000, 500),
            macs=rng.randrange(10_000, 90_000, 10_000),
            accuracy=rng.choice([None, *(x / 20 for x in range(10, 20))]),
        )
        measure(
            art,
            board,
            latency_mean_ms=rng.choice([None, 1.0, 2.0, 3.0, 4.0, 5.0]),
            energy_mj=rng.choice([None, 0.5, 1.0, 1.5, 2.0]),
            energy_measured=rng.random() < 0.5,
            peak_memory_bytes=rng.randrange(1 << 20, 5 << 20, 1 << 20),
            accuracy=art.accuracy,
            f1=rng.choice([None, *(x / 20 for x in range(8, 20))]),
        )
    return {"model": model, "devices": boards}


def brute_force_front(results, x: str, y: str) -> set[int]:
    """Result ids that no other result of the same device beats, by the definition of dominance."""
    xm, ym = METRICS[x], METRICS[y]

    def value(result, metric):
        target = result
        for part in metric.field.split("__"):
            target = getattr(target, part)
        # Compare as costs: a maximised metric is negated.
        return None if target is None else (target if metric.goal == "min" else -target)

    points = [(r.pk, r.device_id, value(r, xm), value(r, ym)) for r in results]
    points = [p for p in points if p[2] is not None and p[3] is not None]
    front = set()
    for pk, device, px, py in points:
        dominated = any(
            d == device and qx <= px and qy <= py and (qx < px or qy < py)
            for _, d, qx, qy in points
        )
        if not dominated:
            front.add(pk)
    return front


@pytest.mark.parametrize(("x", "y"), list(itertools.product(X_METRICS, Y_METRICS)))
def test_it_lists_the_brute_force_front_for_every_metric_pair(viewer, x, y):
    random_world(seed=hash((x, y)) % 1000)
    response = viewer.get("/pareto/", {"x": x, "y": y})
    assert response.status_code == 200
    body = response.content.decode()
    shown = row_ids(body, "pareto-front")
    results = Result.objects.select_related("artifact")
    assert set(shown) == brute_force_front(results, x, y)
    assert len(shown) == len(set(shown))
    assert_clean(body)


def test_it_draws_each_device_front_as_a_line_through_the_table_rows(viewer):
    world = random_world(seed=7)
    body = viewer.get("/pareto/", {"x": "latency", "y": "accuracy"}).content.decode()
    figure = embedded_json(body, "pareto-figure")
    lines = {t["name"]: t for t in figure["data"] if t["name"].startswith("front: ")}
    assert set(lines) == {f"front: {d.name}" for d in world["devices"]}
    front = Result.objects.filter(pk__in=row_ids(body, "pareto-front")).select_related("device")
    for device in world["devices"]:
        trace = lines[f"front: {device.name}"]
        assert trace["line"]["shape"] == "hv"
        # Through this device's table rows, by increasing latency, accuracy in percent.
        rows = sorted((r.latency_mean_ms, r.accuracy * 100) for r in front if r.device == device)
        assert trace["x"] == pytest.approx([x for x, _ in rows])
        assert trace["y"] == pytest.approx([y for _, y in rows])
    with_figures = [
        r for r in Result.objects.all() if r.latency_mean_ms is not None and r.accuracy is not None
    ]
    markers = [t for t in figure["data"] if t.get("legendgroup") == "categories"]
    assert sum(len(t["x"]) for t in markers) == len(with_figures)
    assert {p[0] for t in markers for p in t["customdata"]} == {r.pk for r in with_figures}


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"x": "speed"}, "x must be one of"),
        ({"y": "latency"}, "y must be one of accuracy, f1"),
        ({"size": "colour"}, "size must be one of"),
        ({"max_latency": "fast"}, "max_latency must be a number of milliseconds"),
        ({"max_energy": "-1"}, "max_energy cannot be negative"),
        ({"max_size": "1e999"}, "max_size must be a finite number"),
        ({"min_accuracy": "101"}, "min_accuracy cannot exceed 100"),
        ({"device": "jetson"}, "device must be a positive whole number"),
        ({"device": "999999"}, "No device has id 999999"),
        ({"threads": "0"}, "threads must be a whole number of threads"),
    ],
)
def test_it_refuses_a_bad_parameter_with_a_400_that_says_why(viewer, query, named):
    random_world(seed=1, per_device=2)
    response = viewer.get("/pareto/", query)
    assert response.status_code == 400
    body = response.content.decode()
    assert named in body
    assert 'href="/pareto/"' in body  # a way back to the default view
    assert_clean(body)


def test_it_shades_the_infeasible_side_of_budgets_on_the_axes_and_marks_misses(viewer):
    catalogue()
    model, board = make_model(), make_device(name="jetson")
    fast = artifact(model, plan("W3@fc1", [step("W3", ("fc1",))]), accuracy=0.80)
    slow = artifact(model, baseline_plan(), accuracy=0.95)
    fast_result = measure(fast, board, latency_mean_ms=2.0)
    slow_result = measure(slow, board, latency_mean_ms=12.0)
    query = {"x": "latency", "y": "accuracy", "max_latency": "10", "min_accuracy": "85"}
    body = viewer.get("/pareto/", query).content.decode()
    shapes = embedded_json(body, "pareto-figure")["layout"]["shapes"]
    latency_region = next(s for s in shapes if s.get("xref") == "x")
    accuracy_region = next(s for s in shapes if s.get("yref") == "y")
    assert latency_region["x0"] == 10 and latency_region["x1"] > 12  # ms, beyond the slowest point
    assert accuracy_region["y1"] == pytest.approx(85) and accuracy_region["y0"] < 80  # percent
    # Both are on the front; each misses one budget, so none is "best within budgets".
    assert set(row_ids(body, "pareto-front")) == {fast_result.pk, slow_result.pk}
    assert "misses accuracy ≥ 85 %" in body and "misses latency ≤ 10 ms" in body
    assert "No front result meets every budget" in body


def test_it_marks_the_best_front_result_within_budgets(viewer):
    catalogue()
    model, board = make_model(), make_device()
    results = {
        acc: measure(
            artifact(model, plan(f"W3(s={acc})", [step("W3", s=acc)]), accuracy=acc),
            board,
            latency_mean_ms=latency,
        )
        for acc, latency in ((0.7, 1.0), (0.8, 2.0), (0.9, 4.0), (0.95, 8.0))
    }
    body = viewer.get("/pareto/", {"max_latency": "5"}).content.decode()
    best = re.search(r'<tr data-result-id="(\d+)"[^>]*class="best"', body)
    assert best and int(best.group(1)) == results[0.9].pk  # most accurate under 5 ms


def test_it_colours_by_category_shapes_by_device_and_says_how_energy_was_obtained(viewer):
    catalogue()
    model = make_model()
    phone, board = make_device(name="phone"), make_device(name="board")
    pruned = artifact(model, plan("W3@fc1", [step("W3", ("fc1",))]), accuracy=0.9)
    combo = artifact(model, plan("C2@conv2 + W3@fc1", [step("C2"), step("W3")]), accuracy=0.8)
    measure(pruned, phone, energy_mj=2.0, energy_measured=True, energy_method="measured (RAPL)")
    measure(combo, board, energy_mj=1.0, energy_method="estimated (AdaDeep eq. 5)")
    body = viewer.get("/pareto/", {"x": "energy"}).content.decode()
    figure = embedded_json(body, "pareto-figure")
    markers = {t["name"]: t for t in figure["data"] if t.get("legendgroup") == "categories"}
    assert set(markers) == {"pruning", "combination"}
    assert markers["pruning"]["marker"]["color"] != markers["combination"]["marker"]["color"]
    keys = {
        t["name"]: t["marker"]["symbol"]
        for t in figure["data"]
        if t.get("legendgroup") == "devices"
    }
    assert set(keys) == {"phone", "board"} and keys["phone"] != keys["board"]
    assert markers["pruning"]["marker"]["symbol"] == [keys["phone"]]
    hover = {t["name"]: " ".join(map(str, t["customdata"][0])) for t in markers.values()}
    assert "2 mJ, measured (RAPL)" in hover["pruning"]
    assert "1 mJ, estimated (AdaDeep eq. 5)" in hover["combination"]
    assert "1 measured, 1 estimated" in figure["layout"]["xaxis"]["title"]["text"]
    assert "(mJ" in figure["layout"]["xaxis"]["title"]["text"]


def test_it_sizes_points_by_a_third_metric(viewer):
    catalogue()
    model, board = make_model(), make_device()
    small = measure(artifact(model, plan("W3", [step("W3")]), macs=1000, accuracy=0.9), board)
    big = measure(artifact(model, baseline_plan(), macs=4000, accuracy=0.95), board)
    figure = embedded_json(
        viewer.get("/pareto/", {"size": "macs"}).content.decode(), "pareto-figure"
    )
    diameter = {
        pk: size
        for t in figure["data"]
        if t.get("legendgroup") == "categories"
        for pk, size in zip((c[0] for c in t["customdata"]), t["marker"]["size"], strict=True)
    }
    # Area grows with MACs: four times the MACs, twice the diameter above the 6 px floor.
    assert diameter[big.pk] == pytest.approx(24)
    assert diameter[small.pk] == pytest.approx(6 + 18 * 0.5)


def test_it_says_what_to_do_when_there_is_no_result(viewer):
    body = viewer.get("/pareto/").content.decode()
    assert "/jobs/new/" in body and "No result yet" in body
    assert_clean(body)


def test_it_says_what_to_do_when_a_device_has_no_result(viewer):
    world = random_world(seed=2, per_device=2)
    idle = make_device(name="idle-phone")
    body = viewer.get("/pareto/", {"device": idle.pk}).content.decode()
    assert f"No result yet for every model on {world['model'].dataset.name}, idle-phone" in body
    assert "/jobs/new/" in body
    assert_clean(body)


def test_it_needs_a_login(client):
    response = client.get("/pareto/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


@pytest.fixture
def async_unsafe_allowed():
    """Playwright's sync API runs an event loop; let the test's ORM calls run beside it."""
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    yield
    if previous is None:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    else:
        os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_it_shows_the_front_in_a_real_browser(async_unsafe_allowed, live_server):
    from django.contrib.auth.models import User
    from playwright.sync_api import expect, sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: .ci/run installs Debian's chromium"
    random_world(seed=11, devices=3, per_device=15)
    User.objects.create_user("grace", password="hopper-1952")
    expected = brute_force_front(Result.objects.select_related("artifact"), "latency", "accuracy")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(f"{live_server.url}/accounts/login/?next=/pareto/%3Fmax_latency%3D4")
        page.fill("#id_username", "grace")
        page.fill("#id_password", "hopper-1952")
        page.click("#login-form button[type=submit]")
        page.wait_for_url("**/pareto/?max_latency=4")
        plot = page.locator('[data-figure="pareto-figure"]')
        expect(plot).to_have_attribute("data-drawn", "true", timeout=15_000)
        assert page.locator("[data-figure] .scatterlayer .trace").count() > 0
        ids = page.locator("#pareto-front tbody tr").evaluate_all(
            "rows => rows.map(r => Number(r.dataset.resultId))"
        )
        assert set(ids) == expected
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "pareto.png"), full_page=True)
        # A click on a point opens its result (the handler analysis.js attaches to the plot).
        first = ids[0]
        plot.evaluate("(el, id) => el.emit('plotly_click', {points: [{customdata: [id]}]})", first)
        page.wait_for_url(f"**/results/{first}/")
        assert page.locator("h1").inner_text().startswith(f"Result {first}")
        browser.close()
