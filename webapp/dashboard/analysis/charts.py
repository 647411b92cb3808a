"""Plotly charts as plain dicts (``{"data": [...], "layout": {...}}``), ready for json_script.

Plain dicts rather than ``plotly.graph_objects``: a lab's explorer draws
thousands of points and the validators of graph_objects cost more than the
query. Every axis title carries its unit; energy says how many figures were
measured and how many estimated. analysis.js draws them with the plotly.js
served from static/ (no CDN).
"""

from __future__ import annotations

import json
import math
from collections import Counter
from typing import Any

from measurements.pareto import Metric
from webapp.dashboard.analysis import units
from webapp.dashboard.analysis.detail import Detail
from webapp.dashboard.analysis.pareto_page import Explorer, Point
from webapp.dashboard.analysis.queries import energy_kind, energy_label, figures_source
from webapp.dashboard.analysis.sweeps import Series, Sweeps
from webapp.dashboard.analysis.units import Scale

Figure = dict[str, Any]
CATEGORY_COLOURS = {
    "baseline": "#1d2330",
    "weight factorization": "#2f6fde",
    "pruning": "#1f8a4c",
    "quantization": "#c0392b",
    "clustering": "#8e44ad",
    "convolution decomposition": "#e67e22",
    "layer architecture": "#16a085",
    "distillation": "#b7950b",
    "combination": "#7f8c8d",
}
OTHER_COLOUR = "#95a5a6"
FRONT_COLOUR = "#1d2330"
DASHES = ("solid", "dash", "dot", "dashdot", "longdash")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "cross", "x", "triangle-down", "star")
MIN_HEIGHT = 360  # px, the .plot box's min-height in analysis.css
WEBGL_ABOVE = 1500  # points; SVG scatter slows down past a few thousand
BUDGET_FILL = "rgba(192, 57, 43, 0.08)"
HOVER = (
    "<b>%{customdata[1]}</b><br>%{customdata[2]} on %{customdata[3]}, %{customdata[4]} thr"
    "<br>latency %{customdata[5]} · accuracy %{customdata[6]} · F1 %{customdata[7]}"
    "<br>energy %{customdata[8]}<br>file %{customdata[9]} · gzip %{customdata[10]}"
    " · %{customdata[11]}<br>figures %{customdata[12]}<extra>result %{customdata[0]}</extra>"
)


# What django.utils.html.json_script escapes, so the JSON cannot close its <script> element.
_SCRIPT_ESCAPES = (("&", "\\u0026"), ("<", "\\u003C"), (">", "\\u003E"))


def script_json(figure: Figure) -> str:
    """``figure`` as JSON safe inside <script type="application/json">, as json_script makes it.

    json_script's ``str.translate`` takes a third of a second on the explorer's 1.6 MB
    figure at 6,000 points; three ``str.replace`` calls take milliseconds.
    """
    text = json.dumps(figure, separators=(",", ":"), allow_nan=False)
    for char, escape in _SCRIPT_ESCAPES:
        text = text.replace(char, escape)
    return text


def layout(x_title: str, y_title: str, **extra: Any) -> dict[str, Any]:
    """The house layout: white, light grid, legend on the right, titled axes."""
    axis = {"gridcolor": "#e3e6ec", "zeroline": False, "automargin": True}
    return {
        "xaxis": {**axis, "title": {"text": x_title}},
        "yaxis": {**axis, "title": {"text": y_title}},
        "paper_bgcolor": "#fff",
        "plot_bgcolor": "#fff",
        "font": {"family": "system-ui, sans-serif", "size": 13, "color": "#1d2330"},
        "margin": {"l": 60, "r": 20, "t": 20, "b": 50},
        "hovermode": "closest",
        "legend": {"bgcolor": "rgba(255,255,255,0.8)"},
        **extra,
    }


def metric_scale(metric: Metric, values: list[Any]) -> Scale:
    """The display unit of a metric, from its values (kB/MB, M MACs, %)."""
    if metric.unit == "bytes":
        return units.byte_scale(values)
    if metric.unit == "MACs":
        return units.mac_scale(values)
    if metric.goal == "max":
        return units.PERCENT
    return Scale(1, metric.unit)


