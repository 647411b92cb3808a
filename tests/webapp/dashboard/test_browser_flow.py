"""In a real browser, against a live ASGI server: the day-to-day flow of the dashboard.

Log in, upload a .keras model, queue the standard sweep (previewing its exact
size first), watch a job's progress arrive over the WebSocket with no reload,
and download the comparison CSV.

The server is Daphne (``manage.py runserver`` with the daphne app, which also
serves static files such as jobs.js) in a subprocess, because pytest-django's
live_server speaks WSGI only and cannot carry WebSockets. It must read the
same database as this test: with PostgreSQL that is the test database itself;
an SQLite test database lives in this process's memory, where no other
process can open it, so for this test the database is copied to a file and
the connection settings of this process are pointed at that file (and back
afterwards). Every connection of the alias shares that settings dict, so the
connection Django opens for code running under Playwright's event loop reads
the file too.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connections

from measurements import actions
from measurements.models import Job
from tests.factories import make_device, make_result

# Playwright's sync API runs an event loop in this thread; Django refuses ORM calls
# from a thread with a running loop unless told that this is intended.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

pytestmark = [pytest.mark.browser]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(settings.BASE_DIR) / "test-artifacts"
PASSWORD = "browser-pass-123"
SERVER_START_SECONDS = 60
# Loading the first model imports TensorFlow in the server: allow for a busy machine.
SLOW_MS = 90_000


@pytest.fixture
def database_url(transactional_db, tmp_path) -> Iterator[str]:
    """A DATABASE_URL another process can open, holding this test's committed rows."""
    connection = connections["default"]
    params = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = quote(params["USER"] or "", safe="")
        if params["PASSWORD"]:
            auth += ":" + quote(params["PASSWORD"], safe="")
        host = f"{params['HOST'] or 'localhost'}:{params['PORT'] or 5432}"
        yield f"postgres://{auth}@{host}/{quote(params['NAME'], safe='')}"
        return
    if connection.vendor != "sqlite":
        pytest.fail(f"The browser test has no recipe for the {connection.vendor} backend.")
    if not connection.is_in_memory_db():
        yield f"sqlite:///{Path(params['NAME']).resolve()}"
        return
    yield from _sqlite_on_file(connection, tmp_path / "browser.sqlite3")


