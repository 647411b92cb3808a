"""The one reader of Result.op_breakdown: both stored shapes, and anything else without raising."""

import math

import pytest

from measurements.op_breakdown import (
    AT_LOAD,
    NO_TIMING,
    NOT_RECORDED,
    TYPES_ONLY,
    UNREADABLE,
    Op,
    ms_by_type,
    read,
)

DRIVER = {
    "method": "measured: each operator carved into a single-op .tflite",
    "sum_ms": 0.03,
    "by_type": {
        "CONV_2D": {"ms": 0.02, "count": 2, "share": 0.67},
        "FULLY_CONNECTED": {"ms": 0.01, "count": 1, "share": 0.33},
    },
    "ops": [
        {"index": 0, "type": "CONV_2D", "mean_ms": 0.01, "stable": True},
        {"index": 1, "type": "CONV_2D", "mean_ms": math.nan},
        {"type": "FULLY_CONNECTED", "mean_ms": 0.01},
    ],
}


def test_it_reads_the_local_drivers_document_with_counts_and_operator_order():
    found = read(DRIVER)
    assert found.by_type == {"CONV_2D": 0.02, "FULLY_CONNECTED": 0.01}
    assert found.counts == {"CONV_2D": 2, "FULLY_CONNECTED": 1}
    assert found.ops == [
        Op(0, "CONV_2D", 0.01),
        Op(1, "CONV_2D", None),
        Op(2, "FULLY_CONNECTED", 0.01),
    ]
    assert found.note == "" and found.total_ms == pytest.approx(0.03)
    assert ms_by_type(DRIVER) == found.by_type


def test_it_reads_an_imported_flat_breakdown_as_types_only():
    found = read({"CONV_2D": 0.4, "FULLY_CONNECTED": 1, "PAD": math.inf, "MEAN": True})
    assert found.by_type == {"CONV_2D": 0.4, "FULLY_CONNECTED": 1.0}
    assert found.ops == [] and found.counts == {} and found.note == TYPES_ONLY


@pytest.mark.parametrize(
    ("raw", "note"),
    [
        (None, NOT_RECORDED),
        ({}, NOT_RECORDED),
        ([1, 2], UNREADABLE),
        ({"CONV_2D": "fast"}, UNREADABLE),
        ({"by_type": {"CONV_2D": {"ms": None}}, "ops": {"not": "a list"}}, NO_TIMING),
        (
            {"by_type": {}, "ops": [{"index": "x", "type": "ADD", "mean_ms": "1"}, "junk"]},
            NO_TIMING,
        ),
    ],
)
def test_it_says_what_it_could_not_read_and_never_raises(raw, note):
    found = read(raw)
    assert found.note == note and found.by_type == {} and ms_by_type(raw) == {}
    if isinstance(raw, dict) and isinstance(raw.get("ops"), list):
        assert found.ops == [Op(0, "ADD", None)]  # a bad index falls back to the position


def test_it_says_which_operators_run_at_load_and_were_not_timed():
    raw = {
        **DRIVER,
        "ops": [
            {"index": 0, "type": "DEQUANTIZE", "mean_ms": 0.0, "stable": True, "at_load": True},
            {"index": 1, "type": "DEQUANTIZE", "mean_ms": 0.0, "stable": True, "at_load": True},
            {"index": 2, "type": "CONV_2D", "mean_ms": 0.02, "stable": True},
        ],
    }

    assert read(raw).note == AT_LOAD.format(count=2, types="DEQUANTIZE")
    assert read(DRIVER).note == ""
