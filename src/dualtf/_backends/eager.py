"""eager: ``fn`` runs op by op when the step is called, as TF2 runs it by default."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from .._errors import DualTFError, error_message
from .._feeds import Feed
from .base import Backend
from .keras_loops import KerasLoop, ModelRunner
from .step import Compiled
from .tensors import eager_scope, structure_to_numpy

__all__ = ["EagerBackend"]


class _FunctionsRunEagerly:
    """``tf.config.run_functions_eagerly(True)`` while any eager step runs, in any thread;
    the first step in sets it, the last one out puts back what was there."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._previous = False

    def enter(self) -> None:
        with self._lock:
            if not self._running:
                self._previous = tf.config.functions_run_eagerly()
                tf.config.run_functions_eagerly(True)
            self._running += 1

    def exit(self) -> None:
        with self._lock:
            self._running -= 1
            if not self._running:
                tf.config.run_functions_eagerly(self._previous)


_functions_eagerly = _FunctionsRunEagerly()


class EagerBackend(Backend):
    """TF2 eager execution: every op runs when Python reaches it.

    During a step, ``tf.function``-decorated code the step calls runs eagerly too
    (``tf.config.run_functions_eagerly``, put back after each step): the "eager"
    regime TensorFlow Probability and TF Addons test. Everything else is the
    contract's default (TF2's eager context).
    """

    mode = "eager"

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Compiled:
        # Traced once and put aside, as function mode traces it: fn fails when it is built,
        # as in every mode (a Python error, variables made on every call, a result no mode
        # can return), and its variables are made as tf.function makes them. Calls run fn.
        traced = self._tracer.trace(fn, feeds, jit_compile=False)

        def run(values: list[np.ndarray]) -> Any:
            if not tf.executing_eagerly():  # called inside a graph backend's block
                with eager_scope():
                    return run(values)
            _functions_eagerly.enter()
            try:
                # tf.constant: the values are already checked arrays of the feed's dtype,
                # and it is about twice as fast as tf.convert_to_tensor's dispatch.
                return structure_to_numpy(fn(*[tf.constant(v) for v in values]))
            except RuntimeError as exc:
                if "should be a function when eager execution is enabled" not in str(exc):
                    raise
                raise DualTFError(
                    error_message(
                        "A TF1 optimizer's minimize(loss) / compute_gradients(loss) with a tensor loss cannot run in "
                        "mode 'eager': eager execution has no graph to differentiate. Run this step in mode "
                        "'graph', 'function' or 'xla', or pass the loss as a function (minimize(lambda: loss)).",
                        f"{type(exc).__name__}: {exc}",
                    )
                ) from exc
            finally:
                _functions_eagerly.exit()

        return Compiled(
            run, variables=traced.variables, result_dtypes=traced.result_dtypes, result_spec=traced.result_spec
        )

    def _keras_runner(self, model: Any) -> ModelRunner:
        return KerasLoop(model, run_eagerly=True, jit_compile=False)


backend_class = EagerBackend
