import hashlib
import json
import random
from typing import Any

import keras
import numpy as np
import pytest

from compression import techniques
from compression.errors import NotApplicableError, PlanSyntaxError, UnknownTechniqueError
from compression.plan import Plan, PlanStep, apply_plan, format_value
from compression.techniques import Technique, all_techniques, get_technique

LAYERS = ("conv1", "conv2", "fc1", "fc2", "fc3")


def weights_of(model: keras.Model) -> list[np.ndarray]:
    return [np.array(w) for w in model.get_weights()]


# --- parsing and canonical text ---------------------------------------------------------


def test_it_parses_codes_params_and_targets():
    plan = Plan.parse("C2(alpha=0.25)@conv2 + KD(width=0.75) + W1f(k=4)@fc1,fc2 + Q-int8")
    assert [s.code for s in plan.steps] == ["C2", "KD", "W1f", "Q-int8"]
    assert [dict(s.params) for s in plan.steps] == [{"alpha": 0.25}, {"width": 0.75}, {"k": 4}, {}]
    assert [s.targets for s in plan.steps] == [("conv2",), (), ("fc1", "fc2"), ()]
    assert isinstance(plan.steps[2].params["k"], int)


def test_it_ignores_whitespace_between_tokens():
    tight = Plan.parse("C2(alpha=0.25)@conv2+W1f(k=4)@fc1,fc2+Q-dyn")
    loose = Plan.parse("  C2 ( alpha = 0.25 ) @ conv2 +\n W1f( k=4 )@ fc1 , fc2 +  Q-dyn ")
    assert loose == tight
    assert loose.canonical() == "C2(alpha=0.25)@conv2 + W1f(k=4)@fc1,fc2 + Q-dyn"


def test_it_omits_parameters_at_their_defaults():
    alpha = get_technique("C2").default_config()["alpha"]
    written = Plan.parse(f"C2(alpha={alpha!r})@conv2 + W1f(k=none)@fc1 + Q-int8()")
    assert written == Plan.parse("C2@conv2 + W1f@fc1 + Q-int8")
    assert written.canonical() == "C2@conv2 + W1f@fc1 + Q-int8"


def test_it_sorts_parameters_by_name():
    plan = Plan.parse("KD(width=0.25, alpha=0.2) + C3(theta=0.5, seed=3)@conv2")
    assert plan.canonical() == "KD(alpha=0.2, width=0.25) + C3(seed=3, theta=0.5)@conv2"


def test_it_keeps_target_order_and_drops_duplicates():
    plan = Plan.parse("W1f@fc2,fc1,fc2,fc1")
    assert plan.steps[0].targets == ("fc2", "fc1")
    assert plan.canonical() == "W1f@fc2,fc1"


def test_it_writes_the_empty_plan_as_baseline():
    assert Plan.baseline().canonical() == "baseline"
    assert str(Plan.baseline()) == "baseline"
    assert Plan.parse("  baseline ") == Plan.baseline()
    assert Plan.baseline().export_mode == "float32"
    assert len(Plan.baseline()) == 0


def test_it_takes_the_export_mode_from_the_quantization_step():
    assert Plan.parse("C2@conv2").export_mode == "float32"
    assert Plan.parse("C2@conv2 + Q-dyn").export_mode == "dynamic"
    assert Plan.parse("Q-f16").export_mode == "float16"
    assert Plan.parse("W1f + Q-int8(samples=50)").export_mode == "int8"
    assert Plan.parse("W1f + Q-int8(samples=50)").export_step == PlanStep("Q-int8", {"samples": 50})


def test_it_formats_values_so_they_parse_back_to_their_type():
    assert format_value(None) == "none"
    assert format_value(True) == "true"
    assert format_value(False) == "false"
    assert format_value(3) == "3"
    assert format_value(np.int64(3)) == "3"
    assert format_value(0.1) == "0.1"
    assert format_value(1e-05) == "1e-05"
    assert format_value(2.0) == "2.0"
    assert format_value("linear") == "linear"
    assert format_value("true") == '"true"'
    assert format_value("12") == '"12"'
    assert format_value("a b") == '"a b"'
    assert format_value('say "hi"') == "'say \"hi\"'"
    with pytest.raises(ValueError, match=r"Received: value=\[1, 2\]"):
        format_value([1, 2])


