import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.qat import QAT, QATConv2D, QATDense, fake_quant_kernel
from compression.training import FineTune


@pytest.fixture(scope="module")
def trained(lenet, digits):
    """LeNet after one epoch of quantization-aware fine-tuning, and its .tflite."""
    before = [w.copy() for w in lenet.get_weights()]
    model = QAT().apply(lenet, data=digits, fine_tune=FineTune(epochs=1, batch_size=64))
    return before, model, QAT().export_tflite(model, digits)


def test_it_is_registered_as_a_last_step_quantization():
    assert get_technique("QAT") is QAT
    assert QAT.category == "quantization"
    assert QAT.export_mode == "int8"
    assert QAT.default_config() == {}


def test_it_fine_tunes_a_fake_quantized_copy(trained, lenet, digits):
    before, model, _ = trained
    kinds = {layer.name: type(layer) for layer in model.layers}
    assert [kinds[n] for n in ("conv1", "conv2", "fc1", "fc2", "fc3")] == [QATConv2D] * 2 + [
        QATDense
    ] * 3
    # One training epoch of 1078 samples in batches of 64 is 17 range updates.
    assert float(model.get_layer("fc1").range_steps) == np.ceil(len(digits.x_train) / 64)
    assert float(model.get_layer("fc1").range_max) > 0
    predicted = model.predict(digits.x_test, verbose=0).argmax(axis=1)
    assert np.mean(predicted == digits.y_test) > 0.5
    for old, new in zip(before, lenet.get_weights(), strict=True):
        np.testing.assert_array_equal(old, new)


def test_it_exports_an_int8_tflite_with_the_learned_ranges(trained, digits):
    _, model, tflite = trained
    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    tensors = interpreter.get_tensor_details()
    # int8 everywhere; int32 only for biases and shape constants, never float.
    assert {t["dtype"] for t in tensors} <= {np.int8, np.int32}
    fc1 = model.get_layer("fc1")
    scale = (float(fc1.range_max) - float(fc1.range_min)) / 255  # 8-bit range, 255 steps
    fc1_out = [t for t in tensors if "fc1" in t["name"] and "Relu" in t["name"]]
    assert any(t["dtype"] == np.int8 for t in fc1_out)
    assert any(t["quantization"][0] == pytest.approx(scale, rel=1e-3) for t in fc1_out)
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    in_scale, in_zero = source["quantization"]
    predicted = []
    for x in digits.x_test[:100]:
        interpreter.set_tensor(
            source["index"], np.round(x[None] / in_scale + in_zero).astype("int8")
        )
        interpreter.invoke()
        predicted.append(interpreter.get_tensor(target["index"])[0].argmax())
    assert np.mean(np.array(predicted) == digits.y_test[:100]) > 0.5


def test_it_rounds_kernels_to_symmetric_8_bit_levels():
    kernel = np.random.default_rng(0).normal(size=(3, 3, 2, 4)).astype("float32")
    rounded = keras.ops.convert_to_numpy(fake_quant_kernel(kernel, per_channel=True))
    for channel in range(4):
        step = np.abs(kernel[..., channel]).max() / 127  # TFLite's narrow range -127..127
        levels = rounded[..., channel] / step
        np.testing.assert_allclose(levels, np.round(levels), atol=1e-3)
        assert np.abs(levels).max() == pytest.approx(127, abs=1e-3)


def test_it_saves_and_loads_as_a_keras_file(trained, digits, tmp_path):
    _, model, _ = trained
    path = tmp_path / "qat.keras"
    model.save(path)
    loaded = keras.models.load_model(path)
    np.testing.assert_allclose(
        loaded.predict(digits.x_test[:20], verbose=0),
        model.predict(digits.x_test[:20], verbose=0),
        atol=1e-6,
    )


def test_it_needs_data_and_refuses_layers_it_cannot_quantize(lenet):
    with pytest.raises(ValueError, match="needs a dataset"):
        QAT().apply(lenet)
    inputs = keras.Input(shape=(4,))
    x = keras.layers.BatchNormalization(name="bn")(keras.layers.Dense(3, name="d")(inputs))
    with pytest.raises(NotApplicableError, match="layer 'bn' is BatchNormalization"):
        QAT().apply(keras.Model(inputs, x), data=object())
