"""Loading a program named on a command line or for a worker process."""

from __future__ import annotations

import importlib
import importlib.util
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ._errors import DualTFError

__all__ = ["ProgramLoadError", "load_program"]


class ProgramLoadError(DualTFError):
    """A program or input file named on the command line cannot be loaded."""


def load_program(spec: str) -> Callable[..., Any]:
    """The function that ``spec`` (``module:name`` or ``path/to/file.py:name``) names."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ProgramLoadError(f"PROGRAM must be MODULE:NAME or path/to/file.py:NAME. Received: {spec!r}.")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ProgramLoadError(f"PROGRAM's file must exist. Received: {module_name!r} (no such file).")
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            assert loader_spec is not None and loader_spec.loader is not None
            module = importlib.util.module_from_spec(loader_spec)
            loader_spec.loader.exec_module(module)
        else:
            sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProgramLoadError(f"PROGRAM's module must be importable. Received: {module_name!r} ({exc}).") from None
    program = getattr(module, attr, None)
    if not callable(program):
        raise ProgramLoadError(f"PROGRAM must name a function in {module_name!r}. Received: {attr!r} ({type(program).__name__}).")
    return program  # type: ignore[no-any-return]
