"""webapp.asgi refuses an oversized body with a 413 before Django reads it."""

from __future__ import annotations

import json

import pytest
from asgiref.testing import ApplicationCommunicator

from webapp.asgi import application
from webapp.body_limit import body_limit

pytestmark = pytest.mark.django_db(transaction=True)

MB = 1024 * 1024


def http_scope(path: str, headers: list[tuple[bytes, bytes]], method: str = "POST") -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 5000),
        "server": ("testserver", 80),
    }


async def answer(communicator: ApplicationCommunicator) -> tuple[int, dict, bytes]:
    start = await communicator.receive_output(timeout=10)
    assert start["type"] == "http.response.start"
    body = b""
    while True:
        message = await communicator.receive_output(timeout=10)
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    return start["status"], dict(start["headers"]), body


@pytest.mark.asyncio
@pytest.mark.parametrize("path", ["/no/such/page/", "/api/devices/", "/models/upload/"])
async def test_it_refuses_a_declared_oversized_body_without_reading_it(path):
    declared = body_limit(path) + 1
    scope = http_scope(path, [(b"content-length", str(declared).encode())])
    communicator = ApplicationCommunicator(application, scope)
    # No body is sent at all: the answer must come from the header alone.
    status, headers, body = await answer(communicator)
    assert status == 413 and headers[b"content-type"] == b"application/json"
    assert f"over {body_limit(path)} bytes" in json.loads(body)["detail"]
    await communicator.wait(timeout=5)


@pytest.mark.asyncio
async def test_it_cuts_off_a_chunked_body_at_the_limit(settings):
    settings.MAX_REQUEST_BODY_BYTES = 64 * 1024
    communicator = ApplicationCommunicator(application, http_scope("/api/jobs/", []))
    chunk = b"x" * (16 * 1024)
    for _ in range(5):  # 80 KiB without a Content-Length
        await communicator.send_input({"type": "http.request", "body": chunk, "more_body": True})
    status, _, body = await answer(communicator)
    assert status == 413 and "65536 bytes" in json.loads(body)["detail"]
    await communicator.wait(timeout=5)


@pytest.mark.asyncio
async def test_it_refuses_a_content_length_that_is_not_a_number():
    scope = http_scope("/api/jobs/", [(b"content-length", b"12abc")])
    status, _, body = await answer(ApplicationCommunicator(application, scope))
    assert status == 400 and "Content-Length" in json.loads(body)["detail"]


@pytest.mark.asyncio
async def test_it_passes_a_body_under_the_limit_to_django():
    body = b'{"models": []}'
    scope = http_scope("/api/jobs/", [(b"content-length", str(len(body)).encode())])
    communicator = ApplicationCommunicator(application, scope)
    await communicator.send_input({"type": "http.request", "body": body, "more_body": False})
    status, headers, answered = await answer(communicator)
    assert status == 401  # Django's API answered: not signed in
    assert json.loads(answered)["detail"] == "Authentication credentials were not provided."


def test_uploads_may_be_larger_than_other_bodies(settings):
    settings.MAX_MODEL_UPLOAD_BYTES = 50 * MB
    settings.MAX_REQUEST_BODY_BYTES = 1 * MB
    assert body_limit("/api/models/") == 51 * MB == body_limit("/models/upload/")
    assert body_limit("/api/results/import") == 51 * MB
    assert body_limit("/api/devices/") == 1 * MB == body_limit("/anything")
