"""TF1 calls inside a step: refused by name where they cannot run, made to act as in a TF1 graph where they can.

A TF1 program's graph-building code moves into a step's ``fn``; some of its lines belong to
the Session around the graph, not to the graph, and have no meaning inside a step: a
``Session`` of its own, a ``placeholder`` (the step's inputs are its feeds), an initializer
(dualtf initializes every variable itself), queue-based input (its runner threads need a
Session). Each is a :class:`~dualtf.DualTFError` naming it, the step, the mode and what to
use instead, raised when ``fn`` is built — before anything runs, in every mode alike.

Others act differently under eager execution: TF1's learning-rate decays
(``tf.compat.v1.train.exponential_decay``, ...) return a function instead of a tensor there.
Inside an eager step's ``fn`` they return the tensor, as in the TF1 graph the code was written for.

Outside a step's ``fn`` all of them are TensorFlow's own, untouched.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

from .._errors import DualTFError, error_message
from .build_once import BuildOnce
from .installed import Installed

__all__ = ["AS_IN_A_GRAPH", "REFUSED", "tf1_calls"]

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

#: What is refused inside a step: its path under ``tf.compat.v1`` -> (why it cannot run there, what instead).
REFUSED: dict[str, tuple[str, str]] = {
    **dict.fromkeys(
        (
            "Session",
            "InteractiveSession",
            "train.MonitoredSession",
            "train.MonitoredTrainingSession",
            "train.SingularMonitoredSession",
            "train.Supervisor",
        ),
        _SESSION,
    ),
    "placeholder": (
        "a step's inputs are its feeds",
        "declare the input with be.feed(name, dtype, shape) and take it as an argument of fn",
    ),
    **dict.fromkeys(
        (
            "global_variables_initializer",
            "local_variables_initializer",
            "variables_initializer",
            "initialize_all_variables",
            "initialize_local_variables",
            "initialize_variables",
        ),
        _INITIALIZER,
    ),
    **dict.fromkeys(
        (
            "train.start_queue_runners",
            "train.QueueRunner",
            "train.string_input_producer",
            "train.input_producer",
            "train.range_input_producer",
            "train.slice_input_producer",
            "train.batch",
            "train.batch_join",
            "train.shuffle_batch",
            "train.shuffle_batch_join",
            "train.maybe_batch",
            "train.maybe_shuffle_batch",
            "train.limit_epochs",
        ),
        _QUEUE,
    ),
}


#: What returns a function under eager execution and a tensor in a TF1 graph: inside a step, the tensor.
AS_IN_A_GRAPH = tuple(
    f"train.{name}"
    for name in (
        "exponential_decay",
        "piecewise_constant",
        "polynomial_decay",
        "natural_exp_decay",
        "inverse_time_decay",
        "cosine_decay",
        "cosine_decay_restarts",
        "linear_cosine_decay",
        "noisy_linear_cosine_decay",
    )
)


def _check(path: str) -> None:
    step = BuildOnce.running()
    if step is None:
        return
    why, instead = REFUSED[path]
    raise DualTFError(
        error_message(
            f"tf.compat.v1.{path} cannot be used inside step `{step.name}` (mode {step.mode!r}): {why}. "
            f"Instead, {instead}.",
            f"a call to tf.compat.v1.{path} in the step's fn",
        )
    )


def _replace(owner: Any, name: str, replacement: Callable[..., Any]) -> Callable[[], None]:
    """``owner.name`` replaced (keeping its name and docstring); returns what puts it back."""
    original = getattr(owner, name)
    setattr(owner, name, functools.update_wrapper(replacement, original))
    return functools.partial(setattr, owner, name, original)


def _checked_init(cls: type, path: str) -> Callable[[], None]:
    """``cls(...)`` checked first thing in ``__init__`` (so ``isinstance`` still holds); returns the undo."""
    init = cls.__dict__.get("__init__")
    inherited = cls.__init__  # type: ignore[misc]

    def checked_init(self: Any, *args: Any, **kwargs: Any) -> None:
        try:
            _check(path)
        except DualTFError:
            self._session = None  # a Session's __del__ reads it: the refused instance is dropped quietly
            raise
        inherited(self, *args, **kwargs)

    setattr(cls, "__init__", checked_init)  # noqa: B010 - mypy refuses assigning a method

    def undo() -> None:
        if init is None:
            delattr(cls, "__init__")
        else:
            setattr(cls, "__init__", init)  # noqa: B010

    return undo


def _install() -> Callable[[], None]:
    v1 = importlib.import_module("tensorflow.compat.v1")
    undo: list[Callable[[], None]] = []
    for path in REFUSED:
        *parents, name = path.split(".")
        owner = functools.reduce(getattr, parents, v1)
        original = getattr(owner, name)
        if isinstance(original, type):
            undo.append(_checked_init(original, path))
        else:

            def checked(*args: Any, _path: str = path, _original: Any = original, **kwargs: Any) -> Any:
                _check(_path)
                return _original(*args, **kwargs)

            undo.append(_replace(owner, name, checked))
    for path in AS_IN_A_GRAPH:
        *parents, name = path.split(".")
        owner = functools.reduce(getattr, parents, v1)
        decay = getattr(owner, name)

        def as_in_a_graph(*args: Any, _original: Any = decay, **kwargs: Any) -> Any:
            result = _original(*args, **kwargs)
            if callable(result) and BuildOnce.running() is not None:  # eager execution, inside a step
                return result()
            return result

        undo.append(_replace(owner, name, as_in_a_graph))

    def uninstall() -> None:
        for step in reversed(undo):
            step()

    return uninstall


#: Held by every open backend.
tf1_calls = Installed(_install)
