import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from webapp.env import env_bool, env_int, env_list, env_map, parse_database_url, secret_key

ROOT = Path(__file__).resolve().parents[2]
DEMO = "compresso-insecure-demo-key-set-SECRET_KEY-in-a-lab"


def test_it_parses_a_postgres_url():
    db = parse_database_url("postgres://me:p%40ss@db.lab:5433/compresso")
    assert db["ENGINE"] == "django.db.backends.postgresql"
    assert (db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]) == (
        "compresso",
        "me",
        "p@ss",
        "db.lab",
        "5433",
    )


def test_it_parses_absolute_and_relative_sqlite_urls():
    assert parse_database_url("sqlite:////srv/c.db")["NAME"] == "/srv/c.db"
    assert parse_database_url("sqlite:///var/c.db")["NAME"] == "var/c.db"


def test_it_refuses_an_unknown_database_scheme():
    with pytest.raises(ImproperlyConfigured, match="mysql://x"):
        parse_database_url("mysql://x/y")


def test_it_reads_typed_values_and_names_a_bad_one(monkeypatch):
    monkeypatch.setenv("DEBUG", "off")
    monkeypatch.setenv("JOB_LEASE_SECONDS", "30")
    monkeypatch.setenv("ALLOWED_HOSTS", "a.lab, b.lab,")
    assert env_bool("DEBUG", True) is False
    assert env_int("JOB_LEASE_SECONDS", 120, minimum=5) == 30
    assert env_list("ALLOWED_HOSTS", []) == ["a.lab", "b.lab"]
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="DEBUG='maybe'"):
        env_bool("DEBUG", True)
    monkeypatch.setenv("JOB_LEASE_SECONDS", "2")
    with pytest.raises(ImproperlyConfigured, match="at least 5"):
        env_int("JOB_LEASE_SECONDS", 120, minimum=5)


def test_it_closes_postgresql_connections_after_each_request():
    # Under ASGI every request has its own thread: a kept connection would leak.
    assert parse_database_url("postgres://db.lab/compresso")["CONN_MAX_AGE"] == 0


def test_it_requires_a_real_secret_key_when_debug_is_off(monkeypatch):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    assert secret_key(True, DEMO) == DEMO  # a laptop demo
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY must be set"):
        secret_key(False, DEMO)
    for weak in ("short", DEMO, "a" * 60):
        monkeypatch.setenv("SECRET_KEY", weak)
        with pytest.raises(ImproperlyConfigured, match=f"SECRET_KEY of {len(weak)} characters"):
            secret_key(False, DEMO)
    strong = secrets.token_urlsafe(50)
    monkeypatch.setenv("SECRET_KEY", strong)
    assert secret_key(False, DEMO) == strong


def test_it_reads_the_executable_allow_list_as_name_path_pairs(monkeypatch):
    assert env_map("DEVICE_EXECUTABLES", {"adb": "adb"}) == {"adb": "adb"}
    monkeypatch.setenv("DEVICE_EXECUTABLES", "adb=/opt/adb, py=/opt/py/bin/python ,")
    assert env_map("DEVICE_EXECUTABLES", {}) == {"adb": "/opt/adb", "py": "/opt/py/bin/python"}
    monkeypatch.setenv("DEVICE_EXECUTABLES", "/usr/bin/adb")
    with pytest.raises(ImproperlyConfigured, match="name=value pairs"):
        env_map("DEVICE_EXECUTABLES", {})


def lab_environment(**changes: str) -> dict[str, str]:
    """The README's lab settings ("Deploying in a lab"), behind the documented TLS proxy."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SECURE_", "SESSION_", "CSRF_", "DJANGO_"))
    }
    env.update(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="compresso.lab",
        CSRF_TRUSTED_ORIGINS="https://compresso.lab",
        BEHIND_TLS_PROXY="true",
        **changes,
    )
    return env


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True
    )


def test_check_deploy_is_clean_with_the_readme_lab_settings():
    done = manage("check", "--deploy", "--fail-level", "WARNING", env=lab_environment())
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no issues (0 silenced)" in done.stdout


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    env = lab_environment()
    del env["SECRET_KEY"]
    done = manage("check", env=env)
    assert done.returncode != 0 and "SECRET_KEY must be set" in done.stderr
