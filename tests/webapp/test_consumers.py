"""Job progress reaches a WebSocket client from the Job row, with no shared layer."""

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator

from measurements.models import Job
from tests.factories import make_job
from webapp.asgi import application

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio]


async def receive_until(communicator, predicate, timeout=5.0):
    while True:
        message = await communicator.receive_json_from(timeout=timeout)
        if predicate(message):
            return message


def session_cookie() -> bytes:
    """A logged-in user's session cookie, from a real login."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    get_user_model().objects.create_user("watcher", password="pw-123456")
    client = Client()
    assert client.login(username="watcher", password="pw-123456")
    return f"sessionid={client.cookies['sessionid'].value}".encode()


def socket(path: str, cookie: bytes | None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1")] + ([(b"cookie", cookie)] if cookie else [])
    return WebsocketCommunicator(application, path, headers=headers)


async def test_it_streams_progress_written_by_a_runner_to_the_job_row():
    job = await database_sync_to_async(make_job)()
    communicator = socket(f"/ws/jobs/{job.pk}/", await database_sync_to_async(session_cookie)())
    connected, _ = await communicator.connect()
    assert connected
    first = await communicator.receive_json_from()
    assert (first["status"], first["progress"]) == ("queued", 0.0)

    claimed = await database_sync_to_async(Job.claim)("runner-x", [job.device_id], 60)
    await database_sync_to_async(claimed.report)("runner-x", 0.5, "measuring", "run 10")
    update = await receive_until(communicator, lambda m: m.get("progress") == 0.5)
    assert update["stage"] == "measuring" and "run 10" in update["log_tail"]
    await communicator.disconnect()


async def test_it_refuses_a_socket_for_a_job_that_does_not_exist():
    communicator = socket("/ws/jobs/999999/", await database_sync_to_async(session_cookie)())
    connected, code = await communicator.connect()
    assert not connected and code == 4404


async def test_it_refuses_an_anonymous_socket():
    job = await database_sync_to_async(make_job)()
    connected, code = await socket(f"/ws/jobs/{job.pk}/", None).connect()
    assert not connected and code == 4401
