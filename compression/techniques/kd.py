"""KD: knowledge distillation into a narrower student (Hinton et al. 2015).

The student is the teacher's architecture with every channel group ``width``
times as wide (``compression.graph``: a residual stream, a squeeze-excite
scale and its Reshape, a concatenation's parts narrow together; the
classifier keeps its classes), trained from fresh weights with Keras 3's
``keras.distillation.Distiller`` on

    loss = alpha * CE(y, s) + (1 - alpha) * T^2 * KL(softmax(t / T) || softmax(s / T))

where t and s are the teacher's and the student's logits. The T^2 factor keeps
the soft term's gradients on the same scale as the hard term's (Hinton et al.
section 2).

Logits: the zoo's models end in a softmax, but temperature scaling needs the
values before it. Rather than taking the log of the probabilities (exact in
theory, since softmax(log p / T) = softmax(z / T), but -inf once a float32
probability underflows to 0), both networks are distilled through a *logits
view*: a copy whose output layer has its softmax removed. The student returned
is rebuilt with the softmax in place, so it is a plain classifier that exports
to TFLite like any other model.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import keras

from compression.data.base import Dataset
from compression.errors import NotApplicableError
from compression.graph import ChannelGraph, narrow
from compression.surgery import as_functional
from compression.techniques import register
from compression.techniques.base import Technique
from compression.training import FineTune

# The student starts from fresh weights, so it gets a from-scratch training
# budget (the one the test baselines are trained with), not a fine-tuning one.
STUDENT_BUDGET = FineTune(epochs=15, learning_rate=3e-3)


def scaled(size: int, width: float) -> int:
    """``size * width`` rounded half up, at least 1."""
    return max(1, math.floor(size * width + 0.5))


def student_architecture(model: keras.Model, width: float, logits: bool) -> keras.Model:
    """An untrained copy of ``model``'s architecture with hidden layers narrowed.

    Args:
        model: the teacher; a single-output model ending in a softmax.
        width: multiplier of the width of every channel group that can change
            (every hidden Conv and Dense layer, residual streams as one); the
            classifier, and channels tied to a model input or output, keep theirs.
        logits: drop the final softmax, so the model outputs logits.

    Returns:
        A new functional model with fresh weights and the teacher's layer names.

    Raises:
        NotApplicableError: the model has several outputs or no softmax output.
    """
    source = as_functional(model)
    if len(source.outputs) != 1:
        raise NotApplicableError(f"KD needs a single-output classifier; {model.name!r} has more.")
    output = source.outputs[0]._keras_history.operation
    if not _ends_in_softmax(output):
        raise NotApplicableError(
            f"KD needs a model whose output layer applies a softmax; {model.name!r} ends in "
            f"{type(output).__name__} {output.name!r}."
        )
    graph = ChannelGraph(source)
    removed = [c for group in graph.prunable() for c in group.classes[scaled(group.width, width) :]]
    narrowed = narrow(graph, removed)

    def clone(layer: keras.Operation) -> keras.Operation:
        if not isinstance(layer, keras.layers.Layer):
            return layer  # a keras.ops call holds no weights
        config = layer.get_config()
        if logits and layer.name == output.name and "activation" in config:
            config["activation"] = "linear"
        return type(layer).from_config(config)

    def call(layer: keras.Operation, *args: object, **kwargs: object) -> object:
        if logits and layer.name == output.name and isinstance(layer, keras.layers.Softmax):
            return args[0]  # a separate Softmax layer is skipped in the logits view
        return layer(*args, **kwargs)

    return keras.models.clone_model(narrowed, clone_function=clone, call_function=call)


def logits_view(model: keras.Model) -> keras.Model:
    """A copy of a softmax classifier that outputs its logits, weights included."""
    view = student_architecture(model, 1.0, logits=True)
    _copy_weights(as_functional(model), view)
    return view


def build_distiller(
    teacher_logits: keras.Model,
    student_logits: keras.Model,
    temperature: float,
    alpha: float,
    learning_rate: float = 1e-3,
) -> keras.distillation.Distiller:
    """A compiled Distiller computing Hinton et al.'s loss on two logits models.

    Args:
        teacher_logits: the trained teacher, outputting logits (frozen by the Distiller).
        student_logits: the student, outputting logits.
        temperature: T, the softmax temperature of the soft term.
        alpha: weight of the hard-label cross-entropy; the soft term gets 1 - alpha.
        learning_rate: Adam's step size.

    Returns:
        A compiled ``keras.distillation.Distiller`` whose ``student`` is trained by ``fit``.
    """
    # A KLDivergence *instance* is needed: LogitsDistillation only applies the
    # softmax(./T) and the T^2 factor for that class, while its default
    # loss="kl_divergence" resolves to a plain function that skips both.
    soft = keras.distillation.LogitsDistillation(
        temperature=temperature, loss=keras.losses.KLDivergence()
    )
    distiller = keras.distillation.Distiller(
        teacher=teacher_logits,
        student=student_logits,
        distillation_losses=soft,
        student_loss_weight=alpha,
    )
    distiller.compile(
        optimizer=keras.optimizers.Adam(learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    return distiller


@register
class KD(Technique):
    """Hinton et al.'s distillation of the model into a narrower copy of itself."""

    code = "KD"
    min_fine_tune_epochs = 15
    name = "Knowledge distillation"
    acts_on = (
        "the whole model: a narrower student of the same architecture (Conv2D, "
        "DepthwiseConv2D, Dense, residual streams, squeeze-excite, concatenations)"
    )
    category = "distillation"
    applies_to = "model"
    description = (
        "Trains a student with the teacher's architecture made narrower (every hidden "
        "Conv and Dense layer width times as wide, residual streams, squeeze-excite and "
        "concatenated channels narrowed together; fresh weights) on a mix of the true "
        "labels and the teacher's temperature-softened outputs: alpha times the "
        "cross-entropy plus (1 - alpha) times T^2 times the KL divergence between the "
        "softened teacher and student distributions. The student replaces the teacher."
    )
    reference = (
        "Hinton, Vinyals, Dean. Distilling the Knowledge in a Neural Network. "
        "NIPS Deep Learning Workshop 2014 (arXiv:1503.02531, 2015)."
    )
    param_names = ("temperature", "alpha", "width")
    needs_data = True

    def __init__(self, temperature: float = 4.0, alpha: float = 0.1, width: float = 0.5) -> None:
        self.temperature = _number("temperature", temperature, "a number > 0", lambda v: v > 0)
        self.alpha = _number("alpha", alpha, "a number in [0, 1]", lambda v: 0 <= v <= 1)
        self.width = _number("width", width, "a number in (0, 1]", lambda v: 0 < v <= 1)

    def apply(
        self,
        model: keras.Model,
        targets: Sequence[str] | None = None,
        data: Dataset | None = None,
        fine_tune: FineTune | None = None,
    ) -> keras.Model:
        """Distil ``model`` into a narrower student trained on ``data``.

        Args:
            model: the trained teacher, a softmax classifier; it is not modified.
            targets: must be empty: the whole model is distilled.
            data: training data (required); the student trains on its train split.
            fine_tune: the student's training budget; ``STUDENT_BUDGET`` by default.

        Returns:
            The trained student: a functional model with the teacher's layer
            names and a softmax output.
        """
        if targets:
            raise NotApplicableError(
                "KD distils the whole model and takes no target layers. "
                f"Received: targets={list(targets)}"
            )
        if data is None:
            raise ValueError("KD trains a student network and needs a dataset. Received: data=None")
        budget = fine_tune or STUDENT_BUDGET
        if budget.epochs == 0:
            raise ValueError("KD trains the student from scratch; give it at least 1 epoch.")
        keras.utils.set_random_seed(budget.seed)  # the student's fresh weights repeat
        student = student_architecture(model, self.width, logits=True)
        distiller = build_distiller(
            logits_view(model), student, self.temperature, self.alpha, budget.learning_rate
        )
        distiller.fit(
            data.x_train,
            data.y_train,
            validation_data=(data.x_val, data.y_val),
            epochs=budget.epochs,
            batch_size=budget.batch_size,
            shuffle=True,
            verbose=0,
        )
        final = student_architecture(model, self.width, logits=False)
        _copy_weights(student, final)
        return final


def _ends_in_softmax(layer: keras.layers.Layer) -> bool:
    return isinstance(layer, keras.layers.Softmax) or (
        layer.get_config().get("activation") == "softmax"
    )


def _copy_weights(source: keras.Model, target: keras.Model) -> None:
    """Copy weights between two models with the same layer names and shapes."""
    for layer in target.layers:
        if layer.weights:
            layer.set_weights(source.get_layer(layer.name).get_weights())


def _number(name: str, value: object, what: str, ok: Callable[[float], bool]) -> float:
    """``value`` as a float if it is a real number satisfying ``ok``."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not ok(value):
        raise ValueError(f"{name} must be {what}. Received: {name}={value!r}")
    return float(value)
