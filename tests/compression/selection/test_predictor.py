import numpy as np
import pytest

from compression.selection.predictor import LatencyPredictor, evaluate


def rows(n: int, seed: int = 0) -> list[dict]:
    """Latency proportional to MACs over threads, plus 2% noise: a learnable device."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        macs = float(rng.uniform(1e5, 5e7))
        threads = int(rng.choice([1, 2, 4]))
        conv = int(rng.integers(1, 6))
        latency = macs / 1e6 / threads**0.8 * float(rng.normal(1, 0.02))
        out.append(
            {
                "macs": macs,
                "params": macs / 20,
                "sp_bits": macs,
                "sf_bits": 1e4,
                "num_threads": threads,
                "by_op_type": {"CONV_2D": conv, "FULLY_CONNECTED": 3},
                "latency_ms": latency,
            }
        )
    return out


def test_it_reports_its_held_out_error():
    report = evaluate(rows(80), test_share=0.25, seed=1)
    assert (report.n_train, report.n_test) == (60, 20)
    assert report.median_ape_pct < 25
    assert 0 <= report.within_10_pct <= 1
    # Check the report's arithmetic against a prediction made here.
    data = rows(80)
    order = np.random.default_rng(1).permutation(80)
    test = [data[i] for i in order[:20]]
    predicted = LatencyPredictor(1).fit([data[i] for i in order[20:]]).predict(test)
    ape = np.abs(predicted - [r["latency_ms"] for r in test]) / [r["latency_ms"] for r in test]
    assert report.median_ape_pct == pytest.approx(np.median(ape) * 100)
    assert report.within_10_pct == pytest.approx(np.mean(ape <= 0.1))


def test_it_ranks_bigger_models_slower():
    predictor = LatencyPredictor().fit(rows(60))
    small, big = rows(2, seed=9)
    small.update(macs=2e5, params=1e4, sp_bits=2e5, num_threads=1)
    big.update(macs=4e7, params=2e6, sp_bits=4e7, num_threads=1)
    fast, slow = predictor.predict([small, big])
    assert slow > 5 * fast


def test_it_refuses_to_train_on_too_few_results():
    with pytest.raises(ValueError, match="Received: rows=2"):
        LatencyPredictor().fit(rows(2))
