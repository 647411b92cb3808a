"""The board agent repeats the host protocol exactly, on Python 3.6 syntax, without SciPy."""

from __future__ import annotations

import ast
import itertools
import json
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from scipy import stats

from device_runner.agent import measure as agent
from device_runner.agent import rails, timing
from measurements.power.integrate import summarise_energy
from measurements.protocol import ProtocolConfig, StopRule, run_protocol
from measurements.stats import LatencyStats

AGENT = Path(agent.__file__)
AGENT_FILES = [AGENT, Path(rails.__file__), Path(timing.__file__)]


@pytest.mark.parametrize("path", AGENT_FILES, ids=lambda p: p.name)
def test_it_parses_as_python_3_6_without_newer_features(path: Path) -> None:
    source = path.read_text()
    ast.parse(source, feature_version=(3, 6))  # no walrus, no positional-only parameters
    imports = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module)])
    }
    siblings = {"device_runner", "rails", "timing"}  # the agent's own files
    assert imports <= set(sys.stdlib_module_names) | {"numpy"} | siblings, imports
    assert not imports & {"dataclasses", "__future__"}  # 3.7+ only
    assert "removeprefix" not in source and "=}" not in source  # 3.9+ and 3.8+ only


@pytest.mark.parametrize("level", [0.8, 0.9, 0.95, 0.99, 0.999])
def test_it_matches_scipy_t_quantiles(level: float) -> None:
    for dof in [*range(1, 40), 50, 99, 250, 1000, 10_000]:
        expected = stats.t.ppf((1 + level) / 2, dof)
        assert timing.t_quantile(level, dof) == pytest.approx(expected, rel=1e-8), dof


def test_it_stops_when_the_host_stop_rule_stops() -> None:
    config = ProtocolConfig(min_runs=5, max_runs=200, max_seconds=3.0, target_rel_ci=0.03)
    rng = random.Random(7)
    for spread in (0.01, 0.1, 0.5):
        host, board = StopRule(config), timing.StopRule(config.get_config())
        for n in range(1, 201):
            sample, elapsed = 10 * (1 + spread * rng.gauss(0, 1)), n * 0.02
            decision = host.add(sample, elapsed)
            assert board.add(sample, elapsed) == decision
            if decision[0]:
                break


def test_it_summarises_latency_like_latency_stats() -> None:
    rng = random.Random(3)
    for n, reason in ((1, "time_cap"), (2, "max_runs"), (17, "ci_met"), (400, "ci_met")):
        samples = [rng.lognormvariate(1.0, 0.3) for _ in range(n)]
        expected = LatencyStats.from_samples(samples, reason, 0.95).to_dict()
        got = timing.latency_stats(samples, reason, 0.95)
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            numeric = isinstance(value, float) and not isinstance(value, bool)
            assert got[key] == (pytest.approx(value, rel=1e-9) if numeric else value), key


def test_it_times_with_the_same_protocol_as_the_host() -> None:
    config = ProtocolConfig(warmup_runs=2, min_runs=5, max_runs=50, max_seconds=10)
    durations = itertools.cycle([0.010, 0.011, 0.0105, 0.0098, 0.0102])

    def fake_clock():
        state = {"t": 0.0}

        def clock() -> float:
            return state["t"]

        def infer() -> None:
            state["t"] += next(durations)

        return clock, infer

    clock, infer = fake_clock()
    host = run_protocol(infer, config, clock=clock)
    durations = itertools.cycle([0.010, 0.011, 0.0105, 0.0098, 0.0102])
    clock, infer = fake_clock()
    board = timing.run_protocol(infer, config.get_config(), clock=clock)
    assert board["first_inference_ms"] == pytest.approx(host["first_inference_ms"])
    assert board["latency"] == pytest.approx(host["latency"])
    assert board["latency"]["stop_reason"] == "ci_met"


