"""The technique contract shared by every registered technique."""

import pytest

from compression.techniques import all_techniques, get_technique
from compression.training import FineTune


def test_it_raises_the_budget_of_techniques_that_train_from_scratch():
    kd, w3 = get_technique("KD")(), get_technique("W3")()
    assert kd.budget_for(FineTune(epochs=2)).epochs == kd.min_fine_tune_epochs > 2
    assert w3.budget_for(FineTune(epochs=2)).epochs == 2
    # No fine-tuning stays none, and no budget leaves the technique's own default.
    assert kd.budget_for(FineTune(epochs=0)).epochs == 0
    assert kd.budget_for(None) is None


def test_it_refuses_an_unknown_parameter_naming_the_allowed_ones():
    with pytest.raises(ValueError, match=r"W3 has no parameter 'sparsity' \(allowed: .*s"):
        get_technique("W3").from_config({"sparsity": 0.5})


def test_it_gives_every_technique_a_complete_catalogue_entry():
    from compression.categories import CATEGORIES, SCOPES

    codes = {cls.code for cls in all_techniques()}
    assert {"W1f", "W1c", "W2", "W3", "Ps", "C1", "C2", "C3", "L1", "L2", "L3"} <= codes
    assert {"Cl", "KD", "Q-dyn", "Q-f16", "Q-int8"} <= codes
    for cls in all_techniques():
        assert cls.category in CATEGORIES and cls.applies_to in SCOPES, cls.code
        assert len(cls.description) > 40 and cls.reference, cls.code
        assert cls.from_config(cls.default_config()) == cls()
