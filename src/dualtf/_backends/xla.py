"""xla: ``tf.function(jit_compile=True)``; XLA compiles the traced graph on the first call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from .._errors import DualTFError, error_message
from .._feeds import Feed
from .base import Backend
from .step import Compiled
from .traced import trace

__all__ = ["XlaBackend"]

_ITERATOR_READS = frozenset({"IteratorGetNext", "IteratorGetNextSync", "IteratorGetNextAsOptional"})


class XlaBackend(Backend):
    """TF2 ``tf.function`` compiled by XLA.

    Under a strategy XLA compiles each replica's step (:meth:`_per_replica`),
    not the cross-replica step, which holds the strategy's collectives.
    Everything else is the contract's default (TF2's eager context).
    """

    mode = "xla"

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Compiled:
        compiled = trace(fn, feeds, jit_compile=self.strategy is None)
        reads = [op for op in compiled.ops if op.type in _ITERATOR_READS]
        if reads:
            raise DualTFError(
                error_message(
                    f"A step of mode 'xla' must not read a tf.data iterator (op `{reads[0].name}`): XLA cannot "
                    "compile IteratorGetNext. Iterate outside the step with `for batch in be.iterate(ds)` and feed "
                    "each batch, or run this step in mode 'function'.",
                    f"a step that calls {reads[0].type}",
                )
            )
        return compiled

    def _per_replica(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        compiled: Callable[..., Any] = tf.function(fn, jit_compile=True)
        return compiled


backend_class = XlaBackend
