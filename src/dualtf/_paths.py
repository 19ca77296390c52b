"""The one check that an output path can be written, for the profiler and the CLI alike."""

from __future__ import annotations

import os
from pathlib import Path

from ._errors import DualTFError, error_message

__all__ = ["writable_dir", "writable_file"]


def writable_dir(path: str | os.PathLike[str], subject: str) -> Path:
    """``path`` as a directory that exists (made if needed) and can be written, else DualTFError.

    >>> import tempfile
    >>> writable_dir(tempfile.mkdtemp(), "`trace_dir`").is_dir()
    True
    """
    out = Path(path)
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".dualtf-write-check"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise DualTFError(
            error_message(f"{subject} must be a writable directory.", f"{str(path)!r} ({exc.strerror})")
        ) from None
    return out


def writable_file(path: str | os.PathLike[str], subject: str) -> Path:
    """``path`` if its directory exists and can be written (checked before any work), else DualTFError.

    >>> writable_file("/no/such/dir/report.json", "--json")
    Traceback (most recent call last):
    ...
    dualtf._errors.DualTFError: --json must be a path in a writable directory. Received: '/no/such/dir/report.json'.
    """
    parent = Path(path).resolve().parent
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        raise DualTFError(error_message(f"{subject} must be a path in a writable directory.", repr(str(path))))
    return Path(path)
