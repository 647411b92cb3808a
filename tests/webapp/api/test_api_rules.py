"""The API's rules are written once: no view under /api/ is weaker than REST_FRAMEWORK's defaults.

Every URL pattern under ``/api/`` is walked from the root urlconf (so
``/api/recommend``, included on its own, is covered too). Each view must use
the default authentication, at least the default permissions and, if it lists
rows, the default paginator, unless it is a named exception below, which is
then held to its own rule. An anonymous request to every route and method is
then sent through the real URL and must be refused without touching the
database.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from rest_framework.authentication import SessionAuthentication
from rest_framework.generics import GenericAPIView
from rest_framework.permissions import AllowAny
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from measurements.models import Artifact, Dataset, Device, DNNModel, Job, Result
from webapp.api import docs
from webapp.api.runner_auth import IsRunner, RunnerTokenAuthentication
from webapp.api.runners import RunnerView

pytestmark = pytest.mark.django_db

# Values for the path parameters of every API route (a refusal comes before any lookup).
SAMPLE_KWARGS = {"pk": "1", "code": "W3", "sha256": "0" * 64, "format": "json"}
METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    """One URL pattern under /api/ and the view behind it."""

    route: str
    url: str
    callback: Callable[..., Any]
    methods: tuple[str, ...]

    @property
    def view_class(self) -> type[APIView] | None:
        return getattr(self.callback, "cls", None)


def _patterns(patterns: list, prefix: str = "", namespace: str = "") -> Iterator[tuple]:
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            inner = pattern.namespace or namespace
            yield from _patterns(pattern.url_patterns, prefix + str(pattern.pattern), inner)
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), namespace, pattern


def _methods(callback: Callable[..., Any]) -> tuple[str, ...]:
    actions = getattr(callback, "actions", None)  # a viewset route: method -> action
    if actions is not None:
        return tuple(m for m in METHODS if m in actions)
    view_class = getattr(callback, "cls", None)
    if view_class is None:
        return ("get",)  # a plain Django page
    return tuple(m for m in METHODS if hasattr(view_class, m))


def api_routes() -> list[Route]:
    """Every route under /api/ in the project's urlconf, with a concrete URL."""
    routes = []
    for route, namespace, pattern in _patterns(get_resolver().url_patterns):
        if not route.startswith("api/"):
            continue
        kwargs = {name: SAMPLE_KWARGS[name] for name in pattern.pattern.regex.groupindex}
        name = f"{namespace}:{pattern.name}" if namespace else pattern.name
        url = reverse(name, kwargs=kwargs)
        routes.append(Route(route, url, pattern.callback, _methods(pattern.callback)))
    return routes


def is_runner_route(route: Route) -> bool:
    return route.view_class is not None and issubclass(route.view_class, RunnerView)


def is_reference_page(route: Route) -> bool:
    return route.callback is docs.docs


# Deliberate exceptions to the defaults, each with the rule it is held to instead.
EXCEPTIONS: dict[str, Callable[[Route], bool]] = {
    # Runner hosts prove who they are with a runner token only: a user's session or
    # token must never reach the host protocol (webapp/api/runner_auth.py).
    "runner routes": is_runner_route,
    # A server-rendered HTML page, not an API view: LoginRequiredMiddleware guards it
    # and sends an anonymous visitor to the login page.
    "reference page": is_reference_page,
}


def weaknesses(view_class: type[APIView]) -> list[str]:
    """How ``view_class`` is weaker than the API's defaults (empty when it is not)."""
    found = []
    default_auth = list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    if list(view_class.authentication_classes) != default_auth:
        found.append(f"authentication {view_class.authentication_classes} != {default_auth}")
    permissions = list(view_class.permission_classes)
    missing = [p for p in api_settings.DEFAULT_PERMISSION_CLASSES if p not in permissions]
    if missing:
        found.append(f"permissions {permissions} lack the default {missing}")
    if issubclass(view_class, GenericAPIView):
        default_pager = api_settings.DEFAULT_PAGINATION_CLASS
        if view_class.pagination_class is not default_pager:
            found.append(f"paginator {view_class.pagination_class} != {default_pager}")
    return found


