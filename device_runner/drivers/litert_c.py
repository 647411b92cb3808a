"""LiteRT's C API through ctypes: a CompiledModel on the CPU, with its profiler.

The Python wrapper of ai-edge-litert 2.3.0 exposes neither the CompiledModel's
profiler nor a per-operator profile of the ``Interpreter``; ``libLiteRt.so``
in the same wheel exports both. With ``enable_profiling`` set, each run
records one event per operator the runtime executed: XNNPACK's own operators
(event type 8, tagged like ``Convolution (NHWC, F32) IGEMM``) and operators
left on LiteRT's builtin kernels (type 2, whose ``metadata1`` is the .tflite
node index). Elapsed times are whole microseconds.

The call sequence (checked against the LiteRT sources at 2.3.0 and
``nm -D libLiteRt.so``): environment -> model from file -> options with the
CPU accelerator, plus the opaque options ``runtime_options_string`` (TOML,
``enable_profiling = true``) and ``xnnpack`` (``num_threads = N``) -> compiled
model -> managed tensor buffers from its requirements -> profiler; per run:
start profiler, run, stop profiler, read the events (start also clears them).
"""

from __future__ import annotations

import ctypes as C
import functools
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

CPU_ACCELERATOR = 1  # kLiteRtHwAcceleratorCpu
FLOAT32 = 1  # kLiteRtElementTypeFloat32
OPERATOR_EVENT = 2  # an operator on a builtin kernel; metadata1 = .tflite node index
DELEGATE_OPERATOR_EVENT = 8  # an operator inside the XNNPACK delegate
OPERATOR_EVENT_TYPES = (OPERATOR_EVENT, 4, DELEGATE_OPERATOR_EVENT)  # 4: an opaque delegate node
_RANKED_TYPE_BYTES = 128  # LiteRtRankedTensorType is 72 bytes; room to spare
_P = C.POINTER
_VP = C.c_void_p


class LiteRtError(RuntimeError):
    """The LiteRT C library is missing or one of its calls failed."""


class _MemoryUsage(C.Structure):  # LiteRtMemoryUsage
    _fields_ = [("total", C.c_size_t), ("in_use", C.c_size_t), ("private", C.c_size_t)]


class _EventData(C.Structure):  # ProfiledEventData, litert/c/litert_profiler_event.h
    _fields_ = [
        ("tag", C.c_char_p),
        ("event_type", C.c_int),
        ("start_timestamp_us", C.c_uint64),
        ("elapsed_time_us", C.c_uint64),
        ("begin_memory", _MemoryUsage),
        ("end_memory", _MemoryUsage),
        ("metadata1", C.c_uint64),
        ("metadata2", C.c_uint64),
        ("source", C.c_int),
    ]


_SIGNATURES: dict[str, list[Any]] = {
    "LiteRtCreateEnvironment": [C.c_int, _VP, _P(_VP)],
    "LiteRtDestroyEnvironment": [_VP],
    "LiteRtCreateModelFromFile": [_VP, C.c_char_p, _P(_VP)],
    "LiteRtDestroyModel": [_VP],
    "LiteRtCreateOptions": [_P(_VP)],
    "LiteRtDestroyOptions": [_VP],
    "LiteRtSetOptionsHardwareAccelerators": [_VP, C.c_int],
    "LiteRtCreateOpaqueOptions": [C.c_char_p, _VP, _VP, _P(_VP)],
    "LiteRtAddOpaqueOptions": [_VP, _VP],
    "LiteRtCreateCompiledModel": [_VP, _VP, _VP, _P(_VP)],
    "LiteRtDestroyCompiledModel": [_VP],
    "LiteRtGetModelSignature": [_VP, C.c_size_t, _P(_VP)],
    "LiteRtGetNumSignatureInputs": [_VP, _P(C.c_size_t)],
    "LiteRtGetNumSignatureOutputs": [_VP, _P(C.c_size_t)],
    "LiteRtGetSignatureInputTensorByIndex": [_VP, C.c_size_t, _P(_VP)],
    "LiteRtGetSignatureOutputTensorByIndex": [_VP, C.c_size_t, _P(_VP)],
    "LiteRtGetRankedTensorType": [_VP, _VP],
    "LiteRtGetCompiledModelInputBufferRequirements": [_VP, C.c_size_t, C.c_size_t, _P(_VP)],
    "LiteRtGetCompiledModelOutputBufferRequirements": [_VP, C.c_size_t, C.c_size_t, _P(_VP)],
    "LiteRtCreateManagedTensorBufferFromRequirements": [_VP, _VP, _VP, _P(_VP)],
    "LiteRtDestroyTensorBuffer": [_VP],
    "LiteRtGetTensorBufferSize": [_VP, _P(C.c_size_t)],
    "LiteRtLockTensorBuffer": [_VP, _P(_VP), C.c_int],
    "LiteRtUnlockTensorBuffer": [_VP],
    "LiteRtRunCompiledModel": [_VP, C.c_size_t, C.c_size_t, _VP, C.c_size_t, _VP],
    "LiteRtCompiledModelGetProfiler": [_VP, _P(_VP)],
    "LiteRtStartProfiler": [_VP],
    "LiteRtStopProfiler": [_VP],
    "LiteRtGetNumProfilerEvents": [_VP, _P(C.c_int)],
    "LiteRtGetProfilerEvents": [_VP, C.c_int, _P(_EventData)],
}


