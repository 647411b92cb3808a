import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import keras
import numpy as np
import pytest

from compression.errors import ModelFileError
from compression.modelio import load_model, model_sha256, save_model, weights_sha256
from compression.plan import apply_plan
from compression.zoo import build


class Doubler(keras.layers.Layer):
    """A custom layer deliberately left unregistered with Keras."""

    def call(self, x):
        return x * 2


def _tiny(name: str = "tiny") -> keras.Model:
    inputs = keras.Input((4,), name="x")
    return keras.Model(inputs, keras.layers.Dense(3, name="dense")(inputs), name=name)


def test_it_round_trips_a_model_with_the_same_predictions_and_weights_hash(tmp_path):
    model = build("mobilenet", (8, 8, 1), 10, alpha=0.25)
    path = save_model(model, tmp_path / "nested" / "m.keras")
    loaded = load_model(path)
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype="float32")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), atol=1e-6)
    assert weights_sha256(loaded) == weights_sha256(model)
    assert not loaded.compiled


def test_it_hashes_the_file_bytes(tmp_path):
    path = save_model(_tiny(), tmp_path / "t.keras")
    assert model_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_it_changes_the_weights_hash_with_one_weight_or_the_architecture():
    model = _tiny()
    before = weights_sha256(model)
    kernel, bias = model.get_layer("dense").get_weights()
    kernel[0, 0] += 1e-3
    model.get_layer("dense").set_weights([kernel, bias])
    assert weights_sha256(model) != before
    renamed = _tiny(name="other")
    renamed.set_weights(model.get_weights())
    assert weights_sha256(renamed) != weights_sha256(model)


def test_it_reports_a_missing_file(tmp_path):
    with pytest.raises(ModelFileError, match="Model file not found: .*absent.keras"):
        load_model(tmp_path / "absent.keras")
    with pytest.raises(ModelFileError, match="Model file not found"):
        model_sha256(tmp_path / "absent.keras")


def test_it_reports_corrupt_bytes(tmp_path):
    path = tmp_path / "corrupt.keras"
    path.write_bytes(b"\x00\x01 definitely not a zip")
    with pytest.raises(ModelFileError, match="corrupt.keras is not a .keras file: it is not a zip"):
        load_model(path)


def test_it_reports_a_zip_that_is_not_a_keras_model(tmp_path):
    path = tmp_path / "other.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(
        ModelFileError, match=r"zip archive but not a Keras model \(no config.json\)"
    ):
        load_model(path)


def test_it_accepts_only_the_keras_format(tmp_path):
    path = tmp_path / "legacy.h5"
    path.write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ModelFileError, match="only Keras v3 .keras files are accepted"):
        load_model(path)
    with pytest.raises(ModelFileError, match="saved as .keras files"):
        save_model(_tiny(), tmp_path / "model.h5")


def test_it_refuses_a_lambda_layer(tmp_path):
    inputs = keras.Input((4,))
    outputs = keras.layers.Lambda(lambda t: t * 2, name="double")(inputs)
    path = tmp_path / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    with pytest.raises(
        ModelFileError,
        match=r"Lambda layers are refused \(Keras safe mode\): they can run arbitrary code",
    ):
        load_model(path)


def test_it_refuses_a_lambda_hidden_in_a_sub_model(tmp_path):
    inner_in = keras.Input((4,))
    inner = keras.Model(inner_in, keras.layers.Lambda(lambda t: t + 1)(inner_in), name="inner")
    inputs = keras.Input((4,))
    path = tmp_path / "nested.keras"
    keras.Model(inputs, keras.layers.Dense(2)(inner(inputs))).save(path)
    with pytest.raises(ModelFileError, match="Lambda layers are refused"):
        load_model(path)


def test_it_refuses_a_serialised_python_lambda_through_keras_safe_mode(tmp_path):
    # Hand-edit a saved Dense so its activation is a marshalled Python lambda.
    source = save_model(_tiny(), tmp_path / "plain.keras")
    path = tmp_path / "lambda_activation.keras"
    with zipfile.ZipFile(source) as original, zipfile.ZipFile(path, "w") as edited:
        for item in original.infolist():
            data = original.read(item.filename)
            if item.filename == "config.json":
                config = json.loads(data)
                dense = next(la for la in config["config"]["layers"] if la["name"] == "dense")
                dense["config"]["activation"] = {
                    "class_name": "__lambda__",
                    "config": {"value": ["AAAA", None, None]},
                }
                data = json.dumps(config)
            edited.writestr(item, data)
    with pytest.raises(ModelFileError, match="they can run arbitrary code"):
        load_model(path)


def test_it_reports_the_innermost_cause_of_a_failed_rebuild_briefly(tmp_path):
    inputs = keras.Input((4,))
    path = tmp_path / "activation.keras"
    with pytest.warns(UserWarning, match="lambda"):
        keras.Model(inputs, keras.layers.Activation(lambda t: t * 3)(inputs)).save(path)
    with pytest.raises(ModelFileError) as caught:
        load_model(path)
    message = str(caught.value)
    assert message.startswith(
        "activation.keras could not be loaded: Could not interpret activation"
    )
    assert len(message) < 500


def test_it_names_an_unknown_custom_class(tmp_path):
    inputs = keras.Input((4,))
    path = tmp_path / "custom.keras"
    keras.Model(inputs, Doubler(name="dbl")(inputs)).save(path)
    with pytest.raises(ModelFileError, match="needs the custom class 'Doubler'"):
        load_model(path)


def test_it_loads_a_saved_qat_model_in_a_fresh_process(lenet, digits, quick, tmp_path):
    # A fresh interpreter has not imported the QAT module that registers its layers.
    path = tmp_path / "qat.keras"
    save_model(apply_plan(lenet, "QAT", digits, quick), path)
    code = (
        "from compression.modelio import load_model; import sys; "
        f"print(type(load_model({str(path)!r})).__name__)"
    )
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "Functional"
