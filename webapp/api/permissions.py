"""Who may do what through the API.

Reading needs a signed-in user unless the lab is public (``PUBLIC_READ``);
writing needs a signed-in user; deleting, and anything that configures the
server itself (devices, whose settings reach a driver, and datasets, which
read server files), needs staff. These are the defaults of every API view
(``REST_FRAMEWORK`` in webapp/settings.py, where token authentication comes
first so a request without credentials gets a 401 with
``WWW-Authenticate: Token``, which API clients understand, rather than a 403).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.permissions import SAFE_METHODS, BasePermission, IsAuthenticated
from rest_framework.request import Request


def is_staff(request: Request) -> bool:
    return bool(request.user and request.user.is_authenticated and request.user.is_staff)


def reads_anonymously(request: Request) -> bool:
    """An anonymous reader of a public lab (who still sees no logs nor device settings)."""
    return not (request.user and request.user.is_authenticated)


class LabReadPolicy(BasePermission):
    """Reads: signed in, or anyone in a public lab. Writes: signed in. DELETE: staff."""

    message = "Deleting needs a staff account."

    def has_permission(self, request: Request, view: Any) -> bool:
        signed_in = bool(request.user and request.user.is_authenticated)
        if request.method in SAFE_METHODS:
            return signed_in or settings.PUBLIC_READ
        if request.method == "DELETE":
            return is_staff(request) if signed_in else False
        return signed_in


class StaffWrites(BasePermission):
    """Creating or changing this resource configures the server: staff only."""

    message = "Only staff accounts may register or change devices and datasets."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method in SAFE_METHODS or is_staff(request)


# LabReadPolicy is every API view's default (REST_FRAMEWORK in webapp/settings.py); a view
# that needs more adds to it, so it can only be stricter than the lab's rules.
STAFF_WRITE_PERMISSIONS = [LabReadPolicy, StaffWrites]
SIGNED_IN = [LabReadPolicy, IsAuthenticated]  # even in a public lab
