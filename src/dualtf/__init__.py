"""dualtf: identical TensorFlow code in graph, eager, function and xla modes.

Importing dualtf does not import TensorFlow; the first backend does.

>>> import dualtf
>>> dualtf.MODES
('graph', 'eager', 'function', 'xla')
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._api import backend
from ._errors import (
    ClosedBackendError,
    DualTFError,
    FeedError,
    ForeignObjectError,
    MigrationError,
    ModeError,
    NotInstalledError,
    PrivateAPIError,
    ProgramLoadError,
    StepError,
    StrategyError,
    UnsupportedCombinationError,
)
from ._modes import MODES, Mode, available_modes
from ._strategies import STRATEGIES, available_strategies, configure_virtual_cpus

if TYPE_CHECKING:
    from ._backends.base import Backend
    from ._backends.step import Step
    from ._feeds import Feed
    from .profiler import profile

__all__ = [
    "MODES",
    "STRATEGIES",
    "Backend",
    "ClosedBackendError",
    "DualTFError",
    "Feed",
    "FeedError",
    "ForeignObjectError",
    "MigrationError",
    "Mode",
    "ModeError",
    "NotInstalledError",
    "PrivateAPIError",
    "ProgramLoadError",
    "Step",
    "StepError",
    "StrategyError",
    "UnsupportedCombinationError",
    "available_modes",
    "available_strategies",
    "backend",
    "configure_virtual_cpus",
    "profile",
]

__version__ = "0.1.0"

# Names whose modules import TensorFlow, resolved on first use (PEP 562).
_LAZY = {"Backend": "._backends.base", "Step": "._backends.step", "Feed": "._feeds", "profile": ".profiler"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dualtf' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
