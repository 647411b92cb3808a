"""The export benchmark starts once the server answers at all: the API's 401 is an answer."""

from __future__ import annotations

import io
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from benchmarks.export import wait_for_answer


class Running:
    """Stands in for the daphne process: still running, or exited with an error."""

    def __init__(self, exit_code: int | None = None, error: bytes = b"") -> None:
        self.exit_code = exit_code
        self.stderr = io.BytesIO(error)

    def poll(self) -> int | None:
        return self.exit_code


class AsksForLogin(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        self.send_response(401)
        self.send_header("WWW-Authenticate", "Token")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_it_counts_a_login_request_as_the_server_answering():
    server = ThreadingHTTPServer(("127.0.0.1", 0), AsksForLogin)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        started = time.monotonic()
        wait_for_answer(f"http://127.0.0.1:{server.server_port}/api/", Running(), timeout=5)
        assert time.monotonic() - started < 2
    finally:
        server.shutdown()
        server.server_close()


def test_it_stops_when_the_server_exits_or_stays_silent():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/api/"
    with pytest.raises(SystemExit, match="daphne exited: SECRET_KEY must be set"):
        wait_for_answer(url, Running(1, b"SECRET_KEY must be set"), timeout=5)
    with pytest.raises(SystemExit, match="no answer from .* within 1 s"):
        wait_for_answer(url, Running(), timeout=1)
