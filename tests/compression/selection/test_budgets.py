import math

import pytest

from compression.selection import BudgetError, Budgets, budget_errors, device_weights


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("min_accuracy_pct", -1.0, "cannot be negative"),
        ("min_accuracy_pct", 101.0, "cannot exceed 100"),
        ("max_energy_mj", math.nan, "finite"),
        ("latency_ms", -0.5, "cannot be negative"),
        ("storage_mb", math.inf, "finite"),
        ("cache_mb", -2.0, "cannot be negative"),
        ("mu1", 1.5, "between 0 and 1"),
        ("mu3", "a lot", "must be a number"),
    ],
)
def test_it_refuses_each_bad_budget_with_its_field_message(field, value, words):
    with pytest.raises(BudgetError) as caught:
        Budgets(**{field: value})
    assert set(caught.value.errors) == {field}
    assert words in caught.value.errors[field]
    assert f"Received: {field}={value!r}" in caught.value.errors[field]


def test_it_refuses_weights_that_do_not_sum_to_one():
    errors = budget_errors({"mu1": 0.9, "mu2": 0.9, "mu3": 0.2, "mu4": 0.2})
    assert set(errors) == {"mu2", "mu4"}
    assert "sum to 1" in errors["mu2"]


def test_it_reports_every_bad_field_at_once():
    errors = budget_errors({"min_accuracy_pct": 150, "latency_ms": -3, "storage_mb": math.nan})
    assert set(errors) == {"min_accuracy_pct", "latency_ms", "storage_mb"}


def test_it_accepts_open_budgets_and_close_enough_weights():
    budgets = Budgets(min_accuracy_pct=90, mu1=0.33, mu2=0.67)
    assert budgets.limits() == {"min_accuracy_pct": 90}


def test_it_derives_a_phones_weights_as_section_5_3_3():
    # 3000 mAh: (4000-3000)/4000 = 0.25 < 0.6, so mu2 = 0.6; 2 MB cache: (8-2)/8 = 0.75.
    mu1, mu2, mu3, mu4 = device_weights(3000, 2.0)
    assert (mu2, mu4) == pytest.approx((0.6, 0.75))
    assert (mu1, mu3) == pytest.approx((0.4, 0.25))


def test_it_weights_energy_more_on_a_small_battery():
    # A watch: 300 mAh gives (4000-300)/4000 = 0.925; 0.5 MB cache gives 7.5/8 = 0.9375.
    assert device_weights(300, 0.5) == pytest.approx((0.075, 0.925, 0.0625, 0.9375))


def test_it_gives_a_mains_powered_board_the_battery_terms_lower_bound():
    # No battery: mu2 = 0.6; a 4 MB cache: (8-4)/8 = 0.5 < 0.6 so mu4 = 0.6.
    assert device_weights(None, 4.0) == pytest.approx((0.4, 0.6, 0.4, 0.6))
    mu1, mu2, mu3, mu4 = device_weights(None, 4.0)
    assert Budgets(mu1=mu1, mu2=mu2, mu3=mu3, mu4=mu4).mu2 == pytest.approx(0.6)


def test_it_checks_the_file_size_budget_but_leaves_it_out_of_the_selectors_limits():
    with pytest.raises(BudgetError, match=r"cannot be negative. Received: max_file_mb=-1"):
        Budgets(max_file_mb=-1)
    budgets = Budgets(max_file_mb=2.5, storage_mb=4.0)
    assert budgets.limits() == {"storage_mb": 4.0}
    assert "max_file_mb" not in budgets.to_dict() and budgets.to_dict()["storage_mb"] == 4.0
