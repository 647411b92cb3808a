"""Does Compresso's latency agree with an independent timing of the same file?

For the LeNet baseline on digits and its int8 export, prints the project's
measured mean latency (local driver: child process, warm-up, Student-t stop
rule) beside an independent timing of the same .tflite in a fresh Python
process (plain ``time.perf_counter`` loop, fixed run count, median), their
ratio, and how many runs the stop rule needed.

    python benchmarks/measure_fidelity.py [--threads 1] [--runs 2000]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

INDEPENDENT = r"""
import json, sys, time
import numpy as np
from ai_edge_litert.interpreter import Interpreter
path, threads, runs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
interp = Interpreter(model_path=path, num_threads=threads)
interp.allocate_tensors()
inp = interp.get_input_details()[0]
out = interp.get_output_details()[0]["index"]
x = np.zeros(inp["shape"], dtype=inp["dtype"])
for _ in range(50):
    interp.set_tensor(inp["index"], x); interp.invoke(); interp.get_tensor(out)
times = []
for _ in range(runs):
    # Input to output, as seed 001 defines inference time: set, invoke, read.
    t0 = time.perf_counter()
    interp.set_tensor(inp["index"], x); interp.invoke(); interp.get_tensor(out)
    times.append((time.perf_counter() - t0) * 1000)
print(json.dumps({"median_ms": float(np.median(times)), "mean_ms": float(np.mean(times))}))
"""


def independent_timing(path: Path, threads: int, runs: int) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", INDEPENDENT, str(path), str(threads), str(runs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", type=int, default=2000, help="Independent timing runs.")
    parser.add_argument(
        "--resize", type=int, default=28, help="Digits side: 28 makes LeNet slow enough to time."
    )
    args = parser.parse_args()

    from compression.baseline import train_baseline
    from compression.data import load_digits
    from compression.export import to_tflite
    from device_runner.drivers.local import LocalDriver
    from measurements.protocol import ProtocolConfig

    data = load_digits(seed=0, resize_to=args.resize)
    model = train_baseline("lenet", data, epochs=20, seed=0)
    protocol = ProtocolConfig(warmup_runs=50, min_runs=30, max_runs=100000, max_seconds=10.0)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for label, mode in (("baseline float32", "float32"), ("Q-int8", "int8")):
            path = Path(tmp) / f"{mode}.tflite"
            path.write_bytes(to_tflite(model, mode, data.representative_sample(200)))
            driver = LocalDriver({"op_breakdown": False})
            measured = driver.measure(driver.prepare(path), args.threads, protocol)["latency"]
            other = independent_timing(path, args.threads, args.runs)
            rows.append((label, measured, other))
    print(
        f"{'artifact':<18}{'compresso mean':>16}{'±CI95':>10}{'runs':>8}{'stop':>9}"
        f"{'indep. median':>15}{'indep. mean':>13}{'ratio':>8}"
    )
    for label, m, o in rows:
        print(
            f"{label:<18}{m['mean_ms']:>13.4f} ms{(m['ci_half_width_ms'] or 0):>10.4f}"
            f"{m['runs']:>8}{m['stop_reason']:>9}{o['median_ms']:>12.4f} ms"
            f"{o['mean_ms']:>10.4f} ms{m['mean_ms'] / o['mean_ms']:>8.2f}"
        )
    print(
        "measured: both columns are wall-clock timings on this host's CPU (LiteRT, "
        f"{args.threads} thread(s)); ratio = compresso mean / independent mean."
    )


if __name__ == "__main__":
    main()
