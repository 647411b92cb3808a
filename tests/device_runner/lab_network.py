"""The lab's network for end-to-end tests: daphne, runner processes, and a faulty link.

``FaultyLink`` is a reverse proxy between the runners and the server that
breaks chosen transfers a set number of times: it cuts a file download short
(the connection closes mid-body), flips a byte in a download, drops an
upload's connection before answering, and flips a byte in an upload. The
runner must notice each (short read, hash mismatch, no answer, the server's
checksum refusal) and try again. While the server is down the link answers
502, as a reverse proxy in front of a restarting server does.
"""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
FORWARDED = (
    "Authorization",
    "Content-Type",
    "Range",
    "X-Runner-Host",
    "X-Runner-Version",
    "X-Runner-Mode",
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(port: int, env: dict[str, str]) -> subprocess.Popen:
    """daphne serving the lab on 127.0.0.1:port; returns once it answers."""
    log_path = Path(env["COMPRESSO_VAR_DIR"]) / f"daphne-{time.monotonic_ns()}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    argv = ["-m", "daphne", "-b", "127.0.0.1", "-p", str(port), "webapp.asgi:application"]
    process = subprocess.Popen(
        [sys.executable, *argv],
        cwd=ROOT,
        env={**os.environ, **env, "DJANGO_SETTINGS_MODULE": "webapp.settings"},
        stdout=log_path.open("w"),  # a file: a full pipe would stall the server
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log_path = log_path
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.log_path.read_text()
        try:
            requests.get(f"http://127.0.0.1:{port}/api/runner/hello", timeout=10)
            return process
        except requests.RequestException:  # not listening yet, or still loading Django
            time.sleep(0.2)
    process.kill()
    raise AssertionError("daphne did not answer within 60 s")


def stop(process: subprocess.Popen) -> str:
    """Stop a process (SIGTERM, then SIGKILL) and return what it printed."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
    return process.log_path.read_text()


def start_runner(home: Path, server: str, token: str, *args: str) -> subprocess.Popen:
    """``runjobs --server`` with its own directories and no usable database.

    ``DATABASE_URL`` names a SQLite file under the runner's own directory that
    must never be created: the runner has only the URL and its token.
    """
    for name in ("var", "media", "cache", "tmp"):
        (home / name).mkdir(parents=True, exist_ok=True)
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "MEDIA_ROOT", "COMPRESSO_VAR_DIR", "REDIS_URL"}
    }
    env.update(
        COMPRESSO_VAR_DIR=str(home / "var"),
        MEDIA_ROOT=str(home / "media"),
        RUNNER_CACHE_DIR=str(home / "cache"),
        TMPDIR=str(home / "tmp"),
        DATABASE_URL=f"sqlite:///{home / 'var' / 'never-opened.sqlite3'}",
        COMPRESSO_RUNNER_TOKEN=token,
        TF_CPP_MIN_LOG_LEVEL="3",
    )
    log = (home / "runjobs.log").open("w")  # a file: a full pipe would stall the runner
    process = subprocess.Popen(
        [sys.executable, "manage.py", "runjobs", "--server", server, "--poll", "0.5", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.log_path = home / "runjobs.log"
    return process


class FaultyLink:
    """A reverse proxy to 127.0.0.1:upstream that breaks transfers as ``faults`` says.

    Attributes:
        faults: how many more times to ``cut_download``, ``corrupt_download``,
            ``drop_upload`` and ``corrupt_upload``.
        injected: how many times each fault was injected.
    """

    def __init__(self, upstream: int, **faults: int) -> None:
        self.upstream, self.faults, self.injected = upstream, Counter(faults), Counter()
        self.lock = threading.Lock()
        link = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                link.forward(self)

            do_POST = do_PUT = do_GET

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def take(self, fault: str) -> bool:
        with self.lock:
            if self.faults[fault] <= 0:
                return False
            self.faults[fault] -= 1
            self.injected[fault] += 1
            return True

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        if body and "/uploads/" in handler.path and self.take("drop_upload"):
            handler.close_connection = True  # the bytes arrived; the answer never does
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if body and "/uploads/" in handler.path and self.take("corrupt_upload"):
            body = flip(body)
        headers = {k: handler.headers[k] for k in FORWARDED if handler.headers.get(k)}
        try:
            upstream = http.client.HTTPConnection("127.0.0.1", self.upstream, timeout=60)
            upstream.request(handler.command, handler.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
        except OSError:
            handler.send_error(502, "upstream unavailable")
            return
        cut = False
        if "/files/" in handler.path and answer.status in (200, 206) and len(payload) > 100:
            if self.take("cut_download"):
                cut = True
            elif self.take("corrupt_download"):
                payload = flip(payload)
        handler.send_response(answer.status)
        for name, value in answer.getheaders():
            if name.lower() not in {
                "transfer-encoding",
                "connection",
                "content-length",
                "server",
                "date",
            }:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload[: len(payload) // 2] if cut else payload)
        if cut:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def flip(data: bytes) -> bytes:
    middle = len(data) // 2
    return data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :]
