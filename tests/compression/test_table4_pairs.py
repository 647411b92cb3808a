"""Seed 004 table 4: one dense-layer technique on fc1, fc2 with one conv technique on conv2."""

import hashlib

import numpy as np
import pytest

from compression.plan import Plan, apply_plan
from compression.techniques import w2
from compression.training import FineTune

CONV_CODES = ("W1c", "C1", "C2", "C3", "L1", "L2")
# L3 replaces the whole flatten + dense head, so it takes no target layers.
FC_STEPS = {
    "W1f": "W1f@fc1,fc2",
    "W2": "W2@fc1,fc2",
    "W3": "W3@fc1,fc2",
    "L3": "L3",
}
PAIRS = [f"{conv}@conv2 + {fc_step}" for fc_step in FC_STEPS.values() for conv in CONV_CODES]


@pytest.fixture(scope="module", autouse=True)
def _learn_each_w2_dictionary_once():
    """W2's dictionary learning takes seconds per layer and is a pure function of the
    kernel and its settings (seeded). Six pairs code the same fc1 and fc2 of alexnet, so
    each distinct kernel is learned once here and every later pair gets copies of the
    same factors it would have learned; tests/compression/test_w2.py tests the learning.
    """
    learned: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
    learn = w2.sparse_factors

    def learn_once(kernel, k, alpha, seed=0):
        kernel = np.asarray(kernel)
        digest = hashlib.sha256(kernel.tobytes()).hexdigest()
        key = (kernel.shape, kernel.dtype.str, digest, k, alpha, seed)
        if key not in learned:
            learned[key] = learn(kernel, k, alpha, seed)
        return tuple(factor.copy() for factor in learned[key])

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(w2, "sparse_factors", learn_once)
        yield learned


def changed(result, original, name: str) -> bool:
    """Whether layer ``name`` was replaced or its weights altered."""
    if name not in [layer.name for layer in result.layers]:
        return True
    old, new = original.get_layer(name).get_weights(), result.get_layer(name).get_weights()
    return len(old) != len(new) or any(
        a.shape != b.shape or not np.array_equal(a, b) for a, b in zip(old, new, strict=True)
    )


def test_it_covers_the_24_pairs():
    assert len({Plan.parse(text) for text in PAIRS}) == 24


@pytest.mark.parametrize("code", ["W1f", "W2"])
def test_it_caps_the_default_rank_so_a_narrow_fc1_still_shrinks(alexnet, code):
    # On 8x8 digits fc1 is 32 -> 512: the card's m/12 (42) or m/6 (85) would grow it,
    # so the default rank is capped at n // 2 = 16.
    result = apply_plan(alexnet, f"{code}@fc1", None, FineTune(epochs=0))
    factor = next(la for la in result.layers if la.name.startswith("fc1_"))
    assert factor.get_weights()[0].shape == (32, 16)


@pytest.mark.parametrize("text", PAIRS)
def test_it_applies_the_pair_to_alexnet(alexnet, digits, text):
    before = [np.array(w) for w in alexnet.get_weights()]
    plan = Plan.parse(text)
    result = apply_plan(alexnet, plan, digits, FineTune(epochs=0))
    assert result.output_shape == alexnet.output_shape
    assert changed(result, alexnet, "conv2")
    assert changed(result, alexnet, "fc1")
    scores = result.predict(digits.x_test[:8], verbose=0)
    assert np.all(np.isfinite(scores))
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-4)
    for old, new in zip(before, alexnet.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)
