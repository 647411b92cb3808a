"""Typed readers of settings from the environment.

Each raises ``ImproperlyConfigured`` naming the variable and the bad value,
so a typo in a deployment fails at start-up instead of half-working.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str) -> str:
    """The variable's text, or ``default`` when unset."""
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    """A boolean written 1/0, true/false, yes/no or on/off."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false. Received: {name}={raw!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    """An integer, optionally with a lower bound."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer. Received: {name}={raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}. Received: {name}={raw!r}")
    return value


def env_list(name: str, default: list[str]) -> list[str]:
    """A comma-separated list; blanks are dropped."""
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_map(name: str, default: dict[str, str]) -> dict[str, str]:
    """``name=value`` pairs separated by commas, e.g. ``adb=/usr/bin/adb,py=/opt/bin/python``."""
    raw = os.environ.get(name)
    if raw is None:
        return dict(default)
    pairs: dict[str, str] = {}
    for item in (part.strip() for part in raw.split(",")):
        key, sep, value = item.partition("=")
        if item and (not sep or not key.strip() or not value.strip()):
            raise ImproperlyConfigured(
                f"{name} must be name=value pairs separated by commas. Received: {name}={raw!r}"
            )
        if item:
            pairs[key.strip()] = value.strip()
    return pairs


def secret_key(debug: bool, demo_key: str) -> str:
    """``SECRET_KEY``; required (at least 50 characters) when ``DEBUG`` is false.

    The demo key is public, so a lab running with it would sign sessions anyone can forge.
    """
    raw = os.environ.get("SECRET_KEY", "")
    if debug:
        return raw or demo_key
    if len(raw) < 50 or len(set(raw)) < 5 or raw == demo_key:
        raise ImproperlyConfigured(
            "SECRET_KEY must be set to at least 50 random characters when DEBUG is false, e.g. "
            "python -c 'import secrets; print(secrets.token_urlsafe(50))'. "
            f"Received: SECRET_KEY of {len(raw)} characters"
        )
    return raw


def env_path(name: str, default: Path) -> Path:
    """A filesystem path, made absolute."""
    raw = os.environ.get(name)
    return Path(raw).expanduser().resolve() if raw else default


def parse_database_url(url: str) -> dict:
    """Django DATABASES entry for ``postgres://…`` or ``sqlite:///path``.

    PostgreSQL goes through psycopg 3 (Django's ``postgresql`` backend picks it).
    """
    parts = urlsplit(url)
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        name = unquote(parts.path.lstrip("/"))
        if not name:
            raise ImproperlyConfigured(f"DATABASE_URL names no database. Received: {url!r}")
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": name,
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            # 0: closed at the end of each request. Under ASGI every request runs in its own
            # thread, so a kept connection is never reused and leaks until the server's limit.
            "CONN_MAX_AGE": 0,
            "CONN_HEALTH_CHECKS": True,
        }
    if parts.scheme == "sqlite":
        path = unquote(parts.path)
        # sqlite:///relative.db has path "/relative.db"; sqlite:////abs.db has "//abs.db".
        path = path[1:] if path.startswith("//") else path.lstrip("/") or ":memory:"
        return {"ENGINE": "django.db.backends.sqlite3", "NAME": path, "OPTIONS": {"timeout": 20}}
    raise ImproperlyConfigured(
        f"DATABASE_URL must start with postgres:// or sqlite://. Received: {url!r}"
    )
