"""Mode names, the mode-list parser and availability. Importing this module never imports TensorFlow."""

from __future__ import annotations

import functools
from typing import Literal

from ._choices import parse_names
from ._errors import ModeError, format_error

__all__ = ["MODES", "Mode", "available_modes", "check_mode", "mode_unavailable_reason", "parse_modes"]

Mode = Literal["graph", "eager", "function", "xla"]

#: Every execution mode dualtf knows, in the order they are reported.
MODES: tuple[Mode, ...] = ("graph", "eager", "function", "xla")


def check_mode(mode: object) -> Mode:
    """Return ``mode`` if it names a mode, else raise :class:`ModeError` naming it.

    >>> check_mode("eager")
    'eager'
    """
    if not isinstance(mode, str) or mode not in MODES:
        raise ModeError(format_error("The mode", f"one of {', '.join(MODES)}", f"mode={mode!r}"))
    return mode


def parse_modes(value: object, where: str | None = None) -> tuple[Mode, ...]:
    """A list of modes (``"graph,eager"`` or a sequence) checked against :data:`MODES`.

    The one parser behind ``modes=`` arguments, ``--dualtf-modes``, the
    ``dualtf_modes`` ini option, the marker and the CLI's ``--modes``.

    >>> parse_modes("graph,xla")
    ('graph', 'xla')
    """
    return parse_names(value, MODES, "mode", ModeError, where)


@functools.cache
def mode_unavailable_reason(mode: str) -> str | None:
    """Why ``mode`` cannot run in this process, or ``None`` if it can.

    A mode is unavailable when the installed TensorFlow lacks a private piece it
    needs (see :mod:`dualtf._tf_private`), and ``xla`` also when XLA cannot
    compile for the local device: the answer comes from compiling a one-op
    function once.

    >>> mode_unavailable_reason("eager") is None
    True
    """
    check_mode(mode)
    from ._tf_private import load, mode_missing_piece, require_tensorflow

    require_tensorflow()
    missing = mode_missing_piece(mode)
    if missing is not None or mode != "xla":
        return missing
    import tensorflow as tf

    try:
        with load("eager_mode")():  # the probe runs eagerly, even inside a graph backend's block
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