def exception_breaks_its_rule(name: str, route: Route) -> list[str]:
    """What an excepted route does wrong by its own, stricter rule."""
    if name == "runner routes":
        view_class = route.view_class
        found = []
        if list(view_class.authentication_classes) != [RunnerTokenAuthentication]:
            found.append(f"authentication {view_class.authentication_classes}")
        if not all(issubclass(p, IsRunner) for p in view_class.permission_classes):
            found.append(f"permissions {view_class.permission_classes} not all IsRunner")
        return found
    # The reference page: the login middleware must still apply to it.
    return [] if getattr(route.callback, "login_required", True) else ["login_not_required"]


def exception_of(route: Route) -> str | None:
    return next((name for name, test in EXCEPTIONS.items() if test(route)), None)


def test_it_finds_every_kind_of_api_route():
    urls = {route.url for route in api_routes()}
    assert {"/api/recommend", "/api/results/export", "/api/pareto", "/api/reference/"} <= urls
    assert {"/api/devices/1/", "/api/jobs/1/cancel/", "/api/schema/", "/api/"} <= urls
    assert f"/api/runner/uploads/{'0' * 64}" in urls


def test_it_finds_no_api_view_weaker_than_the_defaults_unless_named():
    problems = {}
    for route in api_routes():
        name = exception_of(route)
        if name is not None:
            found = exception_breaks_its_rule(name, route)
        elif route.view_class is None:
            found = ["a plain Django view under /api/ that is not a named exception"]
        else:
            found = weaknesses(route.view_class)
        if found:
            problems[route.route] = found
    assert problems == {}
    excepted = {exception_of(route) for route in api_routes()} - {None}
    assert excepted == set(EXCEPTIONS)  # no stale exception


def test_it_would_notice_a_view_that_forgot_or_loosened_the_rules():
    class Loose(APIView):
        authentication_classes = [SessionAuthentication]
        permission_classes = [AllowAny]

    class Unpaged(GenericAPIView):
        pagination_class = None

    loose = weaknesses(Loose)
    assert len(loose) == 2 and "authentication" in loose[0] and "permissions" in loose[1]
    assert [w.split()[0] for w in weaknesses(Unpaged)] == ["paginator"]

    class Forgot(APIView):
        pass  # takes the defaults

    assert weaknesses(Forgot) == []


def rows_snapshot() -> dict[str, list]:
    return {
        "datasets": list(Dataset.objects.values_list("pk", "name")),
        "models": list(DNNModel.objects.values_list("pk", "name")),
        "devices": list(Device.objects.values_list("pk", "name", "settings")),
        "artifacts": list(Artifact.objects.values_list("pk", "status")),
        "jobs": list(Job.objects.values_list("pk", "status", "lease_owner")),
        "results": list(Result.objects.values_list("pk")),
    }


def refused(route: Route, response: Any) -> bool:
    if is_reference_page(route):
        return response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    return response.status_code == 401


def test_it_refuses_an_anonymous_request_to_every_api_route(anonymous, world):
    before = rows_snapshot()
    answers = {}
    for route in api_routes():
        for method in route.methods:
            response = getattr(anonymous, method)(route.url)
            if not refused(route, response):
                answers[f"{method.upper()} {route.url}"] = response.status_code
    assert answers == {}
    assert rows_snapshot() == before


def test_it_still_refuses_anonymous_writes_and_signed_in_only_routes_in_a_public_lab(
    anonymous, world, settings
):
    settings.PUBLIC_READ = True
    before = rows_snapshot()
    answers = {}
    for route in api_routes():
        signed_in_only = route.url == "/api/recommend" or exception_of(route) is not None
        for method in route.methods:
            if method == "get" and not signed_in_only:
                continue  # a public lab lets anyone read
            response = getattr(anonymous, method)(route.url)
            if not refused(route, response):
                answers[f"{method.upper()} {route.url}"] = response.status_code
    assert answers == {}
    assert anonymous.get("/api/results/").status_code == 200
    assert rows_snapshot() == before
