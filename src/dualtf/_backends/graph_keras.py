"""Graph mode's ``be.keras(model)``: Keras' own loop, with each step run by the backend's Session.

Keras 3 trains only eagerly or through ``tf.function``; graph mode keeps everything of its loop
— data adapters, shuffling, callbacks, metrics, the progress bar, History, validation — and
swaps only the step. The model's ``train_function``, ``test_function`` and ``predict_function``
(which Keras' loop calls with its own iterator) become functions that take Keras' next batches
and run the model's own ``train_step``, ``test_step`` or ``predict_step``, built once per batch
structure into the backend's graph, through the Session (a step of :meth:`Backend.function`).
The loop itself runs eagerly; what it and the callbacks read or assign of the model's graph
variables, the Session serves (:mod:`.tf1.served`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from .._errors import DualTFError, PrivateAPIError, format_error
from .._tf_private import dataset_graph_def, dataset_variant
from .keras_loops import KerasLoop
from .tensors import eager_scope
from .tf1 import registry
from .tf1.served import served_by

if TYPE_CHECKING:
    from .base import Backend
    from .step import Step

__all__ = ["GraphKerasLoop"]

_serials = itertools.count()


class _Server:
    """The graph backend serving eager reads and assigns of its variables (:class:`~.tf1.served.Server`)."""

    def __init__(self, backend: Backend):
        self.backend = backend

    def serves(self, var: Any) -> bool:
        return isinstance(var, tf.Variable) and self.backend._holds_variable(var)

    def read(self, var: Any) -> np.ndarray:
        value: np.ndarray = self.backend._evaluate([var])[0]
        return value

    def write(self, var: Any, value: np.ndarray) -> None:
        self.backend._assign(var, value)


def _without_optionals(data: Any) -> Any:
    # Keras' adapters give a missing part (no y, no sample weights) as an empty Optional, as Keras' own step does
    return tf.nest.map_structure(lambda leaf: None if isinstance(leaf, tf.experimental.Optional) else leaf, data)


class GraphKerasLoop(KerasLoop):
    """Keras' own loop, eager, whose steps a graph backend's Session runs."""

    _hold_in_steps = False  # each step is a step of Backend.function, which holds what it needs

    def __init__(self, backend: Backend, model: Any):
        super().__init__(backend, model, run_eagerly=False, jit_compile=False)
        self._serial = next(_serials)
        self._builds = itertools.count()  # numbers the feeds of each build: a feed name is declared once
        self._steps: dict[tuple[str, str], Step] = {}
        self._server = _Server(backend)

    def _recompiled(self) -> None:
        super()._recompiled()
        self._steps.clear()  # built with the old optimizer, loss and metrics

    def fit(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        if isinstance(kwargs.get("validation_data"), tf.data.Dataset):
            kwargs["validation_data"] = self._eager_dataset(kwargs["validation_data"])
        return super().fit(self._eager_dataset(x), y, **kwargs)

    def evaluate(self, x: Any = None, y: Any = None, **kwargs: Any) -> Any:
        return super().evaluate(self._eager_dataset(x), y, **kwargs)

    def predict(self, x: Any, **kwargs: Any) -> Any:
        return super().predict(self._eager_dataset(x), **kwargs)

    def _eager_dataset(self, x: Any) -> Any:
        """A dataset built in the backend's graph, made again eagerly for Keras' eager loop (its
        serialized graph: the same ops, seeds included); anything else as it is."""
        if not isinstance(x, tf.data.Dataset) or not self.backend._holds_tensor(dataset_variant(x)):
            return x
        be = self.backend
        with be.graph.as_default():  # type: ignore[attr-defined]
            serialized = dataset_graph_def(x)
        graph_def = be.evaluate(serialized)
        with eager_scope():
            variant = tf.raw_ops.DatasetFromGraph(graph_def=graph_def)
            return tf.data.experimental.from_variant(variant, x.element_spec)

    @contextmanager
    def _mode(self) -> Iterator[None]:
        reason = registry.missing("graph_keras")
        if reason is not None:  # a Keras that moved a target: refused before anything runs
            raise PrivateAPIError(reason)
        with super()._mode():
            model = self.model
            model.train_function = self._function("train", model.train_step)
            model.test_function = self._function("test", model.test_step)
            model.predict_function = self._predict_function()
            with eager_scope(), registry.hold(["graph_keras"]), served_by(self._server):
                yield

    def _function(self, kind: str, step_fn: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def function(iterator: Any) -> Any:  # as Keras' own: up to steps_per_execution batches, the last logs
            outputs, ran = None, False
            for _, data in zip(range(self.model.steps_per_execution), iterator, strict=False):
                outputs, ran = self._run(kind, step_fn, data), True
            if not ran:
                raise StopIteration
            return outputs

        return function

    def _predict_function(self) -> Callable[[Any], Any]:
        def predict_function(batches: Any) -> Any:  # Keras gives a list of up to steps_per_execution batches
            outputs = [self._run("predict", self.model.predict_step, data) for data in batches]
            return tf.nest.map_structure(lambda *parts: tf.constant(np.concatenate(parts)), *outputs)

        return predict_function

    def _run(self, kind: str, step_fn: Callable[[Any], Any], data: Any) -> Any:
        data = _without_optionals(data)
        leaves = tf.nest.flatten(data)
        for leaf in leaves:
            if leaf is not None and not isinstance(leaf, tf.Tensor):
                raise DualTFError(
                    format_error(
                        f"A batch of `{kind}` in mode 'graph'",
                        "dense tensors (graph mode feeds each batch to its Session)",
                        type(leaf).__name__,
                    )
                )
        signature = str(
            tf.nest.map_structure(lambda t: None if t is None else (t.dtype.name, tuple(t.shape[1:])), data)
        )
        step = self._steps.get((kind, signature))
        if step is None:
            step = self._steps[(kind, signature)] = self._build(kind, step_fn, data)
        return step(*(leaf for leaf in leaves if leaf is not None))

    def _build(self, kind: str, step_fn: Callable[[Any], Any], data: Any) -> Step:
        be, leaves = self.backend, tf.nest.flatten(data)
        present = [i for i, leaf in enumerate(leaves) if leaf is not None]
        n = next(self._builds)
        feeds = [
            be.feed(f"keras{self._serial}_{kind}{n}_{j}", leaves[i].dtype, (None, *leaves[i].shape[1:]))
            for j, i in enumerate(present)
        ]

        def step(*values: Any) -> Any:
            full: list[Any] = [None] * len(leaves)
            for i, value in zip(present, values, strict=True):
                full[i] = value
            return step_fn(tf.nest.pack_sequence_as(data, full))

        step.__name__ = step.__qualname__ = f"{kind}_step"
        return be.function(step, feeds)
