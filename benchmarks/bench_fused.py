"""Time per training step: one step per call, K fused steps per call, and TensorFlow's in-graph limit.

The reference row is the fastest in-graph loop TensorFlow offers a training step: one
raw ``tf.function`` looping ``for i in tf.range(K)`` over K stacked batches, measured
in the same process and run as every other row. Each row's figure is the median time
per *step* over alternating timing blocks (machine noise hits every row alike), and its
ratio to the reference. Rows:

- ``in-graph tf.range loop (raw TF)``: the reference;
- ``<mode>, 1 step/call``: ``be.function(train_step, feeds)``, called once per batch;
- ``<mode>, K steps/call``: ``be.function(train_step, feeds, steps_per_call=K)``;
- ``<mode>, epoch of K batches/call``: ``be.epoch(train_step, ds)`` over a ``tf.data``
  dataset of the same K batches (prefetched), one pass per call.

Workloads: ``add3``, a 3-element int32 add (pure per-call overhead; no epoch row); and
training steps (Keras layers, ``tf.GradientTape``, Keras Adam, batch 32) of the 64-32-10
MLP on scikit-learn's digits and of the TF2 quickstart's CNN (Conv2D 32 3x3 on 28x28x1,
Dense 128, Dense 10) on generated images.

Run: ``python benchmarks/bench_fused.py [--steps 100] [--blocks 7] [--update-docs]``;
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
import tensorflow as tf

import dualtf
from _docs import provenance, update_docs  # noqa: E402 - benchmarks/ is the script's directory
from dualtf import examples
from dualtf._backends.tensors import eager_scope

BATCH = 32


def _model(kind: str) -> Any:
    import keras

    init = keras.initializers.GlorotUniform
    if kind == "mlp":
        layers = [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu", kernel_initializer=init(0)),
            keras.layers.Dense(10, kernel_initializer=init(1)),
        ]
    else:
        layers = [
            keras.Input((28, 28, 1)),
            keras.layers.Conv2D(32, 3, activation="relu", kernel_initializer=init(0)),
            keras.layers.Flatten(),
            keras.layers.Dense(128, activation="relu", kernel_initializer=init(1)),
            keras.layers.Dense(10, kernel_initializer=init(2)),
        ]
    return keras.Sequential(layers)


def _train_step(kind: str) -> tuple[Callable[[tf.Tensor, tf.Tensor], tf.Tensor], Any]:
    """A training step of a fresh model (made in the current graph or context) and its model."""
    import keras

    model = _model(kind)
    optimizer = keras.optimizers.Adam(1e-3)
    optimizer.build(model.trainable_variables)

    def train_step(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=model(x)))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return train_step, model


def _data(kind: str, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` batches stacked: ``(steps, 32, ...)`` inputs and ``(steps, 32)`` int32 labels."""
    if kind == "add3":
        a = np.tile(np.array([0, 1, 2], np.int32), (steps, 1))
        return a, a * 10
    if kind == "mlp":
        x, y = examples.digits()
        n = steps * BATCH
        x, y = np.resize(x, (n, 64)), np.resize(y, n)
        return x.reshape(steps, BATCH, 64), y.reshape(steps, BATCH).astype(np.int32)
    rng = np.random.default_rng(0)
    x = rng.random((steps, BATCH, 28, 28, 1), dtype=np.float32)
    return x, rng.integers(0, 10, (steps, BATCH)).astype(np.int32)


def _feeds(be: Any, kind: str) -> list[Any]:
    if kind == "add3":
        return [be.feed("a", tf.int32, [3]), be.feed("b", tf.int32, [3])]
    shape = [None, 64] if kind == "mlp" else [None, 28, 28, 1]
    return [be.feed("x", tf.float32, shape), be.feed("y", tf.int32, [None])]


def _step(kind: str) -> Callable[[tf.Tensor, tf.Tensor], tf.Tensor]:
    return tf.add if kind == "add3" else _train_step(kind)[0]


