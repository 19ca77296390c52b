"""Where two runs part: the first call, each variable, and the first op (and the user's line) that differ.

:func:`dualtf.testing.assert_modes_agree`, ``dualtf compare`` and the migration report find that two
runs differ; this module says where. Every call's outputs and variables are compared in order, so
the report starts at the first call that differs; then both runs are made again, the second time
with every step *probing* (``_backends/probe.py``): on that call each step also gives the values of
its own intermediate tensors, and the first one that differs beyond tolerance is named with the
op that made it and the user's line. Two traced modes (graph, function, xla) are matched op by
op — the same Python makes the same ops, line by line, in the same order — and eager against a
traced mode line by line (a value a line of eager code made against the values the traced mode's
ops made at that line).
"""

from __future__ import annotations

import contextlib
import json
import os
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, NamedTuple

import numpy as np

from ._tables import text_table

__all__ = [
    "DEFAULT_TOLERANCE",
    "DTYPE_TOLERANCES",
    "Divergence",
    "Gap",
    "OpGap",
    "first_op_gap",
    "first_unmatched_value",
    "json_ready",
    "made_by",
    "leaf_paths",
    "output_gaps",
    "tf32_off",
    "tolerance_for",
    "value_gap",
    "variable_gaps",
]

#: rtol, atol for values of any dtype not in :data:`DTYPE_TOLERANCES`.
DEFAULT_TOLERANCE = (1e-5, 1e-6)
#: The defaults by dtype where they differ (as Keras' own tests compare half-precision floats).
DTYPE_TOLERANCES: dict[str, tuple[float, float]] = {"float16": (1e-2, 1e-2), "bfloat16": (1e-2, 1e-2)}


class Gap(NamedTuple):
    """One value that differs: what it is, and by how much (``inf`` where values cannot be subtracted, or one is 0)."""

    what: str
    max_abs: float
    max_rel: float
    detail: str = ""


class OpGap(NamedTuple):
    """The first intermediate value that differs between two runs of one call."""

    #: The op (eager: the local variable) of the first run, and its type (``eager`` for eager).
    op: str
    op_type: str
    #: The user's line that made it, ``file:line (code)``.
    line: str | None
    #: The same for the second run.
    other_op: str
    other_op_type: str
    other_line: str | None
    shape: tuple[int, ...]
    max_abs: float
    max_rel: float


@contextlib.contextmanager
def tf32_off() -> Iterator[None]:
    """TensorFloat-32 off while modes run (on a GPU it rounds float32 matmuls to 10 bits), put back after."""
    import tensorflow as tf

    if not tf.config.list_logical_devices("GPU"):
        yield
        return
    was = tf.config.experimental.tensor_float_32_execution_enabled()
    tf.config.experimental.enable_tensor_float_32_execution(False)
    try:
        yield
    finally:
        tf.config.experimental.enable_tensor_float_32_execution(was)


def tolerance_for(dtype_name: str, rtol: float | None, atol: float | None) -> tuple[float, float]:
    """``rtol``, ``atol`` where given, else the dtype's defaults."""
    default_rtol, default_atol = DTYPE_TOLERANCES.get(dtype_name, DEFAULT_TOLERANCE)
    return (default_rtol if rtol is None else rtol), (default_atol if atol is None else atol)


def value_gap(a: Any, b: Any, rtol: float | None, atol: float | None) -> tuple[float, float] | None:
    """``(max abs diff, max rel diff)`` where ``a`` and ``b`` differ beyond tolerance (the dtype's
    default where ``rtol``/``atol`` is None), else None. Shapes that differ: ``(inf, inf)``.

    >>> value_gap([1.0, 2.0], [1.0, 2.5], None, None)
    (0.5, 0.25)
    >>> value_gap([1.0], [1.0 + 1e-9], None, None) is None
    True
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        return float("inf"), float("inf")
    kind = "f" if a.dtype.kind == "V" else a.dtype.kind  # ml_dtypes (bfloat16) are floats
    if kind not in "biufc":
        return None if np.array_equal(a, b) else (float("inf"), float("inf"))
    wide_a = a.astype(np.complex128 if kind == "c" else np.float64)
    wide_b = b.astype(np.complex128 if b.dtype.kind == "c" else np.float64)
    rtol_here, atol_here = tolerance_for(a.dtype.name, rtol, atol)
    if np.allclose(wide_a, wide_b, rtol=rtol_here, atol=atol_here, equal_nan=True):
        return None
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        diff = np.abs(wide_a - wide_b)
        diff = np.where(np.isnan(wide_a) & np.isnan(wide_b), 0.0, diff)
        rel = np.where(diff == 0, 0.0, diff / np.abs(wide_a))  # inf where a is 0 and b is not
    return float(np.nanmax(diff, initial=0.0)), float(np.nanmax(rel, initial=0.0))


def leaf_paths(structure: Any, prefix: str = "") -> list[str]:
    """Joined paths of the leaves, in tf.nest.flatten's order (dict keys sorted).

    >>> leaf_paths({"b": [1, 2], "a": 3})
    ['a', 'b/0', 'b/1']
    """
    if isinstance(structure, Mapping):
        return [
            p
            for key in sorted(structure)
            for p in leaf_paths(structure[key], f"{prefix}/{key}" if prefix else str(key))
        ]
    if isinstance(structure, (list, tuple)):
        return [p for i, item in enumerate(structure) for p in leaf_paths(item, f"{prefix}/{i}" if prefix else str(i))]
    return [prefix]


def output_gaps(want: Any, got: Any, rtol: float | None, atol: float | None) -> list[Gap]:
    """The leaves of one call's outputs that differ: ``output`` for a single output, else ``output [path]``."""
    import tensorflow as tf

    try:
        tf.nest.assert_same_structure(want, got)
    except (ValueError, TypeError):
        return [Gap("(structure)", float("inf"), float("inf"), "the outputs' structures differ")]
    gaps = []
    for path, a, b in zip(leaf_paths(want), tf.nest.flatten(want), tf.nest.flatten(got), strict=True):
        what = f"output [{path}]" if path else "output"
        if a is None or b is None:
            if a is not b:
                gaps.append(Gap(what, float("inf"), float("inf"), "None in one run only"))
            continue
        gap = value_gap(a, b, rtol, atol)
        if gap is not None:
            gaps.append(Gap(what, *gap, _shapes(a, b)))
    return gaps


