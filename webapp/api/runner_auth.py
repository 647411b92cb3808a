"""How a runner host proves who it is: ``Authorization: Runner <key>``.

The key is looked up by its SHA-256 on every request, so a revoked token is
refused at its very next call (401), whatever it was doing. Each call also
records the host's contact (``X-Runner-Host``, ``X-Runner-Version``,
``X-Runner-Mode``) for the Devices page. A runner token is not a user: the
rest of the API (sessions, user tokens) never accepts it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AnonymousUser
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from measurements.actions.runner_tokens import record_contact, token_for_key
from measurements.models import RunnerToken

KEYWORD = "Runner"


class RunnerTokenAuthentication(BaseAuthentication):
    """Authenticates a runner host by its token's key."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, RunnerToken] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise AuthenticationFailed("Send 'Authorization: Runner <key>' with one key.")
        token = token_for_key(parts[1].decode("latin-1"))
        if token is None:
            raise AuthenticationFailed("Unknown runner token.")
        if token.revoked:
            raise AuthenticationFailed(f"Runner token {token.name!r} was revoked.")
        meta = request.META
        record_contact(
            token,
            meta.get("HTTP_X_RUNNER_HOST", ""),
            meta.get("HTTP_X_RUNNER_VERSION", ""),
            meta.get("HTTP_X_RUNNER_MODE", ""),
        )
        return AnonymousUser(), token

    def authenticate_header(self, request: Request) -> str:
        return KEYWORD  # makes a missing or bad key a 401, not a 403


class IsRunner(BasePermission):
    """A live runner token authenticated this request."""

    message = "Runner endpoints need a runner token (Authorization: Runner <key>)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, RunnerToken)


class MayMeasure(IsRunner):
    message = "This runner token may not measure (its role is compress)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and request.auth.may_measure


class MayCompress(IsRunner):
    message = "This runner token may not compress (its role is measure)."

    def has_permission(self, request: Request, view: Any) -> bool:
        return super().has_permission(request, view) and request.auth.may_compress
