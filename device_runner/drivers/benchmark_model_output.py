"""Parse the text that TFLite/LiteRT ``benchmark_model`` prints. Pure functions.

The tool logs through ``TFLITE_LOG``, so depending on the build every line is
bare or prefixed ``INFO: `` (``VERBOSE: ``, ``WARNING: ``, ``ERROR: ``), and
may be indented when copied from a document. Figures read here, all as the
tool prints them (microseconds, megabytes, milliseconds in the op tables):

* ``count=50 first=… curr=… min=… max=… avg=2.95034e+06 std=109798`` (numbers
  printed with ``std::ostream``'s default format, hence the scientific
  notation above a million), ``p5= median= p95=`` appended on newer builds;
  the first such line is the warm-up, the last the timed runs;
* ``Inference timings in us: Init: …, First inference: …, Warmup (avg): …,
  Inference (avg): …``;
* ``Memory footprint delta from the start of the tool (MB): init=… overall=…``
  or, on older builds, ``Peak memory footprint (MB): init=… overall=…``;
* ``Replacing N out of M node(s) with delegate (NAME) node`` (or ``Replacing
  N node(s) …`` on some builds);
* ``--enable_op_profiling`` tables (``Run Order``, ``Top by Computation
  Time``, ``Summary by node type``), with or without the ``[start]`` column
  (``tensorflow/lite/profiling/profile_summarizer.cc``; the column was dropped
  in later releases), tab-separated because node types hold spaces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_PREFIX = re.compile(r"^\s*(?:(?:INFO|VERBOSE|WARNING|ERROR|DEBUG):\s*)?")
_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|-?inf)"
_STATS = re.compile(r"^count=\d+")
_PAIR = re.compile(r"(\w+)=" + _NUMBER)
_TIMINGS = re.compile(
    rf"Inference timings in us: Init: {_NUMBER}, First inference: {_NUMBER}, "
    rf"Warmup \(avg\): {_NUMBER}, Inference \(avg\): {_NUMBER}"
)
_MEMORY = re.compile(
    r"(Memory footprint delta from the start of the tool|Peak memory footprint) \(MB\): "
    rf"init={_NUMBER} overall={_NUMBER}"
)
_DELEGATE = re.compile(
    r"Replacing (\d+)(?: out of (\d+))? node\(s\) with delegate(?: \(([^)]*)\))?"
)
_SECTION = re.compile(r"^(?:Operator-wise )?Profiling Info for (.+?):\s*$")
_TABLE = re.compile(r"^=+ (Run Order|Top by Computation Time|Summary by node type) =+$")
_NODES = re.compile(r"^Number of nodes executed: (\d+)")
_ERROR = re.compile(r"^\s*ERROR:\s*(.+)$")
MEMORY_LINE_KINDS = {
    "Memory footprint delta from the start of the tool": "delta",
    "Peak memory footprint": "peak",
}


@dataclass(frozen=True)
class RunStats:
    """One ``count=… avg=…`` line, microseconds; fields the build omits are None."""

    count: int
    first_us: float | None
    curr_us: float | None
    min_us: float | None
    max_us: float | None
    avg_us: float | None
    std_us: float | None
    p5_us: float | None
    median_us: float | None
    p95_us: float | None


@dataclass(frozen=True)
class OpRow:
    """A row of ``Run Order`` or ``Top by Computation Time`` (ms, percent)."""

    node_type: str
    start_ms: float | None
    first_ms: float
    avg_ms: float
    percent: float
    cdf_percent: float
    mem_kb: float
    times_called: int
    name: str


@dataclass(frozen=True)
class NodeTypeRow:
    """A row of ``Summary by node type`` (ms, percent)."""

    node_type: str
    count: int
    avg_ms: float
    avg_percent: float
    cdf_percent: float
    mem_kb: float
    times_called: int


@dataclass
class ProfileSection:
    """The op-profiling tables under one ``Profiling Info for …:`` heading."""

    title: str | None
    run_order: list[OpRow] = field(default_factory=list)
    top_by_time: list[OpRow] = field(default_factory=list)
    by_node_type: list[NodeTypeRow] = field(default_factory=list)
    nodes_executed: int | None = None


@dataclass(frozen=True)
class Delegation:
    """``Replacing N out of M node(s) with delegate (NAME)``; M and NAME may be missing."""

    replaced: int
    total: int | None
    delegate: str | None


@dataclass
class BenchmarkOutput:
    """Everything read from one ``benchmark_model`` run."""

    warmup: RunStats | None = None
    runs: RunStats | None = None
    init_us: float | None = None
    first_inference_us: float | None = None
    warmup_avg_us: float | None = None
    inference_avg_us: float | None = None
    memory_init_mb: float | None = None
    memory_overall_mb: float | None = None
    memory_kind: str | None = None
    delegations: list[Delegation] = field(default_factory=list)
    profiles: list[ProfileSection] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def regular_profile(self) -> ProfileSection | None:
        """The op tables of the timed runs (not of initialisation), if printed."""
        for section in reversed(self.profiles):
            if section.title is None or "Regular" in section.title:
                return section
        return None


def strip_prefix(line: str) -> str:
    """A line without indentation, its ``INFO: `` style prefix and trailing space."""
    return _PREFIX.sub("", line, count=1).rstrip()


def parse_stats(line: str) -> RunStats:
    """A ``count=… first=… … std=… [p5=… median=… p95=…]`` line (prefix already removed)."""
    values = {key: float(value) for key, value in _PAIR.findall(line)}
    return RunStats(
        count=int(values["count"]),
        first_us=values.get("first"),
        curr_us=values.get("curr"),
        min_us=values.get("min"),
        max_us=values.get("max"),
        avg_us=values.get("avg"),
        std_us=values.get("std"),
        p5_us=values.get("p5"),
        median_us=values.get("median"),
        p95_us=values.get("p95"),
    )


def _percent(text: str) -> float:
    return float(text.rstrip("%"))


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.split("\t") if cell.strip()]


def parse_op_row(columns: list[str], cells: list[str]) -> OpRow:
    """One ``Run Order`` / ``Top by Computation Time`` row under its header's columns."""
    row = dict(zip(columns, cells, strict=True))
    return OpRow(
        node_type=row["node type"],
        start_ms=float(row["start"]) if "start" in row else None,
        first_ms=float(row["first"]),
        avg_ms=float(row["avg ms"]),
        percent=_percent(row["%"]),
        cdf_percent=_percent(row["cdf%"]),
        mem_kb=float(row["mem KB"]),
        times_called=int(row["times called"]),
        name=row["Name"],
    )


