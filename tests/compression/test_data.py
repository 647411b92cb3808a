from pathlib import Path

import numpy as np
import pytest

from compression.data import load_dataset, load_keras_dataset, load_npz
from compression.errors import DatasetError


def _indexed_images(n: int, shape: tuple[int, ...]) -> np.ndarray:
    # Every pixel of sample i holds i, so a split can be traced back to its sources.
    return np.broadcast_to(np.arange(n, dtype="uint8").reshape(-1, *[1] * len(shape)), (n, *shape))


def _write(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _valid(n_train: int = 50, n_test: int = 20, shape=(6, 6), classes: int = 5) -> dict:
    rng = np.random.default_rng(1)
    return {
        "x_train": _indexed_images(n_train, shape).copy(),
        "y_train": np.arange(n_train) % classes,
        "x_test": rng.integers(0, 256, (n_test, *shape), dtype="uint8"),
        "y_test": np.arange(n_test) % classes,
    }


@pytest.fixture
def mnist_file(tmp_path: Path) -> Path:
    # Keras's cached mnist.npz layout: uint8 (N, 28, 28) images, uint8 labels.
    rng = np.random.default_rng(0)
    return _write(
        tmp_path / "mnist.npz",
        x_train=_indexed_images(60, (28, 28)).copy(),
        y_train=(np.arange(60) % 10).astype("uint8"),
        x_test=rng.integers(0, 256, (20, 28, 28), dtype="uint8"),
        y_test=(np.arange(20) % 10).astype("uint8"),
    )


def test_it_loads_an_mnist_format_file_from_the_given_path(mnist_file):
    data = load_keras_dataset("mnist", path=mnist_file, val_fraction=0.1, seed=0)
    assert data.name == "mnist" and data.num_classes == 10
    assert data.split_sizes == {"train": 54, "val": 6, "test": 20}
    assert data.input_shape == (28, 28, 1)
    assert data.x_train.dtype == np.float32 and data.y_train.dtype == np.int64
    raw_test = np.load(mnist_file)["x_test"]
    np.testing.assert_allclose(data.x_test[..., 0], raw_test / 255.0, atol=1e-7)
    assert data.x_train.min() >= 0.0 and data.x_train.max() <= 1.0


def test_it_carves_validation_from_train_without_losing_or_repeating_samples(mnist_file):
    data = load_keras_dataset("mnist", path=mnist_file, seed=3)
    train_ids = np.rint(data.x_train[:, 0, 0, 0] * 255).astype(int)
    val_ids = np.rint(data.x_val[:, 0, 0, 0] * 255).astype(int)
    assert sorted(np.concatenate([train_ids, val_ids])) == list(range(60))
    # Labels travel with their images: label of sample i is i % 10.
    np.testing.assert_array_equal(data.y_val, val_ids % 10)


def test_it_repeats_the_split_under_a_seed_and_changes_it_with_another(mnist_file):
    a = load_keras_dataset("mnist", path=mnist_file, seed=7)
    b = load_keras_dataset("mnist", path=mnist_file, seed=7)
    c = load_keras_dataset("mnist", path=mnist_file, seed=8)
    np.testing.assert_array_equal(a.x_val, b.x_val)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_val, c.x_val)


def test_it_flattens_cifar_labels_and_keeps_colour_channels(tmp_path):
    arrays = _valid(shape=(32, 32, 3), classes=100)
    arrays["y_train"] = arrays["y_train"].reshape(-1, 1)
    arrays["y_test"] = arrays["y_test"].reshape(-1, 1)
    data = load_keras_dataset("cifar100", path=_write(tmp_path / "c.npz", **arrays))
    assert data.input_shape == (32, 32, 3)
    assert data.y_test.shape == (20,) and data.num_classes == 100


def test_it_refuses_labels_beyond_a_keras_datasets_class_count(tmp_path):
    arrays = _valid(classes=5)
    arrays["y_test"][0] = 10
    with pytest.raises(DatasetError, match=r"y_test has a label out of range: 10 .*10 classes"):
        load_keras_dataset("mnist", path=_write(tmp_path / "m.npz", **arrays))


def test_it_lists_the_known_keras_datasets_for_an_unknown_name():
    with pytest.raises(DatasetError, match=r"Known: mnist, fashion_mnist, cifar10, cifar100"):
        load_keras_dataset("imagenet")


def test_it_infers_classes_and_scales_uint8_images(tmp_path):
    data = load_npz(_write(tmp_path / "shapes.npz", **_valid(classes=5)))
    assert data.name == "shapes" and data.num_classes == 5
    assert data.input_shape == (6, 6, 1)
    assert data.x_train.max() <= 1.0 and data.x_train.max() > 0.1


def test_it_keeps_float_images_as_stored(tmp_path):
    arrays = _valid()
    arrays["x_train"] = np.full((50, 4, 4, 2), 0.25)
    arrays["x_test"] = np.full((20, 4, 4, 2), 0.75)
    data = load_npz(_write(tmp_path / "f.npz", **arrays), name="floats")
    assert data.name == "floats" and data.x_train.dtype == np.float32
    assert np.all(data.x_val == 0.25) and np.all(data.x_test == 0.75)


def test_it_accepts_whole_float_labels(tmp_path):
    arrays = _valid()
    arrays["y_train"] = arrays["y_train"].astype("float64")
    data = load_npz(_write(tmp_path / "f.npz", **arrays))
    assert data.y_train.dtype == np.int64


