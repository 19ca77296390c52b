"""dualtf's errors: one base class, one message format.

Every message ends with the same fixed tail, ``Received: <what dualtf got>.``,
after a free sentence that names the thing (feed, variable, mode, strategy,
option) and says what dualtf expected. :func:`format_error` writes the common
"<subject> must be <expected>." sentence; :func:`error_message` takes any.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = [
    "ClosedBackendError",
    "DualTFError",
    "FeedError",
    "NotInstalledError",
    "ForeignObjectError",
    "ModeError",
    "PrivateAPIError",
    "ProgramLoadError",
    "StepError",
    "StrategyError",
    "UnsupportedCombinationError",
    "check_int",
    "dualtf_errors_unwrapped",
    "error_message",
    "format_error",
    "tf_cause",
]


def error_message(sentence: str, received: str) -> str:
    """dualtf's one error format: a sentence, then the fixed tail ``Received: ...``.

    >>> error_message("A program must return the step made by be.function().", "int 42")
    'A program must return the step made by be.function(). Received: int 42.'
    """
    return f"{sentence} Received: {received}."


def format_error(subject: str, expected: str, received: str) -> str:
    """The common case of :func:`error_message`: "<subject> must be <expected>."

    >>> format_error("Feed `x`", "of shape (1, None)", "shape (2, 3)")
    'Feed `x` must be of shape (1, None). Received: shape (2, 3).'
    """
    return error_message(f"{subject} must be {expected}.", received)


def tf_cause(message: str) -> str:
    """The line of a TensorFlow error message that says what went wrong, not where the op was made.

    >>> tf_cause("Graph execution error:\\n\\nDetected at node x\\nindices[0] = 5 is not in [0, 1)\\n [[{{node x}}]]")
    'indices[0] = 5 is not in [0, 1)'
    """
    scaffolding = ("Graph execution error", "Detected at node", "Node:", "Original stack trace", "[[")
    for line in message.splitlines():
        if line.strip() and not line[0].isspace() and not line.startswith(scaffolding):
            if line.startswith("{{function_node") and "}}" in line:  # eager: which kernel, then the reason
                line = line.split("}}", 1)[1]
            return line.strip()[:300]
    return message.strip().splitlines()[0][:300] if message.strip() else "no message"


def check_int(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """Return ``value`` if it is an int >= ``minimum`` (and <= ``maximum``; not a bool), else raise DualTFError.

    >>> check_int("steps", 3, 1)
    3
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (maximum and value > maximum):
        expected = f"an int >= {minimum}" + (f" and <= {maximum}" if maximum else "")
        raise DualTFError(format_error(f"`{name}`", expected, f"{name}={value!r}"))
    return value


class DualTFError(Exception):
    """Base class of every error that dualtf raises.

    >>> import dualtf
    >>> try:
    ...     dualtf.backend("tpu-graph")
    ... except dualtf.DualTFError as e:
    ...     print(type(e).__name__)
    ModeError
    """


class ModeError(DualTFError, ValueError):
    """An unknown mode, or a mode that cannot run here (with the reason)."""


class StrategyError(DualTFError, ValueError):
    """An unknown strategy, or a strategy that cannot run here (with the reason)."""


class FeedError(DualTFError, ValueError):
    """A value does not fit what it is given to: a step's feed (name, dtype or shape), a variable's
    dtype and shape (``assign``, an initial value) or a constant's dtype; or a feed is declared wrongly."""


class StepError(DualTFError, RuntimeError):
    """TensorFlow raised an error while a step ran: the message names the step and the mode and
    keeps TensorFlow's reason; the TensorFlow error is the ``__cause__``."""


class ForeignObjectError(DualTFError, ValueError):
    """A variable, tensor or feed from another backend was passed to this one."""


class ClosedBackendError(DualTFError, RuntimeError):
    """A backend (or a step compiled by it) was used after the backend was closed."""


class UnsupportedCombinationError(DualTFError, ValueError):
    """A mode x strategy combination that TensorFlow cannot run (the message says why)."""


class MigrationError(DualTFError, ValueError):
    """Two programs of a migration report cannot be compared as asked: a ``variable_map`` name that
    names no variable, or a pair of variables of different shapes."""


class ProgramLoadError(DualTFError):
    """A program named as ``module:function`` or ``path/to/file.py:function`` cannot be loaded."""


class NotInstalledError(DualTFError, ImportError):
    """A package dualtf needs for what was asked (TensorFlow, scikit-learn, matplotlib) is not installed."""


class PrivateAPIError(DualTFError, ImportError):
    """A private TensorFlow or Keras piece dualtf needs is missing from the installed version."""


@contextlib.contextmanager
def dualtf_errors_unwrapped() -> Iterator[None]:
    """A DualTFError raised in ``fn`` while TensorFlow traces it comes out as itself.

    AutoGraph re-raises an error from traced code as a new one of its type, and where it
    cannot make one (an error class with its own ``__init__``, such as
    :class:`NotInstalledError`) as its own ``StagingError``; the original is its context.
    """
    try:
        yield
    except DualTFError:
        raise
    except Exception as exc:
        inner: BaseException | None = exc
        while inner is not None and not isinstance(inner, DualTFError):
            inner = inner.__cause__ or inner.__context__
        if inner is None:
            raise
        raise inner from None
