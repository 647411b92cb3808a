import pytest

from compression.selection import Candidate
from compression.selection.table_csv import load_table, save_table
from tests.compression.selection.tables import SPACE, structured_table


def test_it_round_trips_a_table_with_figures_and_provenance(tmp_path):
    table = structured_table(0, SPACE) + [Candidate("KD", None, 1.0, 2.0, 0.5, macs=1234.0)]
    path = save_table(table, tmp_path / "tables" / "lenet.csv")
    assert load_table(path) == table


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("plan,accuracy_pct\nC1,80\n", "lacks column(s) energy_mj, latency_ms, storage_mb"),
        (
            "plan,accuracy_pct,energy_mj,latency_ms,storage_mb,weights_mb\nC1,80,1,fast,1,\n",
            "latency_ms must be a finite number or empty. Received: latency_ms='fast' (line 2",
        ),
        (
            "plan,accuracy_pct,energy_mj,latency_ms,storage_mb,weights_mb\nC1,80,1,2,1,\n"
            "C1,81,1,2,1,\n",
            "A plan appears twice in the table. Received: ['C1']",
        ),
        (
            "plan,accuracy_pct,energy_mj,latency_ms,storage_mb,weights_mb,latency_ms_source\n"
            "C1,80,1,2,1,,guessed\n",
            "Received: sources['latency_ms']='guessed' (line 2",
        ),
    ],
)
def test_it_refuses_a_bad_table_naming_the_problem(tmp_path, content, words):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    with pytest.raises(ValueError) as caught:
        load_table(path)
    assert words in str(caught.value)