def _reference(kind: str, xs: np.ndarray, ys: np.ndarray) -> Callable[[], Any]:
    """The in-graph limit: one raw tf.function running every stacked batch in a tf.range loop."""
    train_step = _step(kind)
    steps = len(xs)

    @tf.function
    def loop(x: tf.Tensor, y: tf.Tensor) -> tf.Tensor:
        loss = tf.zeros([3], tf.int32) if kind == "add3" else tf.constant(0.0)  # what one step returns
        for i in tf.range(steps):
            loss = train_step(x[i], y[i])
        return loss

    x, y = tf.constant(xs), tf.constant(ys)

    def call() -> Any:  # raw TensorFlow, eagerly: also while a graph mode's block is open
        with eager_scope():
            return loop(x, y).numpy()

    return call


def _rows(kind: str, steps: int, modes: list[str]) -> list[tuple[str, int, Callable[[], Any], Callable[[], None]]]:
    """``(label, steps per call, call, close)`` for every row of one workload."""
    xs, ys = _data(kind, steps)
    rows = [("in-graph tf.range loop (raw TF)", steps, _reference(kind, xs, ys), lambda: None)]
    for mode in modes:
        for per_call in (1, steps):
            be = dualtf.backend(mode, seed=0).__enter__()
            step = be.function(_step(kind), _feeds(be, kind), steps_per_call=per_call, step_outputs="last")
            args = (xs[0], ys[0]) if per_call == 1 else (xs, ys)
            label = f"{mode}, {per_call} step{'s' if per_call > 1 else ''}/call"
            rows.append((label, per_call, lambda step=step, args=args: step(*args), be.close))
        if kind != "add3":
            be = dualtf.backend(mode, seed=0).__enter__()
            flat = (xs.reshape(-1, *xs.shape[2:]), ys.reshape(-1))
            ds = tf.data.Dataset.from_tensor_slices(flat).batch(BATCH).prefetch(2)
            epoch = be.epoch(_step(kind), ds, step_outputs="last")
            rows.append((f"{mode}, epoch of {steps} batches/call", steps, epoch, be.close))
    return rows


def measure(kind: str, steps: int, blocks: int, min_block_s: float, modes: list[str]) -> list[dict[str, Any]]:
    """Median seconds per step of every row, over ``blocks`` rounds of alternating timing blocks."""
    rows = _rows(kind, steps, modes)
    per_step: dict[str, list[float]] = {label: [] for label, *_ in rows}
    calls: dict[str, int] = {}
    for label, _, call, _ in rows:  # warm up (XLA compiles here) and size each row's block
        call()
        start = time.perf_counter()
        call()
        calls[label] = max(1, int(min_block_s / max(time.perf_counter() - start, 1e-7)))
    for _ in range(blocks):
        for label, per_call, call, _ in rows:
            start = time.perf_counter()
            for _ in range(calls[label]):
                call()
            per_step[label].append((time.perf_counter() - start) / (calls[label] * per_call))
    for *_, close in reversed(rows):  # backends entered in this thread close in reverse order
        close()
    reference = statistics.median(per_step[rows[0][0]])
    return [
        {
            "workload": kind,
            "row": label,
            "us_per_step": statistics.median(per_step[label]) * 1e6,
            "ratio": statistics.median(per_step[label]) / reference,
        }
        for label, *_ in rows
    ]


def table(results: list[dict[str, Any]], steps: int) -> str:
    """The results as a Markdown table, with what the figures stand on."""
    lines = [
        provenance(f"K = {steps} · batch {BATCH} · median µs per step"),
        "",
        "| workload | row | µs / step | × in-graph loop |",
        "|---|---|---:|---:|",
    ]
    for r in results:
        lines.append(f"| {r['workload']} | {r['row']} | {r['us_per_step']:.1f} | {r['ratio']:.2f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100, help="K, steps per fused call (default: 100)")
    parser.add_argument("--blocks", type=int, default=7, help="timing rounds (default: 7)")
    parser.add_argument("--min-block", type=float, default=0.1, help="seconds per timing block (default: 0.1)")
    parser.add_argument("--workloads", default="add3,mlp,cnn", help="comma-separated: add3, mlp, cnn (default: all)")
    parser.add_argument("--modes", default=",".join(dualtf.available_modes()), help="comma-separated modes")
    parser.add_argument("--update-docs", action="store_true", help="write the table into docs/performance.md")
    args = parser.parse_args(argv)
    results = []
    for kind in args.workloads.split(","):
        results += measure(kind, args.steps, args.blocks, args.min_block, args.modes.split(","))
    text = table(results, args.steps)
    print(text)
    if args.update_docs:
        update_docs("bench_fused", text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
