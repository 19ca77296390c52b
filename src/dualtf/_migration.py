"""The checklist of TensorFlow's migration guide, automated: a TF1 program against its TF2 rewrite.

TensorFlow's guide to validating a migration ("validate correctness and numerical
equivalence") asks for the same variables (names, shapes, counts), the same initial values,
then the same numbers after one step and after several, with random numbers drawn alike.
:func:`migration_report` does each of those: it runs the *reference* (the TF1 program, in its
dualtf form, in graph mode by default) and the *candidate* (the rewrite) in every mode asked for,
under ``deterministic_random=True``, pairs their variables, and compares, per variable and per
output, before the first call, after the first and after the last. Where they part, the first
call is named with every variable that differs on it and the first value of the reference's that
the candidate never computed (found by value: two programs' ops share no names).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ._divergence import Divergence, Gap, OpGap, first_unmatched_value, json_ready, made_by, tf32_off, value_gap
from ._errors import MigrationError, ModeError, check_int, error_message, format_error
from ._modes import available_modes, parse_modes
from ._tables import text_table
from .program import Feeds, Program, ProgramRun, RunSettings, named_variables, trainable_flags

if TYPE_CHECKING:
    from ._backends.base import Backend

__all__ = ["MigrationReport", "ModeCheck", "Row", "VariableMatch", "Variables", "match_variables", "migration_report"]

#: A variable: its name and value.
Named = tuple[str, np.ndarray]


class VariableMatch(NamedTuple):
    """A variable of the reference paired with one of the candidate."""

    reference: str
    candidate: str
    shape: tuple[int, ...]
    #: ``name`` (the same name, Keras' and TensorFlow's ``_1`` suffixes aside), ``map`` (your
    #: ``variable_map``) or ``order`` (the n-th left of this shape and dtype, in creation order).
    how: str
    reference_index: int
    candidate_index: int


class Variables(NamedTuple):
    """How two programs' variables pair up."""

    matched: tuple[VariableMatch, ...]
    #: Trainable variables of one program that nothing of the other's matched: the models differ.
    reference_only: tuple[str, ...]
    candidate_only: tuple[str, ...]
    #: Variables that are not trainable (optimizer slots, step counters, random generators' state)
    #: and matched nothing by name or map: not compared, as optimizers keep their state their own way.
    not_compared: tuple[str, ...]
    #: (all, trainable) variables of each program.
    reference_count: tuple[int, int]
    candidate_count: tuple[int, int]


_SUFFIX = re.compile(r"_\d+(?=/|$)")


def _plain(name: str) -> str:
    """``name`` without the ``_N`` each name scope gets when it is taken (``sequential_1/dense_2/kernel``
    is ``sequential/dense/kernel``).

    >>> _plain("sequential_1/dense_2/kernel")
    'sequential/dense/kernel'
    """
    return _SUFFIX.sub("", name)


