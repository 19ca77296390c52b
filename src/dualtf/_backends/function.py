"""function: ``tf.function`` traced once from the feeds' input signature, run from eager code."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .._feeds import Feed
from .base import Backend
from .step import Compiled

__all__ = ["FunctionBackend"]


class FunctionBackend(Backend):
    """TF2 ``tf.function``: traced once, then run as a graph from eager code.

    Everything else is the contract's default (TF2's eager context).
    """

    mode = "function"

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Compiled:
        return self._tracer.trace(fn, feeds, jit_compile=False, sink=self._probe_sink)


backend_class = FunctionBackend
