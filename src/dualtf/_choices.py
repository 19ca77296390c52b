"""Parsing a list of names (modes, strategies) the same way for the API, the plugin and the CLI.

Importing this module never imports TensorFlow.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from ._errors import DualTFError, error_message

__all__ = ["parse_names"]

T = TypeVar("T", bound=str)


def parse_names(
    value: object,
    known: Sequence[T],
    kind: str,
    error: Callable[[str], DualTFError],
    where: str | None = None,
) -> tuple[T, ...]:
    """``value`` (``"a,b"`` or a sequence of names) as a tuple of known names, in the order given.

    ``kind`` is what a name is ("mode", "strategy"); ``where`` says where the
    list came from (an option, a marker) and starts the message.

    >>> from dualtf._errors import ModeError
    >>> parse_names("graph, eager", ("graph", "eager", "xla"), "mode", ModeError)
    ('graph', 'eager')
    """
    prefix = f"{where}: " if where else ""
    if isinstance(value, str):
        names: list[object] = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, Sequence):
        names = list(value)
    else:
        raise error(
            error_message(
                f"{prefix}A list of {kind}s must be a comma-separated string or a sequence of names.",
                f"{type(value).__name__} {value!r}",
            )
        )
    if not names:
        raise error(error_message(f"{prefix}A list of {kind}s must name at least one {kind}.", "an empty list"))
    for name in names:
        if not isinstance(name, str) or name not in known:
            raise error(
                error_message(f"{prefix}Every {kind} must be one of {', '.join(known)}.", f"unknown {kind} {name!r}")
            )
    return tuple(names)  # type: ignore[arg-type]