def match_variables(
    reference: Sequence[Named],
    reference_trainable: Sequence[bool],
    candidate: Sequence[Named],
    candidate_trainable: Sequence[bool],
    variable_map: Mapping[str, str] | None = None,
) -> Variables:
    """Pair the variables of two programs: by ``variable_map`` (reference name to candidate name),
    then by name, then — trainable variables only — the n-th left of each shape and dtype in creation
    order. A name in ``variable_map`` that names no variable, or a pair whose shapes differ, is a
    MigrationError.

    >>> a = [("W", np.zeros((3, 1))), ("b", np.zeros(1))]
    >>> b = [("dense/kernel", np.zeros((3, 1))), ("dense/bias", np.zeros(1))]
    >>> [(m.reference, m.candidate, m.how) for m in match_variables(a, [True] * 2, b, [True] * 2).matched]
    [('W', 'dense/kernel', 'order'), ('b', 'dense/bias', 'order')]
    """
    matched: list[VariableMatch] = []
    free_ref = dict(enumerate(reference))
    free_cand = dict(enumerate(candidate))

    def pair(i: int, j: int, how: str) -> None:
        matched.append(VariableMatch(reference[i][0], candidate[j][0], np.shape(reference[i][1]), how, i, j))
        del free_ref[i], free_cand[j]

    def find(names: dict[int, Named], wanted: str, side: str) -> int:
        for key in ("exact", "plain"):
            for i, (name, _) in names.items():
                if name == wanted or (key == "plain" and _plain(name) == _plain(wanted)):
                    return i
        every = [name for name, _ in (reference if side == "reference" else candidate)]
        raise MigrationError(
            format_error(
                f"Each {side} name in `variable_map`", f"the name of a variable of the {side} ({every})", wanted
            )
        )

    for want_ref, want_cand in (variable_map or {}).items():
        i, j = find(free_ref, want_ref, "reference"), find(free_cand, want_cand, "candidate")
        shape_ref, shape_cand = np.shape(reference[i][1]), np.shape(candidate[j][1])
        if shape_ref != shape_cand:
            raise MigrationError(
                format_error(
                    f"Variables `{want_ref}` and `{want_cand}` paired by `variable_map`",
                    "of one shape",
                    f"shapes {list(shape_ref)} and {list(shape_cand)}",
                )
            )
        pair(i, j, "map")
    for name_of in (lambda n: n, _plain):
        for i, (name, value) in list(free_ref.items()):
            for j, (other, other_value) in free_cand.items():
                if name_of(name) == name_of(other) and _kind(value) == _kind(other_value):
                    pair(i, j, "name")
                    break
    for i, (_, value) in list(free_ref.items()):
        if not reference_trainable[i]:
            continue
        for j, (_, other_value) in free_cand.items():
            if candidate_trainable[j] and _kind(value) == _kind(other_value):
                pair(i, j, "order")
                break
    matched.sort(key=lambda m: m.reference_index)
    return Variables(
        tuple(matched),
        tuple(name for i, (name, _) in free_ref.items() if reference_trainable[i]),
        tuple(name for j, (name, _) in free_cand.items() if candidate_trainable[j]),
        tuple(name for i, (name, _) in free_ref.items() if not reference_trainable[i])
        + tuple(name for j, (name, _) in free_cand.items() if not candidate_trainable[j]),
        (len(reference), sum(map(bool, reference_trainable))),
        (len(candidate), sum(map(bool, candidate_trainable))),
    )


def _kind(value: Any) -> tuple[tuple[int, ...], str]:
    array = np.asarray(value)
    return array.shape, array.dtype.name


class Row(NamedTuple):
    """One variable or output, compared at each point: ``(max abs diff, max rel diff)``, None where
    the two agree, absent where there is nothing to compare (an output before the first call)."""

    what: str
    gaps: Mapping[str, tuple[float, float] | None]


@dataclass(frozen=True)
class ModeCheck:
    """The candidate in one mode against the reference."""

    mode: str
    variables: Variables
    rows: tuple[Row, ...]
    #: Where the two first part (None where they agree); ``first_op`` is the first value of the
    #: reference's (op and line) that the candidate never computed.
    divergence: Divergence | None
    #: Initial values were copied from the reference before the first call.
    copied: bool

    @property
    def ok(self) -> bool:
        """The variables pair up, and every variable and output agrees at every point."""
        variables = self.variables
        if variables.reference_only or variables.candidate_only:
            return False
        return all(gap is None for row in self.rows for point, gap in row.gaps.items() if point != "initial") and (
            self.copied or all(row.gaps.get("initial") is None for row in self.rows)
        )


