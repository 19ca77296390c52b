"""eager: ``fn`` runs op by op when the step is called, as TF2 runs it by default."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import tensorflow as tf

from .._errors import DualTFError, error_message
from .._feeds import Feed
from .base import Backend
from .deterministic_random import active
from .installed import Installed
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


class _TF1Gradients:
    """``tf.compat.v1.train.Optimizer.compute_gradients`` (and so ``minimize``) with a tensor loss, in
    eager steps: TF1 differentiates its graph; an eager step records a tape while ``fn`` runs, and
    the gradients come from it. Installed only while a step is traced or run (counted across threads,
    put back by the last one out); elsewhere TensorFlow's own method runs unchanged."""

    def __init__(self) -> None:
        self._original: Any = None
        self._local = threading.local()
        self._patch = Installed(self._install)

    def _install(self) -> Callable[[], None]:
        self._original = original = tf.compat.v1.train.Optimizer.compute_gradients
        compute = self._compute_gradients

        def compute_gradients(optimizer: Any, loss: Any, *args: Any, **kwargs: Any) -> Any:
            return compute(optimizer, loss, *args, **kwargs)

        tf.compat.v1.train.Optimizer.compute_gradients = compute_gradients

        def uninstall() -> None:
            tf.compat.v1.train.Optimizer.compute_gradients = original

        return uninstall

    @contextlib.contextmanager
    def watching(self, trace: bool, variables: Callable[[], list[tf.Variable]]) -> Iterator[Any]:
        """While tracing: note whether fn uses a tensor loss. While running: give it a tape."""
        state = self._local
        state.used, state.variables = False, variables
        with self._patch.held(), tf.GradientTape(persistent=True) if not trace else contextlib.nullcontext() as tape:
            state.tape = tape
            try:
                yield state
            finally:
                state.tape = None

    def _compute_gradients(self, optimizer: Any, loss: Any, var_list: Any = None, *args: Any, **kwargs: Any) -> Any:
        state = self._local
        if callable(loss) or not tf.executing_eagerly() or getattr(state, "tape", None) is None:
            if not callable(loss):
                state.used = True
            return self._original(optimizer, loss, var_list, *args, **kwargs)
        if var_list is None:  # TF1's default: the trainable variables, here the backend's
            var_list = [v for v in state.variables() if v.trainable]
        grads = state.tape.gradient(loss, list(var_list), output_gradients=kwargs.get("grad_loss"))
        return list(zip(grads, var_list, strict=True))


_tf1_gradients = _TF1Gradients()


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
        with _tf1_gradients.watching(True, self._variables) as watched:
            traced = self._tracer.trace(fn, feeds, jit_compile=False)
        tape = watched.used  # fn calls a TF1 optimizer's minimize / compute_gradients with a tensor loss
        variables = self._variables
        random = self._random  # with deterministic_random: calls in any thread draw from it
        # TF1 code (fn makes variables, or uses get_variable or a tensor-loss minimize) runs with the
        # backend's TF1 graph and variable store as the defaults; TF2 code without them, as ops run
        # slower with a graph as the default (about 5 µs an op here).
        tf1 = tape or self._building.touched
        outer = self._tracer.outer if tf1 else contextlib.nullcontext

        def run(values: list[np.ndarray]) -> Any:
            if not tf.executing_eagerly():  # called inside a graph backend's block
                with eager_scope():
                    return run(values)
            _functions_eagerly.enter()
            try:
                with outer(), active.using(random) if random is not None else contextlib.nullcontext():
                    return call(values)
            except RuntimeError as exc:
                if "should be a function when eager execution is enabled" not in str(exc):
                    raise
                raise DualTFError(
                    error_message(
                        "A TF1 optimizer's minimize(loss) / compute_gradients(loss) with a tensor loss cannot run in "
                        "mode 'eager' here: eager execution has no graph to differentiate, and dualtf records a "
                        "tape only when the step's trace called it with a tensor loss. Pass the loss as a "
                        "function (minimize(lambda: loss)), or run this step in another mode.",
                        f"{type(exc).__name__}: {exc}",
                    )
                ) from exc
            finally:
                _functions_eagerly.exit()

        def call(values: list[np.ndarray]) -> Any:
            # tf.constant: the values are already checked arrays of the feed's dtype,
            # and it is about twice as fast as tf.convert_to_tensor's dispatch.
            if tape:
                with _tf1_gradients.watching(False, variables):
                    return structure_to_numpy(fn(*[tf.constant(v) for v in values]))
            return structure_to_numpy(fn(*[tf.constant(v) for v in values]))

        return Compiled(
            run,
            ops=traced.ops,
            variables=traced.variables,
            result_dtypes=traced.result_dtypes,
            result_spec=traced.result_spec,
        )

    def _keras_runner(self, model: Any) -> ModelRunner:
        return KerasLoop(model, run_eagerly=True, jit_compile=False)


backend_class = EagerBackend
