"""`runjobs` flags for a lab across machines: refused combinations and a refused token."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from measurements.actions.runner_tokens import issue_runner_token, revoke_runner_token
from tests.factories import make_device

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "args, message",
    [
        (["--compress", "--device", "host"], "--compress serves no device"),
        (["--token", "cr_x"], "--token needs --server"),
        (["--server", "http://127.0.0.1:9/"], "--server needs a runner token"),
    ],
)
def test_it_refuses_flags_that_do_not_go_together(args, message, monkeypatch, tmp_path):
    monkeypatch.delenv("COMPRESSO_RUNNER_TOKEN", raising=False)
    with pytest.raises(CommandError, match=message):
        call_command("runjobs", "--once", "--cache-dir", str(tmp_path), *args)


def test_it_refuses_compress_and_measure_only_together(tmp_path):
    with pytest.raises(CommandError, match="not allowed with argument"):
        call_command("runjobs", "--compress", "--measure-only", "--cache-dir", str(tmp_path))


def test_it_stops_at_once_with_an_unknown_or_revoked_token(live_server, tmp_path):
    make_device(name="host")
    token, key = issue_runner_token("pi", "measure", ["host"])
    base = ["runjobs", "--server", live_server.url, "--measure-only", "--once"]

    with pytest.raises(CommandError, match="Unknown runner token"):
        call_command(*base, "--token", "cr_unknown", "--cache-dir", str(tmp_path))
    revoke_runner_token(token)
    with pytest.raises(CommandError, match="'pi' was revoked"):
        call_command(*base, "--token", key, "--cache-dir", str(tmp_path))


def test_it_refuses_a_mode_the_tokens_role_does_not_allow(live_server, tmp_path):
    make_device(name="host")
    _, key = issue_runner_token("pi", "measure", ["host"])

    with pytest.raises(CommandError, match="has role 'measure', not 'compress'"):
        call_command(
            "runjobs", "--server", live_server.url, "--token", key, "--compress", "--once",
            "--cache-dir", str(tmp_path),
        )  # fmt: skip