@functools.cache
def _library() -> C.CDLL:
    """libLiteRt.so from the installed ai_edge_litert wheel, with typed signatures."""
    import ai_edge_litert

    path = Path(ai_edge_litert.__file__).parent / "libLiteRt.so"
    try:
        lib = C.CDLL(str(path))
        for name, argtypes in _SIGNATURES.items():
            function = getattr(lib, name)
            function.argtypes = argtypes
            function.restype = None if name.startswith("LiteRtDestroy") else C.c_int
    except (OSError, AttributeError) as exc:
        raise LiteRtError(f"LiteRT's C library is not usable at {path}: {exc}") from exc
    return lib


@functools.cache
def _libc() -> C.CDLL:
    libc = C.CDLL(None)
    libc.strdup.restype, libc.strdup.argtypes = _VP, [C.c_char_p]
    libc.free.argtypes = [_VP]
    return libc


def _check(status: int, call: str) -> None:
    if status != 0:
        raise LiteRtError(f"{call} failed with LiteRtStatus {status}")


def _call(name: str, *args: Any) -> None:
    _check(getattr(_library(), name)(*args), name)


@dataclass(frozen=True)
class OperatorEvent:
    """One operator the runtime executed in a profiled run.

    Attributes:
        tag: the runtime's name for it (an XNNPACK operator or a builtin op).
        event_type: 2 (builtin kernel), 4 (opaque delegate node) or 8 (XNNPACK operator).
        node: metadata1: the .tflite node index for type 2, the delegate's own index otherwise.
        elapsed_us: its time in that run, whole microseconds.
    """

    tag: str
    event_type: int
    node: int
    elapsed_us: int


