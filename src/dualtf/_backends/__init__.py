"""One private module per mode, each exposing one Backend subclass, imported lazily by name."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .._modes import Mode

if TYPE_CHECKING:
    from .base import Backend

_CLASSES = {"graph": "GraphBackend", "eager": "EagerBackend", "function": "FunctionBackend", "xla": "XlaBackend"}


def backend_class(mode: Mode) -> type[Backend]:
    """The Backend subclass for an already-checked mode name (imports TensorFlow)."""
    module = importlib.import_module(f"{__name__}.{mode}")
    return getattr(module, _CLASSES[mode])  # type: ignore[no-any-return]