def test_it_integrates_energy_like_the_host() -> None:
    samples = [(0.0, 2.0), (0.5, 2.2), (1.0, 2.0), (1.2, 5.0), (1.7, 6.0), (2.1, 5.5), (2.6, 2.1)]
    for idle in ((0.1, 0.9), None):
        expected = summarise_energy(samples, idle, (1.1, 2.4), 40)
        assert timing.summarise_energy(samples, idle, (1.1, 2.4), 40) == pytest.approx(expected)


def _fake_tegrastats(tmp_path: Path, line: str) -> str:
    script = tmp_path / "tegrastats"
    script.write_text(f"#!/bin/sh\nwhile true; do echo '{line}'; sleep 0.01; done\n")
    script.chmod(0o755)
    return str(script)


def test_it_samples_tegrastats_output(tmp_path: Path) -> None:
    from tests.device_runner.test_jetson_power import ORIN_JP5

    command = _fake_tegrastats(tmp_path, ORIN_JP5)
    sampler = rails.make_sampler(
        {"sensor": "tegrastats", "tegrastats": command, "rail": ["VDD_GPU_SOC", "VDD_CPU_CV"]},
        1000.0,
    )
    assert sampler.period == rails.TEGRASTATS_MIN_INTERVAL_MS / 1000.0  # capped at 100 Hz
    sampler.start()
    time.sleep(0.3)
    samples = sampler.stop()
    assert len(samples) >= 5
    assert all(w == pytest.approx((2400 + 800) / 1000.0) for _, w in samples)  # instant mW
    assert sampler.proc.poll() is not None  # tegrastats was stopped


def test_it_records_a_jetson_clocks_failure() -> None:
    assert agent.apply_jetson_clocks(False) == "not requested"
    state = agent.apply_jetson_clocks(True, command="/nonexistent/jetson_clocks")
    assert state.startswith("failed")


def test_it_reads_an_arm_cpuinfo() -> None:
    cpuinfo = "processor\t: 0\nCPU implementer\t: 0x41\nCPU part\t: 0xd07\n\nprocessor\t: 1\n"
    assert agent.cpu_model(cpuinfo) == "0x41:0xd07"
    assert agent.cpu_model("model name\t: Cortex-A57\nModel\t: NVIDIA Jetson") == "Cortex-A57"


def _run_agent(python: str, args: dict, *flags: str) -> tuple[int, dict]:
    proc = subprocess.run(
        [python, str(AGENT), *flags],
        input=json.dumps(args),
        capture_output=True,
        text=True,
        timeout=60,
    )
    return proc.returncode, json.loads(proc.stdout)


def test_it_says_when_no_runtime_is_installed(tmp_path: Path) -> None:
    # Debian's own Python has neither tflite_runtime nor ai_edge_litert.
    code, document = _run_agent("/usr/bin/python3", {"model_path": str(tmp_path / "m.tflite")})
    assert code == 3
    assert document["error_kind"] == "runtime_missing"
    assert "install tflite_runtime or ai-edge-litert" in document["error"]


def test_it_probes_runtime_and_sensor(tmp_path: Path) -> None:
    from tests.device_runner.test_jetson_power import write_hwmon

    write_hwmon(tmp_path, {"VDD_IN": (5000, 1000), "VDD_SOC": (5000, 200)})
    args = {"sensor": "hwmon", "power_root": str(tmp_path), "rail": ["VDD_IN", "VDD_SOC"]}
    code, probe = _run_agent(sys.executable, args, "--probe")
    assert code == 0
    assert probe["runtime"] == "ai_edge_litert" and probe["runtime_error"] is None
    assert probe["sensor"] == "hwmon" and probe["rails"] == ["VDD_IN", "VDD_SOC"]
    assert probe["watts"] == pytest.approx(5.0 + 1.0)
    code, probe = _run_agent(sys.executable, {**args, "sensor": "ina3221"}, "--probe")
    assert probe["sensor"] is None and "no INA3221 rails" in probe["sensor_error"]