class Typed(Technique):
    """A test-only technique with one parameter of each type the grammar writes."""

    code = "Typed"
    name = "typed"
    category = "pruning"
    applies_to = "model"
    description = "Parameters of every type."
    reference = "None."
    param_names = ("flag", "label", "level", "rate")

    def __init__(
        self, flag: bool = False, label: str = "x", level: int | None = None, rate: float = 0.5
    ) -> None:
        self.flag, self.label, self.level, self.rate = flag, label, level, rate


@pytest.fixture
def typed(monkeypatch: pytest.MonkeyPatch) -> type[Technique]:
    techniques._discover()
    monkeypatch.setitem(techniques._REGISTRY, Typed.code, Typed)
    return Typed


def test_it_round_trips_every_value_type(typed):
    text = "Typed(flag=true, label='two words', level=0, rate=1e-05)"
    plan = Plan.parse(text)
    params = plan.steps[0].params
    assert params == {"flag": True, "label": "two words", "level": 0, "rate": 1e-05}
    assert type(params["flag"]) is bool and type(params["level"]) is int
    assert Plan.parse(plan.canonical()) == plan
    assert Plan.parse("Typed(label=linear, level=none)").steps[0].params == {"label": "linear"}
    assert Plan.parse('Typed(label="none")').steps[0].params == {"label": "none"}
    # True == 1 in Python, but flag=true is not the default False and level=1 is not None.
    assert Plan.parse("Typed(flag=false, level=1)").steps[0].params == {"level": 1}


