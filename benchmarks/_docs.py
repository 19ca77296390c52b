"""Where the benchmarks write their tables: between markers in docs/performance.md, never typed."""

from __future__ import annotations

import os
import platform
from pathlib import Path

PERFORMANCE = Path(__file__).resolve().parent.parent / "docs" / "performance.md"


def markers(name: str) -> tuple[str, str]:
    """The HTML comments that open and close benchmark ``name``'s block."""
    return f"<!-- {name}: begin -->", f"<!-- {name}: end -->"


def update_docs(name: str, text: str, path: Path = PERFORMANCE) -> None:
    """Replace what lies between benchmark ``name``'s markers in ``path`` with ``text``."""
    begin, end = markers(name)
    doc = path.read_text()
    head, rest = doc.split(begin, 1)
    _, tail = rest.split(end, 1)
    path.write_text(f"{head}{begin}\n{text}\n{end}{tail}")


def block(name: str, path: Path = PERFORMANCE) -> list[str]:
    """The lines between benchmark ``name``'s markers in ``path``."""
    begin, end = markers(name)
    return path.read_text().split(begin, 1)[1].split(end, 1)[0].strip().splitlines()


def provenance(details: str) -> str:
    """The line every benchmark table starts with: TensorFlow, device, Python, then ``details``."""
    import tensorflow as tf

    gpus = tf.config.list_logical_devices("GPU")
    where = gpus[0].name if gpus else f"CPU ({os.cpu_count()} cores, {platform.machine()})"
    return f"TensorFlow {tf.__version__} · {where} · Python {platform.python_version()} · {details}"
