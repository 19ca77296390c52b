"""Graph mode's ``be.keras(model)``: the model's own steps run by the backend's Session.

Graph mode has no Keras loop (Keras 3 trains only eagerly or through ``tf.function``), so
dualtf runs the model's own ``train_step``, ``test_step`` and ``predict_step`` as steps of the
backend's Session, batch by batch, as ``fit(shuffle=False)`` feeds them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import tensorflow as tf

from .._errors import DualTFError, error_message
from .keras_loops import ModelRunner

if TYPE_CHECKING:
    from .base import Backend

__all__ = ["GraphLoop"]


class GraphLoop(ModelRunner):
    """The model's own steps, run by a graph backend's Session over NumPy batches in order."""

    _FIT = frozenset({"batch_size", "epochs", "verbose", "shuffle"})
    _EVALUATE = frozenset({"batch_size", "verbose", "return_dict"})
    _PREDICT = frozenset({"batch_size", "verbose"})

    def __init__(self, backend: Backend, model: Any):
        self.backend = backend
        self.model = model
        self._steps: dict[str, Any] = {}

    def _refuse(self, call: str, kwargs: dict[str, Any], allowed: frozenset[str], x: Any) -> None:
        for name, value in kwargs.items():
            if name not in allowed or (name == "shuffle" and value):
                raise DualTFError(
                    error_message(
                        f"`{call}` in mode 'graph' takes NumPy arrays and the keywords "
                        f"{', '.join(sorted(allowed))} (shuffle=False only): dualtf runs the model's own steps "
                        "through the Session; use mode 'eager', 'function' or 'xla' for the rest of Keras' loop.",
                        f"{name}={value!r}",
                    )
                )
        for array in (x,) if not isinstance(x, (tuple, list)) else x:
            if isinstance(array, tf.data.Dataset) or not hasattr(array, "__len__"):
                raise DualTFError(
                    error_message(
                        f"`{call}` in mode 'graph' takes NumPy arrays (iterate a dataset with be.iterate).",
                        type(array).__name__,
                    )
                )

    def _step(self, kind: str, arrays: list[np.ndarray]) -> Any:
        step = self._steps.get(kind)
        if step is None:
            be, model = self.backend, self.model
            feeds = [be.feed(f"{kind}_{i}", tf.as_dtype(a.dtype), (None, *a.shape[1:])) for i, a in enumerate(arrays)]
            body: Callable[..., Any]
            if kind == "train":
                body = lambda x, y: model.train_step((x, y))  # noqa: E731
            elif kind == "test":
                body = lambda x, y: model.test_step((x, y))  # noqa: E731
            else:
                body = lambda x: model.predict_step(x)  # noqa: E731
            step = self._steps[kind] = be.function(body, feeds)
        return step

    @staticmethod
    def _batches(arrays: list[np.ndarray], batch_size: int) -> Iterator[list[np.ndarray]]:
        for start in range(0, math.ceil(len(arrays[0]) / batch_size) * batch_size, batch_size):
            yield [a[start : start + batch_size] for a in arrays]

    def _run(self, kind: str, arrays: list[np.ndarray], batch_size: int) -> Any:
        self.model.reset_metrics()  # as Keras does at each epoch's start: run by the catch-up
        logs: Any = None
        for batch in self._batches(arrays, batch_size):
            logs = self._step(kind, arrays)(*batch)
        return {name: float(value) for name, value in logs.items()}

    def fit(self, x: Any, y: Any = None, **kwargs: Any) -> Any:
        import keras

        self._refuse("fit", kwargs, self._FIT, x)
        arrays = [np.asarray(x), np.asarray(y)]
        history = keras.callbacks.History()
        history.set_model(self.model)
        history.set_params({"epochs": kwargs.get("epochs", 1), "verbose": 0})
        history.on_train_begin()
        for epoch in range(kwargs.get("epochs", 1)):
            history.on_epoch_end(epoch, self._run("train", arrays, kwargs.get("batch_size", 32)))
        return history

    def evaluate(self, x: Any, y: Any = None, **kwargs: Any) -> Any:
        self._refuse("evaluate", kwargs, self._EVALUATE, x)
        logs = self._run("test", [np.asarray(x), np.asarray(y)], kwargs.get("batch_size", 32))
        if kwargs.get("return_dict"):
            return logs
        # Keras' order: the loss, then the compiled metrics (the logs dict's own order varies by Keras version)
        values = [logs[name] for name in sorted(logs, key=lambda name: name != "loss")]
        return values[0] if len(values) == 1 else values

    def predict(self, x: Any, **kwargs: Any) -> Any:
        self._refuse("predict", kwargs, self._PREDICT, x)
        arrays = [np.asarray(x)]
        outputs = [
            self._step("predict", arrays)(*batch) for batch in self._batches(arrays, kwargs.get("batch_size", 32))
        ]
        return tf.nest.map_structure(lambda *parts: np.concatenate(parts), *outputs)
