"""Code that runs only under eager execution, recognized by the error a build of it raises.

``x.numpy()`` and ``np.asarray(x)`` anywhere, ``float(x)`` or ``if x:`` where AutoGraph does not
convert them (in the code it converts they become a cast and a ``tf.cond``): each works when
``fn`` runs op by op and fails when it is built into a graph or traced. Eager mode runs such a
``fn`` as it is; graph, function and xla refuse it at build with a DualTFError naming the
construct and the user's line (:func:`eager_only_error`).
"""

from __future__ import annotations

import re
import traceback

import tensorflow as tf

from .._errors import DualTFError, error_message, tf_cause
from .._tf_private import autograph_frames
from .tf1.refuse import user_line

__all__ = ["eager_only_construct", "eager_only_error"]

#: (error type, pattern of its message, the construct it means).
_CONSTRUCTS: tuple[tuple[type[BaseException], re.Pattern[str], str], ...] = (
    (AttributeError, re.compile(r"Tensor' object has no attribute 'numpy'"), "`.numpy()` of a tensor"),
    (NotImplementedError, re.compile(r"Cannot convert a symbolic"), "a tensor made a NumPy array"),
    (TypeError, re.compile(r"(float|int|complex)\(\) argument must be .*Tensor"), "float()/int() of a tensor"),
    (TypeError, re.compile(r"__index__|only integer.*Tensor"), "a tensor used as a Python index"),
    (tf.errors.OperatorNotAllowedInGraphError, re.compile(r""), "a tensor used as a Python bool or iterated"),
)

_AUTOGRAPH_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+), in \S+\s*\*\s*\n\s*(?P<code>[^\n]+)')


def eager_only_construct(exc: BaseException) -> str | None:
    """What eager-only construct ``exc`` (raised while ``fn`` was built or traced) means, or None."""
    for cls, pattern, construct in _CONSTRUCTS:
        if isinstance(exc, cls) and pattern.search(str(exc)):
            return construct
    return None


def _line(exc: BaseException) -> str | None:
    """The user's line that raised ``exc``: AutoGraph's "in user code" frame, else the traceback's."""
    marked = list(_AUTOGRAPH_FRAME.finditer(str(exc)))  # tf.function's message: AutoGraph's "in user code"
    if marked:
        last = marked[-1]
        return f"{last['file']}:{last['line']} ({last['code'].strip()})"
    return user_line(autograph_frames(exc)) or user_line(traceback.extract_tb(exc.__traceback__))


def eager_only_error(exc: BaseException, construct: str, step: str, mode: str) -> DualTFError:
    """The error graph, function and xla raise at build for an eager-only ``fn``."""
    line = _line(exc)
    return DualTFError(
        error_message(
            f"Step `{step}` uses eager-only code ({construct}{f' at {line}' if line else ''}), which runs only in "
            f"mode 'eager'; mode {mode!r} builds `fn` into a graph, where a tensor has no value yet. Use TensorFlow "
            "ops on the tensor (tf.cond, tf.print, tf.debugging) to run it in every mode, or run it in mode 'eager'",
            f"{type(exc).__name__}: {tf_cause(str(exc))}",
        )
    )