def parse_node_type_row(columns: list[str], cells: list[str]) -> NodeTypeRow:
    """One ``Summary by node type`` row under its header's columns."""
    row = dict(zip(columns, cells, strict=True))
    return NodeTypeRow(
        node_type=row["Node type"],
        count=int(row["count"]),
        avg_ms=float(row["avg ms"]),
        avg_percent=_percent(row["avg %"]),
        cdf_percent=_percent(row["cdf %"]),
        mem_kb=float(row["mem KB"]),
        times_called=int(row["times called"]),
    )


def _read_table(lines: list[str], start: int, kind: str, section: ProfileSection) -> int:
    """Rows of the table whose banner is at ``start``; returns the next line index."""
    columns = re.findall(r"\[([^\]]+)\]", lines[start + 1]) if start + 1 < len(lines) else []
    index = start + 2
    while index < len(lines):
        cells = _cells(strip_prefix(lines[index]))
        if len(cells) != len(columns) or not columns:
            break
        if kind == "Summary by node type":
            section.by_node_type.append(parse_node_type_row(columns, cells))
        else:
            target = section.run_order if kind == "Run Order" else section.top_by_time
            target.append(parse_op_row(columns, cells))
        index += 1
    return index


def _read_line(line: str, out: BenchmarkOutput, stats: list[RunStats]) -> None:
    if _STATS.match(line):
        stats.append(parse_stats(line))
    elif match := _TIMINGS.search(line):
        values = [float(group) for group in match.groups()]
        out.init_us, out.first_inference_us, out.warmup_avg_us, out.inference_avg_us = values
    elif match := _MEMORY.search(line):
        out.memory_kind = MEMORY_LINE_KINDS[match.group(1)]
        out.memory_init_mb, out.memory_overall_mb = float(match.group(2)), float(match.group(3))
    elif match := _DELEGATE.search(line):
        total = int(match.group(2)) if match.group(2) else None
        out.delegations.append(Delegation(int(match.group(1)), total, match.group(3)))


def parse_output(text: str) -> BenchmarkOutput:
    """Read a whole ``benchmark_model`` transcript (stdout and stderr together).

    Returns:
        The figures found; missing ones stay None, so callers decide what a
        run without, say, a timings line means.
    """
    out, stats = BenchmarkOutput(), []
    raw_lines = text.splitlines()
    lines = [strip_prefix(line) for line in raw_lines]
    section: ProfileSection | None = None
    index = 0
    while index < len(lines):
        line = lines[index]
        if match := _ERROR.match(raw_lines[index]):
            out.errors.append(match.group(1).strip())
        if match := _SECTION.match(line):
            section = ProfileSection(title=match.group(1))
            out.profiles.append(section)
        elif match := _TABLE.match(line):
            if section is None:  # tables pasted without their heading
                section = ProfileSection(title=None)
                out.profiles.append(section)
            index = _read_table(lines, index, match.group(1), section)
            continue
        elif match := _NODES.match(line):
            if section is not None:
                section.nodes_executed = int(match.group(1))
        else:
            _read_line(line, out, stats)
        index += 1
    if stats:
        out.runs = stats[-1]
        out.warmup = stats[0] if len(stats) > 1 else None
    return out
