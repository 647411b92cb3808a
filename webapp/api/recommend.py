"""/api/recommend: the selector's answer for a model on a device under budgets.

GET with query parameters (or POST with the same fields as JSON): ``model``
and ``device`` (id or name), ``strategy`` (compose, the default, exhaustive,
greedy, dqn, tpe),
``threads``, ``top``, ``seed``, the budgets ``min_accuracy_pct`` (%),
``max_energy_mj`` (mJ), ``latency_ms`` (ms), ``storage_mb`` (MB),
``cache_mb`` (MB), and ``weights=device`` or ``mu1``..``mu4``. Bad inputs are
a 400 naming each field, and so is any other parameter (a misspelled budget
such as ``min_accuracy=95`` would otherwise be ignored silently). It always
needs a signed-in user, even in a public lab: it runs the selector. The
selector (and with the DQN, Keras) is imported when a request arrives, never
at start-up.

With ``evaluations`` (N) a POST starts a search that measures as it goes
instead (``webapp.api.searches``): 201 with its progress, at most N plans
compressed and measured through the job queue; ``allow_predicted`` and
``techniques`` (codes) shape it; its ``strategy`` is compose (the default)
or tpe.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from measurements.models import Device, DNNModel
from webapp.api import searches
from webapp.api.permissions import SIGNED_IN
from webapp.api.searches import SEARCH_INPUTS

# compression.selection's STRATEGIES and DEFAULT_STRATEGY (kept here so that loading the
# URLs never imports the selector; a test checks they agree).
STRATEGIES = ("compose", "exhaustive", "greedy", "dqn", "tpe")
DEFAULT_STRATEGY = "compose"
# field -> (default, lowest, highest)
INTEGERS = {"threads": (1, 1, 256), "top": (5, 1, 100), "seed": (0, 0, 2**31 - 1)}
# Ids longer than this cannot be database keys (and would overflow SQLite's integers).
MAX_ID_DIGITS = 18
PARAMETERS = [
    OpenApiParameter("model", str, required=True, description="Model id or name."),
    OpenApiParameter("device", str, required=True, description="Device id or name."),
    OpenApiParameter(
        "strategy", str, enum=list(STRATEGIES), description=f"Default {DEFAULT_STRATEGY}."
    ),
    OpenApiParameter("threads", int, description="Thread count (default 1)."),
    OpenApiParameter("top", int, description="Plans per list (default 5)."),
    OpenApiParameter("seed", int, description="The DQN's seed."),
    OpenApiParameter("min_accuracy_pct", float, description="A_min, %."),
    OpenApiParameter("max_energy_mj", float, description="E_max, mJ per inference."),
    OpenApiParameter("latency_ms", float, description="T_bgt, ms."),
    OpenApiParameter("storage_mb", float, description="S_bgt, MB."),
    OpenApiParameter("cache_mb", float, description="S_Cache of eq. 6, MB."),
    OpenApiParameter("weights", str, enum=["device", "manual"], description="mu from device?"),
    *(
        OpenApiParameter(mu, float, description="Weight, 0..1.")
        for mu in ("mu1", "mu2", "mu3", "mu4")
    ),
]


# DRF's own ?format=json is not an input of the selector but is allowed.
KNOWN = frozenset({*(p.name for p in PARAMETERS), "format", *SEARCH_INPUTS})


def unknown_inputs(data: Mapping[str, Any]) -> dict[str, str]:
    """A message for each input the selector does not read, with the closest known name."""
    from difflib import get_close_matches

    errors = {}
    for name in sorted(set(data) - KNOWN):
        close = get_close_matches(str(name), sorted(KNOWN), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        known = ", ".join(sorted(KNOWN))
        errors[str(name)] = f"Unknown parameter {str(name)!r}{hint} Known: {known}."
    return errors


def _row(model: type, value: Any) -> Any:
    if value in (None, "") or isinstance(value, dict | list | bool):
        return None
    text = str(value)
    if "\x00" in text or len(text) > 200:  # no name is that long; NUL breaks PostgreSQL
        return None
    if text.isascii() and text.isdigit():
        return model.objects.filter(pk=int(text)).first() if len(text) <= MAX_ID_DIGITS else None
    return model.objects.filter(name=text).first()


def parse_request(data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Model, device, strategy, integers and budgets from the inputs; (values, errors)."""
    from measurements.recommend import parse_budgets

    errors: dict[str, str] = unknown_inputs(data)
    values: dict[str, Any] = {}
    for field, model in (("model", DNNModel), ("device", Device)):
        values[field] = _row(model, data.get(field))
        if values[field] is None:
            errors[field] = f"No such {field}. Received: {field}={data.get(field)!r}"
    strategy = data.get("strategy") or DEFAULT_STRATEGY
    if strategy not in STRATEGIES:
        errors["strategy"] = (
            f"Choose one of {', '.join(STRATEGIES)}. Received: strategy={strategy!r}"
        )
    values["strategy"] = strategy
    for field, (default, lowest, highest) in INTEGERS.items():
        raw = data.get(field)
        try:
            values[field] = default if raw in (None, "") else int(raw)
            if not lowest <= values[field] <= highest:
                raise ValueError
        except (TypeError, ValueError):
            errors[field] = (
                f"{field} must be an integer from {lowest} to {highest}. Received: {field}={raw!r}"
            )
    values["budgets"], budget_errors = parse_budgets(data, values["device"])
    errors.update(budget_errors)
    return values, errors


class RecommendView(APIView):
    """The ranked feasible plans, what binds, the closest plans, and what to measure next."""

    permission_classes = SIGNED_IN  # stricter than the default: it runs the selector

    @extend_schema(
        parameters=PARAMETERS,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(OpenApiTypes.OBJECT)},
        description=__doc__,
    )
    def get(self, request: Request) -> Response:
        if "evaluations" in request.query_params:
            body = {"evaluations": "A search queues jobs: start it with a POST."}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        return self._answer(request.query_params)

    @extend_schema(
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(OpenApiTypes.OBJECT)},
    )
    def post(self, request: Request) -> Response:
        return self._answer(request.data, request)

    def _answer(self, data: Mapping[str, Any], request: Request | None = None) -> Response:
        from measurements.recommend import finite_json, recommend_for

        if not isinstance(data, Mapping):
            body = {"detail": f"Send an object of inputs. Received: {type(data).__name__}"}
            return Response(body, status=status.HTTP_400_BAD_REQUEST)
        values, errors = parse_request(data)
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        if request is not None and "evaluations" in data:
            return searches.start(request, values, data)
        answer = recommend_for(
            values["model"], values["device"], values["budgets"], values["strategy"],
            values["threads"], values["top"], values["seed"],
        )  # fmt: skip
        return Response(finite_json(answer))


recommend = RecommendView.as_view()
# Included by webapp/urls.py at api/recommend (before the api/ include).
urlpatterns = [path("", recommend, name="api-recommend")]
