"""TF1 constructs that cannot run inside a step, refused by name where the step is built.

A TF1 program's graph-building code moves into a step's ``fn``; some of its lines belong to
the Session around the graph, not to the graph, and have no meaning inside a step: a
``Session`` of its own, a ``placeholder`` (the step's inputs are its feeds), an initializer
(dualtf initializes every variable itself), queue-based input (its runner threads need a
Session). Each is a :class:`~dualtf.DualTFError` naming it, the step, the mode and what to
use instead, raised when ``fn`` is built — before anything runs, in every mode alike. Outside
a step's ``fn`` they are TensorFlow's own, untouched.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

from .._errors import DualTFError, error_message
from .build_once import BuildOnce
from .installed import Installed

__all__ = ["REFUSED", "tf1_refusals"]

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


def _install() -> Callable[[], None]:
    v1 = importlib.import_module("tensorflow.compat.v1")
    undo: list[Callable[[], None]] = []
    for path in REFUSED:
        *parents, name = path.split(".")
        owner = functools.reduce(getattr, parents, v1)
        original = getattr(owner, name)
        if isinstance(original, type):  # a class: checked in its __init__, so isinstance still holds
            init = original.__dict__.get("__init__", original.__init__)  # type: ignore[misc]

            def checked_init(self: Any, *args: Any, _path: str = path, _init: Any = init, **kwargs: Any) -> None:
                _check(_path)
                _init(self, *args, **kwargs)

            setattr(original, "__init__", checked_init)  # noqa: B010 - mypy refuses assigning a method
            undo.append(functools.partial(setattr, original, "__init__", init))
        else:

            def checked(*args: Any, _path: str = path, _original: Any = original, **kwargs: Any) -> Any:
                _check(_path)
                return _original(*args, **kwargs)

            functools.update_wrapper(checked, original)
            setattr(owner, name, checked)
            undo.append(functools.partial(setattr, owner, name, original))

    def uninstall() -> None:
        for step in reversed(undo):
            step()

    return uninstall


#: Held by every open backend.
tf1_refusals = Installed(_install)
