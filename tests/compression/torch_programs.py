"""Small PyTorch programs for the tests, built and exported in a ``spawn`` child.

The test process has TensorFlow loaded, and importing torch's compiler stack
(triton, pulled in by ``torch.optim``) after TensorFlow crashes the process;
so, as in the library, torch runs only in a child process.
"""

from __future__ import annotations

import io
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from typing import Any

import numpy as np


def in_child(function: str, *args: Any) -> Any:
    """Run ``<this module>.<function>(*args)`` in a fresh ``spawn`` process."""
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(_call, function, args).result(timeout=900)


def _call(function: str, args: tuple[Any, ...]) -> Any:
    return globals()[function](*args)


def residual_cnn_pt2(x: np.ndarray, y: np.ndarray, epochs: int, channels_first: bool) -> bytes:
    """A CNN with BatchNorm and a residual add, trained on (x, y) NHWC, as ``.pt2`` bytes.

    Args:
        x: samples (N, H, W, C); y: labels.
        epochs: Adam epochs (0 leaves random weights).
        channels_first: export taking (N, C, H, W), PyTorch's usual layout.
    """
    import torch
    from torch import nn

    class ResidualCNN(nn.Module):
        def __init__(self, channels: int, classes: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(channels, 16, 3, padding=1, bias=False)
            self.bn1 = nn.BatchNorm2d(16)
            self.conv2 = nn.Conv2d(16, 16, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(16)
            self.fc = nn.Linear(16, classes)

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            if not channels_first:
                inputs = inputs.permute(0, 3, 1, 2)
            h = torch.relu(self.bn1(self.conv1(inputs)))
            h = h + torch.relu(self.bn2(self.conv2(h)))  # the residual add
            return self.fc(h.mean(dim=(2, 3)))

    torch.manual_seed(0)
    data = torch.from_numpy(np.asarray(x, "float32"))
    data = data.permute(0, 3, 1, 2).contiguous() if channels_first else data
    labels = torch.from_numpy(np.asarray(y, "int64"))
    model = ResidualCNN(x.shape[-1], int(labels.max()) + 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(epochs):
        for start in range(0, len(data), 64):
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(
                model(data[start : start + 64]), labels[start : start + 64]
            )
            loss.backward()
            optimizer.step()
    model.eval()
    buffer = io.BytesIO()
    torch.export.save(torch.export.export(model, (data[:1],)), buffer)
    return buffer.getvalue()


def pickled_module() -> bytes:
    """A whole ``nn.Module`` saved with ``torch.save``: what intake must refuse."""
    import torch

    buffer = io.BytesIO()
    torch.save(torch.nn.Linear(4, 2), buffer)
    return buffer.getvalue()


def torch_outputs(content: bytes, x: np.ndarray, channels_first: bool) -> np.ndarray:
    """The outputs of a ``.pt2`` program on NHWC samples, computed by PyTorch."""
    import torch

    module = torch.export.load(io.BytesIO(content)).module()
    data = torch.from_numpy(np.asarray(x, "float32"))
    data = data.permute(0, 3, 1, 2).contiguous() if channels_first else data
    with torch.no_grad():
        return np.concatenate([module(data[i : i + 1]).numpy() for i in range(len(data))])


def unconvertible_pt2(x: np.ndarray, classes: int) -> bytes:
    """A program torch.export saves and loads but litert-torch cannot lower (``erfinv``).

    Args:
        x: NHWC samples; the program takes them channels first.
        classes: outputs per sample.
    """
    import torch
    from torch import nn

    class Unconvertible(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(int(np.prod(x.shape[1:])), classes)

        def forward(self, inputs: torch.Tensor) -> torch.Tensor:
            return self.fc(torch.special.erfinv(torch.tanh(inputs)).flatten(1))

    example = torch.from_numpy(np.asarray(x[:1], "float32")).permute(0, 3, 1, 2).contiguous()
    buffer = io.BytesIO()
    torch.export.save(torch.export.export(Unconvertible().eval(), (example,)), buffer)
    return buffer.getvalue()


def bad_programs(x: np.ndarray, y: np.ndarray) -> dict[str, bytes]:
    """The .pt2 files intake must refuse, built in one child: a pickled module, a program
    litert-torch cannot convert, and an (untrained) program taking ``x``'s samples NCHW."""
    classes = int(np.max(y)) + 1
    return {
        "pickled": pickled_module(),
        "unconvertible": unconvertible_pt2(x, classes),
        "fits_8x8": residual_cnn_pt2(x[:4], y[:4], 0, True),
    }
