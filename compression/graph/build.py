"""The channel-dependency graph of a functional Keras model.

Every channel of every tensor gets an id; an operation either gives its
outputs new ids (a convolution's filters) or passes its inputs' ids on
(activations, batch norms, poolings, depthwise convolutions), concatenates
them (``Concatenate``), repeats them per position (``Flatten``), or ties them
together (``Add``, ``Multiply``: channel c of every input is one channel). A
union-find over the ids then gives *channel classes*: sets of channels that
must be removed together. A *group* gathers the classes that share producers
(the convolutions of one residual stream), the way Torch-Pruning's DepGraph
(Fang et al., CVPR 2023) and NNCF's pruning groups do for PyTorch.

Channels that reach a model input or output, a softmax, or an operation the
graph does not know are *pinned*: their width cannot change, and a group that
holds one says why in ``Group.blocked``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import keras
import numpy as np

from compression.errors import NotApplicableError
from compression.graph import rules
from compression.surgery import as_functional


@dataclass(frozen=True)
class Group:
    """Layers whose channel axis changes together.

    Attributes:
        producers: Conv/Dense layers whose filters (units) make these channels.
        classes: the group's channel classes, in the first producer's order.
        members: channel-wise layers with per-channel weights (BatchNorm, depthwise).
        consumers: Conv/Dense layers whose kernels read some of these channels.
        blocked: why the group's width cannot change, or None if it can.
    """

    producers: tuple[str, ...]
    classes: tuple[int, ...]
    members: tuple[str, ...]
    consumers: tuple[str, ...]
    blocked: str | None

    @property
    def width(self) -> int:
        """Number of channel classes (a residual stream's width, a conv's filters)."""
        return len(self.classes)


class ChannelGraph:
    """Channel classes and groups of a functional model.

    Args:
        model: a functional or Sequential Keras model; not modified.
        strict: refuse any operation the graph does not know (otherwise its
            channels are only pinned, and the rest of the model stays prunable).

    Raises:
        NotApplicableError: ``strict`` and an operation is unknown; the
            message names the layer and its type.
    """

    def __init__(self, model: keras.Model, strict: bool = False) -> None:
        self.model = as_functional(model)
        self._parent: list[int] = []
        self._pins: list[tuple[int, str]] = []
        self._ids: dict[int, np.ndarray] = {}  # id(KerasTensor) -> channel ids
        self.rules: dict[str, rules.Rule] = {}
        self.unknown: list[str] = []
        self._in: dict[str, np.ndarray] = {}
        self._out: dict[str, np.ndarray] = {}
        self._walk(strict)
        for tensor in self.model.outputs:
            self._pin(self._ids[id(tensor)], "it is a model output")
        self._finish()

    # Building ---------------------------------------------------------------

    def _walk(self, strict: bool) -> None:
        counts: dict[str, int] = {}
        nodes = [n for depth in sorted(self.model._nodes_by_depth, reverse=True)
                 for n in self.model._nodes_by_depth[depth]]  # fmt: skip
        for node in nodes:
            counts[node.operation.name] = counts.get(node.operation.name, 0) + 1
        for node in nodes:
            op = node.operation
            rule = self._checked(rules.classify(op, node), node)
            if counts[op.name] > 1 and rule.kind != rules.INPUT:
                rule = rules.Rule(
                    rules.PIN, rules.describe(op, f"is called {counts[op.name]} times")
                )
            if rule.kind == rules.UNKNOWN:
                if strict:
                    raise NotApplicableError(f"The channel graph cannot follow {rule.reason}.")
                self.unknown.append(rule.reason)
            self.rules[op.name] = rule
            self._apply(rule, node)

    def _checked(self, rule: rules.Rule, node: object) -> rules.Rule:
        """``rule``, or UNKNOWN when the call's shapes contradict it."""
        widths = [len(self._ids[id(t)]) for t in node.input_tensors]
        out = [t.shape[-1] if len(t.shape) >= 2 else None for t in node.outputs]
        if rule.kind in (rules.PASS, rules.CHANNELWISE, rules.PIN):
            fits = len(widths) == 1 == len(out) and out[0] == widths[0]
        elif rule.kind == rules.MERGE:
            fits = len(out) == 1 and out[0] is not None and out[0] in widths
        elif rule.kind in (rules.FLATTEN, rules.RESHAPE):
            fits = len(widths) == 1 and None not in node.input_tensors[0].shape[1:]
        else:
            fits = True
        return rule if fits else rules.Rule(rules.UNKNOWN, rules.unknown(node.operation))

    def _apply(self, rule: rules.Rule, node: object) -> None:
        op, kind = node.operation, rule.kind
        inputs = [self._ids[id(t)] for t in node.input_tensors]
        outputs = node.outputs
        if inputs:
            self._in[op.name] = inputs[0] if len(inputs) == 1 else np.concatenate(inputs)
        if kind in (rules.INPUT, rules.PRODUCER, rules.UNKNOWN):
            out = [self._fresh(t) for t in outputs]
            if kind == rules.INPUT:
                self._pin(out[0], "it is a model input")
            if kind == rules.UNKNOWN:
                for ids in inputs + out:
                    self._pin(ids, rule.reason)
            if kind == rules.PRODUCER and _activation(op) in ("softmax", "log_softmax"):
                self._pin(out[0], rules.describe(op, "ends in a softmax, which mixes channels"))
        elif kind in (rules.PASS, rules.CHANNELWISE, rules.PIN):
            out = [inputs[0]]
            if kind == rules.PIN:
                self._pin(inputs[0], rule.reason)  # _checked: exactly one input
        elif kind == rules.MERGE:
            out = [self._merge(op, inputs, outputs[0])]
        elif kind == rules.CONCAT:
            out = [np.concatenate(inputs)]
        else:  # FLATTEN, RESHAPE
            out = [self._spread(op, inputs[0])]
        for tensor, ids in zip(outputs, out, strict=True):
            self._ids[id(tensor)] = ids
        self._out[op.name] = out[0]

    def _fresh(self, tensor: keras.KerasTensor) -> np.ndarray:
        width = tensor.shape[-1] if len(tensor.shape) >= 2 else 0
        width = width or 0
        start = len(self._parent)
        self._parent.extend(range(start, start + width))
        return np.arange(start, start + width)

    def _merge(self, op: object, inputs: list[np.ndarray], output: object) -> np.ndarray:
        width = output.shape[-1]
        full = [ids for ids in inputs if len(ids) == width]
        for ids in inputs:
            if len(ids) != width:  # a broadcast gate (one channel for all): fixed
                self._pin(ids, rules.describe(op, "broadcasts a single channel"))
        for ids in full[1:]:
            for a, b in zip(full[0], ids, strict=True):
                self._union(int(a), int(b))
        return full[0]

    def _spread(self, op: object, ids: np.ndarray) -> np.ndarray:
        mode = "flatten" if isinstance(op, keras.layers.Flatten) else rules.reshape_mode(op)
        if mode == "channels":
            return ids
        positions = int(np.prod(op.input.shape[1:-1])) if len(op.input.shape) > 2 else 1
        return np.tile(ids, positions)

    def _pin(self, ids: Iterable[int], reason: str) -> None:
        self._pins.extend((int(i), reason) for i in ids)

    def _find(self, i: int) -> int:
        root = i
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[i] != root:
            self._parent[i], i = root, self._parent[i]
        return root

    def _union(self, a: int, b: int) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def _finish(self) -> None:
        roots = np.array([self._find(i) for i in range(len(self._parent))], dtype=np.int64)
        self._in = {name: roots[ids] for name, ids in self._in.items()}
        self._out = {name: roots[ids] for name, ids in self._out.items()}
        self.pinned: dict[int, str] = {}
        for i, reason in self._pins:
            self.pinned.setdefault(int(roots[i]), reason)
        self.groups = _collect_groups(self)
        self._group_of = {p: g for g in self.groups for p in g.producers}

    # Queries ----------------------------------------------------------------

    def input_classes(self, name: str) -> np.ndarray | None:
        """Channel class of each input channel of layer ``name`` (all inputs, in order)."""
        return self._in.get(name)

    def output_classes(self, name: str) -> np.ndarray | None:
        """Channel class of each output channel of layer ``name``."""
        return self._out.get(name)

    def kind(self, name: str) -> str:
        """The rule kind of layer ``name`` (see ``compression.graph.rules``)."""
        return self.rules[name].kind

    def group_of(self, name: str) -> Group:
        """The group whose channels layer ``name`` produces.

        Raises:
            NotApplicableError: ``name`` is not a Conv/Dense layer of the model.
        """
        if name not in self._group_of:
            raise NotApplicableError(
                f"Layer {name!r} of model {self.model.name!r} makes no channels the graph "
                "can change (it is not an ungrouped Conv or Dense layer of the model)."
            )
        return self._group_of[name]

    def prunable(self) -> list[Group]:
        """Every group whose width can change, in graph order."""
        return [g for g in self.groups if g.blocked is None]

    def filter_norms(self, group: Group) -> np.ndarray:
        """Per class of ``group``, the L1 norms of its filters summed over the producers."""
        index = {c: i for i, c in enumerate(group.classes)}
        scores = np.zeros(len(group.classes))
        for name in group.producers:
            kernel = self.model.get_layer(name).get_weights()[0]
            norms = np.abs(kernel).reshape(-1, kernel.shape[-1]).sum(axis=0)
            np.add.at(scores, [index[c] for c in self._out[name]], norms)
        return scores