def _candidates(cls: type[Technique], name: str, default: Any) -> list[Any]:
    """Values the technique accepts for one parameter, derived from its default."""
    if isinstance(default, bool):
        options = [not default]
    elif isinstance(default, int):
        options = [default + 1, default * 2, max(1, default // 2)]
    elif isinstance(default, float):
        options = [default / 2, round(default * 0.8, 3), default + 0.125, 1e-05]
    elif default is None:
        options = [1, 2, 3, 8]
    else:
        options = []
    accepted = [default]
    for value in options:
        try:
            cls(**{name: value})
        except ValueError:
            continue
        accepted.append(value)
    return accepted


def _random_step_text(rng: random.Random, cls: type[Technique]) -> tuple[str, PlanStep]:
    defaults = cls.default_config()
    chosen = {}
    for name in rng.sample(cls.param_names, k=rng.randint(0, len(cls.param_names))):
        chosen[name] = rng.choice(_candidates(cls, name, defaults[name]))
    targets = [] if cls.export_mode else rng.choices(LAYERS, k=rng.randint(0, 3))
    pad = lambda: rng.choice(["", " ", "  ", "\t"])  # noqa: E731
    text = cls.code
    if chosen or rng.random() < 0.2:
        parts = [f"{pad()}{k}{pad()}={pad()}{format_value(v)}{pad()}" for k, v in chosen.items()]
        text += f"{pad()}(" + ",".join(parts) + ")"
    if targets:
        text += f"{pad()}@" + ",".join(f"{pad()}{t}{pad()}" for t in targets)
    return text, PlanStep(cls.code, chosen, tuple(targets))


def test_it_round_trips_generated_plans_through_canonical_text():
    rng = random.Random(4)
    layer_techniques = [c for c in all_techniques() if c.export_mode is None]
    quantizers = [c for c in all_techniques() if c.export_mode is not None]
    for _ in range(40):
        classes = rng.choices(layer_techniques, k=rng.randint(1, 3))
        if rng.random() < 0.5:
            classes.append(rng.choice(quantizers))
        pieces = [_random_step_text(rng, cls) for cls in classes]
        text = " + ".join(piece for piece, _ in pieces)
        plan = Plan.parse(text)
        assert plan == Plan(tuple(step for _, step in pieces)), text
        canonical = plan.canonical()
        assert Plan.parse(canonical) == plan, text
        assert Plan.parse(canonical).canonical() == canonical
        assert Plan.from_json(json.dumps(plan.to_json())) == plan
        for step, cls in zip(plan.steps, classes, strict=True):
            defaults = cls.default_config()
            assert all(value != defaults[name] for name, value in step.params.items())
            assert list(step.params) == sorted(step.params)
            assert len(set(step.targets)) == len(step.targets)


def test_it_hashes_the_canonical_text():
    plan = Plan.parse("C2(alpha=0.25)@conv2 + W1f(k=4)@fc1,fc2")
    expected = hashlib.sha256(b"C2(alpha=0.25)@conv2 + W1f(k=4)@fc1,fc2").hexdigest()
    assert plan.sha256() == expected
    assert Plan.parse(" C2(alpha=0.25)@conv2+W1f(k=4)@fc1,fc2,fc1 ").sha256() == expected
    assert Plan.parse("C2(alpha=0.25)@conv2 + W1f(k=5)@fc1,fc2").sha256() != expected
    assert Plan.parse("W1f(k=4)@fc1,fc2 + C2(alpha=0.25)@conv2").sha256() != expected
    assert Plan.baseline().sha256() == hashlib.sha256(b"baseline").hexdigest()


def test_it_serialises_to_and_from_json():
    plan = Plan.parse("C3(theta=0.5)@conv2 + W1f@fc1 + Q-int8(samples=20)")
    data = plan.to_json()
    assert data == [
        {"code": "C3", "params": {"theta": 0.5}, "targets": ["conv2"]},
        {"code": "W1f", "params": {}, "targets": ["fc1"]},
        {"code": "Q-int8", "params": {"samples": 20}, "targets": []},
    ]
    assert Plan.from_json(data) == plan
    assert Plan.from_json([]) == Plan.baseline()


# --- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("", "Empty step", 0),
        ("C2@conv2 + + Q-int8", "Empty step", 11),
        ("C2@conv2 +", "Empty step", 10),
        ("+ C2", "Empty step", 0),
        ("C2 W1f", "Expected '\\+' between steps", 3),
        ("C2(alpha 0.25)", "Expected '=' after parameter 'alpha'", 9),
        ("C2(alpha=)", "Expected a parameter value", 9),
        ("C2(alpha=0.25", "Expected ',' or '\\)'", 13),
        ("C2(alpha=0.25 x)", "Expected ',' or '\\)'", 14),
        ("C2(alpha=0.2.5)", "Expected a parameter value", 9),
        ("C2(=0.25)", "Expected a parameter name", 3),
        ("C3(theta=0.5, theta=0.6)", "Parameter 'theta' given twice", 14),
        ("C2@", "Expected a layer name after '@'", 3),
        ("W1f@fc1,", "Expected a layer name after ','", 8),
        ("Typed(label='open)", "Unterminated string", 12),
    ],
)
def test_it_rejects_malformed_text_with_its_position(typed, text, message, position):
    with pytest.raises(PlanSyntaxError, match=message) as caught:
        Plan.parse(text)
    assert caught.value.position == position
    assert caught.value.text == text
    assert f"at position {position}" in str(caught.value)
    assert f"Received: plan={text!r}" in str(caught.value)


def test_it_names_an_unknown_code_and_where_it_is():
    with pytest.raises(UnknownTechniqueError, match="Received: code='Zz9'") as caught:
        Plan.parse("C2@conv2 + Zz9@fc1")
    assert "At position 11" in str(caught.value)
    assert "W1f" in str(caught.value)  # the known codes are listed


def test_it_lists_the_allowed_parameters_of_the_technique():
    with pytest.raises(PlanSyntaxError, match="C3 has no parameter 'beta'") as caught:
        Plan.parse("W1f@fc1 + C3(beta=1)@conv2")
    allowed = ", ".join(get_technique("C3").param_names)
    assert f"allowed: {allowed}" in str(caught.value)
    assert caught.value.position == 13
    with pytest.raises(PlanSyntaxError, match="Q-dyn has no parameter 'samples'; it takes no"):
        Plan.parse("Q-dyn(samples=3)")


