"""An NCHW graph (converted from ONNX) → the same function on NHWC tensors, without Transposes.

Runs ONLY in the coco build virtualenv (tensorflow); imported by build_coco.py.

ONNX-to-TF converters keep ONNX's NCHW layout and wrap every op that TF has only in NHWC
(Conv2D, MaxPool, ResizeBilinear) in a pair of Transposes: NCHW → NHWC → op → NCHW. TFLite
keeps them all (76 TRANSPOSE ops in NanoDet): each copies a whole feature map, and they sit
between every Pad and its Conv2D, where XNNPACK would otherwise fold the padding into the
convolution.

The pass is one walk over the graph in topological order. Every activation is kept as
`stored = transpose(logical, perm)`: `logical` is the tensor of the original graph, `perm`
the layout it is stored in. The input starts NHWC, perm (0, 2, 3, 1).
- Transpose(x, p): dropped; its output is x's stored tensor, with perm inv(p)[perm(x)]. An
  NCHW → NHWC Transpose of an NHWC-stored tensor so leaves it with perm identity.
- unary elementwise ops keep their input's perm; a binary op gives both activations one
  perm (a scalar constant broadcasts in any layout, other constants need the identity).
- Pad/PadV2: padding rows permuted; ConcatV2/SplitV: the axis mapped through perm.
- Reshape [N, C, H, W] → [N, C, H·W] of an NHWC-stored tensor: Reshape [N, H·W, C] with
  perm (0, 2, 1), which the detection heads' next Transpose (0, 2, 1) cancels.
- any other op (Conv2D, MaxPool, ResizeBilinear — already NHWC — and the graph's outputs)
  takes its inputs in the identity layout: a Transpose is inserted only where one is
  still needed (none in NanoDet), and the count is returned so the build can insist.
First, the shape arithmetic that feeds the Reshapes (it does not depend on the input) is
folded into constants. The result computes the same outputs; build_coco.py checks that.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import tensorflow as tf

GraphDef = tf.compat.v1.GraphDef
NodeDef = tf.compat.v1.NodeDef
Perm = tuple[int, ...]

TO_NHWC: Perm = (0, 2, 3, 1)
UNARY = frozenset({"LeakyRelu", "Relu", "Relu6", "Sigmoid", "Tanh", "Elu", "Neg", "Abs", "Exp"})
BINARY = frozenset({"Add", "AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum"})


def identity(rank: int) -> Perm:
    return tuple(range(rank))


def inverse(perm: Perm) -> Perm:
    return tuple(int(i) for i in np.argsort(perm))


def tensor_name(name: str) -> str:
    """A node input as a tensor name: "node" → "node:0"."""
    return name if ":" in name else f"{name}:0"


def node_of(name: str) -> str:
    return name.lstrip("^").split(":")[0]


@dataclass(frozen=True)
class Facts:
    """What TF's shape inference says about the original graph."""

    shapes: dict[str, tuple[int, ...]]  # tensor → static shape
    dtypes: dict[str, int]  # tensor → DataType enum
    outputs: dict[str, int]  # node → number of outputs

    @classmethod
    def of(cls, graph_def: GraphDef) -> Facts:
        shapes, dtypes, outputs = {}, {}, {}
        with tf.Graph().as_default() as graph:
            tf.compat.v1.import_graph_def(graph_def, name="")
            for op in graph.get_operations():
                outputs[op.name] = len(op.outputs)
                for out in op.outputs:
                    dtypes[out.name] = out.dtype.as_datatype_enum
                    if out.shape.rank is not None and out.shape.is_fully_defined():
                        shapes[out.name] = tuple(int(d) for d in out.shape)
        return cls(shapes, dtypes, outputs)


