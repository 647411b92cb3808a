"""Structured pruning of a ``torch.export`` program with torch-pruning, in the child.

``ExportedProgram.module()`` holds its weights as bare parameters used by
``aten.conv2d`` / ``aten.batch_norm`` / ``aten.linear`` calls, which
torch-pruning's DepGraph cannot see. ``rebuild_modules`` turns each such call
back into an ``nn.Conv2d`` / ``nn.BatchNorm*d`` / ``nn.Linear`` holding the same
tensors; DepGraph then prunes whole channels consistently across the residual
adds, the pruned network is fine-tuned on the dataset and exported again.
Imported only by ``torch_worker`` in the ``spawn`` child.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import torch
import torch_pruning as tp
from torch import fx, nn

from compression.errors import NotApplicableError
from compression.formats.torch_worker import convert, input_shape, layout_for, load_program

_ATEN = torch.ops.aten


def rebuild_modules(module: fx.GraphModule) -> fx.GraphModule:
    """A trainable copy of an exported program's module with real layer modules."""
    graph, copies = fx.Graph(), {}
    result = graph.graph_copy(module.graph, copies)  # copy: the source module stays intact
    # The program returns a flat tuple its pytree spec unpacks; a classifier has one output.
    graph.output(result[0] if isinstance(result, tuple | list) and len(result) == 1 else result)
    ranks = {new: _rank(old) for old, new in copies.items()}  # graph_copy drops node.meta
    values = {n.target: _fetch(module, n.target) for n in graph.nodes if n.op == "get_attr"}
    owners: dict[str, Any] = {}
    for node in list(graph.nodes):
        layer = _layer_for(node, values, ranks)
        if layer is None:
            continue
        name = str(node.args[1].target).rsplit(".", 1)[0]
        owners[name] = layer
        with graph.inserting_before(node):
            call = graph.call_module(name, (node.args[0],))
        ranks[call] = ranks.get(node)
        node.replace_all_uses_with(call)
        graph.erase_node(node)
    for node in list(graph.nodes):  # the export guard checks shapes; training varies nothing
        if node.op == "call_module" and node.target == "_guards_fn":
            graph.erase_node(node)
    for node in list(graph.nodes):  # weights now held by the rebuilt layers
        if node.op == "get_attr" and not node.users:
            graph.erase_node(node)
    attrs = {n.target: values[n.target] for n in graph.nodes if n.op == "get_attr"}
    rebuilt = fx.GraphModule({**attrs, **owners}, graph)
    return rebuilt


def _fetch(module: nn.Module, target: str) -> Any:
    value: Any = module
    for part in target.split("."):
        value = getattr(value, part)
    return value


def _rank(node: fx.Node) -> int | None:
    value = node.meta.get("val")
    return value.dim() if isinstance(value, torch.Tensor) else None


def _layer_for(node: fx.Node, values: dict[str, Any], ranks: dict[Any, Any]) -> nn.Module | None:
    if node.op != "call_function" or len(node.args) < 2:
        return None
    args = list(node.args)
    if not all(isinstance(a, fx.Node) and a.op == "get_attr" for a in args[1:2]):
        return None
    tensors = [values[a.target] if isinstance(a, fx.Node) else a for a in args[1:]]
    if node.target == _ATEN.conv2d.default:
        return _conv(*tensors)
    if node.target == _ATEN.linear.default:
        return _linear(*tensors)
    if node.target == _ATEN.batch_norm.default:
        return _batch_norm(ranks.get(node.args[0]), *tensors)
    return None


def _conv(weight, bias=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):  # noqa: ANN001, ANN202
    if isinstance(padding, str):
        return None
    out_channels, per_group, *kernel = weight.shape
    layer = nn.Conv2d(
        per_group * groups, out_channels, tuple(kernel), stride, padding, dilation, groups,
        bias=bias is not None,
    )  # fmt: skip
    return _load(layer, weight=weight, bias=bias)


def _linear(weight, bias=None):  # noqa: ANN001, ANN202
    layer = nn.Linear(weight.shape[1], weight.shape[0], bias=bias is not None)
    return _load(layer, weight=weight, bias=bias)


