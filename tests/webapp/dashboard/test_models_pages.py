"""Model pages: list, detail, and uploading a .keras file with its dataset."""

from __future__ import annotations

import re
from pathlib import Path

import keras
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from measurements.models import Dataset, DNNModel
from tests.factories import (
    make_artifact,
    make_dataset,
    make_job,
    make_model,
    make_plan,
    make_result,
)

pytestmark = pytest.mark.django_db

UPLOAD = "/models/upload/"


@pytest.fixture(scope="module")
def keras_files(tmp_path_factory) -> dict[str, Path]:
    """A tiny digits classifier and a Lambda model, saved once for the module."""
    folder = tmp_path_factory.mktemp("keras")
    files = {}
    tiny = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Flatten(), keras.layers.Dense(10)], name="tiny"
    )
    files["tiny"] = folder / "tiny.keras"
    tiny.save(files["tiny"])
    with_lambda = keras.Sequential(
        [keras.Input((8, 8, 1)), keras.layers.Lambda(lambda x: x * 2.0), keras.layers.Flatten()]
    )
    files["lambda"] = folder / "lambda.keras"
    with_lambda.save(files["lambda"])
    return files


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("alice", password="pw-alice-123")


@pytest.fixture
def logged_in(client, user):
    client.force_login(user)
    return client