@dataclass(frozen=True)
class MigrationReport:
    """What :func:`migration_report` found: the variables paired, and each mode's comparison."""

    reference_mode: str
    steps: int
    points: tuple[str, ...]
    checks: tuple[ModeCheck, ...]
    deterministic_random: bool

    @property
    def ok(self) -> bool:
        """The candidate agrees with the reference in every mode."""
        return all(check.ok for check in self.checks)

    def as_dict(self) -> dict[str, Any]:
        """Plain Python values (JSON-ready; ``inf`` as a string)."""
        out: dict[str, Any] = json_ready(
            {
                "ok": self.ok,
                "reference_mode": self.reference_mode,
                "steps": self.steps,
                "deterministic_random": self.deterministic_random,
                "modes": {
                    check.mode: {
                        "ok": check.ok,
                        "copied_initial_values": check.copied,
                        "variables": {
                            "matched": [m._asdict() for m in check.variables.matched],
                            "reference_only": list(check.variables.reference_only),
                            "candidate_only": list(check.variables.candidate_only),
                            "not_compared": list(check.variables.not_compared),
                            "reference_count": _counts(check.variables.reference_count),
                            "candidate_count": _counts(check.variables.candidate_count),
                        },
                        "rows": [{"what": row.what, "gaps": dict(row.gaps)} for row in check.rows],
                        "divergence": None if check.divergence is None else check.divergence.as_dict(),
                    }
                    for check in self.checks
                },
            }
        )
        return out

    def to_json(self) -> str:
        """JSON text of :meth:`as_dict`."""
        return json.dumps(self.as_dict(), indent=2)

    def table(self, width: int = 120) -> str:
        """The variables as paired, then each mode's comparison, as text tables."""
        parts = [self._variables_table(self.checks[0].variables, width)] if self.checks else []
        parts += [self._mode_table(check, width) for check in self.checks]
        verdict = "the candidate agrees with the reference" if self.ok else "the candidate DIFFERS from the reference"
        random = ", deterministic_random=True" if self.deterministic_random else ""
        parts.append(f"{verdict} (reference in mode {self.reference_mode}, {self.steps} call(s){random})\n")
        return "\n".join(parts)

    @staticmethod
    def _variables_table(variables: Variables, width: int) -> str:
        (ref_all, ref_train), (cand_all, cand_train) = variables.reference_count, variables.candidate_count
        title = (
            f"variables: reference {ref_all} ({ref_train} trainable), candidate {cand_all} ({cand_train} trainable); "
            f"{len(variables.matched)} paired"
        )
        rows = [[m.reference, m.candidate, str(list(m.shape)), m.how] for m in variables.matched]
        rows += [[name, "—", "", "reference only"] for name in variables.reference_only]
        rows += [["—", name, "", "candidate only"] for name in variables.candidate_only]
        caption = None
        if variables.not_compared:
            shown = ", ".join(variables.not_compared[:6]) + (", ..." if len(variables.not_compared) > 6 else "")
            caption = f"not trainable, not paired by name, not compared: {shown}"
        header = ["reference", "candidate", "shape", "paired by"]
        return text_table(title, header, rows, caption=caption, left=header, width=width)

    def _mode_table(self, check: ModeCheck, width: int) -> str:
        found = check.divergence
        state = "agree" if check.ok else (f"first differ on call {found.call}" if found else "differ")
        title = f"reference ({self.reference_mode}) and candidate ({check.mode}): {state}"
        header = ["what", *(f"{p} (copied)" if p == "initial" and check.copied else p for p in self.points)]
        rows = [[row.what, *(_cell(row.gaps, p) for p in self.points)] for row in check.rows]
        lines = []
        if found is not None:
            if found.first_op is not None:
                lines.append(_first_value(found.first_op, found.call, "reference", "candidate"))
            if found.other_first_op is not None:
                lines.append(_first_value(found.other_first_op, found.call, "candidate", "reference"))
            if found.why_no_op:
                lines.append(f"first value that differs: not found ({found.why_no_op})")
            lines += found.notes
        caption = "\n".join(lines) or None
        return text_table(title, header, rows, caption=caption, width=width)


