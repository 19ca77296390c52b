"""eager: ``fn`` runs op by op when the step is called, as TF2 runs it by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from .._errors import DualTFError, error_message
from .._feeds import Feed
from .base import Backend
from .keras_loops import KerasLoop, ModelRunner
from .step import Compiled
from .tensors import structure_to_numpy

__all__ = ["EagerBackend"]


class EagerBackend(Backend):
    """TF2 eager execution: every op runs when Python reaches it.

    During a step, ``tf.function``-decorated code the step calls runs eagerly too
    (``tf.config.run_functions_eagerly``, put back after each step): the "eager"
    regime TensorFlow Probability and TF Addons test. Everything else is the
    contract's default (TF2's eager context).
    """

    mode = "eager"

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Compiled:
        def run(values: list[np.ndarray]) -> Any:
            previous = tf.config.functions_run_eagerly()
            tf.config.run_functions_eagerly(True)
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
                tf.config.run_functions_eagerly(previous)

        return Compiled(run)

    def _keras_runner(self, model: Any) -> ModelRunner:
        return KerasLoop(model, run_eagerly=True, jit_compile=False)


backend_class = EagerBackend
