"""TF1 calls inside a step: refused by name where they cannot run, made to act as in a TF1 graph where they can.

A TF1 program's graph-building code moves into a step's ``fn``; some of its lines belong to
the Session around the graph, not to the graph, and have no meaning inside a step: a
``Session`` of its own, a ``placeholder`` (the step's inputs are its feeds), an initializer
(dualtf initializes every variable itself), queue-based input (its runner threads need a
Session). Each is a :class:`~dualtf.DualTFError` naming it, the step, the mode and what to
use instead, raised when ``fn`` is built — before anything runs, in every mode alike.

Where the call leaves an op in what was built (a placeholder, a queue), the built step's ops
are scanned (:data:`TF1_OPS`, through :func:`~.refuse.refuse`). Where it leaves none, the
registry's replacement refuses it while ``fn`` runs (:func:`refuse_session`,
:func:`refuse_initializer`, :func:`refuse_queue_input`).

Others act differently under eager execution: TF1's learning-rate decays
(``tf.compat.v1.train.exponential_decay``, ...) return a function instead of a tensor there.
Inside an eager step's ``fn`` they return the tensor, as in the TF1 graph the code was written
for (:func:`decays_as_in_a_graph`).

Outside a step's ``fn`` all of them are TensorFlow's own, untouched.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Callable
from typing import Any

from ..._errors import DualTFError, error_message
from .context import current
from .refuse import Refusal, RefusalTable

__all__ = [
    "TF1_OPS",
    "decays_as_in_a_graph",
    "refuse_initializer",
    "refuse_queue_input",
    "refuse_session",
]

_SESSION = (
    "the step is itself the Session run, and a Session opened in it would run a graph of its own",
    "call the step (sess.run(train_op, feed_dict) becomes step(values))",
)
_INITIALIZER = (
    "dualtf initializes every variable itself, once, before it is first read",
    "remove the line: there is no sess.run(init) to keep",
)
_QUEUE = (
    "queue-based input needs queue-runner threads that a Session starts",
    "read the data with tf.data: be.iterate(dataset) outside the step, or be.epoch(fn, dataset)",
)


def _refused(what: str, why: str, instead: str) -> DualTFError:
    frame = current()
    assert frame is not None
    return DualTFError(
        error_message(
            f"{what} cannot be used inside step `{frame.name}` (mode {frame.mode!r}): {why}. Instead, {instead}.",
            f"a call to {what} in the step's fn",
        )
    )


def _in_a_step() -> bool:
    frame = current()
    return frame is not None and frame.store is not None


# ------------------------------------------------------------------ replacements the registry holds
def refuse_session(original: Callable[..., None]) -> Callable[..., None]:
    """``BaseSession.__init__`` (every Session class, MonitoredSession's and Supervisor's too) refused in a step."""

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        if _in_a_step():
            self._session = None  # a Session's __del__ reads it: the refused instance is dropped quietly
            raise _refused(f"tf.compat.v1.{type(self).__name__}", *_SESSION)
        original(self, *args, **kwargs)

    return functools.update_wrapper(__init__, original)


def refuse_initializer(original: property) -> property:
    """A resource variable's ``initializer`` (what every TF1 initializer function groups) refused in a step."""
    read = original.fget
    assert read is not None

    def initializer(self: Any) -> Any:
        if _in_a_step():
            raise _refused("tf.compat.v1.global_variables_initializer (or another variable initializer)", *_INITIALIZER)
        return read(self)

    return property(functools.update_wrapper(initializer, read), doc=original.__doc__)


class _Context(types.ModuleType):
    """A TF module's ``context`` global (``tensorflow.python.eager.context``), answering ``executing_eagerly``
    differently inside a step's fn; every other name is the real module's."""

    def __init__(self, real: types.ModuleType, executing_eagerly: Callable[[], bool]):
        super().__init__(real.__name__, real.__doc__)
        self._dualtf_real = real
        self.executing_eagerly = executing_eagerly

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dualtf_real, name)


def decays_as_in_a_graph(original: types.ModuleType) -> types.ModuleType:
    """The ``context`` TF1's learning-rate decays read: inside a step they build the tensor, as in a TF1 graph
    (under eager execution they return a function instead)."""

    def executing_eagerly() -> bool:
        return False if _in_a_step() else bool(original.executing_eagerly())

    return _Context(original, executing_eagerly)


#: What the queue refusal names: every TF1 queue-based input function asks ``context.executing_eagerly()`` first.
_QUEUE_CALLS = (
    "queue-based input (tf.compat.v1.train.batch or shuffle_batch, string_input_producer or input_producer, "
    "start_queue_runners or QueueRunner)"
)


def refuse_queue_input(original: types.ModuleType) -> types.ModuleType:
    """The ``context`` TF1's queue-based input functions (``tf.compat.v1.train.batch``, ``string_input_producer``,
    ``QueueRunner``, ``start_queue_runners``, ...) ask first: inside a step, the refusal — before any of them
    checks its arguments or makes a queue."""

    def executing_eagerly() -> bool:
        if _in_a_step():
            raise _refused(_QUEUE_CALLS, *_QUEUE)
        return bool(original.executing_eagerly())

    return _Context(original, executing_eagerly)


# ------------------------------------------------------------------ ops a built step must not hold
def _is_queue_op(op_type: str) -> bool:
    return "Queue" in op_type and not op_type.startswith("Dataset")


#: Ops a TF1 call leaves in what a step built, refused by scanning it: (what the user called, why, instead).
TF1_OPS = RefusalTable(
    "TF1 code",
    {
        "Placeholder": Refusal(
            "tf.compat.v1.placeholder",
            "a step's inputs are its feeds",
            "declare the input with be.feed(name, dtype, shape) and take it as an argument of fn",
        ),
        "PlaceholderV2": Refusal(
            "tf.compat.v1.placeholder",
            "a step's inputs are its feeds",
            "declare the input with be.feed(name, dtype, shape) and take it as an argument of fn",
        ),
    },
    rule=lambda op_type: (
        Refusal(f"queue-based input ({op_type}: tf.compat.v1.train.batch, string_input_producer, ...)", *_QUEUE)
        if _is_queue_op(op_type)
        else None
    ),
    rule_doc="every queue op (an op type containing `Queue`, datasets' own excepted): TF1's queue-based input",
)
