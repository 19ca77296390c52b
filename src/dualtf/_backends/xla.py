"""xla: ``tf.function(jit_compile=True)``; XLA compiles the traced graph on the first call."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from .._errors import DualTFError, error_message
from .._feeds import Feed
from .._modes import mode_unavailable_reason
from .._tf_private import load
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

_NAMED: dict[str, Refusal] = {
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
}
_SENTENCE = (
    "Step `{step}` of mode 'xla' must not contain {what} ({op_type}): {why}. Instead, {instead}, or "
    "run this step in mode 'function'."
)


@functools.cache
def _xla_device() -> str:
    return "XLA_GPU_JIT" if tf.config.list_logical_devices("GPU") else "XLA_CPU_JIT"


@functools.cache
def _has_xla_kernel(op_type: str) -> bool:
    mode_unavailable_reason("xla")  # XLA registers its kernels when it first compiles: the probe compiles once
    kernels = load("get_registered_kernels_for_op")(op_type).kernel
    return any(kernel.device_type == _xla_device() for kernel in kernels)


def _without_xla_kernel(op_type: str) -> Refusal | None:
    """The allow-list: an op is compiled only if TensorFlow's kernel registry has an XLA kernel for it."""
    if _has_xla_kernel(op_type):
        return None
    return Refusal(
        "an op with no XLA kernel",
        f"TensorFlow's kernel registry lists no {_xla_device()} kernel for it, so XLA cannot compile it",
        "compute it outside the step and feed the result",
    )


#: Ops XLA cannot compile, found in the traced step before its first call: those named (with what to do
#: instead), then, by allow-list, any op TensorFlow's kernel registry gives no XLA kernel for the device.
UNCOMPILABLE = RefusalTable(
    "xla",
    _NAMED,
    rule=_without_xla_kernel,
    rule_doc="every other op TensorFlow's kernel registry lists no XLA kernel for, on the device (`XLA_CPU_JIT` or "
    "`XLA_GPU_JIT`)",
    sentence=_SENTENCE,
)
#: Under a strategy XLA compiles each replica's step, not the strategy's collectives around it.
UNCOMPILABLE_PER_REPLICA = RefusalTable("xla", _NAMED, sentence=_SENTENCE)


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
        compiled = self._tracer.trace(fn, feeds, jit_compile=self.strategy is None, sink=self._probe_sink)
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
        return UNCOMPILABLE if self.strategy is None else UNCOMPILABLE_PER_REPLICA

    def _compile_loop(self, fn: Callable[..., Any]) -> Compiled:
        return self._tracer.trace(fn, [], jit_compile=False)  # each step in it is compiled (_per_replica)

    def _per_replica(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        compiled: Callable[..., Any] = tf.function(fn, jit_compile=True)
        return compiled

    def _keras_runner(self, model: Any) -> ModelRunner:
        return KerasLoop(self, model, run_eagerly=False, jit_compile=True)


backend_class = XlaBackend
