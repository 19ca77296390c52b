"""xla: ``tf.function(jit_compile=True)``; XLA compiles the traced graph on the first call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from .._feeds import Feed
from .base import Backend
from .step import Compiled
from .traced import trace

__all__ = ["XlaBackend"]


class XlaBackend(Backend):
    """TF2 ``tf.function`` compiled by XLA.

    Under a strategy XLA compiles each replica's step (:meth:`_per_replica`),
    not the cross-replica step, which holds the strategy's collectives.
    Everything else is the contract's default (TF2's eager context).
    """

    mode = "xla"

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Compiled:
        return trace(fn, feeds, jit_compile=self.strategy is None)

    def _per_replica(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        compiled: Callable[..., Any] = tf.function(fn, jit_compile=True)
        return compiled


backend_class = XlaBackend
