"""Per-operator times measured inside a whole LiteRT run (a prototype, for issue 16).

The local driver's op breakdown times each operator carved out alone, which
misses inter-op cache reuse; its sum is within +-10% of the whole model's
latency for only 45% of the kernel benchmark's models. LiteRT's CompiledModel
has a profiler (XNNPACK reports each of its own operators) that the Python
wrapper does not expose; this reaches it with ctypes against
ai_edge_litert/libLiteRt.so (ai-edge-litert 2.3.0) and aligns the events back
to the .tflite's operators. It is a benchmark-side prototype: the product's
driver does not use it yet, and it is one module past the house's size so
that it can be split when it moves into ``device_runner``.

    .venv/bin/python benchmarks/litert_op_profile.py MODEL.tflite [threads] [--json out.json]

API sequence used:
  LiteRtCreateEnvironment(0, NULL, &env)
  LiteRtCreateModelFromFile(env, path, &model)
  LiteRtCreateOptions(&opts); LiteRtSetOptionsHardwareAccelerators(opts, CPU=1)
  LiteRtCreateOpaqueOptions("runtime_options_string",
      strdup("enable_profiling = true\n"), free, &o)
  LiteRtAddOpaqueOptions(opts, o)
  LiteRtCreateOpaqueOptions("xnnpack", strdup("num_threads = N\n"), free, &o)
  LiteRtAddOpaqueOptions(opts, o)
  LiteRtCreateCompiledModel(env, model, opts, &cm)
  per input/output i: LiteRtGetModelSignature / LiteRtGetSignature{Input,Output}TensorByIndex
      / LiteRtGetRankedTensorType (dynamic dims -> 1)
      / LiteRtGetCompiledModel{Input,Output}BufferRequirements
      / LiteRtCreateManagedTensorBufferFromRequirements(env, &type, req, &buf)
  LiteRtCompiledModelGetProfiler(cm, &prof)
  per run: LiteRtStartProfiler(prof) -> LiteRtRunCompiledModel(...) -> LiteRtStopProfiler(prof)
           -> LiteRtGetNumProfilerEvents / LiteRtGetProfilerEvents(prof, n, ProfiledEventData[n])
           (LiteRtStartProfiler also clears the buffer)
  optional: LiteRtGetProfileSummary(prof, cm, &char*)  (TFLite-style text summary)

Event types (LiteRtProfilerEventType): 1 DEFAULT (LiteRT::Run[...] phases, interpreter
"Invoke"), 2 OPERATOR_INVOKE_EVENT (TFLite builtin kernel, metadata1 = TFLite node index),
8 DELEGATE_PROFILED_OPERATOR_INVOKE_EVENT (XNNPACK-internal operator, metadata1 = XNNPACK
node index inside the delegate partition, restarts at 0 per partition), 32 runtime
instrumentation (status, elapsed is garbage). Timings are integer microseconds.
"""

import argparse
import ctypes as C
import json
import os
import statistics
import struct
import sys
import tempfile
import time
from pathlib import Path

import ai_edge_litert
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from compression.selection.kernels import kernels_of  # noqa: E402

_LIB_PATH = os.path.join(os.path.dirname(ai_edge_litert.__file__), "libLiteRt.so")

vp = C.c_void_p
sz = C.c_size_t

EV_DEFAULT = 1
EV_OPERATOR = 2
EV_DELEGATE_OP = 4
EV_DELEGATE_PROFILED_OP = 8
OP_EVENT_TYPES = (EV_OPERATOR, EV_DELEGATE_OP, EV_DELEGATE_PROFILED_OP)


class _MemUsage(C.Structure):  # LiteRtMemoryUsage
    _fields_ = [
        ("total_allocated_bytes", sz),
        ("in_use_allocated_bytes", sz),
        ("private_footprint_bytes", sz),
    ]


class ProfiledEventData(C.Structure):  # litert/c/litert_profiler_event.h
    _fields_ = [
        ("tag", C.c_char_p),
        ("event_type", C.c_int),
        ("start_timestamp_us", C.c_uint64),
        ("elapsed_time_us", C.c_uint64),
        ("begin_mem_usage", _MemUsage),
        ("end_mem_usage", _MemUsage),
        ("event_metadata1", C.c_uint64),
        ("event_metadata2", C.c_uint64),
        ("event_source", C.c_int),
    ]


