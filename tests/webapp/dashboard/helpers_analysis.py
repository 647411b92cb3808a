"""Rows for the analysis page tests: techniques, plans, one result per artifact x device x threads.

Built on tests/factories.py; every figure a test relies on is passed in explicitly.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from measurements.models import Artifact, Device, DNNModel, Job, Plan, Result, Technique
from tests.factories import make_result

CATEGORIES = {
    "W1f": "weight factorization",
    "W3": "pruning",
    "C2": "convolution decomposition",
    "L3": "layer architecture",
    "Cl": "clustering",
    "Q-int8": "quantization",
    "Q-dyn": "quantization",
}
# The page must never print these to a user (as words: "nan" inside "finance" is fine).
LEAKS = re.compile(r"\b(None|nan|NaN|inf|Infinity|undefined|Traceback)\b")


def logged_in() -> Client:
    """A client logged in as an ordinary (non-staff) user: anyone logged in may view."""
    client = Client()
    user, _ = User.objects.get_or_create(username="ada")
    client.force_login(user)
    return client


def catalogue() -> None:
    """The Technique rows the plans below refer to."""
    for code, category in CATEGORIES.items():
        Technique.objects.get_or_create(
            code=code,
            defaults={"name": code, "category": category, "applies_to": "fc", "description": "d"},
        )


def step(code: str, targets: tuple[str, ...] = (), **params: Any) -> dict[str, Any]:
    """One plan step as Plan.steps stores it."""
    return {"code": code, "params": params, "targets": list(targets)}


def plan(canonical: str, steps: list[dict[str, Any]]) -> Plan:
    """The Plan row for ``canonical`` (created once)."""
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    row, _ = Plan.objects.get_or_create(
        sha256=digest, defaults={"canonical": canonical, "steps": steps}
    )
    return row


def baseline_plan() -> Plan:
    """The empty plan: the uncompressed model."""
    return plan("baseline", [])


def artifact(model: DNNModel, the_plan: Plan, **figures: Any) -> Artifact:
    """The artifact of ``model`` x ``the_plan`` with static figures (created once)."""
    found = Artifact.objects.filter(model=model, plan=the_plan).first()
    # Not make_artifact(): its setdefault(..., make_model()) builds a spare model and plan.
    return found or Artifact.objects.create(
        model=model, plan=the_plan, status=Artifact.Status.READY, **figures
    )


def measure(art: Artifact, device: Device, threads: int = 1, **figures: Any) -> Result:
    """A measured Result (with its Job) of ``art`` on ``device``."""
    figures.setdefault("accuracy", art.accuracy)
    # Not make_job(): its setdefault(..., make_artifact()) builds a spare artifact, plan and
    # device on every call, which would show on the pages under test.
    job = Job.objects.create(artifact=art, device=device, num_threads=threads)
    return make_result(job=job, **figures)


def embedded_json(body: str, element_id: str) -> Any:
    """The JSON a page embedded with json_script under ``element_id``."""
    match = re.search(
        rf'<script id="{re.escape(element_id)}" type="application/json">(.*?)</script>',
        body,
        re.S,
    )
    assert match, f"no json_script {element_id!r} in the page"
    return json.loads(match.group(1))


def row_ids(body: str, table_id: str, attribute: str = "data-result-id") -> list[int]:
    """The ``attribute`` values of the rows of the table ``table_id``, in order."""
    match = re.search(rf'<table[^>]*id="{table_id}".*?</table>', body, re.S)
    assert match, f"no table {table_id!r} in the page"
    return [int(v) for v in re.findall(rf'<tr[^>]*{attribute}="(\d+)"', match.group(0))]


def assert_clean(body: str) -> None:
    """Nothing a user should never see: None, nan, a traceback."""
    text = re.sub(r"<script.*?</script>", "", body, flags=re.S)  # figures are JSON, not text
    found = LEAKS.search(text)
    assert found is None, (
        f"{found.group(0)!r} shown to the user: …{text[found.start() - 80 : found.end() + 80]}…"
    )