def axis_title(metric: Metric, scale: Scale, points: list[Point]) -> str:
    """e.g. "Energy per inference (mJ; 3 measured, 9 estimated, 2 imported)"."""
    if metric.name != "energy":
        return f"{metric.label} ({scale.unit})"
    kinds = Counter(energy_kind(p.row) for p in points)
    counts = ", ".join(f"{kinds[k]} {k}" for k in ("measured", "estimated", "imported") if kinds[k])
    return f"{metric.label} ({scale.unit}; {counts or 'none'})"


def pareto(page: Explorer) -> Figure:
    """Points coloured by technique category and shaped by device, fronts, budget regions."""
    xs = metric_scale(page.x, [p.row[page.x.field] for p in page.points])
    ys = metric_scale(page.y, [])
    devices = sorted({p.device for p in page.points})
    symbol = {d: SYMBOLS[i % len(SYMBOLS)] for i, d in enumerate(devices)}
    kind = "scattergl" if len(page.points) > WEBGL_ABOVE else "scatter"
    sizes = _marker_sizes(page)
    file_scale = units.byte_scale(p.row["artifact__file_size"] for p in page.points)
    data: list[dict[str, Any]] = []
    groups: dict[str, list[Point]] = {}
    for p in page.points:
        groups.setdefault(p.plan.group, []).append(p)
    for group, members in sorted(groups.items()):
        data.append(
            {
                "type": kind,
                "mode": "markers",
                "name": group,
                "legendgroup": "categories",
                "legendgrouptitle": {"text": "Technique category"},
                # Plotted points have both figures (explore() leaves the others out).
                "x": [p.row[page.x.field] / xs.divisor for p in members],
                "y": [p.row[page.y.field] / ys.divisor for p in members],
                "customdata": _hovers(members, file_scale),
                "hovertemplate": HOVER,
                "marker": {
                    "color": CATEGORY_COLOURS.get(group, OTHER_COLOUR),
                    "symbol": [symbol[p.device] for p in members],
                    "size": [sizes.get(p.pk, 9) for p in members],
                    "opacity": [0.9 if p.feasible else 0.25 for p in members],
                    "line": {"width": 0.5, "color": "#fff"},
                },
            }
        )
    data += [
        _front_trace(page, d, symbol[d], DASHES[i % len(DASHES)], xs, ys)
        for i, d in enumerate(sorted(page.fronts))
    ]
    data += [_device_key(device, symbol[device]) for device in devices]
    shapes, notes = _budget_shapes(page, xs, ys)
    title = axis_title(page.x, xs, page.points)
    return {
        "data": data,
        "layout": layout(
            title, axis_title(page.y, ys, page.points), shapes=shapes, annotations=notes
        ),
    }


def _hovers(points: list[Point], sizes: Scale) -> list[list[Any]]:
    """Hover fields of each point (customdata), formatted once here: thousands of points."""
    how: dict[tuple, str] = {}  # energy_label per (measured, method, source), computed once
    sources: dict[tuple, str] = {}  # figures_source per (source, label), likewise
    brief, missing = units.brief, units.MISSING
    out = []
    for p in points:
        row = p.row
        latency, energy = row["latency_mean_ms"], row["energy_mj"]
        accuracy, f1 = row["accuracy"], row["f1"]
        file, gzip, macs = (
            row["artifact__file_size"],
            row["artifact__gzip_size"],
            row["artifact__macs"],
        )
        origin = (row["source"], row["source_label"])
        if energy is not None:
            key = (row["energy_measured"], row["energy_method"], row["source"], row["source_label"])
            label = how.get(key) or how.setdefault(key, energy_label(row))
            energy = f"{brief(energy)} mJ, {label}"
        out.append(
            [
                p.pk,
                p.plan.canonical,
                p.model,
                p.device,
                row["num_threads"],
                missing if latency is None else f"{brief(latency)} ms",
                missing if accuracy is None else f"{accuracy * 100:.1f} %",
                missing if f1 is None else f"{f1 * 100:.1f} %",
                energy or "not available",
                missing if file is None else f"{brief(file / sizes.divisor)} {sizes.unit}",
                missing if gzip is None else f"{brief(gzip / sizes.divisor)} {sizes.unit}",
                missing if macs is None else f"{macs:,} MACs",
                sources.get(origin) or sources.setdefault(origin, figures_source(row)),
            ]
        )
    return out


