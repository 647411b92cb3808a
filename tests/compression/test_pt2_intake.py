"""PyTorch programs in: torch.export .pt2 read without torch, converted in a child."""

from __future__ import annotations

import io
import sys
import zipfile

import numpy as np
import pytest

from compression.data import Dataset
from compression.errors import ModelFileError, ModelInputError
from compression.formats import format_of
from compression.formats.pt2 import Conversion, TorchProgram, convert_pt2, read_pt2, tflite_outputs
from compression.formats.tflite import load_tflite
from tests.compression.torch_programs import in_child


def test_it_converts_a_residual_cnn_and_matches_pytorch(
    digits_program: TorchProgram, digits_conversion: Conversion, digits: Dataset
) -> None:
    assert digits_conversion.layout == "NCHW"
    assert digits_conversion.max_abs_diff < 1e-4 and digits_conversion.samples == 8
    assert digits_conversion.seconds > 0
    converted = load_tflite(digits_conversion.tflite)
    # The .tflite takes the dataset's NHWC samples as they are.
    assert converted.input_shape == digits.input_shape and converted.layout == "NHWC"
    assert converted.output_shape == (digits.num_classes,)
    # Checked again here on samples the conversion did not compare.
    x = digits.x_test[:20]
    expected = in_child("torch_outputs", digits_program.content, x, True)
    assert np.max(np.abs(tflite_outputs(digits_conversion.tflite, x) - expected)) < 1e-4
    assert "torch" not in sys.modules  # all of it ran in child processes
    assert format_of(digits_program) == "pt2"


def test_it_reads_a_program_from_a_path(digits_program: TorchProgram, tmp_path) -> None:
    path = tmp_path / "net.pt2"
    path.write_bytes(digits_program.content)
    program = read_pt2(path)
    assert program.name == "net.pt2" and program.content == digits_program.content


def test_it_refuses_a_pickled_module() -> None:
    with pytest.raises(ModelFileError, match=r"pickled PyTorch object \(torch.save\).*refused"):
        read_pt2(in_child("pickled_module"))


def test_it_refuses_a_file_that_is_not_a_zip() -> None:
    with pytest.raises(ModelFileError, match="not a torch.export archive"):
        read_pt2(b"\x80\x04not a zip at all")


def test_it_refuses_a_zip_holding_no_program() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("weights/readme.txt", "hello")
    with pytest.raises(ModelFileError, match="holds no torch.export program"):
        read_pt2(buffer.getvalue())


def test_it_refuses_a_damaged_program_that_torch_cannot_load(digits: Dataset) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("net/archive_format", "pt2")
        archive.writestr("net/models/model.json", "{not json")
    program = read_pt2(buffer.getvalue())
    with pytest.raises(ModelFileError, match="not a torch.export program torch can load"):
        convert_pt2(program, digits.x_val)


def test_it_refuses_a_dataset_of_the_wrong_shape(digits_program: TorchProgram) -> None:
    wrong = np.zeros((4, 16, 16, 1), "float32")
    with pytest.raises(ModelInputError, match=r"takes inputs of shape \(1, 1, 8, 8\)"):
        convert_pt2(digits_program, wrong)


def test_it_names_the_pytorch_extra_when_the_host_lacks_torch(
    digits_program: TorchProgram, digits: Dataset, tmp_path, monkeypatch
) -> None:
    # A spawn child takes the parent's sys.path: this torch shadows the real one there.
    (tmp_path / "torch.py").write_text("raise ModuleNotFoundError(\"No module named 'torch'\")\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModelFileError, match=r"optional PyTorch extra.*requirements-torch"):
        convert_pt2(digits_program, digits.x_val)