class CompiledModel:
    """A ``.tflite`` compiled for the CPU (XNNPACK) through LiteRT's C API.

    Use as a context manager; the native handles are released on exit.
    """

    def __init__(self, path: str | Path, num_threads: int, profile: bool) -> None:
        self._handles: list[tuple[str, _VP]] = []  # destroyed in reverse order
        self._env = self._create("LiteRtCreateEnvironment", "LiteRtDestroyEnvironment", 0, None)
        self._model = self._create(
            "LiteRtCreateModelFromFile", "LiteRtDestroyModel", self._env, str(path).encode()
        )
        options = self._options(num_threads, profile)
        try:
            self._compiled = self._create(
                "LiteRtCreateCompiledModel",
                "LiteRtDestroyCompiledModel",
                self._env,
                self._model,
                options,
            )
        finally:
            _library().LiteRtDestroyOptions(options)
        self._inputs = self._buffers(is_input=True)
        self._outputs = self._buffers(is_input=False)
        self._profiler = _VP()
        if profile:
            _call("LiteRtCompiledModelGetProfiler", self._compiled, C.byref(self._profiler))
            if not self._profiler.value:
                raise LiteRtError("LiteRtCompiledModelGetProfiler returned no profiler")

    def __enter__(self) -> CompiledModel:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Release every native handle, newest first."""
        while self._handles:
            destroy, handle = self._handles.pop()
            getattr(_library(), destroy)(handle)

    def _create(self, create: str, destroy: str, *args: Any) -> _VP:
        handle = _VP()
        _call(create, *args, C.byref(handle))
        self._handles.append((destroy, handle))
        return handle

    def _options(self, num_threads: int, profile: bool) -> _VP:
        options = _VP()
        _call("LiteRtCreateOptions", C.byref(options))
        _call("LiteRtSetOptionsHardwareAccelerators", options, CPU_ACCELERATOR)
        if profile:
            _add_opaque(options, "runtime_options_string", "enable_profiling = true\n")
        _add_opaque(options, "xnnpack", f"num_threads = {int(num_threads)}\n")
        return options

    def _buffers(self, is_input: bool) -> tuple[Any, list[int]]:
        """Managed buffers for signature 0's inputs or outputs, and their sizes in bytes."""
        side = "Input" if is_input else "Output"
        signature, count = _VP(), C.c_size_t()
        _call("LiteRtGetModelSignature", self._model, 0, C.byref(signature))
        _call(f"LiteRtGetNumSignature{side}s", signature, C.byref(count))
        array, sizes = (_VP * max(count.value, 1))(), []
        for i in range(count.value):
            tensor, requirements, buffer = _VP(), _VP(), _VP()
            _call(f"LiteRtGetSignature{side}TensorByIndex", signature, i, C.byref(tensor))
            ranked = _static_ranked_type(tensor)
            name = f"LiteRtGetCompiledModel{side}BufferRequirements"
            _call(name, self._compiled, 0, i, C.byref(requirements))
            _call(
                "LiteRtCreateManagedTensorBufferFromRequirements",
                self._env,
                ranked,
                requirements,
                C.byref(buffer),
            )
            self._handles.append(("LiteRtDestroyTensorBuffer", buffer))
            size = C.c_size_t()
            _call("LiteRtGetTensorBufferSize", buffer, C.byref(size))
            array[i] = buffer.value
            sizes.append(size.value)
        return array, sizes

    def fill_inputs(self, seed: int) -> None:
        """Seeded random input bytes (floats in [0, 1) for float32 inputs)."""
        rng = np.random.default_rng(seed)
        array, sizes = self._inputs
        for i, size in enumerate(sizes):
            data = rng.random((size + 3) // 4, dtype=np.float32).tobytes()[:size]
            pointer = _VP()
            _call("LiteRtLockTensorBuffer", array[i], C.byref(pointer), 1)  # write mode
            C.memmove(pointer, data, size)
            _call("LiteRtUnlockTensorBuffer", array[i])

    def run(self) -> None:
        """One inference on the current inputs."""
        (inputs, in_sizes), (outputs, out_sizes) = self._inputs, self._outputs
        _call(
            "LiteRtRunCompiledModel",
            self._compiled,
            0,
            len(in_sizes),
            inputs,
            len(out_sizes),
            outputs,
        )

    def profiled_run(self) -> list[OperatorEvent]:
        """One inference with the profiler on; the operator events it recorded, in order."""
        if not self._profiler.value:
            raise LiteRtError("The model was compiled without profiling (profile=False)")
        _call("LiteRtStartProfiler", self._profiler)  # also clears the previous run's events
        self.run()
        _call("LiteRtStopProfiler", self._profiler)
        count = C.c_int()
        _call("LiteRtGetNumProfilerEvents", self._profiler, C.byref(count))
        events = (_EventData * max(count.value, 1))()
        if count.value:
            _call("LiteRtGetProfilerEvents", self._profiler, count, events)
        return [
            OperatorEvent(
                (e.tag or b"").decode("utf-8", "replace"),
                int(e.event_type),
                int(e.metadata1),
                int(e.elapsed_time_us),
            )
            for e in events[: count.value]
            if e.event_type in OPERATOR_EVENT_TYPES
        ]


def _add_opaque(options: _VP, identifier: str, toml: str) -> None:
    # LiteRT owns the payload and frees it with the destructor it is given, which
    # must not be NULL: hand it a strdup'd copy and libc's free.
    payload = _libc().strdup(toml.encode())
    opaque = _VP()
    free = C.cast(_libc().free, _VP)
    _call("LiteRtCreateOpaqueOptions", identifier.encode(), payload, free, C.byref(opaque))
    _call("LiteRtAddOpaqueOptions", options, opaque)


def _static_ranked_type(tensor: _VP) -> Any:
    """The tensor's LiteRtRankedTensorType with dynamic dimensions (-1) set to 1.

    Layout: int element_type; uint32 {rank:7, has_strides:1}; int32 dims[8]; ...
    """
    ranked = C.create_string_buffer(_RANKED_TYPE_BYTES)
    _call("LiteRtGetRankedTensorType", tensor, ranked)
    _, bits = struct.unpack_from("<iI", ranked.raw, 0)
    rank = bits & 0x7F
    dims = struct.unpack_from(f"<{rank}i", ranked.raw, 8)
    struct.pack_into(f"<{rank}i", ranked, 8, *[d if d > 0 else 1 for d in dims])
    return ranked
