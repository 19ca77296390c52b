"""eager: ``fn`` runs op by op on every call, the first included, as TF2 runs it by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from .._feeds import Feed
from .base import Backend
from .eager_only import eager_only_construct
from .keras_loops import KerasLoop, ModelRunner
from .probe import record_eager_lines
from .step import Compiled
from .tensors import eager_scope, structure_to_numpy
from .tf1.installed import Installed
from .tf1.refuse import Refusal, RefusalTable


def _functions_run_eagerly() -> Callable[[], None]:
    previous = tf.config.functions_run_eagerly()
    tf.config.run_functions_eagerly(True)
    return lambda: tf.config.run_functions_eagerly(previous)


#: ``tf.config.run_functions_eagerly(True)`` while any eager step runs, in any thread: the first in
#: sets it, the last out puts back what was there.
functions_run_eagerly = Installed(_functions_run_eagerly)

__all__ = ["EagerBackend"]


#: What eager execution refuses to run that a traced step may hold: found in the step's check trace, at build.
UNRUNNABLE_EAGERLY = RefusalTable(
    "eager",
    dict.fromkeys(
        ("MergeSummary",),
        Refusal(
            "tf.compat.v1.summary.merge_all / merge",
            "TF1's summary collections belong to a graph; eager execution refuses to merge them",
            "write with tf.summary (TF2: tf.summary.scalar under a writer's as_default()), or run the step in "
            "mode 'graph' or 'function'",
        ),
    ),
    sentence="Step `{step}` of mode 'eager' must not contain {what} ({op_type}): {why}. Instead, {instead}.",
)


class EagerBackend(Backend):
    """TF2 eager execution: every op runs when Python reaches it, on every call.

    ``fn`` is eager on every call, the first included: ``.numpy()``, Python ``if`` on a
    tensor's value, ``print`` and ``pdb`` work, and ``tf.function``-decorated code the step
    calls runs eagerly too (``tf.config.run_functions_eagerly``, put back after each step):
    the "eager" regime TensorFlow Probability and TF Addons test. Everything else is the
    contract's default (TF2's eager context).
    """

    mode = "eager"

    def _refused_ops(self) -> RefusalTable | None:
        return UNRUNNABLE_EAGERLY

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Compiled:
        # Traced once at build and put aside, as function mode traces it: fn fails when it is
        # built, as in every mode (a Python error, variables made on every call, a result no mode
        # can return), and its variables are made as tf.function makes them. A fn whose trace
        # fails on eager-only code (x.numpy(), np.asarray(x)) is not refused here: it runs as it is.
        known_variables, known_names = set(self._own_variables), self._tracer.names()
        try:
            traced = self._tracer.trace(fn, feeds, jit_compile=False)
        except Exception as exc:
            if eager_only_construct(exc) is None:
                raise
            for key in set(self._own_variables) - known_variables:  # the failed trace's: never initialized
                del self._own_variables[key]
            self._tracer.forget_names(known_names)
            traced = Compiled(lambda values: None)

        sink = self._probe_sink

        def run(values: list[np.ndarray]) -> Any:
            if not tf.executing_eagerly():  # called inside a graph backend's block
                with eager_scope():
                    return run(values)
            functions_run_eagerly.acquire()  # not .held(): a generator's cost on every call
            try:
                # tf.constant: the values are already checked arrays of the feed's dtype,
                # and it is about twice as fast as tf.convert_to_tensor's dispatch.
                tensors = [tf.constant(v) for v in values]
                if sink is None:
                    return structure_to_numpy(fn(*tensors))
                out, recorded = record_eager_lines(lambda: fn(*tensors))
                sink.extend(recorded)
                return structure_to_numpy(out)
            finally:
                functions_run_eagerly.release()

        return Compiled(
            run,
            ops=traced.ops,
            op_line=traced.op_line,
            variables=traced.variables,
            result_dtypes=traced.result_dtypes,
            result_spec=traced.result_spec,
        )

    def _keras_runner(self, model: Any) -> ModelRunner:
        return KerasLoop(self, model, run_eagerly=True, jit_compile=False)


backend_class = EagerBackend
