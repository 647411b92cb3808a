"""PyTorch in: ResNet18 and MobileNetV2 at 32x32, converted and quantized as .tflite.

Both networks are written out here in plain torch as torchvision builds them
(``resnet18`` and ``mobilenet_v2`` with ``weights=None``: torchvision from
PyPI does not import beside this torch), with 10 classes. Each is trained a
little on the bundled digits resized to 32x32 and repeated over 3 channels (no
download), exported with ``torch.export``, converted by litert-torch (in a
child process, as the library does) and checked against PyTorch; then each
``.tflite``-level technique (AQ-*) quantizes the converted file. Printed per
row: conversion time and max output difference (measured), file size, gzip
size, median latency of 50 single-sample runs through LiteRT on 1 thread on
this host, and accuracy on the test split (all measured).

    python benchmarks/torch_models.py --arch resnet18 mobilenet_v2 --epochs 2
"""

from __future__ import annotations

import argparse
import gzip
import io
import statistics
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from multiprocessing import get_context
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

if TYPE_CHECKING:
    from compression.data import Dataset

# compression/ is imported inside the functions: the spawn child that trains in
# PyTorch re-imports this module, and torch's compiler stack (triton, pulled in by
# torch.optim) crashes a process that loaded TensorFlow first.

TECHNIQUES = ("AQ-dyn", "AQ-w8", "AQ-w4", "AQ-int8", "AQ-f16")
LATENCY_RUNS = 50


def resnet18(classes: int) -> Any:
    """torchvision's ResNet-18 (BasicBlock, [2, 2, 2, 2]), weights=None."""
    from torch import nn

    class Block(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x: Any) -> Any:
            identity = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + identity)

    layers: list[nn.Module] = [
        nn.Conv2d(3, 64, 7, 2, 3, bias=False),
        nn.BatchNorm2d(64),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(3, 2, 1),
    ]
    cin = 64
    for cout, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [Block(cin, cout, stride), Block(cout, cout, 1)]
        cin = cout
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(512, classes)]
    return nn.Sequential(*layers)


def mobilenet_v2(classes: int) -> Any:
    """torchvision's MobileNetV2 (width 1.0, inverted residuals), weights=None."""
    from torch import nn

    def conv(cin: int, cout: int, k: int, stride: int, groups: int = 1) -> nn.Sequential:
        return nn.Sequential(
            nn.Conv2d(cin, cout, k, stride, (k - 1) // 2, groups=groups, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU6(inplace=True),
        )

    class Inverted(nn.Module):
        def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
            super().__init__()
            hidden = cin * expand
            steps = [conv(cin, hidden, 1, 1)] if expand != 1 else []
            steps += [conv(hidden, hidden, 3, stride, hidden)]
            steps += [nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout)]
            self.conv = nn.Sequential(*steps)
            self.residual = stride == 1 and cin == cout

        def forward(self, x: Any) -> Any:
            return x + self.conv(x) if self.residual else self.conv(x)

    settings = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2))
    settings += ((6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1))
    layers: list[nn.Module] = [conv(3, 32, 3, 2)]
    cin = 32
    for expand, cout, repeats, stride in settings:
        for i in range(repeats):
            layers.append(Inverted(cin, cout, stride if i == 0 else 1, expand))
            cin = cout
    layers += [conv(cin, 1280, 1, 1), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
    layers += [nn.Dropout(0.2), nn.Linear(1280, classes)]
    return nn.Sequential(*layers)


BUILDERS = {"resnet18": resnet18, "mobilenet_v2": mobilenet_v2}


def train_and_export(arch: str, x: np.ndarray, y: np.ndarray, epochs: int) -> dict[str, Any]:
    """In a child: build ``arch``, train it on NHWC ``x`` (taken NCHW), export as ``.pt2``."""
    import torch

    torch.manual_seed(0)
    torch.set_num_threads(2)
    model = BUILDERS[arch](int(y.max()) + 1)
    data = torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()
    labels = torch.from_numpy(y.astype("int64"))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started = time.perf_counter()
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(data))
        for start in range(0, len(data) - 1, 64):
            batch = order[start : start + 64]
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(data[batch]), labels[batch]).backward()
            optimizer.step()
    model.eval()
    buffer = io.BytesIO()
    torch.export.save(torch.export.export(model, (data[:1],)), buffer)
    params = sum(p.numel() for p in model.parameters())
    return {"pt2": buffer.getvalue(), "params": params, "train_s": time.perf_counter() - started}