@dataclass
class _Rewriter:
    consts: dict[str, np.ndarray]  # Const node → value
    facts: Facts
    nodes: list[NodeDef] = field(default_factory=list)
    stored: dict[str, tuple[str, Perm]] = field(default_factory=dict)  # original tensor → (new tensor, perm)
    inserted: int = 0  # Transposes the rules could not avoid

    def source(self, name: str) -> tuple[str, Perm] | None:
        """Where an activation of the original graph now lives, and its perm; None for a constant."""
        return self.stored.get(tensor_name(name))

    def activation(self, name: str) -> tuple[str, Perm]:
        source = self.source(name)
        if source is None:
            raise ValueError(f"expected an activation, got the constant {name}")
        return source

    def const(self, name: str, value: np.ndarray) -> str:
        node = NodeDef(name=name, op="Const")
        node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
        node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
        self.nodes.append(node)
        return name

    def relayout(self, tensor: str, have: Perm, want: Perm, near: str) -> str:
        """`tensor` (stored with perm `have`) stored with perm `want` instead."""
        if have == want:
            return tensor
        name = f"{near}/nhwc_transpose_{self.inserted}"
        self.inserted += 1
        perm = np.array([inverse(have)[w] for w in want], np.int32)
        node = NodeDef(name=name, op="Transpose", input=[tensor, self.const(f"{name}/perm", perm)])
        node.attr["T"].type = self.facts.dtypes.get(tensor, tf.float32.as_datatype_enum)
        node.attr["Tperm"].type = tf.int32.as_datatype_enum
        self.nodes.append(node)
        return f"{name}:0"

    def emit(self, node: NodeDef, inputs: Sequence[str], perm: Perm | None = None) -> None:
        """`node` with new inputs; all its outputs stored with `perm` (None: identity)."""
        new = NodeDef()
        new.CopyFrom(node)
        del new.input[:]
        new.input.extend(inputs)
        self.nodes.append(new)
        for k in range(self.facts.outputs[node.name]):
            out = f"{node.name}:{k}"
            rank = len(self.facts.shapes.get(out, ()))
            self.stored[out] = (out, perm if perm is not None else identity(rank))

    def value(self, name: str) -> np.ndarray:
        return self.consts[node_of(name)]

    # --- one rule per kind of op --------------------------------------------------------
    def placeholder(self, node: NodeDef) -> None:
        shape = self.facts.shapes[f"{node.name}:0"]
        if len(shape) != 4:
            raise ValueError(f"{node.name}: expected a 4-D NCHW input, got {list(shape)}")
        new = NodeDef()
        new.CopyFrom(node)
        new.attr["shape"].shape.CopyFrom(tf.TensorShape([shape[p] for p in TO_NHWC]).as_proto())
        self.nodes.append(new)
        self.stored[f"{node.name}:0"] = (f"{node.name}:0", TO_NHWC)

    def transpose(self, node: NodeDef) -> None:
        x, perm_input = node.input
        tensor, q = self.activation(x)
        p = tuple(int(v) for v in self.value(perm_input))
        self.stored[f"{node.name}:0"] = (tensor, tuple(inverse(p)[i] for i in q))

    def unary(self, node: NodeDef) -> None:
        tensor, perm = self.activation(node.input[0])
        self.emit(node, [tensor], perm)

    def binary(self, node: NodeDef) -> None:
        sources = [self.source(i) for i in node.input]
        active = [s for s in sources if s is not None]
        constant = [i for i, s in zip(node.input, sources, strict=True) if s is None]
        perm = active[0][1]
        if constant and self.value(constant[0]).size != 1:
            perm = identity(len(perm))  # a bias or table broadcasts in the original layout only
        inputs = [
            i if s is None else self.relayout(s[0], s[1], perm, node.name)
            for i, s in zip(node.input, sources, strict=True)
        ]
        self.emit(node, inputs, perm)

    def pad(self, node: NodeDef) -> None:
        x, paddings, *fill = node.input
        tensor, perm = self.activation(x)
        rows = np.ascontiguousarray(self.value(paddings)[list(perm)])
        self.emit(node, [tensor, self.const(f"{node.name}/nhwc_paddings", rows), *fill], perm)

    def concat(self, node: NodeDef) -> None:
        *values, axis_input = node.input
        sources = [self.activation(v) for v in values]
        perm = sources[0][1]
        axis = int(self.value(axis_input)) % len(perm)
        inputs = [self.relayout(tensor, have, perm, node.name) for tensor, have in sources]
        inputs.append(self.const(f"{node.name}/nhwc_axis", np.int32(perm.index(axis))))
        self.emit(node, inputs, perm)

    def split_v(self, node: NodeDef) -> None:
        x, sizes, axis_input = node.input
        tensor, perm = self.activation(x)
        axis = int(self.value(axis_input)) % len(perm)
        self.emit(node, [tensor, sizes, self.const(f"{node.name}/nhwc_axis", np.int32(perm.index(axis)))], perm)

    def reshape(self, node: NodeDef) -> None:
        x = node.input[0]
        source = self.source(x)
        before, after = self.facts.shapes.get(tensor_name(x)), self.facts.shapes.get(f"{node.name}:0")
        if source is not None and source[1] == TO_NHWC and before is not None and len(before) == 4:
            n, c, h, w = before
            if after == (n, c, h * w):  # NHWC [N, H, W, C] → [N, H·W, C]: no data moves
                dtype = self.value(node.input[1]).dtype
                shape = self.const(f"{node.name}/nhwc_shape", np.array([n, h * w, c], dtype))
                self.emit(node, [source[0], shape], (0, 2, 1))
                return
        self.other(node)

    def other(self, node: NodeDef) -> None:
        """Any other op: its activations in the original layout, and so its outputs."""
        inputs = []
        for i in node.input:
            source = None if i.startswith("^") else self.source(i)
            inputs.append(i if source is None else self.relayout(*source, identity(len(source[1])), node.name))
        self.emit(node, inputs)

    def rule(self, op: str) -> Callable[[NodeDef], None]:
        if op in UNARY:
            return self.unary
        if op in BINARY:
            return self.binary
        rules: dict[str, Callable[[NodeDef], None]] = {
            "Placeholder": self.placeholder,
            "Transpose": self.transpose,
            "Pad": self.pad,
            "PadV2": self.pad,
            "ConcatV2": self.concat,
            "SplitV": self.split_v,
            "Reshape": self.reshape,
        }
        return rules.get(op, self.other)


