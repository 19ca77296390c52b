"""A Griffe extension for the API reference: dualtf's docstrings as Markdown renders them.

dualtf's docstrings are written for ``help()`` and doctest: examples as ``>>>`` sessions
(which Markdown would read as nested block quotes) and Sphinx roles (``:meth:`Backend.function```,
which Markdown would print literally). mkdocstrings loads this extension (mkdocs.yml) and
gets each example as a ``pycon`` code block and each role as inline code, the docstrings
themselves unchanged.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import griffe

_ROLE = re.compile(r":(?:meth|func|class|data|attr|exc|mod|obj):`(~?)\.?([^`]+)`")


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def markdown(text: str) -> str:
    """``text`` with its doctest sessions fenced as ``pycon`` and its Sphinx roles as inline code
    (``tests/test_docs.py`` checks it on an example and on the built site)."""
    out: list[str] = []
    fenced = session = False
    for line in text.splitlines():
        stripped = line.lstrip()
        if stripped.startswith("```") and not session:
            fenced = not fenced
        elif not fenced and not session and stripped.startswith(">>>"):
            out.append(line[: len(line) - len(stripped)] + "```pycon")
            session = True
        elif session and not stripped:  # a blank line ends a doctest session
            out.append("```")
            session = False
        out.append(line if fenced or session else _ROLE.sub(_role, line))
    if session:
        out.append("```")
    return "\n".join(out)


def _objects(obj: Any) -> Iterator[Any]:
    yield obj
    for member in obj.members.values():
        if not member.is_alias:
            yield from _objects(member)


class DocstringsAsMarkdown(griffe.Extension):
    """Rewrites every docstring of the loaded package with :func:`markdown`."""

    def on_package(self, *, pkg: Any, **kwargs: Any) -> None:
        for obj in _objects(pkg):
            if obj.docstring is not None:
                obj.docstring.value = markdown(obj.docstring.value)