def _collect_groups(graph: ChannelGraph) -> list[Group]:
    """Groups: producers joined when their outputs share a class."""
    producers = [n for n, r in graph.rules.items() if r.kind == rules.PRODUCER]
    first_owner: dict[int, int] = {}
    joined = list(range(len(producers)))  # union-find over producer indices

    def find(i: int) -> int:
        while joined[i] != i:
            i = joined[i]
        return i

    for index, name in enumerate(producers):
        for c in set(graph._out[name].tolist()):
            other = find(first_owner.setdefault(c, index))
            joined[max(other, find(index))] = min(other, find(index))
    readers: dict[int, list[str]] = {}
    for name, ids in graph._in.items():
        for c in set(ids.tolist()):
            readers.setdefault(c, []).append(name)
    by_root: dict[int, list[str]] = {}
    for index, name in enumerate(producers):
        by_root.setdefault(find(index), []).append(name)
    return [_group(graph, members, readers) for members in by_root.values()]


def _group(graph: ChannelGraph, producers: list[str], readers: dict[int, list[str]]) -> Group:
    classes = list(dict.fromkeys(int(c) for p in producers for c in graph._out[p]))
    touches = list(dict.fromkeys(n for c in classes for n in readers.get(c, ())))
    blocked = next((graph.pinned[c] for c in classes if c in graph.pinned), None)
    return Group(
        producers=tuple(producers),
        classes=tuple(classes),
        members=tuple(n for n in touches if graph.kind(n) == rules.CHANNELWISE),
        consumers=tuple(n for n in touches if graph.kind(n) == rules.PRODUCER),
        blocked=blocked,
    )


def _activation(op: object) -> str:
    activation = op.get_config().get("activation") if hasattr(op, "get_config") else None
    return rules.activation_name(activation)
