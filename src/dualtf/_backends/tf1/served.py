"""Graph mode's Keras loop: a model's graph variables read and assigned from eager code by the Session.

Graph mode runs Keras' own ``fit``, ``evaluate`` and ``predict`` eagerly (its data adapters,
callbacks, metrics and History need eager execution) and only the steps through its Session.
The model's variables live in the backend's graph, so what Keras' loop and its callbacks do
to them eagerly — ``reset_metrics()``, a metric's ``result()``, ``ModelCheckpoint``'s save,
``EarlyStopping``'s best weights, ``LearningRateScheduler``'s new rate — has to reach the Session.
Two rows of the registry (feature ``graph_keras``, held while that loop runs) make a Keras
variable's ``value`` and ``assign`` ask the thread's :class:`Server` first: a graph variable it
serves is read with a Session run and assigned with one; everything else is Keras' own.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

__all__ = ["Server", "assigned_by_the_session", "read_by_the_session", "served_by"]


class Server(Protocol):
    """What serves eager reads and assigns of a backend's graph variables (the graph backend)."""

    def serves(self, var: Any) -> bool:
        """Whether ``var`` (a ``tf.Variable``) is one of this server's graph variables."""

    def read(self, var: Any) -> np.ndarray:
        """The Session's value of ``var``."""

    def write(self, var: Any, value: np.ndarray) -> None:
        """Assign ``value`` to ``var`` with a Session run."""


_local = threading.local()


@contextlib.contextmanager
def served_by(server: Server) -> Iterator[None]:
    """``server`` serves this thread's eager reads and assigns of its variables while the block runs."""
    stack: list[Server] = _local.__dict__.setdefault("stack", [])
    stack.append(server)
    try:
        yield
    finally:
        stack.pop()


def _server(var: Any) -> Server | None:
    stack: list[Server] = getattr(_local, "stack", [])
    if not stack or var is None or not tf.executing_eagerly():  # a graph build reads the graph variable itself
        return None
    server = stack[-1]
    return server if server.serves(var) else None


def read_by_the_session(original: property) -> property:
    """Keras' ``Variable.value``: a graph variable the thread's server serves is read by the Session."""
    getter: Callable[[Any], Any] = original.fget  # type: ignore[assignment]

    def value(self: Any) -> Any:
        raw = getattr(self, "_value", None)
        server = _server(raw)
        if server is None:
            return getter(self)
        return self._maybe_autocast(tf.constant(server.read(raw)))

    return property(value, original.fset, original.fdel, original.__doc__)


def assigned_by_the_session(original: Callable[[Any, Any], None]) -> Callable[[Any, Any], None]:
    """Keras' TensorFlow ``Variable._direct_assign``: a served graph variable is assigned by the Session."""

    def _direct_assign(self: Any, value: Any) -> None:
        raw = getattr(self, "_value", None)
        server = _server(raw)
        if server is None or raw is None:
            return original(self, value)
        server.write(raw, np.asarray(tf.cast(value, raw.dtype.base_dtype)))
        return None

    return _direct_assign