def variable_gaps(
    first: Sequence[tuple[str, Any]], second: Sequence[tuple[str, Any]], rtol: float | None, atol: float | None
) -> list[Gap]:
    """The variables that differ, matched in creation order, by the first run's name (and the second's)."""
    if len(first) != len(second):
        return [Gap("(count)", float("inf"), float("inf"), f"{len(first)} variables against {len(second)}")]
    gaps = []
    for (name, a), (other, b) in zip(first, second, strict=True):
        gap = value_gap(a, b, rtol, atol)
        if gap is not None:
            gaps.append(Gap(name if name == other else f"{name} / {other}", *gap, _shapes(a, b)))
    return gaps


def _shapes(a: Any, b: Any) -> str:
    shape_a, shape_b = np.shape(a), np.shape(b)
    return str(list(shape_a)) if shape_a == shape_b else f"{list(shape_a)} and {list(shape_b)}"


def first_op_gap(first: Sequence[Any], second: Sequence[Any], rtol: float | None, atol: float | None) -> OpGap | None:
    """The first intermediate (``probe.Intermediate``) of ``first`` that differs from its match in
    ``second``: matched by (line, op type, n-th of them) between two traced runs, by line where one
    run is eager (an eager value agrees if any value of the same shape and dtype the other run made
    at that line agrees). Values with no match are passed over."""
    eager_first = any(i.op_type == "eager" for i in first)
    eager_second = any(i.op_type == "eager" for i in second)
    if eager_first or eager_second:
        return _by_line(first, second, rtol, atol, eager_is_first=eager_first)
    index: dict[tuple[Any, ...], Any] = {}
    for key, item in _keyed(second):
        index.setdefault(key, item)
    for key, item in _keyed(first):
        other = index.get(key)
        if other is None or other.value.shape != item.value.shape:
            continue
        gap = value_gap(item.value, other.value, rtol, atol)
        if gap is not None:
            return _op_gap(item, other, gap)
    return None


def _keyed(items: Sequence[Any]) -> list[tuple[tuple[Any, ...], Any]]:
    count: dict[tuple[Any, ...], int] = defaultdict(int)
    out = []
    for item in items:
        base = (item.line, item.op_type, item.name.rsplit(":", 1)[-1])  # the output's index
        out.append(((*base, count[base]), item))
        count[base] += 1
    return out


def _by_line(
    first: Sequence[Any], second: Sequence[Any], rtol: float | None, atol: float | None, *, eager_is_first: bool
) -> OpGap | None:
    eager, traced = (first, second) if eager_is_first else (second, first)
    at_line: dict[str | None, list[Any]] = defaultdict(list)
    for item in traced:
        at_line[item.line].append(item)
    for item in eager:
        same = [
            t
            for t in at_line.get(item.line, [])
            if t.value.shape == item.value.shape and t.value.dtype == item.value.dtype
        ]
        if not same:
            continue
        gaps = [value_gap(item.value, t.value, rtol, atol) for t in same]
        if all(g is not None for g in gaps):
            closest = min(range(len(same)), key=lambda i: gaps[i][0])  # type: ignore[index]
            gap = gaps[closest]
            assert gap is not None
            pair = (item, same[closest]) if eager_is_first else (same[closest], item)
            return _op_gap(*pair, gap)
    return None