def _counts(count: tuple[int, int]) -> dict[str, int]:
    return {"all": count[0], "trainable": count[1]}


def _cell(gaps: Mapping[str, tuple[float, float] | None], point: str) -> str:
    if point not in gaps:
        return ""
    gap = gaps[point]
    return "=" if gap is None else f"{gap[0]:.3g} (rel {gap[1]:.2g})"


def _first_value(op: OpGap, call: int, this: str, other: str) -> str:
    return (
        f"first value of the {this}'s on call {call} that the {other} never computed: "
        f"{made_by(op.op, op.op_type, op.line)} (closest of the {other}'s: "
        f"{made_by(op.other_op, op.other_op_type, op.other_line)}, max abs diff {op.max_abs:.3g})"
    )


def migration_report(
    reference: Program,
    candidate: Program,
    feeds: Feeds,
    *,
    steps: int = 3,
    modes: Sequence[str] | str | None = None,
    reference_mode: str = "graph",
    candidate_feeds: Feeds | None = None,
    variable_map: Mapping[str, str] | None = None,
    copy_initial: bool = False,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int | None = 0,
    deterministic_random: bool = True,
) -> MigrationReport:
    """Check a rewrite (``candidate``) against the program it rewrites (``reference``), as TensorFlow's
    migration guide asks: the same variables, the same initial values, the same numbers after one call
    and after ``steps`` calls.

    Both are dualtf programs (a TF1 program in its dualtf form: its graph code as written). The
    reference runs in ``reference_mode``, the candidate in each of ``modes`` (default: every
    available mode), each ``steps`` calls on ``feeds`` (the candidate on ``candidate_feeds`` where
    its feeds are named otherwise), under ``deterministic_random=True`` so dropout and random
    initial values draw the same numbers. Variables are paired by ``variable_map`` (reference name
    to candidate name), by name, then trainable ones by shape in creation order (the report says
    which); ``copy_initial=True`` sets each paired candidate variable to the reference's initial
    value before the first call. Returns a :class:`MigrationReport`: ``.ok``, ``.table()`` and
    ``.to_json()``.

    >>> import tensorflow as tf
    >>> def tf1(be):
    ...     x = be.feed("x", tf.float32, [None, 2])
    ...     def step(x):
    ...         w = tf.compat.v1.get_variable("w", [2, 1], initializer=tf.compat.v1.ones_initializer())
    ...         loss = tf.reduce_mean(tf.matmul(x, w) ** 2)
    ...         with tf.control_dependencies([tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(loss)]):
    ...             return tf.identity(loss)
    ...     return be.function(step, [x])
    >>> def tf2(be):
    ...     w = be.variable(tf.ones([2, 1]), name="kernel")
    ...     x = be.feed("x", tf.float32, [None, 2])
    ...     def step(x):
    ...         with tf.GradientTape() as tape:
    ...             loss = tf.reduce_mean(tf.matmul(x, w) ** 2)
    ...         w.assign_sub(0.1 * tape.gradient(loss, w))
    ...         return loss
    ...     return be.function(step, [x])
    >>> report = migration_report(tf1, tf2, {"x": [[1.0, 2.0]]}, modes=["eager", "function"])
    >>> report.ok, [(m.reference, m.candidate, m.how) for m in report.checks[0].variables.matched]
    (True, [('w', 'kernel', 'order')])
    """
    check_int("steps", steps, 1)
    chosen = available_modes() if modes is None else parse_modes(modes, "`modes` of migration_report")
    ref_modes = parse_modes(reference_mode, "`reference_mode` of migration_report")
    if len(ref_modes) != 1:
        raise ModeError(error_message("`reference_mode` of migration_report is one mode.", reference_mode))
    pair = _Pair(
        reference,
        candidate,
        feeds,
        feeds if candidate_feeds is None else candidate_feeds,
        RunSettings(steps, seed, deterministic_random=deterministic_random),
        variable_map or {},
        copy_initial,
        rtol,
        atol,
    )
    with tf32_off():
        ref_initial: list[Named] = []
        ref = pair.run(
            reference, ref_modes[0], lambda be: ref_initial.extend(named_variables(be)), record_variables=True
        )
        checks = tuple(pair.check(mode, ref_modes[0], ref, ref_initial) for mode in chosen)
    points = ("initial", "call 1") if steps == 1 else ("initial", "call 1", f"call {steps}")
    return MigrationReport(ref_modes[0], steps, points, checks, deterministic_random)


