"""The backends not yet closed, oldest first, and the rule for closing one of them.

Backends entered in one thread close in reverse order (TensorFlow's default-graph stack is a
stack); a backend closed while a later one is still open hands its snapshot of global state
to that one, so any closing order ends with the state from before the first. Kept apart from
the contract: it knows a backend only by the few attributes listed in :class:`OpenBackend`.
"""

from __future__ import annotations

import threading
import weakref
from typing import Any, Protocol

from .._errors import DualTFError, format_error

__all__ = ["OpenBackend", "closing", "opened"]


class OpenBackend(Protocol):
    """What the list needs of a backend."""

    _entered: tuple[int, int] | None  # (thread, entry number) once its block is entered
    _global_state: Any

    def _label(self) -> str: ...


_open: list[weakref.ref[Any]] = []
_lock = threading.Lock()


def opened(backend: OpenBackend) -> None:
    """``backend`` is open, the newest."""
    with _lock:
        _open.append(weakref.ref(backend))


def closing(backend: OpenBackend) -> OpenBackend | None:
    """Take ``backend`` off the list; return the backend that inherits its global-state snapshot, if any.

    A DualTFError, before anything changes, when a backend entered later in the same thread is still open.
    """
    with _lock:
        live = [b for b in (ref() for ref in _open) if b is not None]
        mine = backend._entered
        inner = [
            b
            for b in live
            if b is not backend and b._entered and mine and b._entered[0] == mine[0] and b._entered[1] > mine[1]
        ]
        if inner:
            raise DualTFError(
                format_error(
                    f"Backend {backend._label()}",
                    "closed after the backends entered inside its block (leave their `with` blocks first)",
                    f"a close while backend {inner[-1]._label()} is still open",
                )
            )
        later = live[live.index(backend) + 1 :] if backend in live else []
        _open[:] = [ref for ref in _open if ref() is not None and ref() is not backend]
        heir = later[0] if later else None
        if heir is not None:  # it saved the state this one set: it must put back this one's instead
            heir._global_state = heir._global_state.inherit(backend._global_state)
        return heir