def latency_ms(tflite: bytes, sample: np.ndarray) -> float:
    """Median wall time of one invoke on this host, LiteRT, 1 thread (measured)."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite, num_threads=1)
    interpreter.allocate_tensors()
    detail = interpreter.get_input_details()[0]
    scale, zero = detail["quantization"]
    value = sample[np.newaxis]
    if np.issubdtype(detail["dtype"], np.integer) and scale:
        value = np.clip(np.round(value / scale + zero), -128, 127)
    interpreter.set_tensor(detail["index"], value.astype(detail["dtype"]))
    interpreter.invoke()  # warm-up
    times = []
    for _ in range(LATENCY_RUNS):
        started = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def row(arch: str, variant: str, tflite: bytes, data: Dataset, **extra: Any) -> dict[str, Any]:
    """One table row: sizes, latency and accuracy of a ``.tflite`` (all measured)."""
    from compression.evaluation import evaluate_tflite

    accuracy = evaluate_tflite(tflite, data.x_test, data.y_test)["accuracy"]
    return {
        "arch": arch,
        "variant": variant,
        "file_kb": round(len(tflite) / 1024, 1),
        "gzip_kb": round(len(gzip.compress(tflite, 9, mtime=0)) / 1024, 1),
        "latency_ms": round(latency_ms(tflite, data.x_test[0]), 3),
        "accuracy": round(accuracy, 4),
        **extra,
    }


def benchmark(arch: str, data: Dataset, epochs: int) -> list[dict[str, Any]]:
    """Train, convert and quantize one architecture; one row per variant."""
    from compression.formats.pt2 import TorchProgram, convert_pt2
    from compression.formats.tflite import load_tflite
    from compression.techniques import get_technique

    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        built = pool.submit(train_and_export, arch, data.x_train, data.y_train, epochs).result()
    conversion = convert_pt2(TorchProgram(built["pt2"], f"{arch}.pt2"), data.x_val)
    rows = [
        row(
            arch,
            "float32 (converted)",
            conversion.tflite,
            data,
            params=built["params"],
            convert_s=round(conversion.seconds, 2),
            max_abs_diff=float(f"{conversion.max_abs_diff:.3g}"),
        )
    ]
    converted = load_tflite(conversion.tflite)
    for code in TECHNIQUES:
        technique = get_technique(code)()
        started = time.perf_counter()
        quantized = technique.export_tflite(converted, data)
        rows.append(row(arch, code, quantized, data, quantize_s=time.perf_counter() - started))
    return rows


def digits_rgb32() -> Dataset:
    """The bundled digits at 32x32, repeated over 3 channels (RGB-shaped, no download)."""
    from compression.data import load_digits

    data = load_digits(seed=0, resize_to=32)
    rgb = {k: np.repeat(getattr(data, k), 3, axis=-1) for k in ("x_train", "x_val", "x_test")}
    return replace(data, name="digits32rgb", **rgb)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its table."""
    import pandas as pd

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", nargs="+", default=list(BUILDERS), choices=list(BUILDERS))
    parser.add_argument("--epochs", type=int, default=2, help="PyTorch training epochs")
    args = parser.parse_args(argv)
    data = digits_rgb32()
    rows = [r for arch in args.arch for r in benchmark(arch, data, args.epochs)]
    frame = pd.DataFrame(rows).round({"quantize_s": 3})
    with pd.option_context("display.width", 250):
        print(frame.to_string(index=False, na_rep="-"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
