"""dualtf's errors: one base class, one message format.

Every message reads "<subject> must be <expected>. Received: <received>." so a
user always sees which thing (feed, variable, mode, strategy, option) was wrong,
what dualtf expected and what it got.
"""

from __future__ import annotations

__all__ = [
    "ClosedBackendError",
    "DualTFError",
    "FeedError",
    "ForeignObjectError",
    "ModeError",
    "UnsupportedCombinationError",
    "check_int",
    "format_error",
]


def format_error(subject: str, expected: str, received: str) -> str:
    """Return dualtf's one error format.

    >>> format_error("Feed `x`", "of shape (1, None)", "shape (2, 3)")
    'Feed `x` must be of shape (1, None). Received: shape (2, 3).'
    """
    return f"{subject} must be {expected}. Received: {received}."


def check_int(name: str, value: object, minimum: int) -> int:
    """Return ``value`` if it is an int >= ``minimum`` (not a bool), else raise DualTFError naming it.

    >>> check_int("steps", 3, 1)
    3
    """
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise DualTFError(format_error(f"`{name}`", f"an int >= {minimum}", f"{name}={value!r}"))
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


class FeedError(DualTFError, ValueError):
    """A value fed to a step does not match its feed (name, dtype or shape)."""


class ForeignObjectError(DualTFError, ValueError):
    """A variable, tensor or feed from another backend was passed to this one."""


class ClosedBackendError(DualTFError, RuntimeError):
    """A backend (or a step compiled by it) was used after the backend was closed."""


class UnsupportedCombinationError(DualTFError, ValueError):
    """A mode x strategy combination that TensorFlow cannot run (the message says why)."""