def _marker_sizes(page: Explorer) -> dict[int, float]:
    # Marker area grows with the third metric: diameter 6 to 24 px by sqrt(value / max).
    if page.size is None:
        return {}
    values = {p.pk: p.row[page.size.field] for p in page.points}
    top = max((v for v in values.values() if units.finite(v)), default=0)
    if not top or top <= 0:
        return {}
    return {
        pk: 6 + 18 * math.sqrt(max(v, 0) / top) if units.finite(v) else 6
        for pk, v in values.items()
    }


def _front_trace(page: Explorer, device: str, symbol: str, dash: str, xs: Scale, ys: Scale) -> dict:
    front = page.fronts[device]
    return {
        "type": "scatter",
        "mode": "lines+markers",
        "name": f"front: {device}",
        "legendgroup": "fronts",
        "legendgrouptitle": {"text": "Pareto front"},
        # The attainment staircase: between two front points the best reachable y is the left one's.
        "line": {"shape": "hv", "width": 2, "color": FRONT_COLOUR, "dash": dash},
        # Front points ringed with their device's shape, so a one-point front still shows.
        "marker": {
            "symbol": f"{symbol}-open",
            "size": 17,
            "color": FRONT_COLOUR,
            "line": {"width": 2},
        },
        "x": [xs.of(p.row[page.x.field]) for p in front],
        "y": [ys.of(p.row[page.y.field]) for p in front],
        "hoverinfo": "skip",
    }


def _device_key(device: str, symbol: str) -> dict[str, Any]:
    # A legend entry per device showing its marker shape (no data of its own).
    return {
        "type": "scatter",
        "mode": "markers",
        "name": device,
        "legendgroup": "devices",
        "legendgrouptitle": {"text": "Device (shape)"},
        "x": [None],
        "y": [None],
        "marker": {"symbol": symbol, "color": "#6b7385", "size": 9},
        "hoverinfo": "skip",
    }


def _budget_shapes(page: Explorer, xs: Scale, ys: Scale) -> tuple[list[dict], list[dict]]:
    """Shade the infeasible side of each budget that lies on a plotted axis."""
    shapes, notes = [], []
    limits = page.limits
    if not limits:
        return shapes, notes
    x_values = [p.row[page.x.field] / xs.divisor for p in page.points]
    y_values = [p.row[page.y.field] / ys.divisor for p in page.points]
    for name, _, bound, label in limits:
        if name == page.x.name:
            edge = xs.of(bound)
            far = max([edge, *x_values]) * 1.05 + 1e-9
            shapes.append(_rect("x", edge, far))
            notes.append(_note(edge, 1, "x", "paper", f"infeasible: {label.replace('≤', 'over')}"))
        elif name == page.y.name:
            edge = ys.of(bound)
            low = min([edge, *y_values]) - 1
            shapes.append(_rect("y", low, edge))
            notes.append(_note(0, edge, "paper", "y", f"infeasible: below {label.split('≥ ')[1]}"))
    return shapes, notes


def _rect(axis: str, start: float, end: float) -> dict[str, Any]:
    other = "y" if axis == "x" else "x"
    return {
        "type": "rect",
        "layer": "below",
        f"{axis}ref": axis,
        f"{other}ref": "paper",
        f"{axis}0": start,
        f"{axis}1": end,
        f"{other}0": 0,
        f"{other}1": 1,
        "fillcolor": BUDGET_FILL,
        "line": {"width": 1, "color": "rgba(192, 57, 43, 0.5)", "dash": "dash"},
    }


def _note(x: float, y: float, xref: str, yref: str, text: str) -> dict[str, Any]:
    return {
        "x": x,
        "y": y,
        "xref": xref,
        "yref": yref,
        "text": text,
        "showarrow": False,
        "xanchor": "left",
        "yanchor": "top" if yref == "paper" else "bottom",
        "font": {"color": "#c0392b", "size": 12},
    }


