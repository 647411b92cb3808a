"""Uploaded models and compressed artifacts, served only to those who may read the lab."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import SuspiciousFileOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_safe
from django.views.static import serve


@login_not_required  # decided below: a public lab lets anonymous visitors read media too
@require_safe
def media(request: HttpRequest, path: str) -> HttpResponse:
    """The file at ``path`` under MEDIA_ROOT (``serve`` refuses paths that leave it)."""
    if not (request.user.is_authenticated or settings.PUBLIC_READ):
        return redirect_to_login(request.get_full_path())
    try:
        response = serve(request, path, document_root=settings.MEDIA_ROOT)
    except SuspiciousFileOperation:  # a path leaving MEDIA_ROOT: nothing there to show
        raise Http404("No such file.") from None
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "attachment"  # a model file is data, never a page
    return response
