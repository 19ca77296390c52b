"""dualtf's per-call overhead against raw TensorFlow, side by side in one process.

For each mode, the dualtf step and the raw TensorFlow equivalent are timed in
alternating blocks (so machine noise hits both alike); the figure is the ratio
of their median per-call times. Raw baselines:

- graph: ``Session.run(fetches, feed_dict=...)``, as TF1 code calls it;
- eager: the ops called directly on NumPy inputs, ``.numpy()`` on the result;
- function / xla: ``tf.function(input_signature=..., jit_compile=...)``, ``.numpy()``.

Workloads: a 3-element int32 add (pure overhead) and one training step of the
64-32-10 MLP on a digits batch of 32 (Keras Adam; the raw graph baseline uses
``tf.compat.v1.train.AdamOptimizer().minimize``, the TF1 way).

Run: ``python benchmarks/bench_overhead.py [--blocks 15] [--json out.json] [--update-docs]``;
``--update-docs`` writes the table into docs/performance.md between its markers.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import timeit
from collections.abc import Callable
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np
import tensorflow as tf

import dualtf
from _docs import provenance, update_docs  # noqa: E402 - benchmarks/ is the script's directory
from dualtf import examples

A = np.array([0, 1, 2], np.int32)
B = np.array([10, 20, 30], np.int32)


def _raw_add(mode: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    if mode == "graph":
        graph = tf.Graph()
        with graph.as_default():
            a = tf.compat.v1.placeholder(tf.int32, [None])
            b = tf.compat.v1.placeholder(tf.int32, [None])
            out = tf.add(a, b)
        sess = tf.compat.v1.Session(graph=graph)
        return (lambda: sess.run(out, feed_dict={a: A, b: B})), sess.close
    if mode == "eager":
        return (lambda: tf.add(A, B).numpy()), lambda: None
    spec = [tf.TensorSpec([None], tf.int32)] * 2
    fn = tf.function(tf.add, input_signature=spec, jit_compile=mode == "xla")
    return (lambda: fn(A, B).numpy()), lambda: None


def _mlp_parts() -> tuple[Any, Any]:
    import keras

    model = keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(32, activation="relu", kernel_initializer=keras.initializers.GlorotUniform(0)),
            keras.layers.Dense(10, kernel_initializer=keras.initializers.GlorotUniform(1)),
        ]
    )
    return model, keras.optimizers.Adam(1e-2)


def _raw_mlp(mode: str, x: np.ndarray, y: np.ndarray) -> tuple[Callable[[], Any], Callable[[], None]]:
    if mode == "graph":
        graph = tf.Graph()
        with graph.as_default():
            xp = tf.compat.v1.placeholder(tf.float32, [None, 64])
            yp = tf.compat.v1.placeholder(tf.int32, [None])
            model, _ = _mlp_parts()
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yp, logits=model(xp)))
            train = tf.compat.v1.train.AdamOptimizer(1e-2).minimize(
                loss, var_list=[v.value for v in model.trainable_variables]
            )
            init = tf.compat.v1.global_variables_initializer()
        sess = tf.compat.v1.Session(graph=graph)
        sess.run(init)
        return (lambda: sess.run([loss, train], feed_dict={xp: x, yp: y})[0]), sess.close
    model, optimizer = _mlp_parts()

    optimizer.build(model.trainable_variables)

    def train_step(xb: tf.Tensor, yb: tf.Tensor) -> tf.Tensor:  # the computation of examples.mlp_training
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=yb, logits=model(xb)))
            replicas = tf.distribute.get_replica_context().num_replicas_in_sync
            scaled = loss / tf.cast(replicas, loss.dtype)
        grads = tape.gradient(scaled, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    if mode == "eager":
        return (lambda: train_step(tf.constant(x), tf.constant(y)).numpy()), lambda: None
    spec = [tf.TensorSpec([None, 64], tf.float32), tf.TensorSpec([None], tf.int32)]
    fn = tf.function(train_step, input_signature=spec, jit_compile=mode == "xla")
    return (lambda: fn(x, y).numpy()), lambda: None


def _per_call(fn: Callable[[], Any], number: int) -> float:
    return timeit.Timer(fn).timeit(number) / number


def compare(
    dual: Callable[[], Any], raw: Callable[[], Any], blocks: int, min_block_s: float = 0.05
) -> dict[str, float]:
    """Median per-call time of each, timed in alternating blocks; and their ratio."""
    for _ in range(3):  # warm up both (first XLA compile, kernel caches)
        dual(), raw()
    number = max(1, int(min_block_s / max(_per_call(raw, 5), 1e-7)))
    dual_times, raw_times = [], []
    for _ in range(blocks):
        dual_times.append(_per_call(dual, number))
        raw_times.append(_per_call(raw, number))
    d, r = statistics.median(dual_times), statistics.median(raw_times)
    return {"dualtf_us": d * 1e6, "raw_us": r * 1e6, "ratio": d / r, "calls_per_block": number, "blocks": blocks}


def table(rows: list[dict[str, Any]], blocks: int) -> str:
    """The figures as a Markdown table, with what they stand on."""
    lines = [
        provenance(f"{blocks} alternating blocks · median µs per call"),
        "",
        "| workload | mode | dualtf µs | raw µs | dualtf / raw |",
        "|---|---|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(f"| {r['workload']} | {r['mode']} | {r['dualtf_us']:.1f} | {r['raw_us']:.1f} | {r['ratio']:.2f} |")
    return "\n".join(lines)


def measure(modes: list[str], blocks: int, min_block_s: float) -> list[dict[str, Any]]:
    """Every workload in every mode of ``modes``: dualtf against raw TensorFlow, one row each."""
    x, y = examples.digits()
    x, y = x[:32], y[:32]
    rows = []
    for mode in modes:
        import keras

        keras.backend.clear_session()
        with dualtf.backend(mode) as be:
            add = examples.feeds_sum(be)
            raw, close = _raw_add(mode)
            rows.append(
                {
                    "workload": "add3",
                    "mode": mode,
                    **compare(functools.partial(add, A, B), raw, blocks, min_block_s),
                }
            )
            close()
        with dualtf.backend(mode) as be:
            step = examples.mlp_training(be)
            raw, close = _raw_mlp(mode, x, y)
            rows.append(
                {
                    "workload": "mlp_step",
                    "mode": mode,
                    **compare(functools.partial(step, x, y), raw, blocks, min_block_s),
                }
            )
            close()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=15, help="alternating timing blocks per figure (default: 15)")
    parser.add_argument(
        "--min-block", type=float, default=0.05, help="seconds per timing block at least (default: 0.05)"
    )
    parser.add_argument("--json", default=None, help="also write the figures to this JSON file (default: none)")
    parser.add_argument("--update-docs", action="store_true", help="write the table into docs/performance.md")
    parser.add_argument(
        "--modes", default=",".join(dualtf.available_modes()), help="comma-separated modes (default: all available)"
    )
    args = parser.parse_args(argv)
    rows = measure(args.modes.split(","), args.blocks, args.min_block)
    text = table(rows, args.blocks)
    print(text)
    if args.update_docs:
        update_docs("bench_overhead", text)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"tensorflow": tf.__version__, "rows": rows}, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