class _Pair(NamedTuple):
    """The two programs and how both run."""

    reference: Program
    candidate: Program
    feeds: Feeds
    candidate_feeds: Feeds
    settings: RunSettings
    variable_map: Mapping[str, str]
    copy_initial: bool
    rtol: float | None
    atol: float | None

    def run(
        self, program: Program, mode: str, setup: Callable[[Backend], None] | None = None, **more: Any
    ) -> ProgramRun:
        feeds = self.feeds if program is self.reference else self.candidate_feeds
        return self.settings.run(program, feeds, mode, setup=setup, **more)

    def check(self, mode: str, reference_mode: str, ref: ProgramRun, ref_initial: list[Named]) -> ModeCheck:
        """The candidate in ``mode`` against the reference's run ``ref``."""
        initial: list[Named] = []
        ref_trainable = ref.trainable[: len(ref_initial)]

        def setup(be: Backend) -> None:  # after the build, before the first call: pair, check the map, copy
            initial[:] = named_variables(be)
            paired = match_variables(ref_initial, ref_trainable, initial, trainable_flags(be), self.variable_map)
            if self.copy_initial:
                tf_vars = be.variables
                for match in paired.matched:
                    be.assign(tf_vars[match.candidate_index], ref_initial[match.reference_index][1])

        cand = self.run(self.candidate, mode, setup, record_variables=True)
        variables = match_variables(ref.variables, ref.trainable, cand.variables, cand.trainable, self.variable_map)
        rows = _rows(variables, ref, ref_initial, cand, initial, self.rtol, self.atol)
        divergence = self._divergence(mode, reference_mode, variables, ref, cand, setup)
        return ModeCheck(mode, variables, rows, divergence, self.copy_initial)

    def _divergence(
        self,
        mode: str,
        reference_mode: str,
        variables: Variables,
        ref: ProgramRun,
        cand: ProgramRun,
        setup: Callable[[Backend], None],
    ) -> Divergence | None:
        runs = (f"reference ({reference_mode})", f"candidate ({mode})")
        for index in range(len(ref.outputs)):
            outputs = _output_gaps(ref.outputs[index], cand.outputs[index], self.rtol, self.atol)
            changed = _variable_gaps(
                variables, ref.variables_by_call[index], cand.variables_by_call[index], self.rtol, self.atol
            )
            if outputs or changed:
                break
        else:
            return None
        call = index + 1
        try:
            ref_probe = self.run(self.reference, reference_mode, probe_call=call)
            cand_probe = self.run(self.candidate, mode, setup, probe_call=call)
        except Exception as exc:  # noqa: BLE001 - a report, not a run: say why and keep what was found
            return Divergence(runs, call, tuple(outputs), tuple(changed), None, f"probing failed: {exc}")
        if not ref_probe.intermediates or not cand_probe.intermediates:
            empty = "a program gave no intermediate values (Keras loops, fused steps and epochs are not probed)"
            return Divergence(runs, call, tuple(outputs), tuple(changed), None, empty)
        # A value of one program that no value of the other's agrees with: searched for among every
        # op's value of a traced run; eager gives only what its lines keep in locals, so an eager run's
        # values are looked for in the other's, never the other way.
        rtol, atol = self.rtol, self.atol
        ref_values, cand_values = ref_probe.intermediates, cand_probe.intermediates
        op = None if mode == "eager" else first_unmatched_value(ref_values, cand_values, rtol, atol)
        other = None if reference_mode == "eager" else first_unmatched_value(cand_values, ref_values, rtol, atol)
        why = None
        if op is None and other is None:
            why = "every probed value of each program has an equal one in the other's"
        notes: tuple[str, ...] = ()
        return Divergence(runs, call, tuple(outputs), tuple(changed), op, why, notes, other)


