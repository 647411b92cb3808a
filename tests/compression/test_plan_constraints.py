"""A plan's later steps keep the sparsity and sharing its earlier steps imposed."""

import numpy as np

from compression.plan import Plan, apply_plan
from compression.training import FineTune


def zero_fraction(model, layer_name):
    return float(np.mean(model.get_layer(layer_name).get_weights()[0] == 0))


def test_it_keeps_an_earlier_mask_through_a_later_steps_fine_tuning(lenet, digits, quick):
    plan = Plan.parse("C3(theta=0.75)@conv2 + W3(s=0.5)@fc1")
    compressed = apply_plan(lenet, plan, digits, quick)
    # conv2 is rebuilt as conv2_rand with a fixed 75% channel mask; W3 fine-tunes afterwards.
    assert abs(zero_fraction(compressed, "conv2_rand") - 0.75) < 0.01
    assert abs(zero_fraction(compressed, "fc1") - 0.5) < 0.01


def test_it_keeps_pruned_zeros_when_a_later_step_replaces_another_layer(lenet, digits, quick):
    plan = Plan.parse("W3(s=0.6)@fc1 + W1f(k=8)@fc2")
    compressed = apply_plan(lenet, plan, digits, quick)
    assert abs(zero_fraction(compressed, "fc1") - 0.6) < 0.01


def test_it_keeps_clusters_through_a_later_pruning_step(lenet, digits, quick):
    plan = Plan.parse("Cl(k=8)@fc2 + W3(s=0.5)@fc1")
    compressed = apply_plan(lenet, plan, digits, FineTune(epochs=1, batch_size=64))
    assert len(np.unique(compressed.get_layer("fc2").get_weights()[0])) <= 8