def _sqlite_on_file(connection, path: Path) -> Iterator[str]:
    connection.ensure_connection()
    in_memory, name = connection.connection, connection.settings_dict["NAME"]
    copy = sqlite3.connect(path)
    in_memory.backup(copy)  # the migrated schema (and nothing else: the test has no rows yet)
    copy.close()
    connection.connection = None  # reconnect to the file on next use…
    connection.settings_dict["NAME"] = str(path)
    try:
        yield f"sqlite:///{path}"
    finally:
        connection.close()  # …and give the in-memory database back to the rest of the suite
        connection.settings_dict["NAME"] = name
        connection.connection = in_memory


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def live_asgi(database_url, tmp_path) -> Iterator[str]:
    """Daphne serving HTTP and WebSockets on a free port; yields its base URL."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "MEDIA_ROOT": str(tmp_path / "media"),
        "COMPRESSO_VAR_DIR": str(tmp_path / "var"),
        "DEBUG": "true",  # runserver serves static files (jobs.js) only in debug
        "ALLOWED_HOSTS": "127.0.0.1",
        "PYTHONUNBUFFERED": "1",
    }
    log_path = tmp_path / "server.log"
    command = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command, cwd=settings.BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        _wait_for_port(server, port, log_path)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def _wait_for_port(server: subprocess.Popen, port: int, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"The server exited ({server.returncode}):\n{log_path.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    tail = log_path.read_text()[-3000:]
    pytest.fail(f"The server did not listen within {SERVER_START_SECONDS} s:\n{tail}")


@pytest.fixture
def tiny_keras(tmp_path) -> Path:
    import keras

    model = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)]
    )
    path = tmp_path / "tiny.keras"
    model.save(path)
    return path


@pytest.fixture
def browser_page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        # Debian's Chromium: Playwright never downloads a browser here.
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser.new_context(accept_downloads=True).new_page()
        finally:
            browser.close()
            # With Playwright's loop running, Django keeps this thread's connections in a
            # context variable: the test body used connections of its own. Close them here,
            # inside that context, or PostgreSQL cannot drop the test database.
            connections.close_all()


def test_it_uploads_queues_a_sweep_and_streams_progress(
    live_asgi, browser_page, tiny_keras, django_user_model
):
    from playwright.sync_api import expect

    base, page = live_asgi, browser_page
    django_user_model.objects.create_user("uitester", password=PASSWORD)
    device = make_device(name="this-host", kind="local")
    actions.load_catalogue()

    # Log in: an anonymous visit to /jobs/ lands on the login page and comes back.
    page.goto(f"{base}/jobs/")
    expect(page).to_have_url(f"{base}/accounts/login/?next=/jobs/")
    page.fill("#id_username", "uitester")
    page.fill("#id_password", PASSWORD)
    page.click("#login-form button[type=submit]")
    expect(page).to_have_url(f"{base}/jobs/")

    # Upload the model with the bundled digits.
    page.goto(f"{base}/models/upload/")
    page.set_input_files("#id_file", str(tiny_keras))
    page.fill("#id_name", "tiny-ui")
    page.fill("#id_architecture", "mlp")
    page.select_option("#id_dataset", "bundled")
    page.click("#upload-form button[type=submit]", timeout=SLOW_MS)
    expect(page.locator("h1")).to_have_text("Model tiny-ui", timeout=SLOW_MS)
    expect(page.locator("body")).to_contain_text("650")  # 64 x 10 weights + 10 biases

    # Queue the standard sweep on this host at one thread count, previewing it first.
    page.click("text=Queue jobs for this model")
    sweep = len(actions.standard_sweep_texts())
    page.check("#id_standard_sweep")
    expect(page.locator('[data-estimate="total"]')).to_have_text(str(sweep))
    page.click("button[value=preview]")
    expect(page.locator("#job-preview")).to_contain_text(f"{sweep} jobs will be queued")
    assert Job.objects.count() == 0
    page.click("button[value=queue]")
    expect(page.locator(".messages")).to_contain_text(f"Queued {sweep} jobs")
    assert Job.objects.filter(device=device, status="queued").count() == sweep

    # Watch the job a runner will claim first; its progress arrives with no reload.
    first = Job.objects.order_by("created_at", "id").first()
    page.goto(f"{base}/jobs/{first.pk}/")
    bar = page.locator('#job [data-job-field="bar"]')
    expect(bar).to_have_attribute("aria-valuenow", "0")
    expect(page.locator('#job [data-job-field="connection"]')).to_have_class("live-dot live")
    page.evaluate("window.__sameDocument = true")
    overview = page.context.new_page()  # the overview's row for the job moves too
    overview.goto(f"{base}/")
    overview_bar = overview.locator(f'tr[data-job-id="{first.pk}"] [data-job-field="bar"]')
    expect(overview_bar).to_have_attribute("aria-valuenow", "0")
    claimed = Job.claim("browser-runner", [device.pk], lease_seconds=60)
    assert claimed.pk == first.pk
    assert claimed.report("browser-runner", 0.4, "measuring", "timed run 7")
    expect(bar).to_have_attribute("aria-valuenow", "40", timeout=15_000)
    expect(page.locator('#job [data-job-field="status"]')).to_have_text("running")
    expect(page.locator('#job [data-job-field="log"]')).to_contain_text("timed run 7")
    expect(overview_bar).to_have_attribute("aria-valuenow", "40", timeout=15_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "job-live-progress.png"), full_page=True)
    claimed.fail("browser-runner", "DriverError: the board went away", retryable=False)
    expect(page.locator("#job form[action$='/retry/']")).to_be_visible(timeout=15_000)
    expect(page.locator('#job [data-job-field="error"]')).to_contain_text("board went away")
    assert page.evaluate("window.__sameDocument") is True

    # Two measured results (baseline and W3) make a comparison to download.
    _measure(device, "baseline", latency_ms=2.0, accuracy=0.95)
    _measure(device, "W3", latency_ms=1.0, accuracy=0.93)
    page.goto(f"{base}/compare/")
    with page.expect_download() as download:
        page.click("text=Download CSV")
    text = Path(download.value.path()).read_text()
    assert len(text.strip().splitlines()) >= 2 and "W3" in text


def _measure(device, plan: str, latency_ms: float, accuracy: float) -> None:
    job = Job.objects.get(device=device, artifact__plan__canonical=plan)
    Job.objects.filter(pk=job.pk).update(status="succeeded", progress=1.0)
    make_result(job=job, latency_mean_ms=latency_ms, latency_ci95_ms=0.01, accuracy=accuracy)
