"""Which step's ``fn`` this thread is running, if any.

Every replacement in the registry asks :func:`current` first: with no frame, TensorFlow's
own object runs, unchanged — in other threads, in the user's own graphs and Sessions, and
in the backend's block outside its steps.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["Frame", "current", "entered"]


class Frame:
    """One run of a step's ``fn`` (or of dualtf's own building) in one thread."""

    __slots__ = ("code", "mode", "name", "random", "store", "tape")

    def __init__(self, name: str, mode: str, *, random: Any = None, store: Any = None, code: Any = None):
        #: The step's name and mode, for messages.
        self.name, self.mode = name, mode
        #: The backend's :class:`~.random.DeterministicRandom`, or None (TensorFlow's own random ops).
        self.random = random
        #: The step's :class:`~.build_once.BuildOnce`, or None (not a step's fn: dualtf building a variable).
        self.store = store
        #: The :class:`~.code.StepCode` running, or None.
        self.code = code
        #: The gradient tape an eager run of TF1 code records (``minimize(loss)`` reads it), or None.
        self.tape: Any = None


_local = threading.local()


def current() -> Frame | None:
    """The innermost frame of this thread, or None outside every step.

    >>> current() is None
    True
    """
    stack: list[Frame] = getattr(_local, "stack", [])
    return stack[-1] if stack else None


@contextlib.contextmanager
def entered(frame: Frame) -> Iterator[Frame]:
    """``frame`` is this thread's current one while the block runs."""
    stack: list[Frame] = _local.__dict__.setdefault("stack", [])
    stack.append(frame)
    try:
        yield frame
    finally:
        stack.pop()
