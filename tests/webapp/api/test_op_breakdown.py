"""Results carry the operator breakdown in the shape each driver records it."""

import pytest

from tests.factories import make_result

pytestmark = pytest.mark.django_db

LOCAL_DRIVER_BREAKDOWN = {
    "method": "measured: each operator carved into a single-op .tflite",
    "sum_ms": 0.03,
    "by_type": {
        "CONV_2D": {"ms": 0.02, "count": 2, "share": 0.67},
        "FULLY_CONNECTED": {"ms": 0.01, "count": 3, "share": 0.33},
    },
    "ops": [{"index": 0, "type": "CONV_2D", "mean_ms": 0.01, "stable": True}],
}


@pytest.mark.parametrize(
    "stored",
    [LOCAL_DRIVER_BREAKDOWN, {"CONV_2D": 0.02, "FULLY_CONNECTED": 0.01}],
    ids=["local-driver", "imported"],
)
def test_it_reads_the_breakdown_as_ms_by_op_type(reader, stored):
    result = make_result(op_breakdown=stored, op_breakdown_method="measured")
    response = reader.get(f"/api/results/{result.pk}/")
    assert response.status_code == 200
    assert response.json()["op_breakdown"]["ms_by_op"] == {"CONV_2D": 0.02, "FULLY_CONNECTED": 0.01}
    listed = reader.get("/api/results/")
    assert listed.status_code == 200 and listed.json()["count"] == 1