def topological(graph_def: GraphDef) -> list[NodeDef]:
    """The nodes, each after its inputs; otherwise in GraphDef order (deterministic)."""
    by_name = {n.name: n for n in graph_def.node}
    order: list[NodeDef] = []
    seen: set[str] = set()
    for root in graph_def.node:
        stack = [(root.name, False)]
        while stack:
            name, ready = stack.pop()
            if ready:
                order.append(by_name[name])
            elif name not in seen:
                seen.add(name)
                stack.append((name, True))
                stack.extend((node_of(i), False) for i in reversed(by_name[name].input) if node_of(i) not in seen)
    return order


def dependents(graph_def: GraphDef, input_node: str) -> set[str]:
    """The nodes whose value depends on `input_node` (and it)."""
    found = {input_node}
    for node in topological(graph_def):
        if any(node_of(i) in found for i in node.input):
            found.add(node.name)
    return found


def fold_static(graph_def: GraphDef, input_node: str) -> GraphDef:
    """A copy in which each non-Const node that does not depend on the input but feeds one
    that does is a Const of its value (here: the shape arithmetic of the Reshapes)."""
    dynamic = dependents(graph_def, input_node)
    by_name = {n.name: n for n in graph_def.node}
    feeding = sorted(
        {tensor_name(i) for n in graph_def.node if n.name in dynamic for i in n.input if node_of(i) not in dynamic}
    )
    wanted = [t for t in feeding if by_name[node_of(t)].op != "Const"]
    if any(not t.endswith(":0") for t in wanted):
        raise ValueError(f"cannot fold static nodes with several outputs: {wanted}")
    values = []
    if wanted:
        with tf.Graph().as_default() as graph:
            tf.compat.v1.import_graph_def(graph_def, name="")
            with tf.compat.v1.Session(graph=graph) as session:
                values = session.run(wanted)
    folded = GraphDef()
    folded.CopyFrom(graph_def)
    targets = dict(zip((node_of(t) for t in wanted), values, strict=True))
    for node in folded.node:
        if node.name in targets:
            value = np.asarray(targets[node.name])
            name = node.name
            node.Clear()
            node.name, node.op = name, "Const"
            node.attr["dtype"].type = tf.as_dtype(value.dtype).as_datatype_enum
            node.attr["value"].tensor.CopyFrom(tf.make_tensor_proto(value))
    return folded


def to_nhwc(graph_def: GraphDef, input_node: str, outputs: Sequence[str]) -> tuple[GraphDef, int]:
    """The graph with an NHWC input and its Transposes pushed through and cancelled.

    Returns the new graph, pruned to the `outputs` nodes, and how many Transposes it has."""
    graph_def = fold_static(graph_def, input_node)
    dynamic = dependents(graph_def, input_node)
    rewriter = _Rewriter(
        consts={n.name: tf.make_ndarray(n.attr["value"].tensor) for n in graph_def.node if n.op == "Const"},
        facts=Facts.of(graph_def),
    )
    for node in topological(graph_def):
        if node.op == "Const":
            rewriter.nodes.append(node)
        elif node.name in dynamic:
            rewriter.rule(node.op)(node)
    rewritten = GraphDef()
    rewritten.versions.CopyFrom(graph_def.versions)
    rewritten.node.extend(rewriter.nodes)
    pruned = tf.compat.v1.graph_util.extract_sub_graph(rewritten, list(outputs))
    return pruned, sum(1 for n in pruned.node if n.op == "Transpose")
