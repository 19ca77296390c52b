"""The one way dualtf refuses what a step built: scan its ops against a table, name the first refused.

A mode, or a feature, that cannot make some ops behave as in every other mode lists them in a
:class:`RefusalTable` (xla: ops XLA cannot compile; ``deterministic_random``: random ops that
would draw their own numbers; TF1 code: a placeholder, a queue). After the step is built, and
before anything runs, :func:`refuse` raises a :class:`~dualtf.DualTFError` naming the op, its
type, the user's line that made it, the step and the mode.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

from ..._errors import DualTFError, error_message

__all__ = ["Refusal", "RefusalTable", "refuse", "user_line"]


class Refusal(NamedTuple):
    """Why one op type is refused: what the user called, why it cannot be, what to do instead."""

    what: str
    why: str
    instead: str


#: The sentence every refusal starts with; a table may give its own (same fields).
SENTENCE = "{what} cannot be used inside step `{step}` (mode {mode!r}): {why}. Instead, {instead}."


class RefusalTable:
    """Op types refused, by name (``entries``) and by a rule over the op type (``rule``)."""

    def __init__(
        self,
        subject: str,
        entries: Mapping[str, Refusal],
        *,
        rule: Callable[[str], Refusal | None] | None = None,
        rule_doc: str = "",
        sentence: str = SENTENCE,
    ):
        #: What the table is about, for docs and messages ("xla", "deterministic_random", "TF1 code").
        self.subject = subject
        self.entries = dict(entries)
        self._rule = rule
        #: What ``rule`` refuses, in a sentence (docs/modes.md shows it).
        self.rule_doc = rule_doc
        self.sentence = sentence

    def markdown(self) -> str:
        """The table as docs/modes.md shows it: the op types by refusal, then the rule (a test checks it is current).

        >>> print(RefusalTable("demo", {"Assert": Refusal("an assertion", "XLA drops it", "check outside")}).markdown())
        | refused in demo | op types | instead |
        |---|---|---|
        | an assertion: XLA drops it | `Assert` | check outside |
        """
        grouped: dict[Refusal, list[str]] = {}
        for op_type, refusal in self.entries.items():
            grouped.setdefault(refusal, []).append(op_type)
        lines = [f"| refused in {self.subject} | op types | instead |", "|---|---|---|"]
        for refusal, op_types in grouped.items():
            types = ", ".join(f"`{t}`" for t in op_types)
            lines.append(f"| {refusal.what}: {refusal.why} | {types} | {refusal.instead} |")
        if self.rule_doc:
            lines.append(f"| by rule: {self.rule_doc} | any | as the message says |")
        return "\n".join(lines)

    def lookup(self, op_type: str) -> Refusal | None:
        """The refusal of ``op_type``, or None where it may be built.

        >>> table = RefusalTable("demo", {"Assert": Refusal("an assertion", "XLA drops it", "check outside")})
        >>> table.lookup("Assert").what, table.lookup("AddV2")
        ('an assertion', None)
        """
        found = self.entries.get(op_type)
        if found is None and self._rule is not None:
            found = self._rule(op_type)
        return found


def refuse(
    ops: Iterable[tuple[str, str]],
    table: RefusalTable,
    *,
    step: str,
    mode: str,
    where: Callable[[str], str | None] | None = None,
) -> None:
    """Raise a DualTFError for the first of ``ops`` (``(op type, op name)``) that ``table`` refuses.

    ``where(op_name)`` says the user's line that made the op, where the mode can tell.

    >>> table = RefusalTable("demo", {"Assert": Refusal("an assertion", "XLA drops it", "check outside")})
    >>> try:
    ...     refuse([("AddV2", "add"), ("Assert", "check/Assert")], table, step="train", mode="xla")
    ... except DualTFError as exc:
    ...     print(exc)
    an assertion cannot be used inside step `train` (mode 'xla'): XLA drops it. Instead, check outside. \
Received: op `check/Assert` (Assert).
    """
    for op_type, op_name in ops:
        found = table.lookup(op_type)
        if found is None:
            continue
        line = where(op_name) if where is not None else None
        sentence = table.sentence.format(
            what=found.what, why=found.why, instead=found.instead, step=step, mode=mode, op_type=op_type
        )
        raise DualTFError(error_message(sentence, f"op `{op_name}` ({op_type}){f' made at {line}' if line else ''}"))


#: Where library code lives: a frame in none of these is the user's.
#: TensorFlow, Keras and the packages they call back into (optree walks Keras' structures).
_LIBRARY_PARTS = tuple(
    os.sep + part + os.sep
    for part in ("tensorflow", "keras", "tf_keras", "absl", "numpy", "optree", "ml_dtypes", "wrapt", "google", "namex")
)
_LIBRARY_DIRS = (
    os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep,  # dualtf's own
    os.path.dirname(os.__file__) + os.sep,  # the standard library (contextlib, functools)
)


def user_line(frames: Iterable[Any]) -> str | None:
    """``file:line (code)`` of the innermost frame of ``frames`` (``(filename, lineno, name, line)`` each,
    outermost first, as ``tf.Operation.traceback`` and ``traceback.extract_tb`` give them) outside
    TensorFlow, Keras and dualtf, or None.

    >>> user_line([("/u/train.py", 3, "fn", "x.numpy()"), ("/site-packages/tensorflow/ops.py", 9, "f", "")])
    '/u/train.py:3 (x.numpy())'
    """
    found = None
    for frame in frames:
        filename, lineno, _, text = tuple(frame)[:4]
        if any(part in filename for part in _LIBRARY_PARTS) or filename.startswith(_LIBRARY_DIRS):
            continue
        if "__autograph_generated" in filename:
            continue
        if filename.startswith("<") and filename != "<stdin>" and not filename.startswith("<doctest"):
            continue
        found = f"{filename}:{lineno}" + (f" ({text.strip()})" if text else "")
    return found
