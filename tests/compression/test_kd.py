import keras
import numpy as np
import pytest

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.kd import KD, build_distiller, logits_view, student_architecture
from compression.training import FineTune
from tests.compression import graph_models


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_it_is_registered_under_its_code_and_round_trips_its_config():
    assert get_technique("KD") is KD
    technique = KD(temperature=2, alpha=0.5, width=0.25)
    assert KD.from_config(technique.get_config()) == technique
    assert KD.default_config() == {"temperature": 4.0, "alpha": 0.1, "width": 0.5}


@pytest.mark.parametrize(
    ("name", "value"),
    [("temperature", 0.0), ("temperature", "4"), ("alpha", -0.1), ("alpha", 1.5),
     ("width", 0.0), ("width", 1.2), ("width", True)],
)  # fmt: skip
def test_it_rejects_parameters_out_of_range(name, value):
    with pytest.raises(ValueError, match=f"Received: {name}={value!r}"):
        KD(**{name: value})


def test_it_needs_data(lenet):
    with pytest.raises(ValueError, match="needs a dataset"):
        KD().apply(lenet)


def test_it_narrows_every_hidden_layer_by_the_width(lenet):
    student = student_architecture(lenet, 0.5, logits=False)
    c1, c2, f1, f2, classes = 3, 8, 60, 42, 10  # 6, 16, 120, 84 halved; the classifier kept
    side = 2  # 8x8 digits through two 'same' 2x2 poolings
    expected = (
        (5 * 5 * 1 * c1 + c1)
        + (5 * 5 * c1 * c2 + c2)
        + (side * side * c2 * f1 + f1)
        + (f1 * f2 + f2)
        + (f2 * classes + classes)
    )
    assert student.count_params() == expected
    widths = [student.get_layer(n).output.shape[-1] for n in ("conv1", "conv2", "fc1", "fc2")]
    assert widths == [c1, c2, f1, f2]
    # The hidden-to-hidden weight matrix shrinks by width^2 = 0.25.
    assert np.prod(student.get_layer("fc2").kernel.shape) == 0.25 * 120 * 84


def test_it_distils_a_softmax_student_that_beats_chance(lenet, digits):
    before = [w.copy() for w in lenet.get_weights()]
    student = KD().apply(lenet, data=digits, fine_tune=FineTune(epochs=3, learning_rate=5e-3))
    assert not isinstance(student, keras.distillation.Distiller)
    assert student.count_params() < lenet.count_params() / 2
    probabilities = student.predict(digits.x_test, verbose=0)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, rtol=1e-5)
    assert np.mean(probabilities.argmax(axis=1) == digits.y_test) > 0.5
    for old, new in zip(before, lenet.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_it_computes_hintons_loss_on_the_logits():
    rng = np.random.default_rng(0)
    inputs = keras.Input(shape=(4,))
    teacher = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="out")(inputs))
    student_in = keras.Input(shape=(4,))
    student = keras.Model(student_in, keras.layers.Dense(3, name="out")(student_in))
    x = rng.normal(size=(5, 4)).astype("float32")
    y = np.array([0, 2, 1, 1, 0])
    temperature, alpha = 3.0, 0.3
    distiller = build_distiller(logits_view(teacher), student, temperature, alpha)
    loss = distiller.compute_loss(x=x, y=y, y_pred=student(x))

    w, b = teacher.get_layer("out").get_weights()
    t = x @ w + b  # the teacher's logits, by hand
    s = keras.ops.convert_to_numpy(student(x))
    hard = -np.log(softmax(s)[np.arange(5), y]).mean()
    p, q = softmax(t / temperature), softmax(s / temperature)
    soft = (p * np.log(p / q)).sum(axis=1).mean()
    expected = alpha * hard + (1 - alpha) * temperature**2 * soft
    assert float(loss) == pytest.approx(expected, rel=1e-5)


def test_it_keeps_the_class_count_when_the_softmax_is_its_own_layer():
    model = keras.Sequential(
        [
            keras.Input(shape=(6,)),
            keras.layers.Dense(8, name="hidden"),
            keras.layers.Dense(4, name="classes"),
            keras.layers.Softmax(name="probabilities"),
        ]
    )
    student = student_architecture(model, 0.5, logits=True)
    assert student.get_layer("hidden").units == 4
    assert student.get_layer("classes").units == 4
    x = np.ones((2, 6), "float32")
    view = logits_view(model)
    np.testing.assert_allclose(
        softmax(view.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-5
    )


def test_it_refuses_a_model_without_a_softmax_output():
    inputs = keras.Input(shape=(4,))
    regressor = keras.Model(inputs, keras.layers.Dense(1, name="value")(inputs))
    with pytest.raises(NotApplicableError, match="output layer applies a softmax"):
        student_architecture(regressor, 0.5, logits=True)


def test_it_narrows_residual_streams_and_squeeze_excite_consistently():
    model = graph_models.squeeze_excite()
    student = student_architecture(model, 0.5, logits=False)
    assert student.get_layer("stem").filters == 4
    assert student.get_layer("se_expand").filters == 4  # the scale follows its channels
    assert student.get_layer("se_reshape").target_shape == (1, 1, 4)
    assert student.get_layer("se_reduce").filters == 2
    assert student.get_layer("head").units == 3
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 3)).astype("float32")
    assert student.predict(x, verbose=0).shape == (2, 3)


def test_it_builds_a_student_of_a_keras_efficientnet():
    teacher = keras.applications.EfficientNetB0(weights=None, input_shape=(32, 32, 3), classes=10)
    student = student_architecture(teacher, 0.5, logits=True)
    assert student.count_params() < teacher.count_params() / 2
    assert student.get_layer("block2b_add").output.shape[-1] == 12
    assert student.get_layer("predictions").get_config()["activation"] == "linear"
