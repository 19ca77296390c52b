"""``tf.compat.v1.train.Optimizer.compute_gradients`` (and so ``minimize``) with a tensor loss, in eager steps.

TF1 differentiates its graph; under eager execution TensorFlow refuses a tensor loss ("should be
a function when eager execution is enabled"). An eager run of a step's ``fn`` that is TF1 code
records a gradient tape (:class:`~.code.StepCode`), and the gradients come from it. A trace of
``fn`` (every mode builds one) notes that ``fn`` uses a tensor loss, so that eager runs record
the tape only where it is needed.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from ..._errors import DualTFError, error_message
from .context import current

__all__ = ["gradients_from_the_tape"]


def gradients_from_the_tape(original: Callable[..., Any]) -> Callable[..., Any]:
    """``Optimizer.compute_gradients``, taking a tensor loss's gradients from the eager run's tape."""

    def compute_gradients(optimizer: Any, loss: Any, var_list: Any = None, *args: Any, **kwargs: Any) -> Any:
        frame = current()
        if frame is None or frame.code is None or callable(loss):
            return original(optimizer, loss, var_list, *args, **kwargs)
        if not tf.executing_eagerly():  # a graph or a trace: TF1's own way; eager runs will need a tape
            frame.code.tensor_loss = True
            return original(optimizer, loss, var_list, *args, **kwargs)
        if frame.tape is None:
            raise DualTFError(
                error_message(
                    "A TF1 optimizer's minimize(loss) / compute_gradients(loss) with a tensor loss cannot run in "
                    f"step `{frame.name}` (mode {frame.mode!r}) here: eager execution has no graph to "
                    "differentiate, and dualtf records a tape only when the step's trace called it with a tensor "
                    "loss. Pass the loss as a function (minimize(lambda: loss)), or run this step in another mode.",
                    "a tensor loss in an eager run whose trace had none",
                )
            )
        if var_list is None:  # TF1's default: the trainable variables, here the backend's
            var_list = [v for v in frame.code.variables() if v.trainable]
        with frame.tape.stop_recording():  # read inside the tape's block: without recording, as TF1 reads its graph
            grads = frame.tape.gradient(loss, list(var_list), output_gradients=kwargs.get("grad_loss"))
        return list(zip(grads, var_list, strict=True))

    return functools.update_wrapper(compute_gradients, original)