def _batch_norm(rank, weight, bias, mean, var, training, momentum, eps, *rest):  # noqa: ANN001, ANN202
    kind = {2: nn.BatchNorm1d, 3: nn.BatchNorm1d, 4: nn.BatchNorm2d}.get(rank)
    if kind is None or weight is None or mean is None:
        return None
    layer = kind(weight.shape[0], eps=eps, momentum=momentum)
    _load(layer, weight=weight, bias=bias)
    layer.running_mean.copy_(mean)
    layer.running_var.copy_(var)
    return layer


def _load(layer: nn.Module, **tensors: Any) -> nn.Module:
    with torch.no_grad():
        for name, value in tensors.items():
            if value is not None:
                getattr(layer, name).copy_(value)
    return layer


def prune(
    content: bytes,
    ratio: float,
    x: np.ndarray,
    y: np.ndarray,
    budget: dict[str, Any],
    samples: np.ndarray | None = None,
) -> dict[str, Any]:
    """Prune ``ratio`` of the channels of every prunable group, fine-tune, export again.

    Args:
        content: the ``.pt2`` bytes.
        ratio: fraction of channels removed from each group (0 < ratio < 1).
        x: training samples (N, H, W, C); y: their labels.
        budget: ``FineTune.get_config()`` (epochs, batch_size, learning_rate, seed).
        samples: NHWC samples to convert the pruned program on, here (torch and
            litert-torch are loaded already), or None to leave it unconverted.

    Returns:
        ``pt2`` (the pruned, fine-tuned program), ``params_before``, ``params_after``
        and ``conversion`` (``torch_worker.convert``'s result, or None).

    Raises:
        NotApplicableError: the program has no conv or linear layer to prune.
    """
    torch.manual_seed(budget["seed"])
    program = load_program(content)
    layout = layout_for(input_shape(program), tuple(x.shape[1:]))
    inputs = torch.from_numpy(np.asarray(x, "float32"))
    if layout == "NCHW":
        inputs = inputs.permute(0, 3, 1, 2).contiguous()
    model = rebuild_modules(program.module())
    layers = [m for m in model.modules() if isinstance(m, nn.Conv2d | nn.Linear)]
    if not layers:
        raise NotApplicableError("TP found no Conv2d or Linear layer in this program to prune")
    before = sum(p.numel() for p in model.parameters())
    example = inputs[:1]
    pruner = tp.pruner.MetaPruner(
        model,
        example,
        importance=tp.importance.GroupMagnitudeImportance(p=2),
        pruning_ratio=ratio,
        ignored_layers=[_classifier(model, layers)],
    )
    pruner.step()
    _fine_tune(model, inputs, torch.from_numpy(np.asarray(y, "int64")), budget)
    model.eval()
    exported = torch.export.export(model, (example,))
    buffer = io.BytesIO()
    torch.export.save(exported, buffer)
    after = sum(p.numel() for p in model.parameters())
    pruned = buffer.getvalue()
    conversion = None if samples is None else convert(pruned, tuple(x.shape[1:]), samples)
    return {"pt2": pruned, "params_before": before, "params_after": after, "conversion": conversion}


def _classifier(model: fx.GraphModule, layers: list[nn.Module]) -> nn.Module:
    """The layer whose output width is the class count: the last one called."""
    called = [n.target for n in model.graph.nodes if n.op == "call_module"]
    for name in reversed(called):
        layer = model.get_submodule(str(name))
        if layer in layers:
            return layer
    return layers[-1]


def _fine_tune(model: nn.Module, x: torch.Tensor, y: torch.Tensor, budget: dict[str, Any]) -> None:
    """Adam on cross-entropy over the model's outputs, taken as logits."""
    optimizer = torch.optim.Adam(model.parameters(), lr=budget["learning_rate"])
    generator = torch.Generator().manual_seed(budget["seed"])
    model.train()
    for _ in range(budget["epochs"]):
        order = torch.randperm(len(x), generator=generator)
        for start in range(0, len(x), budget["batch_size"]):
            batch = order[start : start + budget["batch_size"]]
            if len(batch) < 2:  # batch norm needs two samples to train
                continue
            optimizer.zero_grad()
            loss = nn.functional.cross_entropy(model(x[batch]), y[batch])
            loss.backward()
            optimizer.step()