def _load_lib():
    L = C.CDLL(_LIB_PATH)
    P = C.POINTER
    sigs = {
        "LiteRtCreateEnvironment": [C.c_int, vp, P(vp)],
        "LiteRtDestroyEnvironment": [vp],
        "LiteRtCreateModelFromFile": [vp, C.c_char_p, P(vp)],
        "LiteRtDestroyModel": [vp],
        "LiteRtCreateOptions": [P(vp)],
        "LiteRtDestroyOptions": [vp],
        "LiteRtSetOptionsHardwareAccelerators": [vp, C.c_int],
        "LiteRtCreateOpaqueOptions": [C.c_char_p, vp, vp, P(vp)],
        "LiteRtAddOpaqueOptions": [vp, vp],
        "LiteRtCreateCompiledModel": [vp, vp, vp, P(vp)],
        "LiteRtDestroyCompiledModel": [vp],
        "LiteRtGetModelSignature": [vp, sz, P(vp)],
        "LiteRtGetNumSignatureInputs": [vp, P(sz)],
        "LiteRtGetNumSignatureOutputs": [vp, P(sz)],
        "LiteRtGetSignatureInputTensorByIndex": [vp, sz, P(vp)],
        "LiteRtGetSignatureOutputTensorByIndex": [vp, sz, P(vp)],
        "LiteRtGetRankedTensorType": [vp, vp],
        "LiteRtGetCompiledModelInputBufferRequirements": [vp, sz, sz, P(vp)],
        "LiteRtGetCompiledModelOutputBufferRequirements": [vp, sz, sz, P(vp)],
        "LiteRtCreateManagedTensorBufferFromRequirements": [vp, vp, vp, P(vp)],
        "LiteRtDestroyTensorBuffer": [vp],
        "LiteRtGetTensorBufferSize": [vp, P(sz)],
        "LiteRtLockTensorBuffer": [vp, P(vp), C.c_int],
        "LiteRtUnlockTensorBuffer": [vp],
        "LiteRtRunCompiledModel": [vp, sz, sz, vp, sz, vp],
        "LiteRtCompiledModelGetProfiler": [vp, P(vp)],
        "LiteRtStartProfiler": [vp],
        "LiteRtStopProfiler": [vp],
        "LiteRtResetProfiler": [vp],
        "LiteRtGetNumProfilerEvents": [vp, P(C.c_int)],
        "LiteRtGetProfilerEvents": [vp, C.c_int, P(ProfiledEventData)],
        "LiteRtGetProfileSummary": [vp, vp, P(C.c_char_p)],
    }
    for name, argtypes in sigs.items():
        f = getattr(L, name)
        f.argtypes = argtypes
        f.restype = None if name.startswith("LiteRtDestroy") else C.c_int
    return L


L = _load_lib()
_libc = C.CDLL(None)
_libc.strdup.restype = vp
_libc.strdup.argtypes = [C.c_char_p]
_libc.free.argtypes = [vp]
_FREE_PTR = C.cast(_libc.free, vp)


class LiteRtError(RuntimeError):
    pass


def _chk(status, what):
    if status != 0:
        raise LiteRtError(f"{what} failed with LiteRtStatus {status}")


class _StderrCapture:
    """Captures fd 2 (LiteRT INFO logging); replays it if an error happens."""

    def __init__(self, enabled):
        self.enabled = enabled

    def __enter__(self):
        if self.enabled:
            sys.stderr.flush()
            self.tmp = tempfile.TemporaryFile()
            self.saved = os.dup(2)
            os.dup2(self.tmp.fileno(), 2)
        return self

    def __exit__(self, exc_type, exc, tb):
        if self.enabled:
            os.dup2(self.saved, 2)
            os.close(self.saved)
            if exc_type is not None:
                self.tmp.seek(0)
                sys.stderr.write(self.tmp.read().decode(errors="replace"))
            self.tmp.close()
        return False


class Environment:
    def __init__(self):
        self.h = vp()
        _chk(L.LiteRtCreateEnvironment(0, None, C.byref(self.h)), "LiteRtCreateEnvironment")


