"""The search space: ordered slots, each choosing one step or none.

An action of the greedy and DQN optimizers picks the technique for the next
compressible part of the network (seed 004 section 4: "selectable
combinations of compression techniques"). The default space has three slots
in the order a plan applies them: the convolution layers, the fully connected
layers, then the whole model (quantization acts at export, so it comes last).
A plan's text joins the chosen steps with `` + ``, ``baseline`` when none.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

BASELINE = "baseline"
SCOPE_ORDER = ("conv", "fc", "model")


def steps_of(plan: str) -> tuple[str, ...]:
    """A plan's techniques (none for the baseline)."""
    return () if plan == BASELINE else tuple(plan.split(" + "))


@dataclass(frozen=True)
class Slot:
    """One decision: a part of the network and the steps that may act on it."""

    name: str
    options: tuple[str, ...]


@dataclass(frozen=True)
class Space:
    """Ordered slots; a plan is one option (or none) per slot."""

    slots: tuple[Slot, ...]

    @property
    def actions(self) -> int:
        """Actions per decision: the widest slot's options plus "none" (action 0)."""
        return 1 + max((len(slot.options) for slot in self.slots), default=0)

    def plan_text(self, choices: Sequence[int]) -> str:
        """The plan for per-slot choices (0 = none, k = the slot's k-th option)."""
        steps = [slot.options[c - 1] for slot, c in zip(self.slots, choices, strict=False) if c]
        return " + ".join(steps) or BASELINE

    def singles_and_pairs(self) -> list[str]:
        """The baseline, every option alone, and every pair across two slots."""
        texts = [BASELINE]
        for i, slot in enumerate(self.slots):
            texts += [self.plan_text(_one(i, k + 1)) for k in range(len(slot.options))]
        for i, first in enumerate(self.slots):
            for j in range(i + 1, len(self.slots)):
                for a in range(len(first.options)):
                    for b in range(len(self.slots[j].options)):
                        choice = [0] * len(self.slots)
                        choice[i], choice[j] = a + 1, b + 1
                        texts.append(self.plan_text(choice))
        return texts


def _one(index: int, choice: int) -> list[int]:
    return [0] * index + [choice]


def registry_space(exclude: Sequence[str] = ()) -> Space:
    """Slots by scope from the technique registry, each technique at its defaults.

    Args:
        exclude: technique codes to leave out.
    """
    from compression.techniques import all_techniques  # imports Keras: only when asked

    by_scope: dict[str, list[str]] = {scope: [] for scope in SCOPE_ORDER}
    for cls in all_techniques():
        if cls.code not in exclude:
            by_scope[cls.applies_to].append(cls.code)
    return Space(tuple(Slot(s, tuple(codes)) for s, codes in by_scope.items() if codes))
