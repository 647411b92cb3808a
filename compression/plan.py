"""Plans: ordered combinations of techniques, their text form, and applying them.

A plan is written ``STEP + STEP + …``; each step is a technique code, optional
parameters in parentheses and optional target layers after ``@``::

    C2(alpha=0.5)@conv2 + W3(s=0.6)@fc1,fc2 + Q-int8

The empty plan is written ``baseline``. Every plan has one canonical text
(parameters at their defaults left out, the rest sorted by name, targets
de-duplicated) whose SHA-256 identifies it, so the same combination is stored
and compressed once. Quantization acts at export and may only be the last step.
"""

from __future__ import annotations

import hashlib
import json
import numbers
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import keras

from compression.data.base import Dataset
from compression.errors import PlanSyntaxError, UnknownTechniqueError
from compression.surgery import copy_model
from compression.techniques import Technique, get_technique
from compression.training import FineTune

BASELINE = "baseline"
FLOAT_EXPORT = "float32"

_CODE = re.compile(r"[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# Layer names: anything but the plan's own punctuation and whitespace.
_LAYER = re.compile(r"[^\s+,()@=\"']+")
# Numbers as Python writes them (repr of a float included), not glued to a word.
_NUMBER = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf|nan)(?![\w.])")
_WORD = re.compile(r"[A-Za-z_][\w.-]*")
_KEYWORDS: dict[str, Any] = {"true": True, "false": False, "none": None}


@dataclass(frozen=True)
class PlanStep:
    """One technique with its parameters and the layers it acts on.

    Construction validates the code through the registry and the parameters by
    instantiating the technique (a bad value raises the technique's own
    ``ValueError``). Parameters equal to the technique's defaults are dropped and
    the rest sorted, and targets are de-duplicated, so equal steps compare equal.

    Attributes:
        code: the technique code, for example ``"W3"``.
        params: the non-default parameters.
        targets: layer names, in the order given; empty means the default.
    """

    code: str
    params: Mapping[str, Any] = field(default_factory=dict)
    targets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        cls = get_technique(self.code)
        params = dict(self.params)
        unknown = sorted(set(params) - set(cls.param_names))
        if unknown:
            raise ValueError(
                f"{self.code} has no parameter {unknown[0]!r}; {_allowed(cls)}. "
                f"Received: params={params}"
            )
        # The technique validates each value; its config holds them as it keeps them.
        config = cls.from_config(params).get_config()
        defaults = cls.default_config()
        kept = {k: config[k] for k in sorted(params) if not _same(config[k], defaults.get(k))}
        for name, value in kept.items():
            format_value(value, name)
        targets = tuple(dict.fromkeys(_check_target(t) for t in self.targets))
        object.__setattr__(self, "params", kept)
        object.__setattr__(self, "targets", targets)

    def technique(self) -> Technique:
        """A configured instance of the step's technique."""
        return get_technique(self.code).from_config(dict(self.params))

    def canonical(self) -> str:
        """The step's canonical text, for example ``W3(s=0.6)@fc1,fc2``."""
        text = self.code
        if self.params:
            text += "(" + ", ".join(f"{k}={format_value(v)}" for k, v in self.params.items()) + ")"
        if self.targets:
            text += "@" + ",".join(self.targets)
        return text

    def to_json(self) -> dict[str, Any]:
        """The step as a JSON-serialisable dict of code, params and targets."""
        return {"code": self.code, "params": dict(self.params), "targets": list(self.targets)}

    def __str__(self) -> str:
        return self.canonical()

    def __hash__(self) -> int:
        return hash(self.canonical())