def upload_file(path: Path, name: str | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(name or path.name, path.read_bytes())


def stored_files(settings) -> list[Path]:
    root = Path(settings.MEDIA_ROOT)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_it_lists_models_with_dataset_and_counts(logged_in):
    model = make_model(name="lenet-a", dataset=make_dataset(name="digits-x"))
    artifact = make_artifact(model=model)
    make_artifact(model=model)
    make_result(job=make_job(artifact=artifact))
    body = logged_in.get("/models/").content.decode()
    assert "lenet-a" in body and "digits-x" in body
    assert f'href="/models/{model.pk}/"' in body
    # Two compressed variants, one result.
    row = re.search(r"lenet-a</a>.*?</tr>", body, re.S).group(0)
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["61706", "2", "1"]
    assert "None" not in body


def test_it_says_what_to_do_when_there_is_no_model(logged_in):
    body = logged_in.get("/models/").content.decode()
    assert "Upload a trained" in body and "make demo" in body


def test_it_shows_a_model_and_its_compressed_variants(logged_in):
    model = make_model(name="lenet-b")
    make_artifact(model=model, plan=make_plan("W3(s=0.7)@fc1"), params=1234, file_size=2048)
    response = logged_in.get(f"/models/{model.pk}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert "W3(s=0.7)@fc1" in body and "1234" in body and "2.0\xa0KB" in body
    assert f"/jobs/new/?models={model.pk}" in body
    assert "None" not in body


def test_it_answers_404_for_a_model_that_does_not_exist(logged_in):
    assert logged_in.get("/models/999999/").status_code == 404


def test_it_registers_an_upload_with_the_bundled_digits(logged_in, user, keras_files, settings):
    response = logged_in.post(
        UPLOAD,
        {
            "file": upload_file(keras_files["tiny"]),
            "name": "tiny-digits",
            "architecture": "mlp",
            "dataset": "bundled",
        },
    )
    model = DNNModel.objects.get(name="tiny-digits")
    assert response.status_code == 302 and response["Location"] == f"/models/{model.pk}/"
    # Flatten 8x8x1 -> Dense(10): 64 x 10 weights + 10 biases.
    assert model.param_count == 64 * 10 + 10
    assert (model.architecture, model.created_by, model.is_baseline) == ("mlp", user, True)
    assert (model.dataset.name, model.dataset.num_classes) == ("digits", 10)
    assert model.dataset.input_shape == [8, 8, 1]
    assert Path(model.file.path).read_bytes() == keras_files["tiny"].read_bytes()
    assert stored_files(settings) == [Path(model.file.path)]


def test_it_registers_an_upload_against_an_existing_dataset(logged_in, keras_files):
    dataset = make_dataset(name="my-digits")
    response = logged_in.post(
        UPLOAD,
        {
            "file": upload_file(keras_files["tiny"]),
            "name": "tiny-2",
            "architecture": "mlp",
            "dataset": str(dataset.pk),
        },
    )
    assert response.status_code == 302
    assert DNNModel.objects.get(name="tiny-2").dataset == dataset
    assert not Dataset.objects.filter(name="digits").exists()


def assert_refused(response, settings, *fragments: str) -> None:
    body = response.content.decode()
    assert response.status_code == 400
    assert 'id="upload-form"' in body  # the form comes back to be corrected
    for fragment in fragments:
        assert fragment in body, fragment
    assert not DNNModel.objects.exists()
    assert not Dataset.objects.exists()  # the bundled dataset row was not left behind
    assert stored_files(settings) == []


def test_it_shows_why_a_corrupt_file_is_refused_and_stores_nothing(logged_in, settings):
    corrupt = SimpleUploadedFile("broken.keras", b"this is not a zip archive")
    response = logged_in.post(
        UPLOAD, {"file": corrupt, "name": "broken", "architecture": "x", "dataset": "bundled"}
    )
    assert_refused(response, settings, "broken.keras is not a .keras file")


def test_it_refuses_a_lambda_model_with_the_safe_mode_message(logged_in, keras_files, settings):
    response = logged_in.post(
        UPLOAD,
        {
            "file": upload_file(keras_files["lambda"]),
            "name": "sneaky",
            "architecture": "x",
            "dataset": "bundled",
        },
    )
    assert_refused(response, settings, "Lambda layers are refused")


def test_it_refuses_a_file_over_the_size_limit_before_storing_it(logged_in, keras_files, settings):
    settings.MAX_MODEL_UPLOAD_BYTES = 1000
    assert keras_files["tiny"].stat().st_size > 1000
    response = logged_in.post(
        UPLOAD,
        {
            "file": upload_file(keras_files["tiny"]),
            "name": "too-big",
            "architecture": "x",
            "dataset": "bundled",
        },
    )
    assert_refused(response, settings, "larger than the 1000\xa0bytes upload limit")


@pytest.mark.parametrize(
    ("shape", "classes", "problem"),
    [
        ([28, 28, 1], 10, "tiny.keras takes inputs of shape 8×8×1 but dataset mnist has samples"),
        ([8, 8, 1], 100, "tiny.keras outputs 10 values per sample but dataset mnist has 100"),
    ],
)
def test_it_refuses_a_model_that_does_not_fit_the_dataset(
    logged_in, keras_files, settings, shape, classes, problem
):
    dataset = make_dataset(name="mnist", input_shape=shape, num_classes=classes)
    response = logged_in.post(
        UPLOAD,
        {
            "file": upload_file(keras_files["tiny"]),
            "name": "misfit",
            "architecture": "x",
            "dataset": str(dataset.pk),
        },
    )
    body = response.content.decode()
    assert response.status_code == 400 and problem in body
    assert not DNNModel.objects.exists() and stored_files(settings) == []


@pytest.mark.parametrize(
    ("name", "file_name", "problem"),
    [
        ("../escape", "ok.keras", "Letters, digits"),
        ("fine", "model.h5", "Upload a Keras v3 .keras file"),
    ],
)
def test_it_refuses_bad_names_and_formats(
    logged_in, keras_files, settings, name, file_name, problem
):
    response = logged_in.post(
        UPLOAD,
        {
            "file": upload_file(keras_files["tiny"], file_name),
            "name": name,
            "architecture": "x",
            "dataset": "bundled",
        },
    )
    assert_refused(response, settings, problem)


def test_it_refuses_a_name_already_taken(logged_in, keras_files):
    taken = make_model(name="taken")
    response = logged_in.post(
        UPLOAD,
        {
            "file": upload_file(keras_files["tiny"]),
            "name": "taken",
            "architecture": "x",
            "dataset": str(taken.dataset.pk),
        },
    )
    assert response.status_code == 400
    assert "already exists" in response.content.decode()
    assert DNNModel.objects.count() == 1
