import pytest
from django.core.exceptions import ImproperlyConfigured

from webapp.env import env_bool, env_int, env_list, parse_database_url


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
