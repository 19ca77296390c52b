"""xla: ``tf.function(jit_compile=True)``; XLA compiles the traced graph on the first call."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import tensorflow as tf

from .._errors import DualTFError, error_message
from .._feeds import Feed
from .base import Backend
from .keras_loops import KerasLoop, ModelRunner
from .step import Compiled
from .tf1.refuse import Refusal, RefusalTable

__all__ = ["XlaBackend"]

_ITERATOR = Refusal(
    "a tf.data iterator read",
    "XLA cannot compile IteratorGetNext",
    "iterate outside the step with `for batch in be.iterate(ds)` and feed each batch",
)
_SUMMARY = Refusal(
    "a tf.summary write", "XLA cannot compile a summary op", "return the value from the step and write it outside"
)
_PY_FUNC = Refusal(
    "a Python function (tf.py_function / tf.numpy_function)",
    "XLA cannot compile a call into Python",
    "compute it outside the step and feed it",
)
_ASSERT = Refusal(
    "an assertion (tf.debugging.assert_*, tf.debugging.Assert or check_numerics), which XLA compiles to nothing",
    "XLA drops assertions",
    "check the values outside the step (return them), or run the check in a step of mode 'function'",
)

#: Ops XLA cannot compile, found in the traced step before its first call.
UNCOMPILABLE = RefusalTable(
    "xla",
    {
        **dict.fromkeys(("IteratorGetNext", "IteratorGetNextSync", "IteratorGetNextAsOptional"), _ITERATOR),
        **dict.fromkeys(
            (
                "WriteSummary",
                "WriteScalarSummary",
                "WriteHistogramSummary",
                "WriteImageSummary",
                "WriteAudioSummary",
                "WriteRawProtoSummary",
                "WriteGraphSummary",
            ),
            _SUMMARY,
        ),
        **dict.fromkeys(("EagerPyFunc", "PyFunc", "PyFuncStateless"), _PY_FUNC),
        **dict.fromkeys(("Assert", "CheckNumerics", "CheckNumericsV2"), _ASSERT),
    },
    sentence="Step `{step}` of mode 'xla' must not contain {what} ({op_type}): {why}. Instead, {instead}, or "
    "run this step in mode 'function'.",
)


class XlaBackend(Backend):
    """TF2 ``tf.function`` compiled by XLA.

    Under a strategy XLA compiles each replica's step (:meth:`_per_replica`),
    not the cross-replica step, which holds the strategy's collectives.
    Everything else is the contract's default (TF2's eager context).
    """

    mode = "xla"

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Compiled:
        strings = [f.name for f in feeds if f.dtype == tf.string]
        if strings:
            raise DualTFError(
                error_message(
                    f"Feed `{strings[0]}` of a step of mode 'xla' must not be of dtype string: XLA cannot compile "
                    "string tensors. Turn the strings into numbers before the step (a lookup table, "
                    "tf.strings.to_number), or run this step in mode 'function'.",
                    f"a string feed `{strings[0]}`",
                )
            )
        compiled = self._tracer.trace(fn, feeds, jit_compile=self.strategy is None)
        if tf.string in compiled.result_dtypes:
            raise DualTFError(
                error_message(
                    "A step of mode 'xla' must not return strings: XLA cannot compile string tensors. Return "
                    "numbers and make the strings outside the step, or run this step in mode 'function'.",
                    "a step with a string result",
                )
            )
        return compiled

    def _refused_ops(self) -> RefusalTable | None:
        return UNCOMPILABLE

    def _compile_loop(self, fn: Callable[..., Any]) -> Compiled:
        return self._tracer.trace(fn, [], jit_compile=False)  # each step in it is compiled (_per_replica)

    def _per_replica(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        compiled: Callable[..., Any] = tf.function(fn, jit_compile=True)
        return compiled

    def _keras_runner(self, model: Any) -> ModelRunner:
        return KerasLoop(self, model, run_eagerly=False, jit_compile=True)


backend_class = XlaBackend
