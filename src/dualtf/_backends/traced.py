"""A step traced once by ``tf.function`` from its feeds' input signature (function and xla modes)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from .._feeds import Feed
from .._tf_private import lower_call
from .step import Compiled
from .tensors import structure_to_numpy

__all__ = ["trace", "with_tf1_collections"]


def with_tf1_collections(fn: Callable[..., Any], variables: Callable[[], list[tf.Variable]]) -> Callable[..., Any]:
    """``fn`` run with the backend's variables in the traced graph's TF1 collections, as a TF1 graph has them.

    TF1 code reads them there: ``tf.compat.v1.train.Optimizer.minimize(loss)`` optimizes
    ``tf.compat.v1.trainable_variables()``, which inside a ``tf.function`` is otherwise empty.
    """

    def in_collections(*args: Any) -> Any:
        graph = tf.compat.v1.get_default_graph()
        for var in variables():
            graph.add_to_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES, var)
            if var.trainable:
                graph.add_to_collection(tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES, var)
        return fn(*args)

    return in_collections


def trace(fn: Callable[..., Any], feeds: list[Feed], *, jit_compile: bool) -> Compiled:
    """Trace ``fn`` now, so the build cost is paid here and not on the first call.

    The input signature comes from the feeds, so a ``None`` dimension never
    causes a retrace; variables live outside the function, as in TF2.
    """
    polymorphic = tf.function(fn, input_signature=[f.spec for f in feeds], jit_compile=jit_compile, autograph=True)
    concrete = polymorphic.get_concrete_function()

    # The concrete function skips tf.function's per-call signature matching (with
    # the feeds' signature there is nothing to match); one layer lower, its
    # inference function skips the concrete function's argument handling too.
    # tf.constant: the values are already checked arrays of the feed's dtype.
    lower = lower_call(concrete)
    if lower is not None:

        def run(values: list[np.ndarray]) -> Any:
            return structure_to_numpy(lower([tf.constant(v) for v in values]))

    else:  # pragma: no cover - only if TensorFlow moves the lower call

        def run(values: list[np.ndarray]) -> Any:
            return structure_to_numpy(concrete(*[tf.constant(v) for v in values]))

    ops = tuple(concrete.graph.get_operations())
    return Compiled(
        run,
        op_count=len(ops),
        trace_count=polymorphic.experimental_get_tracing_count,
        ops=ops,
        call_path="inference function" if lower is not None else "concrete function",
    )
