"""Mode names. Importing this module never imports TensorFlow."""

from __future__ import annotations

import functools
from typing import Literal

from ._errors import ModeError, format_error

__all__ = ["MODES", "Mode", "available_modes", "check_mode", "mode_unavailable_reason"]

Mode = Literal["graph", "eager", "function", "xla"]

#: Every execution mode dualtf knows, in the order they are reported.
MODES: tuple[Mode, ...] = ("graph", "eager", "function", "xla")


def check_mode(mode: object) -> Mode:
    """Return ``mode`` if it names a mode, else raise :class:`ModeError` naming it.

    >>> check_mode("eager")
    'eager'
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise ModeError(
            format_error("The mode", f"one of {', '.join(MODES)}", f"mode={mode!r}")
        )
    return mode  # type: ignore[return-value]


@functools.lru_cache(maxsize=None)
def mode_unavailable_reason(mode: str) -> str | None:
    """Why ``mode`` cannot run in this process, or ``None`` if it can.

    Only ``xla`` can be missing: it needs a TensorFlow build with XLA for the
    local device. The answer comes from compiling a one-op function once.

    >>> mode_unavailable_reason("eager") is None
    True
    """
    check_mode(mode)
    if mode != "xla":
        return None
    import tensorflow as tf
    from tensorflow.python.eager import context

    try:
        with context.eager_mode():  # the probe must run eagerly, even inside a graph backend's block
            probe = tf.function(lambda x: x + 1.0, jit_compile=True)
            probe(tf.constant(1.0)).numpy()
    except Exception as exc:  # any failure means XLA cannot compile here
        return f"XLA cannot compile on this machine ({type(exc).__name__}: {exc})"
    return None


def available_modes() -> tuple[Mode, ...]:
    """The modes that can run in this process, in :data:`MODES` order.

    >>> import dualtf
    >>> set(dualtf.available_modes()) <= set(dualtf.MODES)
    True
    """
    return tuple(m for m in MODES if mode_unavailable_reason(m) is None)
