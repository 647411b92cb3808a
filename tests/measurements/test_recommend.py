import pytest
from django.core.files.base import ContentFile

from compression.export import to_tflite
from compression.selection import Budgets
from compression.selection.kernels import kernels_of
from measurements.recommend import build_candidates, parse_budgets, recommend_for
from tests.compression.selection.test_kernel_predictor import conv_bn_relu6
from tests.factories import make_artifact
from tests.measurements.recommend_world import PLANS, build_world, plan_row

pytestmark = pytest.mark.django_db


def test_it_predicts_what_is_not_measured_and_says_so():
    world = build_world()
    candidates, _ = build_candidates(world.model, world.device)
    by_plan = {c.plan: c for c in candidates}
    predicted = by_plan["C2"]
    macs, sp, sf, accuracy, _ = PLANS["C2"]
    assert predicted.storage_mb == pytest.approx((sp + sf) / 8 / 1e6)
    assert predicted.weights_mb == pytest.approx(sp / 8 / 1e6)
    assert predicted.macs == macs
    # Seed 004 eq. 5: e1 (C + 6 Sp + 200 Sf), e1 = 52.8 pJ, in mJ.
    assert predicted.energy_mj == pytest.approx(52.8e-9 * (macs + 6 * sp + 200 * sf))
    assert predicted.accuracy_pct == pytest.approx(accuracy * 100)
    assert predicted.latency_ms is not None and predicted.latency_ms > 0
    assert predicted.sources["latency_ms"] == "predicted"
    assert predicted.sources["energy_mj"] == "estimated"
    assert predicted.sources["accuracy_pct"] == "measured"  # host-evaluated through the .tflite
    measured = by_plan["C1"]
    assert measured.latency_ms == PLANS["C1"][4] and measured.sources["latency_ms"] == "measured"
    assert by_plan["W2"].accuracy_pct is None and not by_plan["W2"].complete


def test_its_recommendation_keeps_the_budgets():
    world = build_world()
    budgets = Budgets(min_accuracy_pct=92, latency_ms=3.0, mu1=0.6, mu2=0.4)
    answer = recommend_for(world.model, world.device, budgets, "exhaustive")
    # Brute force over the measured plans that fit: the best must be one of them.
    assert answer["best"]["plan"] in {"C1", "C2"}
    for plan in answer["ranked"]:
        assert plan["figures"]["accuracy_pct"]["value"] >= 92
        assert plan["figures"]["latency_ms"]["value"] <= 3.0
    assert answer["binding"] in {"min_accuracy_pct", "latency_ms"}
    assert answer["evaluations"] == 6  # the six plans with an accuracy
    assert any(p["plan"] == "W2" for p in answer["measure_next"])
    assert sum(point["front"] for point in answer["front"]) >= 1


def test_it_names_the_budget_to_relax_when_nothing_fits():
    world = build_world()
    answer = recommend_for(world.model, world.device, Budgets(latency_ms=1.0), "greedy")
    assert answer["best"] is None
    relax = answer["closest"][0]["relax"]["latency_ms"]
    assert relax["by"] == pytest.approx(relax["to"] - 1.0) and relax["to"] > 1.0


def test_it_derives_the_weights_from_the_device():
    world = build_world()
    budgets, errors = parse_budgets({"weights": "device", "latency_ms": "10"}, world.device)
    assert errors == {}
    # 3000 mAh and 2 MB cache: mu2 = max(0.25, 0.6), mu4 = max(0.75, 0.6).
    assert budgets.weights == pytest.approx((0.4, 0.6, 0.25, 0.75))
    assert budgets.cache_mb == 2.0 and budgets.latency_ms == 10.0


def test_it_refuses_bad_inputs_field_by_field():
    budgets, errors = parse_budgets(
        {"min_accuracy_pct": "120", "latency_ms": "fast", "storage_mb": "nan", "mu1": "0.9"},
        None,
    )
    assert budgets is None
    assert set(errors) == {"min_accuracy_pct", "latency_ms", "storage_mb", "mu2"}
    assert "Received: latency_ms='fast'" in errors["latency_ms"]


def test_the_command_prints_the_recommendation():
    from io import StringIO

    from django.core.management import call_command

    world = build_world()
    out = StringIO()
    call_command(
        "recommend", model=world.model.name, device=world.device.name,
        latency_ms="3", min_accuracy_pct="92", stdout=out,
    )  # fmt: skip
    text = out.getvalue()
    assert "Recommended: C" in text and "(measured)" in text and "ms" in text


def test_the_command_refuses_a_bad_budget():
    from django.core.management import CommandError, call_command

    world = build_world()
    with pytest.raises(CommandError, match="storage_mb"):
        call_command("recommend", model=world.model.name, device=world.device.name, storage_mb="-1")


def time_kernels(world, timed: dict[str, tuple[float, str | None]]) -> None:
    """Give ``timed`` plans a .tflite and per-kernel times (ms, scope); add Ps, compressed only."""
    tflite = to_tflite(conv_bn_relu6(), "float32")
    kernels = kernels_of(tflite)
    for code, (ms, scope) in timed.items():
        ops = [{"index": k.index, "type": k.op_type, "mean_ms": ms} for k in kernels]
        breakdown = {"ops": ops, "by_type": {}, **({"scope": scope} if scope else {})}
        artifact = world.artifacts[code]
        artifact.tflite_file.save(f"{code}.tflite", ContentFile(tflite))
        artifact.results.update(op_breakdown=breakdown)
    fresh = make_artifact(
        model=world.model, plan=plan_row("Ps"), macs=1000, sp_bits=800, sf_bits=80, accuracy=0.9
    )
    fresh.tflite_file.save("fresh.tflite", ContentFile(tflite))


def test_it_predicts_latency_per_kernel_where_the_device_has_op_timings():
    world = build_world()
    time_kernels(world, {"C1": (0.1, None)})
    by_plan = {c.plan: c for c in build_candidates(world.model, world.device)[0]}
    # Same kernels as the timed model (0.1 ms each); the overhead term, fitted on
    # that one model, is its measured 2.6 ms minus the sum of its kernels.
    assert by_plan["Ps"].latency_ms == pytest.approx(2.6, rel=1e-6)
    assert by_plan["Ps"].sources["latency_ms"] == "predicted"
    assert by_plan["Ps"].extra["latency_predictor"] == "kernel"
    # Artifacts without a .tflite still get the whole-model forest's figure.
    assert by_plan["C2"].extra["latency_predictor"] == "forest"
    assert by_plan["C2"].latency_ms > 0


def test_it_learns_kernels_from_in_graph_timings_only_when_the_device_has_them():
    world = build_world()
    time_kernels(world, {"C1": (0.1, "in-graph"), "W3": (1.0, "single-op")})

    by_plan = {c.plan: c for c in build_candidates(world.model, world.device)[0]}

    # Only C1's in-graph kernels (0.1 ms each) and its 2.6 ms latency are learnt from;
    # W3's operators timed alone (ten times slower; 3.8 ms) are left out, not averaged in.
    assert by_plan["Ps"].latency_ms == pytest.approx(2.6, rel=1e-6)
    assert by_plan["Ps"].extra["latency_predictor"] == "kernel"