def _leaves(structure: Any) -> list[Any]:
    """The values of one call's outputs, without the Nones (a TF1 step's train op)."""
    import tensorflow as tf

    return [leaf for leaf in tf.nest.flatten(structure) if leaf is not None]


def _output_gaps(want: Any, got: Any, rtol: float | None, atol: float | None) -> list[Gap]:
    """The two programs' outputs compared leaf by leaf (structures may differ: a TF1 step returns its
    train op's None beside the loss)."""
    a, b = _leaves(want), _leaves(got)
    if len(a) != len(b):
        return [Gap("outputs", float("inf"), float("inf"), f"{len(a)} values against {len(b)}")]
    gaps = []
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        gap = value_gap(x, y, rtol, atol)
        if gap is not None:
            gaps.append(Gap(_output_name(i, len(a)), *gap, str(list(np.shape(x)))))
    return gaps


def _output_name(i: int, count: int) -> str:
    return "output" if count == 1 else f"output {i}"


def _variable_gaps(
    variables: Variables, ref: Sequence[Named], cand: Sequence[Named], rtol: float | None, atol: float | None
) -> list[Gap]:
    gaps = []
    for match in variables.matched:
        if match.reference_index >= len(ref) or match.candidate_index >= len(cand):
            continue  # made later (an optimizer's slot, on its first use)
        gap = value_gap(ref[match.reference_index][1], cand[match.candidate_index][1], rtol, atol)
        if gap is not None:
            gaps.append(Gap(_variable_name(match), *gap, str(list(match.shape))))
    return gaps


def _variable_name(match: VariableMatch) -> str:
    same = match.reference == match.candidate
    return f"variable {match.reference}" + ("" if same else f" / {match.candidate}")


def _rows(
    variables: Variables,
    ref: ProgramRun,
    ref_initial: Sequence[Named],
    cand: ProgramRun,
    cand_initial: Sequence[Named],
    rtol: float | None,
    atol: float | None,
) -> tuple[Row, ...]:
    """Each paired variable, then each output, at each point: before the first call, after the first,
    after the last."""
    last = len(ref.outputs) - 1
    calls = [0] if last == 0 else [0, last]
    rows = []
    for match in variables.matched:
        gaps: dict[str, tuple[float, float] | None] = {}
        i, j = match.reference_index, match.candidate_index
        if i < len(ref_initial) and j < len(cand_initial):
            gaps["initial"] = value_gap(ref_initial[i][1], cand_initial[j][1], rtol, atol)
        for call in calls:
            gaps[f"call {call + 1}"] = value_gap(
                ref.variables_by_call[call][i][1], cand.variables_by_call[call][j][1], rtol, atol
            )
        rows.append(Row(_variable_name(match), gaps))
    ref_leaves = [_leaves(out) for out in ref.outputs]
    cand_leaves = [_leaves(out) for out in cand.outputs]
    count = len(ref_leaves[0])
    if any(len(leaves) != count for leaves in (*ref_leaves, *cand_leaves)):
        inf = (float("inf"), float("inf"))
        rows.append(Row("outputs (a different number of values)", {f"call {c + 1}": inf for c in calls}))
        return tuple(rows)
    for k in range(count):
        rows.append(
            Row(
                _output_name(k, count),
                {f"call {c + 1}": value_gap(ref_leaves[c][k], cand_leaves[c][k], rtol, atol) for c in calls},
            )
        )
    return tuple(rows)