class ProfiledModel:
    """A CompiledModel (CPU) built through the C API, optionally with the profiler on."""

    def __init__(
        self,
        env,
        path,
        num_threads=1,
        enable_profiling=True,
        kernel_mode=None,
        disable_clustering=False,
        signature_index=0,
    ):
        self.env = env
        self.sig_index = signature_index
        self.model = vp()
        _chk(
            L.LiteRtCreateModelFromFile(env.h, path.encode(), C.byref(self.model)),
            "LiteRtCreateModelFromFile",
        )
        opts = vp()
        _chk(L.LiteRtCreateOptions(C.byref(opts)), "LiteRtCreateOptions")
        _chk(
            L.LiteRtSetOptionsHardwareAccelerators(opts, 1), "LiteRtSetOptionsHardwareAccelerators"
        )
        rt = ""
        if enable_profiling:
            rt += "enable_profiling = true\n"
        if disable_clustering:
            rt += "disable_delegate_clustering = true\n"
        if rt:
            self._add_opaque(opts, "runtime_options_string", rt)
        cpu = f"num_threads = {int(num_threads)}\n"
        if kernel_mode:
            cpu += f'kernel_mode = "{kernel_mode}"\n'
        self._add_opaque(opts, "xnnpack", cpu)
        self.cm = vp()
        _chk(
            L.LiteRtCreateCompiledModel(env.h, self.model, opts, C.byref(self.cm)),
            "LiteRtCreateCompiledModel",
        )
        L.LiteRtDestroyOptions(opts)
        self.inputs, self.in_info = self._make_buffers(True)
        self.outputs, self.out_info = self._make_buffers(False)
        self.profiler = None
        if enable_profiling:
            p = vp()
            _chk(
                L.LiteRtCompiledModelGetProfiler(self.cm, C.byref(p)),
                "LiteRtCompiledModelGetProfiler",
            )
            if not p.value:
                raise LiteRtError("LiteRtCompiledModelGetProfiler returned NULL profiler")
            self.profiler = p

    @staticmethod
    def _add_opaque(opts, identifier, toml):
        # The payload is owned by LiteRT (freed with the destructor), so hand it a strdup'd copy.
        payload = _libc.strdup(toml.encode())
        o = vp()
        _chk(
            L.LiteRtCreateOpaqueOptions(identifier.encode(), payload, _FREE_PTR, C.byref(o)),
            f"LiteRtCreateOpaqueOptions({identifier})",
        )
        _chk(L.LiteRtAddOpaqueOptions(opts, o), "LiteRtAddOpaqueOptions")

    def _make_buffers(self, is_input):
        sig = vp()
        _chk(
            L.LiteRtGetModelSignature(self.model, self.sig_index, C.byref(sig)),
            "LiteRtGetModelSignature",
        )
        n = sz()
        if is_input:
            _chk(L.LiteRtGetNumSignatureInputs(sig, C.byref(n)), "LiteRtGetNumSignatureInputs")
            get_t = L.LiteRtGetSignatureInputTensorByIndex
            get_req = L.LiteRtGetCompiledModelInputBufferRequirements
        else:
            _chk(L.LiteRtGetNumSignatureOutputs(sig, C.byref(n)), "LiteRtGetNumSignatureOutputs")
            get_t = L.LiteRtGetSignatureOutputTensorByIndex
            get_req = L.LiteRtGetCompiledModelOutputBufferRequirements
        arr = (vp * max(n.value, 1))()
        info = []
        for i in range(n.value):
            t = vp()
            _chk(get_t(sig, i, C.byref(t)), "LiteRtGetSignatureTensorByIndex")
            # LiteRtRankedTensorType = {int element_type; LiteRtLayout{uint rank:7,has_strides:1;
            # int32 dims[8]; uint32 strides[8]}} = 72 bytes; we only patch dims.
            tt = C.create_string_buffer(128)
            _chk(L.LiteRtGetRankedTensorType(t, tt), "LiteRtGetRankedTensorType")
            elem, bits = struct.unpack_from("<iI", tt.raw, 0)
            rank = bits & 0x7F
            dims = list(struct.unpack_from(f"<{rank}i", tt.raw, 8))
            fixed = [d if d > 0 else 1 for d in dims]  # dynamic batch (-1) -> 1
            struct.pack_into(f"<{rank}i", tt, 8, *fixed)
            req = vp()
            _chk(
                get_req(self.cm, self.sig_index, i, C.byref(req)),
                "LiteRtGetCompiledModelBufferRequirements",
            )
            b = vp()
            _chk(
                L.LiteRtCreateManagedTensorBufferFromRequirements(self.env.h, tt, req, C.byref(b)),
                "LiteRtCreateManagedTensorBufferFromRequirements",
            )
            arr[i] = b.value
            nbytes = sz()
            _chk(L.LiteRtGetTensorBufferSize(b, C.byref(nbytes)), "LiteRtGetTensorBufferSize")
            info.append({"element_type": elem, "dims": fixed, "bytes": nbytes.value})
        return (arr, n.value), info

    def fill_inputs(self, seed=0):
        rng = np.random.default_rng(seed)
        arr, n = self.inputs
        for i in range(n):
            nbytes = self.in_info[i]["bytes"]
            data = rng.integers(0, 256, nbytes, dtype=np.uint8)
            if (
                self.in_info[i]["element_type"] == 1
            ):  # float32: use [0,1) floats instead of raw bytes
                data = rng.random(nbytes // 4, dtype=np.float32).view(np.uint8)
            self.write_input(i, data.tobytes())

    def write_input(self, i, raw):
        ptr = vp()
        buf = self.inputs[0][i]
        _chk(L.LiteRtLockTensorBuffer(buf, C.byref(ptr), 1), "LiteRtLockTensorBuffer")
        C.memmove(ptr, raw, min(len(raw), self.in_info[i]["bytes"]))
        _chk(L.LiteRtUnlockTensorBuffer(buf), "LiteRtUnlockTensorBuffer")

    def read_output(self, i):
        ptr = vp()
        buf = self.outputs[0][i]
        _chk(L.LiteRtLockTensorBuffer(buf, C.byref(ptr), 0), "LiteRtLockTensorBuffer")
        raw = C.string_at(ptr, self.out_info[i]["bytes"])
        _chk(L.LiteRtUnlockTensorBuffer(buf), "LiteRtUnlockTensorBuffer")
        return raw

    def run(self):
        (ia, ni), (oa, no) = self.inputs, self.outputs
        st = L.LiteRtRunCompiledModel(self.cm, self.sig_index, ni, ia, no, oa)
        if st != 0:
            raise LiteRtError(f"LiteRtRunCompiledModel failed with LiteRtStatus {st}")

    # --- profiler -----------------------------------------------------------
    def start_profiler(self):
        _chk(L.LiteRtStartProfiler(self.profiler), "LiteRtStartProfiler")

    def stop_profiler(self):
        _chk(L.LiteRtStopProfiler(self.profiler), "LiteRtStopProfiler")

    def reset_profiler(self):
        _chk(L.LiteRtResetProfiler(self.profiler), "LiteRtResetProfiler")

    def get_events(self):
        n = C.c_int()
        _chk(L.LiteRtGetNumProfilerEvents(self.profiler, C.byref(n)), "LiteRtGetNumProfilerEvents")
        if n.value == 0:
            return []
        evs = (ProfiledEventData * n.value)()
        _chk(L.LiteRtGetProfilerEvents(self.profiler, n, evs), "LiteRtGetProfilerEvents")
        return [
            {
                "tag": e.tag.decode(errors="replace") if e.tag else "",
                "type": e.event_type,
                "start_us": e.start_timestamp_us,
                "elapsed_us": e.elapsed_time_us,
                "md1": e.event_metadata1,
                "md2": e.event_metadata2,
                "source": e.event_source,
            }
            for e in evs
        ]

    def summary(self):
        s = C.c_char_p()
        _chk(
            L.LiteRtGetProfileSummary(self.profiler, self.cm, C.byref(s)), "LiteRtGetProfileSummary"
        )
        text = s.value.decode(errors="replace") if s.value else ""
        _libc.free(C.cast(s, vp))
        return text


# --- mapping XNNPACK-internal operators back to TFLite operators -------------
# XNNPACK operator base name (text before " (") -> TFLite builtins it can come from.
_ELEMENTWISE = {
    "Add": {"ADD"},
    "Subtract": {"SUB"},
    "Multiply": {"MUL"},
    "Divide": {"DIV"},
    "Maximum": {"MAXIMUM", "RELU", "RELU6"},
    "Minimum": {"MINIMUM", "RELU6"},
    "Squared Difference": {"SQUARED_DIFFERENCE"},
    "PReLU": {"PRELU"},
    "Power": {"POW"},
    "Modulus": {"FLOOR_MOD"},
    "ATan2": {"ATAN2"},
    "Abs": {"ABS"},
    "Ceiling": {"CEIL"},
    "Floor": {"FLOOR"},
    "Negate": {"NEG"},
    "Square": {"SQUARE"},
    "Square Root": {"SQRT"},
    "Reciprocal Square Root": {"RSQRT"},
    "Exp": {"EXP"},
    "Log": {"LOG"},
    "Sigmoid": {"LOGISTIC"},
    "TanH": {"TANH"},
    "HardSwish": {"HARD_SWISH"},
    "LeakyReLU": {"LEAKY_RELU"},
    "ELU": {"ELU"},
    "GELU": {"GELU"},
    "ApproxGELU": {"GELU"},
    "Sine": {"SIN"},
    "Cosine": {"COS"},
    "Sign": {"SIGN"},
    "Bankers Rounding": {"ROUND"},
    "Cube Root": set(),
    "Clamp": {"RELU", "RELU6", "RELU_N1_TO_1", "RELU_0_TO_1", "MINIMUM", "MAXIMUM"},
}
XNN_TO_TFL = {
    "Convolution": {"CONV_2D", "DEPTHWISE_CONV_2D"},
    "Deconvolution": {"TRANSPOSE_CONV"},
    "Fully Connected": {"FULLY_CONNECTED", "CONV_2D", "BATCH_MATMUL"},
    "Dynamic Fully Connected": {"FULLY_CONNECTED", "BATCH_MATMUL"},
    "Batch Matrix Multiply": {"BATCH_MATMUL", "FULLY_CONNECTED"},
    "Max Pooling": {"MAX_POOL_2D"},
    "Average Pooling": {"AVERAGE_POOL_2D", "MEAN"},
    "ArgMax Pooling": {"MAX_POOL_2D"},
    "Unpooling": set(),
    "Mean": {"MEAN", "AVERAGE_POOL_2D"},
    "Mean Squared": {"MEAN"},
    "Sum": {"SUM"},
    "Reduce Max": {"REDUCE_MAX"},
    "Reduce Min": {"REDUCE_MIN"},
    "Softmax": {"SOFTMAX"},
    "Constant Pad": {"PAD", "PADV2", "MIRROR_PAD"},
    "Static Reshape": {"RESHAPE", "SQUEEZE", "EXPAND_DIMS"},
    "Static Expand Dims": {"EXPAND_DIMS", "RESHAPE"},
    "Fuse Dims": {"RESHAPE"},
    "Split Dims": {"RESHAPE"},
    "Copy": {"RESHAPE", "SQUEEZE", "EXPAND_DIMS", "CONCATENATION", "SPLIT"},
    "Transpose": {"TRANSPOSE"},
    "Convert": {"QUANTIZE", "DEQUANTIZE"},
    "Slice": {"SLICE", "STRIDED_SLICE", "SPLIT", "SPLIT_V"},
    "Resize Bilinear": {"RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR"},
    "Depth To Space": {"DEPTH_TO_SPACE"},
    "Space To Depth": {"SPACE_TO_DEPTH"},
    **_ELEMENTWISE,
}
# XNNPACK helpers that may appear without a TFLite counterpart (e.g. reshape inserted before FC).
_XNN_HELPERS = {
    "Static Reshape",
    "Static Expand Dims",
    "Fuse Dims",
    "Split Dims",
    "Copy",
    "Convert",
    "Transpose",
    "Clamp",
}
# TFLite ops that XNNPACK may fuse away (pad into conv, relu into producer, reshapes elided).
_TFL_FUSABLE = {
    "PAD",
    "PADV2",
    "RESHAPE",
    "SQUEEZE",
    "EXPAND_DIMS",
    "RELU",
    "RELU6",
    "RELU_N1_TO_1",
    "RELU_0_TO_1",
    "QUANTIZE",
    "DEQUANTIZE",
}


def _xnn_base(tag):
    return tag.split(" (")[0].strip()


def map_events_to_ops(events, ops):
    """Order-preserving alignment (DP) of per-run op events to the TFLite operator list.

    Builtin-kernel events (type 2) carry the exact TFLite node index and are used as hard anchors.
    XNNPACK events are matched by type compatibility; unmatched XNNPACK helper ops are
    attributed to the closest preceding mapped TFLite op, unmatched TFLite ops are reported as
    fused/elided.  Returns list of (tflite_index or None, how) per event.
    """
    E, N = len(events), len(ops)
    INF = float("inf")

    def match_cost(e, j):
        if e["type"] == EV_OPERATOR:
            return 0.0 if e["md1"] == j else INF
        base = _xnn_base(e["tag"])
        cands = XNN_TO_TFL.get(base)
        if cands is None:
            return 1.5  # unknown XNNPACK op name: allow weak match
        if ops[j] in cands:
            if base == "Convolution":  # prefer DW <-> DEPTHWISE_CONV_2D
                dw = "DWConv" in e["tag"]
                return 0.0 if dw == (ops[j] == "DEPTHWISE_CONV_2D") else 0.4
            return 0.0
        return 3.0

    def skip_event_cost(e):
        if e["type"] == EV_OPERATOR:
            return INF
        return 0.3 if _xnn_base(e["tag"]) in _XNN_HELPERS else 1.0

    def skip_op_cost(j):
        return 0.3 if ops[j] in _TFL_FUSABLE else 1.0

    D = [[INF] * (N + 1) for _ in range(E + 1)]
    B = [[None] * (N + 1) for _ in range(E + 1)]
    D[0][0] = 0.0
    for i in range(E + 1):
        for j in range(N + 1):
            d = D[i][j]
            if d == INF:
                continue
            if i < E and j < N:
                c = d + match_cost(events[i], j)
                if c < D[i + 1][j + 1]:
                    D[i + 1][j + 1], B[i + 1][j + 1] = c, "M"
            if i < E:
                c = d + skip_event_cost(events[i])
                if c < D[i + 1][j]:
                    D[i + 1][j], B[i + 1][j] = c, "E"
            if j < N:
                c = d + skip_op_cost(j)
                if c < D[i][j + 1]:
                    D[i][j + 1], B[i][j + 1] = c, "O"
    if D[E][N] == INF:
        return [(None, "unmapped")] * E, list(range(N))
    i, j = E, N
    res = [None] * E
    skipped_ops = []
    while i > 0 or j > 0:
        b = B[i][j]
        if b == "M":
            res[i - 1] = (j - 1, "exact" if events[i - 1]["type"] == EV_OPERATOR else "aligned")
            i, j = i - 1, j - 1
        elif b == "E":
            res[i - 1] = (None, "helper")
            i -= 1
        else:
            skipped_ops.append(j - 1)
            j -= 1
    # Attribute unmatched helpers: Clamp (activation) to the preceding mapped op, other helpers
    # (reshape/copy/convert inserted in front of an op) to the following one; fall back to the
    # other direction at the ends of the sequence.
    mapped = [k for k in range(E) if res[k][0] is not None]
    for k in range(E):
        if res[k][0] is not None:
            continue
        prev = [m for m in mapped if m < k]
        nxt = [m for m in mapped if m > k]
        want_prev = _xnn_base(events[k]["tag"]) == "Clamp"
        if (want_prev and prev) or (prev and not nxt):
            res[k] = (res[prev[-1]][0], "helper->prev")
        elif nxt:
            res[k] = (res[nxt[0]][0], "helper->next")
    return res, sorted(skipped_ops)


# --- measurement ---------------------------------------------------------------
def time_runs(pm, n, profile=False, summarize=False):
    """Times n runs with perf_counter (only the LiteRtRunCompiledModel call is timed).

    With profile=True the profiler is started before and stopped after each run (outside the
    timed region) and that run's events are collected.  With summarize=True the events are also
    fed to LiteRT's summarizer (LiteRtGetProfileSummary is incremental; Reset rewinds its cursor).
    """
    lat, per_run_events, text = [], [], None
    for _ in range(n):
        if profile:
            pm.start_profiler()  # also clears the event buffer
        t0 = time.perf_counter()
        pm.run()
        t1 = time.perf_counter()
        lat.append((t1 - t0) * 1e3)
        if profile:
            pm.stop_profiler()
            per_run_events.append(pm.get_events())
            if summarize:
                text = pm.summary()
                pm.reset_profiler()
    if summarize:
        return lat, per_run_events, text
    return lat, per_run_events


def _stats(xs):
    return {
        "mean_ms": statistics.fmean(xs),
        "median_ms": statistics.median(xs),
        "min_ms": min(xs),
        "n": len(xs),
    }


def aggregate(per_run_events):
    """Per-position mean of operator events across runs (op sequence is identical every run)."""
    op_runs = [[e for e in evs if e["type"] in OP_EVENT_TYPES] for evs in per_run_events]
    sig0 = [(e["tag"], e["type"], e["md1"]) for e in op_runs[0]]
    consistent = all([(e["tag"], e["type"], e["md1"]) for e in r] == sig0 for r in op_runs)
    if not consistent:
        raise LiteRtError("operator event sequence differs between runs")
    ops = []
    for k, e in enumerate(op_runs[0]):
        vals = [r[k]["elapsed_us"] for r in op_runs]
        ops.append(
            {
                "pos": k,
                "tag": e["tag"],
                "type": e["type"],
                "md1": e["md1"],
                "mean_ms": statistics.fmean(vals) / 1e3,
                "max_us": max(vals),
                "zero_frac": sum(v == 0 for v in vals) / len(vals),
            }
        )
    # non-operator (DEFAULT) events, e.g. LiteRT::Run[...] phases and interpreter Invoke
    other = {}
    for evs in per_run_events:
        for e in evs:
            if e["type"] == EV_DEFAULT:
                other.setdefault(e["tag"], []).append(e["elapsed_us"] / 1e3)
    other = {k: statistics.fmean(v) for k, v in other.items()}
    return ops, other


_TYPE_NAMES = {EV_OPERATOR: "TFL", EV_DELEGATE_OP: "DLG", EV_DELEGATE_PROFILED_OP: "XNN"}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("num_threads", nargs="?", type=int, default=1)
    ap.add_argument("-n", "--runs", type=int, default=100)
    ap.add_argument("-w", "--warmup", type=int, default=10)
    ap.add_argument(
        "--kernel-mode",
        choices=["delegate", "builtin", "reference"],
        default=None,
        help="CPU kernel mode (default: LiteRT default = XNNPACK delegate). "
        "'builtin' gives exact TFLite node indices (but different kernels).",
    )
    ap.add_argument(
        "--disable-clustering",
        action="store_true",
        help="runtime option disable_delegate_clustering (non-greedy partitioning)",
    )
    ap.add_argument("--summary", action="store_true", help="also print LiteRtGetProfileSummary")
    ap.add_argument("--json", help="write results as JSON to this path")
    ap.add_argument("-v", "--verbose", action="store_true", help="show LiteRT stderr logging")
    args = ap.parse_args(argv)

    ops = [kernel.op_type for kernel in kernels_of(args.model)]  # subgraph 0, in order
    with _StderrCapture(not args.verbose):
        env = Environment()
        kw = dict(
            num_threads=args.num_threads,
            kernel_mode=args.kernel_mode,
            disable_clustering=args.disable_clustering,
        )
        base = ProfiledModel(env, args.model, enable_profiling=False, **kw)
        prof = ProfiledModel(env, args.model, enable_profiling=True, **kw)
    for pm in (base, prof):
        pm.fill_inputs(seed=0)
    base.run()
    prof.run()
    same_out = all(base.read_output(i) == prof.read_output(i) for i in range(base.outputs[1]))

    # warm-up both, then blocks: baseline / profiling-enabled-but-stopped / profiling on
    time_runs(base, args.warmup)
    time_runs(prof, args.warmup, profile=True)
    lat_base, _ = time_runs(base, args.runs)
    lat_off, _ = time_runs(prof, args.runs, profile=False)
    lat_on, per_run = time_runs(prof, args.runs, profile=True)
    lat_base2, _ = time_runs(base, args.runs)  # repeat baseline to expose drift
    summary_text = None
    if args.summary:  # separate pass so the summarizer work does not perturb the timings above
        _, _, summary_text = time_runs(prof, args.runs, profile=True, summarize=True)

    op_events, other = aggregate(per_run)
    mapping, fused_ops = map_events_to_ops(op_events, ops)
    op_sum = sum(e["mean_ms"] for e in op_events)
    invoke = other.get("Invoke")
    s_base, s_base2, s_off, s_on = map(_stats, (lat_base, lat_base2, lat_off, lat_on))

    print(
        f"model: {args.model}  threads={args.num_threads}  runs={args.runs}  "
        f"kernel_mode={args.kernel_mode or 'default(XNNPACK)'}"
    )
    print(
        f"TFLite subgraph 0: {len(ops)} operators; profiled op events/run: "
        f"{len(op_events)}; outputs identical base vs profiled: {same_out}"
    )
    print(
        f"{'#':>3} {'src':3} {'idx':>4} {'event tag':42} {'mean ms':>9} {'%sum':>6}  "
        f"tflite op (how)"
    )
    for e, (ti, how) in zip(op_events, mapping, strict=False):
        tfl = f"{ti}:{ops[ti]} ({how})" if ti is not None else f"- ({how})"
        print(
            f"{e['pos']:>3} {_TYPE_NAMES.get(e['type'], e['type']):3} {e['md1']:>4} "
            f"{e['tag'][:42]:42} {e['mean_ms']:9.4f} "
            f"{100 * e['mean_ms'] / op_sum if op_sum else 0:6.2f}  {tfl}"
        )
    if fused_ops:
        print(
            "TFLite ops with no own event (fused/elided by XNNPACK): "
            + ", ".join(f"{j}:{ops[j]}" for j in fused_ops)
        )
    # per TFLite op totals
    per_tfl = {}
    for e, (ti, _) in zip(op_events, mapping, strict=False):
        per_tfl[ti] = per_tfl.get(ti, 0.0) + e["mean_ms"]
    print(f"\nsum of per-op means            : {op_sum:.4f} ms")
    if invoke is not None:
        print(
            f"interpreter 'Invoke' event mean : {invoke:.4f} ms  "
            f"(op sum = {100 * op_sum / invoke:.1f}%)"
        )
    for k, v in other.items():
        if k != "Invoke":
            print(f"  event '{k}' mean: {v:.4f} ms")
    print("perf_counter per run (mean / median / min ms):")
    for label, s in (
        ("no profiler (model compiled w/o profiling)", s_base),
        ("  same, repeated after profiling runs", s_base2),
        ("profiling compiled in, profiler stopped", s_off),
        ("profiler started (events recorded)", s_on),
    ):
        print(f"  {label:44} {s['mean_ms']:.4f} / {s['median_ms']:.4f} / {s['min_ms']:.4f}")
    bmed = statistics.median(lat_base + lat_base2)
    print(
        f"op sum / no-profiler median latency: {100 * op_sum / bmed:.1f}%   "
        f"profiler overhead (median on vs off-model): {100 * (s_on['median_ms'] / bmed - 1):+.1f}%"
    )
    if summary_text:
        print("\n" + summary_text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "model": args.model,
                    "num_threads": args.num_threads,
                    "tflite_ops": ops,
                    "op_events": [
                        dict(e, tflite_index=m[0], mapping=m[1])
                        for e, m in zip(op_events, mapping, strict=True)
                    ],
                    "fused_tflite_ops": fused_ops,
                    "per_tflite_op_ms": {str(k): v for k, v in per_tfl.items()},
                    "other_events_ms": other,
                    "op_sum_ms": op_sum,
                    "latency": {
                        "no_profiler": s_base,
                        "no_profiler_repeat": s_base2,
                        "profiling_compiled_stopped": s_off,
                        "profiler_on": s_on,
                    },
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