def test_it_passes_on_the_techniques_own_value_error():
    with pytest.raises(ValueError, match="Received: samples=0") as caught:
        Plan.parse("W1f + Q-int8(samples=0)")
    assert not isinstance(caught.value, PlanSyntaxError)
    with pytest.raises(ValueError, match="Received: k=2.5"):
        Plan.parse("Cl(k=2.5)")


def test_it_keeps_quantization_last():
    with pytest.raises(PlanSyntaxError, match="'Q-int8' is followed by another step") as caught:
        Plan.parse("C2@conv2 + Q-int8 + W1f@fc1")
    assert caught.value.position == 11


def test_it_allows_one_quantization_step():
    with pytest.raises(PlanSyntaxError, match="one quantization step; 'Q-int8' follows 'Q-dyn'"):
        Plan.parse("C2@conv2 + Q-dyn + Q-int8")
    with pytest.raises(PlanSyntaxError, match="position 8"):
        Plan((PlanStep("Q-dyn"), PlanStep("Q-f16")))


def test_it_validates_steps_built_directly():
    with pytest.raises(ValueError, match="C2 has no parameter 'beta'; allowed: alpha"):
        PlanStep("C2", {"beta": 1})
    with pytest.raises(ValueError, match="Received: alpha=7"):
        PlanStep("C2", {"alpha": 7})
    with pytest.raises(ValueError, match="Received: target='fc 1'"):
        PlanStep("W1f", {}, ("fc 1",))
    with pytest.raises(UnknownTechniqueError):
        PlanStep("Nope")
    with pytest.raises(PlanSyntaxError, match="must be the last step"):
        Plan((PlanStep("Q-int8"), PlanStep("W1f")))


def test_it_accepts_targets_on_whole_model_techniques():
    plan = Plan.parse("Cl(k=8)@fc1,fc2")
    assert plan.steps[0].targets == ("fc1", "fc2")


# --- applying -------------------------------------------------------------------------------


def test_it_applies_steps_in_order_without_touching_the_input(lenet):
    before = weights_of(lenet)
    result = apply_plan(lenet, "W1f@fc1 + W3(s=0.5)@fc2")
    for old, new in zip(before, weights_of(lenet), strict=True):
        np.testing.assert_array_equal(old, new)
    names = [layer.name for layer in result.layers]
    assert "fc1" not in names and "fc2" in names
    # W1f: fc1 (n -> 120) becomes k(n + 120) weights with k = 120 // 12 = 10; biases stay.
    n = lenet.get_layer("fc1").kernel.shape[0]
    expected = lenet.count_params() - n * 120 + 10 * (n + 120)
    assert result.count_params() == expected
    kernel = keras.ops.convert_to_numpy(result.get_layer("fc2").kernel)
    assert kernel.shape == (120, 84)
    assert abs(np.mean(kernel == 0) - 0.5) < 0.01
    assert result.output_shape == lenet.output_shape


def test_it_feeds_each_step_the_previous_result(lenet):
    pruned_first = apply_plan(lenet, "W3(s=0.5)@fc2 + W1f@fc2")
    assert "fc2" not in [layer.name for layer in pruned_first.layers]
    with pytest.raises(NotApplicableError, match=r"^step 2 \(W3\(s=0.5\)@fc2\) failed: .*fc2"):
        apply_plan(lenet, "W1f@fc2 + W3(s=0.5)@fc2")


def test_it_returns_a_copy_for_the_baseline(lenet, digits):
    copy = apply_plan(lenet, Plan.baseline())
    assert copy is not lenet
    np.testing.assert_allclose(
        copy.predict(digits.x_test[:16], verbose=0),
        lenet.predict(digits.x_test[:16], verbose=0),
        atol=1e-6,
    )
