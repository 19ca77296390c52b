"""Where the benchmarks write their tables: between markers in docs/performance.md, never typed."""

from __future__ import annotations

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
