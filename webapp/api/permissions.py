"""Who may do what: anyone reads, signed-in users write, staff delete.

Views combine DRF's ``IsAuthenticatedOrReadOnly`` (reads for anyone, writes
with a token or a session) with ``StaffDeletes`` below. Token authentication
comes first so a request without credentials gets a 401 with
``WWW-Authenticate: Token``, which API clients understand, rather than a 403.
"""

from __future__ import annotations

from typing import Any

from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission, IsAuthenticatedOrReadOnly
from rest_framework.request import Request


class StaffDeletes(BasePermission):
    """DELETE needs a staff account (deleting cascades to artifacts, jobs and results)."""

    message = "Deleting needs a staff account."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method != "DELETE" or bool(request.user and request.user.is_staff)


API_PERMISSIONS = [IsAuthenticatedOrReadOnly, StaffDeletes]
API_AUTHENTICATION = [TokenAuthentication, SessionAuthentication]