def first_unmatched_value(
    reference: Sequence[Any], candidate: Sequence[Any], rtol: float | None, atol: float | None
) -> OpGap | None:
    """Between two *different* programs (ops named and ordered differently): the first intermediate of
    ``reference`` that no intermediate of ``candidate`` of the same shape and dtype agrees with, and
    its closest one. A reference value of a shape the candidate never made is passed over (computed
    another way, not wrong), as is one made of constants alone."""
    by_kind: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for item in candidate:
        by_kind[(item.value.shape, item.value.dtype)].append(item)
    for item in reference:
        if not item.varies:  # made of constants alone (a gradient's seed of ones): the other may fold it away
            continue
        others = by_kind.get((item.value.shape, item.value.dtype), [])
        if not others:
            continue
        closest: tuple[Any, tuple[float, float]] | None = None
        for other in others:
            gap = value_gap(item.value, other.value, rtol, atol)
            if gap is None:
                break
            if closest is None or gap[0] < closest[1][0]:
                closest = (other, gap)
        else:
            assert closest is not None
            return _op_gap(item, *closest)
    return None


def _op_gap(item: Any, other: Any, gap: tuple[float, float]) -> OpGap:
    return OpGap(
        item.name,
        item.op_type,
        item.line,
        other.name,
        other.op_type,
        other.line,
        tuple(int(d) for d in item.value.shape),
        *gap,
    )


def json_ready(value: Any) -> Any:
    """``value`` with its tuples as lists and its infinities as strings: what ``json.dumps`` writes
    as valid JSON (it would write ``Infinity``).

    >>> json_ready({"gap": (1.0, float("inf"))})
    {'gap': [1.0, 'inf']}
    """
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        return str(value)
    if isinstance(value, Mapping):
        return {k: json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_ready(v) for v in value]
    return value


def made_by(name: str, op_type: str, line: str | None) -> str:
    """``op `name` (Type) made at file:line (code)``, the file relative to the working directory when under it."""
    what = f"local `{name}`" if op_type == "eager" else f"op `{name}` ({op_type})"
    if line is None:
        return f"{what}, made by no line of yours"
    path = line.split(":", 1)[0]
    if os.path.isabs(path) and path.startswith(os.getcwd() + os.sep):
        line = os.path.relpath(path) + line[len(path) :]
    return f"{what} made at {line}"


def _number(value: float) -> str:
    return "—" if value != value else f"{value:.3g}"


@dataclass(frozen=True)
class Divergence:
    """Where two runs (two modes, or a TF1 program and its rewrite) first differ.

    ``call`` is the first call (from 1) whose outputs or variables differ; ``outputs`` and
    ``variables`` list every one that differs after it, by name, with the largest absolute and
    relative difference; ``first_op`` is the first intermediate value of that call that differs,
    with the op and the user's line that made it in each run (None, with ``why_no_op``, where it
    could not be found).
    """

    runs: tuple[str, str]
    call: int
    outputs: tuple[Gap, ...]
    variables: tuple[Gap, ...]
    first_op: OpGap | None = None
    why_no_op: str | None = None
    notes: tuple[str, ...] = field(default=())
    #: Between two different programs (a migration): the first value of the second run that no value
    #: of the first agrees with (``first_op`` is then the first run's that no value of the second does).
    other_first_op: OpGap | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-ready; ``inf`` as a string)."""
        out = asdict(self)
        out["outputs"] = [g._asdict() for g in self.outputs]
        out["variables"] = [g._asdict() for g in self.variables]
        out["first_op"] = None if self.first_op is None else self.first_op._asdict()
        out["other_first_op"] = None if self.other_first_op is None else self.other_first_op._asdict()
        return json_ready(out)  # type: ignore[no-any-return]

    def to_json(self) -> str:
        """JSON text of :meth:`as_dict`."""
        return json.dumps(self.as_dict(), indent=2)

    def table(self, width: int = 120) -> str:
        """What differs, as a text table a person reads at a glance."""
        a, b = self.runs
        rows = [[g.what, _number(g.max_abs), _number(g.max_rel), g.detail] for g in self.outputs]
        rows += [[f"variable {g.what}", _number(g.max_abs), _number(g.max_rel), g.detail] for g in self.variables]
        op = self.first_op
        if op is not None:
            there = f"first value that differs:\n{a}: {made_by(op.op, op.op_type, op.line)}"
            there += f"\n{b}: {made_by(op.other_op, op.other_op_type, op.other_line)}"
            rows.append([there, _number(op.max_abs), _number(op.max_rel), str(list(op.shape))])
        else:
            rows.append([f"first value that differs: not found ({self.why_no_op})", "", "", ""])
        title = f"{a} and {b} first differ on call {self.call}"
        caption = "\n".join(self.notes) or None
        return text_table(
            title, ["what differs", "max abs diff", "max rel diff", "shape"], rows, caption=caption, width=width
        )