def test_it_reports_a_missing_file(tmp_path):
    with pytest.raises(DatasetError, match="Dataset file not found: .*nope.npz"):
        load_npz(tmp_path / "nope.npz")


@pytest.mark.parametrize("content", [b"hello, not numpy", b"PK\x03\x04 truncated zip"])
def test_it_reports_a_file_that_is_not_an_npz(tmp_path, content):
    path = tmp_path / "bad.npz"
    path.write_bytes(content)
    with pytest.raises(DatasetError, match="bad.npz is not a NumPy .npz archive"):
        load_npz(path)


def test_it_reports_a_single_npy_array(tmp_path):
    path = tmp_path / "one.npy"
    np.save(path, np.zeros(3))
    with pytest.raises(DatasetError, match=r"single array \(.npy\)"):
        load_npz(path)


def test_it_names_the_missing_arrays(tmp_path):
    arrays = _valid()
    del arrays["y_test"], arrays["x_test"]
    with pytest.raises(DatasetError, match="lacks the arrays x_test, y_test; it holds x_train"):
        load_npz(_write(tmp_path / "half.npz", **arrays))


def test_it_refuses_pickled_object_arrays(tmp_path):
    arrays = _valid()
    arrays["y_train"] = np.array([{"label": 1}] * 50, dtype=object)
    with pytest.raises(DatasetError, match="array y_train cannot be read"):
        load_npz(_write(tmp_path / "obj.npz", **arrays))


def test_it_says_which_lengths_mismatch(tmp_path):
    arrays = _valid()
    arrays["y_train"] = arrays["y_train"][:49]
    with pytest.raises(DatasetError, match="x_train has 50 samples but y_train has 49 labels"):
        load_npz(_write(tmp_path / "len.npz", **arrays))


def test_it_refuses_negative_labels(tmp_path):
    arrays = _valid()
    arrays["y_train"][3] = -1
    with pytest.raises(DatasetError, match="y_train has a label out of range: -1"):
        load_npz(_write(tmp_path / "neg.npz", **arrays))


def test_it_refuses_fractional_labels(tmp_path):
    arrays = _valid()
    arrays["y_test"] = arrays["y_test"] + 0.5
    with pytest.raises(DatasetError, match="y_test must hold integer class indices; found 0.5"):
        load_npz(_write(tmp_path / "frac.npz", **arrays))


def test_it_refuses_one_hot_labels(tmp_path):
    arrays = _valid()
    arrays["y_train"] = np.eye(5)[arrays["y_train"]]
    with pytest.raises(DatasetError, match=r"y_train must be class indices .*one-hot"):
        load_npz(_write(tmp_path / "hot.npz", **arrays))


def test_it_refuses_mismatched_sample_shapes(tmp_path):
    arrays = _valid()
    arrays["x_test"] = np.zeros((20, 7, 7), dtype="uint8")
    with pytest.raises(
        DatasetError, match=r"x_train samples are \(6, 6, 1\) but x_test samples are \(7, 7, 1\)"
    ):
        load_npz(_write(tmp_path / "shape.npz", **arrays))


def test_it_refuses_an_empty_split(tmp_path):
    arrays = _valid()
    arrays["x_test"] = arrays["x_test"][:0]
    arrays["y_test"] = arrays["y_test"][:0]
    with pytest.raises(DatasetError, match="The test split is empty"):
        load_npz(_write(tmp_path / "empty.npz", **arrays))


def test_it_refuses_integer_images_beyond_8_bits(tmp_path):
    arrays = _valid()
    arrays["x_train"] = arrays["x_train"].astype("int32") * 10
    with pytest.raises(DatasetError, match=r"x_train holds integers outside 0..255 \(0..490\)"):
        load_npz(_write(tmp_path / "wide.npz", **arrays))


def test_it_refuses_a_single_class(tmp_path):
    arrays = _valid()
    arrays["y_train"][:] = 0
    arrays["y_test"][:] = 0
    with pytest.raises(DatasetError, match="at least 2 classes; the labels have 1"):
        load_npz(_write(tmp_path / "one.npz", **arrays))


def test_it_refuses_a_train_split_too_small_for_validation(tmp_path):
    arrays = _valid(n_train=1)
    arrays["y_test"][:] = 1
    with pytest.raises(DatasetError, match="x_train has 1 samples: too few"):
        load_npz(_write(tmp_path / "tiny.npz", **arrays))


def test_it_dispatches_every_source_by_name(tmp_path, mnist_file):
    digits = load_dataset("digits", seed=0, resize_to=12)
    assert digits.input_shape == (12, 12, 1) and digits.num_classes == 10
    mnist = load_dataset("keras", name="mnist", path=str(mnist_file))
    assert mnist.input_shape == (28, 28, 1)
    user = load_dataset("npz", path=_write(tmp_path / "u.npz", **_valid(classes=3)))
    assert user.num_classes == 3 and user.name == "u"


def test_it_names_an_unknown_source_option_or_missing_option():
    with pytest.raises(DatasetError, match=r"Known: digits, keras, npz\. Received: source='csv'"):
        load_dataset("csv")
    with pytest.raises(DatasetError, match=r"'digits' has no option size\. Its options: seed"):
        load_dataset("digits", size=8)
    with pytest.raises(DatasetError, match="'npz' needs the option path"):
        load_dataset("npz")
