"""Text tables, drawn by rich: the one place dualtf's reports (profiles, divergences, migrations) render."""

from __future__ import annotations

import io
from collections.abc import Sequence

__all__ = ["text_table"]


def text_table(
    title: str,
    header: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    caption: str | None = None,
    left: Sequence[str] = (),
    width: int = 160,
    no_wrap: bool = False,
) -> str:
    """A plain-text table: columns named in ``left`` (and the first) left-aligned, the rest right-aligned;
    long cells fold onto more lines unless ``no_wrap``.

    >>> print(text_table("t", ["a", "b"], [["x", "1"]], width=20).strip())
    t
    ┏━━━┳━━━┓
    ┃ a ┃ b ┃
    ┡━━━╇━━━┩
    │ x │ 1 │
    └───┴───┘
    """
    from rich.console import Console
    from rich.table import Table

    table = Table(
        title=title, caption=caption, title_justify="left", caption_justify="left", min_width=min(len(title), width)
    )
    for i, name in enumerate(header):
        table.add_column(name, justify="left" if i == 0 or name in left else "right", overflow="fold", no_wrap=no_wrap)
    for cells in rows:
        table.add_row(*cells)
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(table)
    return "".join(line.rstrip() + "\n" for line in console.export_text().splitlines())
