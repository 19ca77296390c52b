"""eager: ``fn`` runs op by op, as TF2 runs it by default."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf
from tensorflow.python.eager import context as _context  # eager_mode(): private, no public equivalent

from .._feeds import Feed
from .base import Backend, Step, structure_to_numpy, to_numpy, variable_handle

__all__ = ["EagerBackend"]


class EagerBackend(Backend):
    """TF2 eager execution: every op runs when Python reaches it."""

    mode = "eager"

    def _mode_scope(self) -> contextlib.AbstractContextManager[Any]:
        # Inside another backend's graph block, this backend's ops must still be eager.
        return contextlib.nullcontext() if tf.executing_eagerly() else _context.eager_mode()

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Step:
        def run(values: list[np.ndarray]) -> Any:
            # tf.constant: the values are already checked arrays of the feed's dtype,
            # and it is about twice as fast as tf.convert_to_tensor's dispatch.
            return structure_to_numpy(fn(*[tf.constant(v) for v in values]))

        return Step(self, feeds, run)

    def _evaluate_leaves(self, leaves: list[Any]) -> list[Any]:
        return [to_numpy(leaf) for leaf in leaves]

    def _assign(self, var: tf.Variable, value: np.ndarray) -> None:
        var.assign(value)

    def _owns_graph_of(self, var: tf.Variable) -> bool:
        return not tf.is_symbolic_tensor(variable_handle(var))

    def _owns_tensor(self, tensor: tf.Tensor) -> bool:
        return not tf.is_symbolic_tensor(tensor)
