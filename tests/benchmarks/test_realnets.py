"""benchmarks/realnets.py keeps each row as it lands and resumes where it stopped."""

from __future__ import annotations

import pandas as pd

import benchmarks.realnets as realnets
from benchmarks.realnets import main

TINY = ["--nets", "lenet", "--side", "8", "--max-train", "64", "--epochs", "1"]


def measured_row(net, model, code, data, work, budget, threads):
    """Stands in for compress + LiteRT (tested elsewhere): this test is the bookkeeping."""
    assert model.name == "lenet"  # the trained (or reloaded) baseline is what it gets
    plan = realnets._plan_text(code)
    return {"net": net, "plan": plan, "outcome": "applied", "accuracy": 0.5, "ms": 1.0, "why": ""}


def test_it_appends_rows_as_they_land_and_resumes_without_repeating_them(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr(realnets, "technique_row", measured_row)
    out = tmp_path / "realnets.csv"
    assert main([*TINY, "--techniques", "Q-f16", "--out", str(out)]) == 0
    first = pd.read_csv(out)
    assert list(first["plan"]) == ["baseline", "Q-f16"]
    assert (out.parent / "realnets-lenet.keras").exists()  # the baseline, kept for a resume

    assert main([*TINY, "--techniques", "Q-f16", "L3", "--out", str(out), "--resume"]) == 0
    both = pd.read_csv(out)
    assert list(both["plan"]) == ["baseline", "Q-f16", "L3"]  # only L3 was new
    assert "baseline reloaded" in capsys.readouterr().err
    pd.testing.assert_frame_equal(both.iloc[:2], first)


def test_it_refuses_to_overwrite_a_table_without_resume(tmp_path, capsys):
    out = tmp_path / "realnets.csv"
    out.write_text("net,plan\n")
    try:
        main([*TINY, "--out", str(out)])
    except SystemExit as stop:
        assert stop.code == 2
    assert "pass --resume" in capsys.readouterr().err
    assert out.read_text() == "net,plan\n"


def test_it_says_beside_each_accuracy_whether_it_recovered_to_its_baseline():
    frame = pd.DataFrame(
        [
            {"net": "A", "plan": "baseline", "outcome": "applied", "accuracy": 0.90},
            {"net": "A", "plan": "Ps", "outcome": "applied", "accuracy": 0.88},
            {"net": "A", "plan": "KD", "outcome": "applied", "accuracy": 0.10},
            {"net": "A", "plan": "L3", "outcome": "refused", "accuracy": None},
            {"net": "B", "plan": "baseline", "outcome": "applied", "accuracy": 0.50},
            {"net": "B", "plan": "Ps", "outcome": "applied", "accuracy": 0.60},
        ]
    ).reindex(columns=realnets.COLUMNS)
    table = realnets.with_recovery(frame)
    assert list(table["recovered"]) == ["", "yes", "no", "", "", "yes"]
    gaps = table["gap pts"].round(6).tolist()
    assert gaps[1:3] == [2.0, 80.0] and gaps[5] == -10.0  # each against its own net's baseline
    assert pd.isna(gaps[0]) and pd.isna(gaps[3])
    assert table.columns.get_loc("gap pts") == table.columns.get_loc("accuracy") + 1