@dataclass(frozen=True)
class Plan:
    """An ordered combination of technique steps; the empty plan is the baseline.

    Attributes:
        steps: the steps, applied first to last.
    """

    steps: tuple[PlanStep, ...] = ()

    def __post_init__(self) -> None:
        steps = tuple(self.steps)
        object.__setattr__(self, "steps", steps)
        texts = [step.canonical() for step in steps]
        starts = [sum(len(t) + 3 for t in texts[:i]) for i in range(len(texts))]
        _check_quantization(list(zip(steps, starts, texts, strict=True)), self.canonical())

    @classmethod
    def baseline(cls) -> Plan:
        """The empty plan: the model as it is, exported as float32."""
        return cls(())

    @classmethod
    def parse(cls, text: str) -> Plan:
        """Parse a plan's text form (whitespace between tokens is ignored).

        Raises:
            PlanSyntaxError: an empty step, malformed parameters or targets, an
                unknown parameter name, or a misplaced or second quantization step.
            UnknownTechniqueError: a step's code is not registered.
            ValueError: a parameter value the technique rejects.
        """
        if text.strip() == BASELINE:
            return cls.baseline()
        located = _Parser(text).plan()
        _check_quantization(located, text)
        return cls(tuple(step for step, _, _ in located))

    @classmethod
    def from_json(cls, data: str | Iterable[Mapping[str, Any]]) -> Plan:
        """Rebuild a plan from ``to_json()`` output (a list, or its JSON text)."""
        items = json.loads(data) if isinstance(data, str) else data
        return cls(
            tuple(
                PlanStep(item["code"], item.get("params") or {}, tuple(item.get("targets") or ()))
                for item in items
            )
        )

    def to_json(self) -> list[dict[str, Any]]:
        """The steps as a JSON-serialisable list of {code, params, targets}."""
        return [step.to_json() for step in self.steps]

    def canonical(self) -> str:
        """The canonical text: equal plans, and only they, share it."""
        return " + ".join(step.canonical() for step in self.steps) or BASELINE

    def sha256(self) -> str:
        """Hex SHA-256 of the canonical text, a stable identifier of the plan."""
        return hashlib.sha256(self.canonical().encode("utf-8")).hexdigest()

    @property
    def export_step(self) -> PlanStep | None:
        """The quantization step (always the last one), if the plan has one."""
        if self.steps and get_technique(self.steps[-1].code).export_mode is not None:
            return self.steps[-1]
        return None

    @property
    def export_mode(self) -> str:
        """The TFLite export mode: the quantization step's, ``"float32"`` without one."""
        step = self.export_step
        return FLOAT_EXPORT if step is None else get_technique(step.code).export_mode

    def __str__(self) -> str:
        return self.canonical()

    def __len__(self) -> int:
        return len(self.steps)


def apply_plan(
    model: keras.Model,
    plan: Plan | str,
    data: Dataset | None = None,
    fine_tune: FineTune | None = None,
) -> keras.Model:
    """Apply a plan's steps in order, returning a new model.

    Args:
        model: the model to compress; it is not modified.
        plan: a ``Plan`` or its text form.
        data: the dataset, for the steps that fine-tune or calibrate.
        fine_tune: fine-tuning budget handed to every step.

    Returns:
        A new ``keras.Model`` (a copy for the baseline plan).

    Raises:
        Exception: a step's failure, of the same type, its message prefixed
            with the failing step, for example ``step 2 (W3(s=0.6)@fc1) failed: …``.
    """
    plan = plan if isinstance(plan, Plan) else Plan.parse(plan)
    current = model if plan.steps else copy_model(model)
    for number, step in enumerate(plan.steps, start=1):
        try:
            technique = step.technique()
            budget = technique.budget_for(fine_tune)
            current = technique.apply(current, step.targets or None, data, budget)
        except Exception as error:
            wrapped = _step_failure(error, number, step)
            if wrapped is error:
                raise
            raise wrapped from error
    return current


def format_value(value: Any, name: str = "value") -> str:
    """A parameter value as plan text that parses back to the same type.

    Raises:
        ValueError: a type the plan grammar cannot write (lists, dicts, …).
    """
    if value is None or isinstance(value, bool):
        return {None: "none", True: "true", False: "false"}[value]
    if isinstance(value, numbers.Integral):
        return str(int(value))
    if isinstance(value, numbers.Real):
        return repr(float(value))
    if isinstance(value, str):
        bare = _WORD.fullmatch(value) and value not in _KEYWORDS and not _NUMBER.match(value)
        if bare:
            return value
        if '"' not in value:
            return f'"{value}"'
        if "'" not in value:
            return f"'{value}'"
    raise ValueError(
        f"A plan parameter must be a number, boolean, none or a string without both "
        f"quote kinds. Received: {name}={value!r}"
    )