def sweeps(page: Sweeps) -> dict[str, Any]:
    """Seed 003 figs 3-4 (accuracy, size vs sparsity) and 5-6 (latency vs threads, per model)."""
    out: dict[str, Any] = {"accuracy_figure": None, "size_figure": None, "thread_figures": []}
    if page.sparsity:
        out["accuracy_figure"] = _accuracy_vs_sparsity(page.sparsity)
        out["size_figure"] = _size_vs_sparsity(page.sparsity)
    for i, model in enumerate(sorted({line.model for line in page.threads}), start=1):
        lines = [line for line in page.threads if line.model == model]
        out["thread_figures"].append((model, f"threads-{i}", _latency_vs_threads(lines)))
    return out


SPARSITY_TITLE = "W3 target sparsity s (% of weights zeroed)"


def _accuracy_vs_sparsity(series: list[Series]) -> Figure:
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": line.name,
            "x": [p.s * 100 for p in line.points],
            "y": [units.PERCENT.of(p.accuracy) for p in line.points],
            "text": [p.plan for p in line.points],
            "hovertemplate": "%{text}<br>s = %{x:.0f} %<br>accuracy %{y:.2f} %<extra></extra>",
        }
        for line in series
    ]
    return {"data": data, "layout": layout(SPARSITY_TITLE, "Accuracy on the test split (%)")}


def _size_vs_sparsity(series: list[Series]) -> Figure:
    scale = units.byte_scale(
        v for line in series for p in line.points for v in (p.file_size, p.gzip_size)
    )
    data = []
    for line in series:
        for label, attr, dash in (
            (".tflite", "file_size", "solid"),
            ("gzip -9", "gzip_size", "dot"),
        ):
            data.append(
                {
                    "type": "scatter",
                    "mode": "lines+markers",
                    "name": f"{line.name} — {label}",
                    "x": [p.s * 100 for p in line.points],
                    "y": [scale.of(getattr(p, attr)) for p in line.points],
                    "line": {"dash": dash},
                    "text": [p.plan for p in line.points],
                    "hovertemplate": "%{text}<br>s = %{x:.0f} %<br>"
                    + f"{label} %{{y:.3~g}} {scale.unit}<extra></extra>",
                }
            )
    return {
        "data": data,
        "layout": layout(SPARSITY_TITLE, f"Model size ({scale.unit})"),
    }


def _latency_vs_threads(series: list[Series]) -> Figure:
    data = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": line.label,
            "x": [r["num_threads"] for r in line.points],
            "y": [r["latency_mean_ms"] for r in line.points],
            "error_y": {
                "type": "data",
                "array": [r["latency_ci95_ms"] or 0 for r in line.points],
                "visible": True,
            },
            "customdata": [r["pk"] for r in line.points],
            "hovertemplate": "%{x} threads: %{y:.3f} ms ± %{error_y.array:.3f} (95 % CI)"
            "<extra>%{fullData.name}</extra>",
        }
        for line in series
    ]
    extra = {
        "xaxis": {**layout("", "")["xaxis"], "dtick": 1, "title": {"text": "Interpreter threads"}}
    }
    return {"data": data, "layout": layout("", "Latency, mean (ms)", **extra)}


def operators(page: Detail) -> Figure | None:
    """Time per operator type (ms), beside the baseline's when there is one."""
    if not page.ops.by_type:
        return None
    base = page.baseline_ops.by_type if page.baseline_ops else {}
    kinds = sorted(set(page.ops.by_type) | set(base), key=lambda k: page.ops.by_type.get(k, 0.0))
    data = [_bars("this result", kinds, page.ops.by_type, "#2f6fde")]
    if base:
        data.insert(0, _bars("baseline", kinds, base, "#b8c2d6"))
    height = 120 + 28 * len(kinds) * (2 if base else 1)
    extra = {
        "barmode": "group",
        "height": min(max(height, MIN_HEIGHT), 900),
        "margin": {"l": 160, "r": 20, "t": 20, "b": 50},
    }
    return {"data": data, "layout": layout("Time per operator type (ms)", "", **extra)}


def _bars(name: str, kinds: list[str], ms: dict[str, float], colour: str) -> dict[str, Any]:
    return {
        "type": "bar",
        "orientation": "h",
        "name": name,
        "y": kinds,
        "x": [ms.get(k, 0.0) for k in kinds],
        "marker": {"color": colour},
        "hovertemplate": "%{y}: %{x:.4f} ms<extra>" + name + "</extra>",
    }
