import keras
import numpy as np
import pytest
from ai_edge_litert.interpreter import Interpreter

from compression.errors import NotApplicableError
from compression.techniques import get_technique
from compression.techniques.qat import (
    QAT,
    QATConv2D,
    QATDense,
    QATDepthwiseConv2D,
    fake_quant_kernel,
)
from compression.training import FineTune
from tests.compression.shipped_nets import accuracy, rgb_digits, trained_shipped_net


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


def test_it_fine_tunes_at_a_tenth_of_the_budgets_learning_rate(trained):
    # BatchNorm is folded: a deep network diverges at the budget's full step.
    _, model, _ = trained
    assert float(model.optimizer.learning_rate) == pytest.approx(FineTune().learning_rate / 10)


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
    x = keras.layers.LayerNormalization(name="ln")(keras.layers.Dense(3, name="d")(inputs))
    with pytest.raises(NotApplicableError, match="layer 'ln' is LayerNormalization"):
        QAT().apply(keras.Model(inputs, x), data=object())
    x = keras.layers.Dense(3, activation="elu", name="elu_dense")(inputs)
    with pytest.raises(NotApplicableError, match="activation 'elu' of layer 'elu_dense'"):
        QAT().apply(keras.Model(inputs, x), data=object())


@pytest.fixture(scope="module")
def shipped():
    """A BatchNorm/residual/squeeze-excite network, its QAT model and its .tflite."""
    data = rgb_digits()
    model = trained_shipped_net(data)
    qat = QAT().apply(model, data=data, fine_tune=FineTune(epochs=2, batch_size=64))
    return data, model, qat, QAT().export_tflite(qat, data)


def test_it_folds_batchnorm_and_tracks_a_range_after_each_new_value(shipped):
    data, model, qat, _ = shipped
    kinds = {layer.name: type(layer) for layer in qat.layers}
    assert not any(issubclass(k, keras.layers.BatchNormalization) for k in kinds.values())
    assert kinds["stem"] is QATConv2D and kinds["dw"] is QATDepthwiseConv2D
    assert kinds["predictions"] is QATDense
    # The stem's BatchNormalization and ReLU6 became its bias and activation.
    assert "stem_relu" not in kinds and qat.get_layer("stem").activation.__name__ == "relu6"
    assert qat.get_layer("stem").use_bias and not model.get_layer("stem").use_bias
    for name in ("dw_swish", "se_expand", "se_excite", "add", "concat"):
        assert f"{name}_quant" in kinds, name
        assert float(qat.get_layer(f"{name}_quant").range_steps) > 0, name
    # Padding, pooling, reshape and dropout pass their input's range through.
    for name in ("stem_pad", "se_reshape", "pool", "gap", "drop"):
        assert f"{name}_quant" not in kinds and name in kinds, name
    # Rescaling and Normalization are frozen 1x1 depthwise convolutions.
    x = data.x_test[:4]
    for name in ("rescale", "norm"):
        assert kinds[name] is QATDepthwiseConv2D and not qat.get_layer(name).trainable
    rescale = keras.Model(qat.get_layer("rescale").input, qat.get_layer("rescale").output)
    np.testing.assert_allclose(rescale(x), 2 * x - 1, atol=2.5 / 255)


def test_it_gives_no_range_to_an_identity_normalization(digits):
    inputs = keras.Input((8, 8, 1))
    x = keras.layers.Normalization(mean=[0.0], variance=[1.0], name="norm")(inputs)
    x = keras.layers.ZeroPadding2D(1, name="pad")(x)
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(x)
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    model = keras.Model(inputs, keras.layers.Dense(10, activation="softmax", name="out")(x))
    qat = QAT().apply(model, data=digits, fine_tune=FineTune(epochs=1, batch_size=128))
    assert not {"norm", "norm_quant"} & {layer.name for layer in qat.layers}
    interpreter = Interpreter(model_content=QAT().export_tflite(qat, digits))
    interpreter.allocate_tensors()
    assert {t["dtype"] for t in interpreter.get_tensor_details()} <= {np.int8, np.int32}


def test_it_exports_an_all_int8_tflite_of_a_batchnorm_residual_se_network(shipped):
    data, model, qat, tflite = shipped
    interpreter = Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    assert {t["dtype"] for t in interpreter.get_tensor_details()} <= {np.int8, np.int32}
    source, target = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    assert source["dtype"] == target["dtype"] == np.int8
    in_scale, in_zero = source["quantization"]
    predicted = []
    for x in data.x_test[:150]:
        quantized = np.clip(np.round(x[None] / in_scale + in_zero), -128, 127).astype("int8")
        interpreter.set_tensor(source["index"], quantized)
        interpreter.invoke()
        predicted.append(interpreter.get_tensor(target["index"])[0].argmax())
    int8_accuracy = float(np.mean(np.array(predicted) == data.y_test[:150]))
    qat_accuracy = accuracy(qat, data)
    assert qat_accuracy > accuracy(model, data) - 0.05  # QAT keeps its source's accuracy
    assert int8_accuracy > qat_accuracy - 0.1
