"""Where a TFLite model's invoke time goes, op kind by op kind (LiteRT's Python API has no profiler).

Each op is cut out into a model of its own (its activations become the model's inputs, its
constants stay) and timed on the appliance's runtime with XNNPACK, as the full model is; the
sum per op kind says where the time goes, and "not delegated" counts the ops XNNPACK refuses
(each one splits the model into another delegate partition). One-op models run on warm caches
and without XNNPACK's fusions across ops (a PAD folded into the CONV_2D after it, say), so the
sum is an estimate: the full model's invoke and its partitions are printed beside it.

    .venv/bin/python bench/op_profile.py MODEL.tflite [MODEL.tflite ...] [--rounds 30] [--threads 2] [--top 8]
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import flatbuffers  # type: ignore[import-untyped]
import numpy as np
from ai_edge_litert import schema_py_generated as schema
from ai_edge_litert.interpreter import Interpreter

OP_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}


def timed(model: Any, rounds: int, threads: int) -> tuple[float, int]:
    """Median invoke (ms) of a model object on zero inputs, and its number of XNNPACK partitions."""
    builder = flatbuffers.Builder(1 << 20)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    interpreter = Interpreter(model_content=bytes(builder.Output()), num_threads=threads)
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    for _ in range(3):
        interpreter.invoke()
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        interpreter.invoke()
        times.append(time.perf_counter() - started)
    partitions = sum(op["op_name"] == "DELEGATE" for op in interpreter._get_ops_details())
    return statistics.median(times) * 1000, partitions


def profile(path: str, rounds: int, threads: int, top: int) -> None:
    model = schema.ModelT.InitFromPackedBuf(Path(path).read_bytes(), 0)
    graph = model.subgraphs[0]

    def constant(tensor: int) -> bool:
        data = model.buffers[graph.tensors[tensor].buffer].data
        return data is not None and len(data) > 0

    full, partitions = timed(model, rounds, threads)
    per_kind: dict[str, list[float]] = defaultdict(list)
    refused: Counter[str] = Counter()
    slowest: list[tuple[float, int, str, list[int]]] = []
    for index, op in enumerate(graph.operators):
        alone = copy.copy(model)
        sub = copy.copy(graph)
        sub.operators = [op]
        sub.inputs = [t for t in op.inputs if t >= 0 and not constant(t)]
        sub.outputs = list(op.outputs)
        alone.subgraphs = [sub]
        kind = OP_NAMES[model.operatorCodes[op.opcodeIndex].builtinCode]
        ms, delegated = timed(alone, rounds, threads)
        per_kind[kind].append(ms)
        refused[kind] += delegated == 0
        slowest.append((ms, index, kind, [int(d) for d in graph.tensors[op.outputs[0]].shape]))
    total = sum(sum(v) for v in per_kind.values())
    print(f"{path}: {len(graph.operators)} ops, {partitions} XNNPACK partition(s), {threads} thread(s)")
    print(f"  full invoke {full:6.2f} ms; one-op models add up to {total:6.2f} ms")
    for kind, times in sorted(per_kind.items(), key=lambda kv: -sum(kv[1])):
        note = f"  ({refused[kind]} not delegated)" if refused[kind] else ""
        print(f"  {kind:16s} x{len(times):3d} {sum(times):6.2f} ms {sum(times) / total:4.0%}{note}")
    for ms, index, kind, shape in sorted(slowest, reverse=True)[:top]:
        print(f"    op {index:3d} {kind:16s} {ms:5.2f} ms  output {shape}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("models", nargs="+")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--top", type=int, default=8, help="list the slowest ops too")
    args = parser.parse_args()
    for path in args.models:
        profile(path, args.rounds, args.threads, args.top)


if __name__ == "__main__":
    main()
