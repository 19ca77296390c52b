"""Time per training step of Keras' ``fit`` through ``be.keras(model)`` in each mode, against plain Keras.

Every row trains a fresh copy of one model with ``fit(x, y, batch_size=32, epochs=1,
shuffle=False)`` over the same batches, in one process, rows alternating block by block
(machine noise hits every row alike); the figure is the median time per *step* of a
whole ``fit`` call (Keras' data adapter, callbacks and progress logic included, as a user
pays them), after one warm-up call that traces (and compiles). Each mode is compared with
the plain-Keras run that mode stands for:

- ``function`` with ``model.fit`` (``jit_compile=False``), ``xla`` with ``model.fit`` compiled
  with ``jit_compile=True``, ``eager`` with ``model.fit`` compiled with ``run_eagerly=True``;
- ``graph`` (Keras' loop, each step a Session run) with dualtf's ``function`` mode, which it
  stands beside (plain Keras has no graph mode).

Workloads: the 64-32-10 MLP on scikit-learn's digits and the TF2 quickstart's CNN (Conv2D 32
3x3 on 28x28x1, Dense 128, Dense 10) on generated images; Adam, sparse categorical
cross-entropy, accuracy; ``steps_per_execution`` 1 and 32.

Run: ``python benchmarks/bench_keras.py [--batches 64] [--blocks 5] [--update-docs]``;
``--update-docs`` writes the table into docs/performance.md between its markers.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np

import bench_fused  # noqa: E402 - benchmarks/ is the script's directory: the same models and data
import dualtf
from _docs import provenance, update_docs  # noqa: E402
from bench_fused import BATCH  # noqa: E402
from dualtf._backends.tensors import eager_scope

#: (row, what it is compared with): a mode against the plain-Keras run it stands for.
REFERENCE = {
    "graph": "dualtf function",
    "eager": "plain Keras, run_eagerly=True",
    "function": "plain Keras",
    "xla": "plain Keras, jit_compile=True",
}
_PLAIN = {
    "plain Keras": {},
    "plain Keras, run_eagerly=True": {"run_eagerly": True},
    "plain Keras, jit_compile=True": {"jit_compile": True},
}


def _model(kind: str, steps_per_execution: int, **compile_args: Any) -> Any:
    """bench_fused's model of ``kind``, compiled for ``fit``."""
    import keras

    model = bench_fused._model(kind)
    model.compile(
        optimizer=keras.optimizers.Adam(1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        steps_per_execution=steps_per_execution,
        **compile_args,
    )
    return model


def _data(kind: str, batches: int) -> tuple[np.ndarray, np.ndarray]:
    """bench_fused's ``batches`` batches of ``kind``, unstacked: the arrays ``fit`` batches itself."""
    xs, ys = bench_fused._data(kind, batches)
    return xs.reshape(-1, *xs.shape[2:]), ys.reshape(-1)


Row = tuple[str, Callable[[], Any], Callable[[], None]]


def _rows(kind: str, spe: int, batches: int, modes: list[str]) -> list[Row]:
    """``(label, one fit call, close)`` for every row of one workload and steps_per_execution."""
    x, y = _data(kind, batches)

    def fit(runner: Any) -> Callable[[], Any]:
        return lambda: runner.fit(x, y, batch_size=BATCH, epochs=1, shuffle=False, verbose=0)

    rows: list[Row] = []
    for label, compile_args in _PLAIN.items():
        model = _model(kind, spe, **compile_args)
        plain = fit(model)

        def in_eager(plain: Callable[[], Any] = plain) -> Any:  # plain Keras, also while a graph block is open
            with eager_scope():
                return plain()

        rows.append((label, in_eager, lambda: None))
    for mode in modes:
        be = dualtf.backend(mode, seed=0).__enter__()
        rows.append((f"dualtf {mode}", fit(be.keras(_model(kind, spe))), be.close))
    return rows


def measure(kind: str, spe: int, batches: int, blocks: int, modes: list[str]) -> list[dict[str, Any]]:
    """Median seconds per step of every row, over ``blocks`` rounds of alternating fit calls."""
    rows = _rows(kind, spe, batches, modes)
    per_step: dict[str, list[float]] = {label: [] for label, *_ in rows}
    for _, call, _ in rows:  # warm up: trace (and compile) the train function
        call()
    for _ in range(blocks):
        for label, call, _ in rows:
            start = time.perf_counter()
            call()
            per_step[label].append((time.perf_counter() - start) / batches)
    for *_, close in reversed(rows):  # backends entered in this thread close in reverse order
        close()
    median = {label: statistics.median(times) for label, times in per_step.items()}
    results = []
    for mode in modes:
        reference = REFERENCE[mode]
        results.append(
            {
                "workload": kind,
                "steps_per_execution": spe,
                "mode": mode,
                "us_per_step": median[f"dualtf {mode}"] * 1e6,
                "reference": reference,
                "reference_us": median[reference] * 1e6,
                "ratio": median[f"dualtf {mode}"] / median[reference],
            }
        )
    return results


def table(results: list[dict[str, Any]], batches: int) -> str:
    """The results as a Markdown table, with what the figures stand on."""
    lines = [
        provenance(f"fit over {batches} batches of {BATCH} · median µs per step of whole fit calls"),
        "",
        "| workload | steps_per_execution | mode | µs / step | compared with | its µs / step | ratio |",
        "|---|---:|---|---:|---|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r['workload']} | {r['steps_per_execution']} | {r['mode']} | {r['us_per_step']:.0f} | "
            f"{r['reference']} | {r['reference_us']:.0f} | {r['ratio']:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=64, help="batches per fit call (default: 64)")
    parser.add_argument("--blocks", type=int, default=5, help="timing rounds (default: 5)")
    parser.add_argument("--workloads", default="mlp,cnn", help="comma-separated: mlp, cnn (default: both)")
    parser.add_argument("--steps-per-execution", default="1,32", help="comma-separated (default: 1,32)")
    parser.add_argument("--modes", default=",".join(dualtf.available_modes()), help="comma-separated modes")
    parser.add_argument("--update-docs", action="store_true", help="write the table into docs/performance.md")
    args = parser.parse_args(argv)
    modes = args.modes.split(",")
    if "graph" in modes and "function" not in modes:
        modes.append("function")  # graph's figure stands beside function mode's
    results = []
    for kind in args.workloads.split(","):
        for spe in (int(s) for s in args.steps_per_execution.split(",")):
            results += measure(kind, spe, args.batches, args.blocks, modes)
    text = table(results, args.batches)
    print(text)
    if args.update_docs:
        update_docs("bench_keras", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
