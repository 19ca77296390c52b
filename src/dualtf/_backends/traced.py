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

__all__ = ["trace"]


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
