"""One private module per mode, each ending with ``backend_class = ...``, imported lazily by name.

``base.py`` is the contract; ``step.py``, ``distribute.py``, ``tensors.py`` and
``traced.py`` are what the modes share. docs/architecture.md walks through them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from .._modes import Mode

if TYPE_CHECKING:
    from .base import Backend


def backend_class(mode: Mode) -> type[Backend]:
    """The Backend subclass for an already-checked mode name (imports TensorFlow)."""
    module = importlib.import_module(f"{__name__}.{mode}")
    cls: type[Backend] = module.backend_class
    return cls
