"""Probing a step: the values of its intermediate tensors on one call, to say *where* modes disagree.

A backend made with a probe sink (``be._probe_sink``, a list) builds every step so that each call
also appends what it computed on the way to its results: graph and function/xla fetch the
outputs of the step's own ops (its top level, not loop bodies or branches) with its results, in
the same run; eager, which has no ops to fetch, records the tensors each line of the user's code
leaves in its local variables, as the line runs. Each value carries the user's line that made
it (``file:line (code)``, as refusals name lines), so two modes can be matched op by op (the same
Python traced twice makes the same ops, line by line) or line by line (eager against a traced
mode). Only :mod:`dualtf._divergence` makes probing backends: a normal step never pays for this.
"""

from __future__ import annotations

import linecache
import sys
from collections.abc import Callable, Iterable, Sequence
from types import FrameType
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from .tf1.refuse import user_line

__all__ = ["MAX_PROBED", "Intermediate", "ProbePoint", "probe_points", "record_eager_lines", "values_of"]

#: At most this many tensors are probed per step (a bound on what one call fetches).
MAX_PROBED = 5000

#: Ops whose outputs say nothing about where modes part: inputs, constants, handles, plumbing.
_NOT_PROBED = frozenset(
    {"Placeholder", "Const", "VarHandleOp", "NoOp", "Identity", "IdentityN", "StopGradient", "Shape", "Size", "Rank"}
)


class Intermediate(NamedTuple):
    """One probed value of one call: the op that made it (eager: the local variable it went to)."""

    #: The op's name (eager: the local variable's name, ``return`` for a returned value).
    name: str
    #: The op's type (eager: ``"eager"``).
    op_type: str
    #: ``file:line (code)`` of the user's line that made it, or None where no user line made it.
    line: str | None
    value: np.ndarray
    #: Whether the value depends on a feed, a variable or a random op (not on constants alone).
    varies: bool = True


class ProbePoint(NamedTuple):
    """A tensor of a built step to fetch with its results, and what it will be called."""

    tensor: tf.Tensor
    name: str
    op_type: str
    line: str | None
    varies: bool = True


#: Ops whose value is not fixed when the step is built: inputs and variables (and any stateful op).
_SOURCES = frozenset({"Placeholder", "VarHandleOp", "ReadVariableOp", "_Arg"})
#: Ops whose value depends on their input's shape only: the same in two runs fed alike.
_SHAPES = frozenset({"Shape", "ShapeN", "Size", "Rank"})


def probe_points(ops: Sequence[tf.Operation], roots: Iterable[tf.Operation]) -> list[ProbePoint]:
    """The outputs worth fetching of ``ops`` (a step's own, in the order they were made) whose values
    flow into ``roots`` (its results' ops) or into a stateful op of ``ops`` (an assignment, a random
    draw): numbers and booleans of ops other than inputs, constants and plumbing, at most
    :data:`MAX_PROBED`. Each says whether it varies: depends on a feed, a variable or a stateful op,
    not on constants and shapes alone."""
    live = _upstream([*roots, *(op for op in ops if op.op_def.is_stateful)], {op.name for op in ops})
    points: list[ProbePoint] = []
    varying: set[str] = set()
    for op in ops:
        if op.type not in _SHAPES and (
            op.type in _SOURCES
            or op.op_def.is_stateful
            or any(t.op.name in varying or t.op.type in _SOURCES for t in op.inputs)
        ):
            varying.add(op.name)
        if op.type in _NOT_PROBED or op.name not in live:
            continue
        line = None
        for out in op.outputs:
            dtype = out.dtype
            if not (dtype.is_floating or dtype.is_integer or dtype.is_complex or dtype.is_bool):
                continue
            if line is None:
                line = _with_code(user_line(op.traceback)) or ""
            points.append(ProbePoint(out, out.name, op.type, line or None, op.name in varying))
            if len(points) >= MAX_PROBED:
                return points
    return points


def _upstream(roots: Iterable[tf.Operation], within: set[str]) -> set[str]:
    """The names of the ops in ``within`` whose values flow into ``roots``, roots included: what makes a
    step's numbers (an op that only orders others, as TF1's gradient gates do, makes none)."""
    seen: set[str] = set()
    stack = [op for op in roots if op.name in within]
    while stack:
        op = stack.pop()
        if op.name in seen:
            continue
        seen.add(op.name)
        stack.extend(t.op for t in op.inputs if t.op.name in within)
    return seen


def _with_code(line: str | None) -> str | None:
    """``file:line (code)``: the code read from the file where a traceback kept none (as eager's lines are)."""
    if line is None or line.endswith(")"):
        return line
    filename, _, lineno = line.rpartition(":")
    text = linecache.getline(filename, int(lineno)).strip() if lineno.isdigit() else ""
    return f"{line} ({text})" if text else line


def values_of(points: list[ProbePoint], values: Iterable[Any]) -> list[Intermediate]:
    """``points`` with the values one call fetched for them."""
    return [
        Intermediate(p.name, p.op_type, p.line, np.asarray(v), p.varies) for p, v in zip(points, values, strict=True)
    ]


def record_eager_lines(call: Callable[[], Any]) -> tuple[Any, list[Intermediate]]:
    """Run ``call`` (an eager step) and record, after each line of the user's code, the tensors the
    line left in the frame's local variables (new objects only) and the tensors a function returned.

    Python's own line tracing (``sys.settrace``), in this thread only and put back after; a tracer
    already set (a debugger, coverage) is off while ``call`` runs.
    """
    kept: list[tuple[str, str | None, tf.Tensor]] = []
    seen: set[int] = set()
    last: dict[int, int] = {}

    def where(frame: FrameType, lineno: int) -> str:
        filename = frame.f_code.co_filename
        text = linecache.getline(filename, lineno).strip()
        return f"{filename}:{lineno}" + (f" ({text})" if text else "")

    def note(name: str, value: Any, frame: FrameType, lineno: int) -> None:
        if isinstance(value, tf.Tensor) and id(value) not in seen:
            seen.add(id(value))
            kept.append((name, where(frame, lineno), value))  # kept alive: ids stay unique

    def local(frame: FrameType, event: str, arg: Any) -> Any:
        if event in ("line", "return"):
            previous = last.get(id(frame))
            if previous is not None:
                for name, value in list(frame.f_locals.items()):
                    note(name, value, frame, previous)
                if event == "return":
                    for i, leaf in enumerate(tf.nest.flatten(arg) if arg is not None else []):
                        note("return" if i == 0 else f"return[{i}]", leaf, frame, previous)
            last[id(frame)] = frame.f_lineno
        return local

    def calls(frame: FrameType, event: str, arg: Any) -> Any:
        if event != "call":
            return None
        code = frame.f_code
        if user_line([(code.co_filename, frame.f_lineno, code.co_name, "")]) is None:
            return None
        last.pop(id(frame), None)
        for value in frame.f_locals.values():  # its arguments: seen, not made here
            if isinstance(value, tf.Tensor):
                seen.add(id(value))
        return local

    previous_tracer = sys.gettrace()
    sys.settrace(calls)
    try:
        result = call()
    finally:
        sys.settrace(previous_tracer)
    return result, [
        Intermediate(name, "eager", line, np.asarray(tensor.numpy()))
        for name, line, tensor in kept
        if tensor.dtype.is_floating or tensor.dtype.is_integer or tensor.dtype.is_complex or tensor.dtype.is_bool
    ]
