"""The Recommend page's form: model, device, budgets with their units, weights, strategy."""

from __future__ import annotations

from typing import Any

from django import forms

from compression.selection import DEFAULT_STRATEGY
from measurements.models import Device, DNNModel
from measurements.search import MAX_EVALUATIONS

STRATEGY_CHOICES = [
    ("compose", "Compose: predict plans from their techniques, evaluate those that could win"),
    ("exhaustive", "Exhaustive: every candidate"),
    ("tpe", "TPE: Bayesian optimisation over the candidates (optuna)"),
    ("greedy", "Greedy: layer by layer (eq. 6)"),
    ("dqn", "DRL: dueling DQN (seed 004 section 4)"),
]
WEIGHT_CHOICES = [("device", "From the device (battery, cache)"), ("manual", "Typed in below")]
BUDGETS = {
    "min_accuracy_pct": ("Accuracy at least (%)", "A_min"),
    "max_energy_mj": ("Energy at most (mJ per inference)", "E_max"),
    "latency_ms": ("Latency at most (ms)", "T_bgt"),
    "storage_mb": ("Storage at most (MB, weights + activations)", "S_bgt"),
    "cache_mb": ("Cache for the weights (MB, eq. 6)", "S_Cache; empty = the device's cache"),
}
WEIGHTS = {
    "mu1": "mu1: accuracy",
    "mu2": "mu2: energy",
    "mu3": "mu3: latency",
    "mu4": "mu4: storage",
}


class RecommendForm(forms.Form):
    """Inputs of the selector; budgets left empty are open."""

    model = forms.ModelChoiceField(queryset=DNNModel.objects.all())
    device = forms.ModelChoiceField(queryset=Device.objects.all())
    strategy = forms.ChoiceField(choices=STRATEGY_CHOICES, initial=DEFAULT_STRATEGY)
    threads = forms.IntegerField(min_value=1, max_value=256, initial=1)
    weights = forms.ChoiceField(choices=WEIGHT_CHOICES, initial="device")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, (label, help_text) in BUDGETS.items():
            self.fields[name] = forms.FloatField(required=False, label=label, help_text=help_text)
        for name, label in WEIGHTS.items():
            self.fields[name] = forms.FloatField(
                required=False, label=label, help_text="0..1; mu1 + mu2 = 1, mu3 + mu4 = 1"
            )

    def clean(self) -> dict[str, Any]:
        from measurements.recommend import parse_budgets

        data = super().clean()
        raw = {k: v for k, v in data.items() if k in BUDGETS or k in WEIGHTS}
        if data.get("weights") == "device":
            raw = {k: v for k, v in raw.items() if k not in WEIGHTS}
            raw["weights"] = "device"
        budgets, errors = parse_budgets(raw, data.get("device"))
        for field, message in errors.items():
            if field in self.fields and field not in self.errors:
                self.add_error(field, message)
        data["budgets"] = budgets
        return data


class SearchOptionsForm(forms.Form):
    """A search that measures as it goes: N and its options (beside ``RecommendForm``)."""

    evaluations = forms.IntegerField(
        min_value=1,
        max_value=MAX_EVALUATIONS,
        initial=20,
        label="Evaluate at most (plans)",
        # Reads and predictions spend the budget too (the strategy counts every plan it asked for).
        help_text="N: the search's evaluation budget; each plan read, predicted, or compressed "
        "and measured spends one",
    )
    allow_predicted = forms.BooleanField(
        required=False,
        label="Use predicted figures where a plan is compressed but not measured",
        help_text="they are labelled predicted",
    )
    techniques = forms.CharField(
        required=False,
        max_length=500,
        help_text="Codes to search over, comma-separated; empty = every applicable one",
    )

    def clean_techniques(self) -> list[str]:
        return [c.strip() for c in self.cleaned_data.get("techniques", "").split(",") if c.strip()]


class QueueForm(forms.Form):
    """The "measure next" plans to queue on the device."""

    model = forms.ModelChoiceField(queryset=DNNModel.objects.all())
    device = forms.ModelChoiceField(queryset=Device.objects.all())
    threads = forms.IntegerField(min_value=1, max_value=256)

    def plan_texts(self) -> list[str]:
        """The plans, one ``plan`` field each (the page sends one hidden input per plan)."""
        return [text.strip() for text in self.data.getlist("plan") if text.strip()]