class _Parser:
    """Recursive-descent parser over a plan's text, tracking positions."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def plan(self) -> list[tuple[PlanStep, int, str]]:
        """Every step with its start position and source text."""
        located = [self.step()]
        while not self._at_end():
            if self._peek() != "+":
                raise self._error("Expected '+' between steps", self.pos)
            self.pos += 1
            located.append(self.step())
        return located

    def step(self) -> tuple[PlanStep, int, str]:
        self._skip()
        start = self.pos
        if self._at_end() or self._peek() == "+":
            raise self._error("Empty step: expected a technique code", start)
        code = self._match(_CODE, "Expected a technique code")
        try:
            cls = get_technique(code)
        except UnknownTechniqueError as error:
            raise UnknownTechniqueError(
                f"{error}. At position {start} of plan {self.text!r}."
            ) from None
        params = self.params(cls) if self._peek() == "(" else {}
        targets = self.targets() if self._peek() == "@" else ()
        source = self.text[start : self.pos].strip()
        self._skip()
        return PlanStep(code, params, targets), start, source

    def params(self, cls: type[Technique]) -> dict[str, Any]:
        self.pos += 1  # the "("
        params: dict[str, Any] = {}
        if self._peek() == ")":
            self.pos += 1
            return params
        while True:
            self._skip()
            start = self.pos
            name = self._match(_NAME, "Expected a parameter name")
            if name not in cls.param_names:
                raise self._error(f"{cls.code} has no parameter {name!r}; {_allowed(cls)}", start)
            if name in params:
                raise self._error(f"Parameter {name!r} given twice", start)
            self._expect("=", f"Expected '=' after parameter {name!r}")
            params[name] = self.value()
            if self._peek() == ")":
                self.pos += 1
                return params
            self._expect(",", "Expected ',' or ')' after a parameter value")

    def value(self) -> Any:
        self._skip()
        start, char = self.pos, self._peek()
        if char in ("'", '"'):
            end = self.text.find(char, start + 1)
            if end < 0:
                raise self._error("Unterminated string", start)
            self.pos = end + 1
            return self.text[start + 1 : end]
        number = _NUMBER.match(self.text, start)
        if number:
            self.pos = number.end()
            token = number.group()
            return int(token) if re.fullmatch(r"[+-]?\d+", token) else float(token)
        word = self._match(_WORD, "Expected a parameter value (number, true, false, none, text)")
        return _KEYWORDS.get(word, word)

    def targets(self) -> tuple[str, ...]:
        self.pos += 1  # the "@"
        names = [self._match(_LAYER, "Expected a layer name after '@'")]
        while self._peek() == ",":
            self.pos += 1
            names.append(self._match(_LAYER, "Expected a layer name after ','"))
        return tuple(names)

    def _skip(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos].isspace():
            self.pos += 1

    def _at_end(self) -> bool:
        self._skip()
        return self.pos >= len(self.text)

    def _peek(self) -> str:
        """The next non-blank character, or '' at the end."""
        self._skip()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def _match(self, pattern: re.Pattern[str], problem: str) -> str:
        self._skip()
        found = pattern.match(self.text, self.pos)
        if not found:
            raise self._error(problem, self.pos)
        self.pos = found.end()
        return found.group()

    def _expect(self, char: str, problem: str) -> None:
        if self._peek() != char:
            raise self._error(problem, self.pos)
        self.pos += 1

    def _error(self, problem: str, position: int) -> PlanSyntaxError:
        return _syntax_error(problem, self.text, position)


def _syntax_error(problem: str, text: str, position: int) -> PlanSyntaxError:
    """A PlanSyntaxError quoting the text at ``position``; it also carries both."""
    found = text[position : position + 20] or "end of plan"
    error = PlanSyntaxError(
        f"{problem} at position {position} ({found!r}). Received: plan={text!r}"
    )
    error.text, error.position = text, position
    return error


def _check_quantization(located: Sequence[tuple[PlanStep, int, str]], text: str) -> None:
    """Quantization happens at export: at most one such step, and only last."""
    quantizing = [
        (index, start, source)
        for index, (step, start, source) in enumerate(located)
        if get_technique(step.code).export_mode is not None
    ]
    if len(quantizing) > 1:
        _, start, source = quantizing[1]
        raise _syntax_error(
            f"A plan takes one quantization step; {source!r} follows {quantizing[0][2]!r}",
            text,
            start,
        )
    if quantizing and quantizing[0][0] != len(located) - 1:
        _, start, source = quantizing[0]
        raise _syntax_error(
            f"Quantization acts at export and must be the last step; {source!r} is followed "
            "by another step",
            text,
            start,
        )


def _step_failure(error: Exception, number: int, step: PlanStep) -> Exception:
    """The same kind of exception, saying which step failed."""
    message = f"step {number} ({step}) failed: {error}"
    try:
        return type(error)(message)
    except Exception:  # an exception type with other constructor arguments
        error.add_note(message)
        return error


def _allowed(cls: type[Technique]) -> str:
    if not cls.param_names:
        return "it takes no parameters"
    return "allowed: " + ", ".join(cls.param_names)


def _same(value: Any, default: Any) -> bool:
    """Equality that keeps booleans apart from the numbers 0 and 1."""
    if isinstance(value, bool) or isinstance(default, bool):
        return value is default
    return bool(value == default)


def _check_target(name: Any) -> str:
    if not isinstance(name, str) or not _LAYER.fullmatch(name):
        raise ValueError(
            "A target must be a layer name without spaces or the characters +,()@=\"'. "
            f"Received: target={name!r}"
        )
    return name


__all__ = ["BASELINE", "Plan", "PlanStep", "apply_plan", "format_value"]
