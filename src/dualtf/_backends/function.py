"""function: ``tf.function`` traced once from the feeds' input signature."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf

from .._feeds import Feed
from .eager import EagerBackend
from .base import Step, structure_to_numpy

__all__ = ["FunctionBackend"]


class FunctionBackend(EagerBackend):
    """TF2 ``tf.function``: traced once, then run as a graph from eager code.

    The input signature comes from the feeds, so a ``None`` dimension never
    causes a retrace. Variables live outside the function, as in TF2.
    """

    mode = "function"
    #: Whether the function is compiled by XLA (the ``xla`` mode sets it).
    jit_compile: ClassVar[bool] = False

    def _replica_fn(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        return tf.function(fn, jit_compile=True) if self.jit_compile else fn

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Step:
        polymorphic = tf.function(
            fn,
            input_signature=[f.spec for f in feeds],
            # under a strategy XLA compiles each replica's step (_replica_fn), not the cross-replica step
            jit_compile=self.jit_compile and self.strategy is None,
            autograph=True,
        )
        # Trace now, so that the build cost is paid here and not on the first call.
        concrete = polymorphic.get_concrete_function()
        size = len(concrete.graph.get_operations())

        # The concrete function, called with tensors, skips tf.function's per-call
        # signature matching; with the feeds' signature there is nothing to match.
        def run(values: list[np.ndarray]) -> Any:
            return structure_to_numpy(concrete(*[tf.constant(v) for v in values]))

        return Step(self, feeds, run, trace_count=polymorphic.experimental_get_tracing_count, graph_size=size)
