"""Who may do what: anyone reads, signed-in users write, staff delete.

Views combine DRF's ``IsAuthenticatedOrReadOnly`` (reads for anyone, writes
with a token or a session) with ``StaffDeletes`` below.
"""

from __future__ import annotations

from typing import Any

from rest_framework.permissions import BasePermission, IsAuthenticatedOrReadOnly
from rest_framework.request import Request


class StaffDeletes(BasePermission):
    """DELETE needs a staff account (deleting cascades to artifacts, jobs and results)."""

    message = "Deleting needs a staff account."

    def has_permission(self, request: Request, view: Any) -> bool:
        return request.method != "DELETE" or bool(request.user and request.user.is_staff)


API_PERMISSIONS = [IsAuthenticatedOrReadOnly, StaffDeletes]
