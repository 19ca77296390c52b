"""Cross-mode checks for tests: the TF1 to TF2 migration check, as one assertion.

>>> import tensorflow as tf
>>> from dualtf.testing import assert_modes_agree
>>> def scale(be):
...     w = be.variable(2.0, name="w")
...     x = be.feed("x", tf.float32, shape=[None])
...     def step(x):
...         w.assign_add(1.0)
...         return w * x
...     return be.function(step, [x])
>>> assert_modes_agree(scale, {"x": [1.0, 2.0]}, steps=3)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from ._divergence import (
    DEFAULT_TOLERANCE,
    DTYPE_TOLERANCES,
    Divergence,
    first_op_gap,
    leaf_paths,
    output_gaps,
    tf32_off,
    tolerance_for,
    value_gap,
    variable_gaps,
)
from ._errors import ModeError, check_int, error_message
from ._migration import MigrationReport, migration_report
from ._modes import available_modes, parse_modes
from .program import Driver, Feeds, Program, ProgramRun, RunSettings, run_program

__all__ = [
    "DTYPE_TOLERANCES",
    "Divergence",
    "MigrationReport",
    "Program",
    "assert_modes_agree",
    "find_divergence",
    "migration_report",
    "run_program",
]

#: A tolerance for every mode, or one per mode (modes left out get the default).
Tolerance = float | Mapping[str, float]


def _tolerance(value: Tolerance | None, mode: str, default: float) -> float:
    if value is None:
        return default
    return float(value.get(mode, default)) if isinstance(value, Mapping) else float(value)


def _pair_tolerance(value: Tolerance | None, modes: Sequence[str], default: float) -> float | None:
    """The looser of two modes' tolerances; None (the dtype's default) where none was given."""
    return None if value is None else max(_tolerance(value, m, default) for m in modes)


def assert_modes_agree(
    program: Program,
    feeds: Feeds,
    *,
    steps: int = 1,
    modes: Sequence[str] | str | None = None,
    rtol: Tolerance | None = None,
    atol: Tolerance | None = None,
    seed: int | None = 0,
    driver: Driver | None = None,
    deterministic_random: bool = False,
    fresh_inputs: bool = False,
    localize: bool = True,
) -> None:
    """Assert that ``program`` gives the same outputs and final variables in every mode.

    Each mode runs the program in a fresh backend (seeded with ``seed``), calls
    the step ``steps`` times with the same feeds (``feeds`` is one call's values,
    by feed name or in order, or a function of the call's index returning
    them, to feed a new batch each call), and every output of every call
    and every variable's final value is compared with the first mode's. On
    failure the message names the output or variable, the call (the step
    index, from 1), the two modes, and the largest absolute and relative
    difference.

    A program may return several steps (a dict or tuple of steps, such as a
    train step and an eval step): then ``feeds`` maps each step's name to its
    values, and each call runs every step once, in order; or ``driver(steps, i)``
    runs call ``i`` any way it likes and returns what to compare (see
    :func:`dualtf.program.run_program`). ``rtol`` and ``atol`` are one number,
    or one per mode (``{"xla": 1e-4}``: XLA reorders float sums); two modes are
    compared at the looser of their tolerances. Left out, they are 1e-5 and 1e-6,
    and 1e-2 for float16 and bfloat16 values (:data:`DTYPE_TOLERANCES`); the message
    says which applied. With ``deterministic_random=True``
    each backend draws its stateful random ops from one generator seeded by
    ``seed``, so programs with dropout or random initial values compare too. With
    ``fresh_inputs=True`` each mode calls the step once more on other values (every
    fed number changed, shapes kept): a value baked into a trace (a Python number
    taken from a tensor at trace time) gives the old answer in a traced mode, and the
    modes disagree on that call. On a GPU, TensorFloat-32 is off while modes run.

    With ``localize=True`` (the default) a failure also says *where* the first
    two modes that differ part (:func:`find_divergence`): the first call whose
    outputs or variables differ, each variable that differs, and the first
    intermediate tensor of that call that differs, with its op and the line of
    your code that made it. The :class:`Divergence` is the error's ``divergence``.

    >>> import tensorflow as tf
    >>> def relu(be):
    ...     x = be.feed("x", tf.float32, shape=[None])
    ...     return be.function(tf.nn.relu, [x])
    >>> assert_modes_agree(relu, [[-1.0, 2.0]], modes=["graph", "eager"])
    """
    check_int("steps", steps, 1)
    chosen = available_modes() if modes is None else parse_modes(modes, "`modes` of assert_modes_agree")
    settings = RunSettings(steps, seed, driver, deterministic_random, fresh_inputs)
    with tf32_off():
        results = {mode: settings.run(program, feeds, mode, record_variables=True) for mode in chosen}
    base_mode = chosen[0]
    base_outputs, base_vars = results[base_mode]
    problems: list[str] = []
    first_differing = None
    for mode in chosen[1:]:
        outputs, variables = results[mode]
        pair_rtol = _pair_tolerance(rtol, (base_mode, mode), DEFAULT_TOLERANCE[0])
        pair_atol = _pair_tolerance(atol, (base_mode, mode), DEFAULT_TOLERANCE[1])
        found: list[str] = []
        for call, (want, got) in enumerate(zip(base_outputs, outputs, strict=True), start=1):
            label = f"output of call {call}" + (" (fresh inputs)" if fresh_inputs and call == steps + 1 else "")
            found += _compare(label, want, got, base_mode, mode, pair_rtol, pair_atol)
        if len(variables) != len(base_vars):
            found.append(
                f"mode {base_mode!r} made {len(base_vars)} variables but mode {mode!r} made {len(variables)}: "
                f"{[n for n, _ in base_vars]} vs {[n for n, _ in variables]}"
            )
        else:
            for index, ((name, want), (_, got)) in enumerate(zip(base_vars, variables, strict=True)):
                found += _compare(
                    f"variable #{index} `{name}` after {settings.steps} call(s)",
                    want,
                    got,
                    base_mode,
                    mode,
                    pair_rtol,
                    pair_atol,
                )
        if found and first_differing is None:
            first_differing = (mode, pair_rtol, pair_atol)
        problems += found
    if not problems:
        return
    message = "modes disagree:\n  " + "\n  ".join(problems)
    divergence = None
    if localize and first_differing is not None:
        mode, pair_rtol, pair_atol = first_differing
        with tf32_off():
            divergence = _divergence(
                program, feeds, (base_mode, mode), (results[base_mode], results[mode]), settings, pair_rtol, pair_atol
            )
        if divergence is not None:
            message += "\n\n" + divergence.table()
    error = AssertionError(message)
    error.divergence = divergence  # type: ignore[attr-defined]
    raise error


def find_divergence(
    program: Program,
    feeds: Feeds,
    modes: Sequence[str] | str,
    *,
    steps: int = 1,
    rtol: float | None = None,
    atol: float | None = None,
    seed: int | None = 0,
    driver: Driver | None = None,
    deterministic_random: bool = False,
    fresh_inputs: bool = False,
) -> Divergence | None:
    """Where ``program`` first differs between two modes, or None where they agree.

    Both modes run the program (as :func:`assert_modes_agree` runs it) with the variables
    read after every call. At the first call whose outputs or variables differ, the
    :class:`Divergence` lists each output and variable that differs with its largest
    absolute and relative difference; then both modes run again with every step giving
    its intermediate values on that call, and ``first_op`` names the first one that
    differs: the op (in eager, the local variable) and the line of your code that made
    it in each mode. Two traced modes are matched op by op, eager against a traced mode
    line by line. Ops inside loop bodies and branches, Keras loops and fused steps are
    not probed (``why_no_op`` says so).

    >>> import tensorflow as tf
    >>> def noisy(be):
    ...     x = be.feed("x", tf.float32, shape=[3])
    ...     def step(x):
    ...         noise = tf.random.uniform([3])
    ...         return x + noise
    ...     return be.function(step, [x])
    >>> found = find_divergence(noisy, [[0.0, 0.0, 0.0]], ["graph", "function"])
    >>> found.call, found.first_op.op_type, found.first_op.line.split(" (", 1)[1]
    (1, 'RandomUniform', 'noise = tf.random.uniform([3]))')
    """
    check_int("steps", steps, 1)
    chosen = parse_modes(modes, "`modes` of find_divergence")
    if len(chosen) != 2:
        raise ModeError(error_message("find_divergence compares exactly two modes.", ", ".join(chosen)))
    settings = RunSettings(steps, seed, driver, deterministic_random, fresh_inputs)
    with tf32_off():
        runs = tuple(settings.run(program, feeds, mode, record_variables=True) for mode in chosen)
        return _divergence(program, feeds, (chosen[0], chosen[1]), (runs[0], runs[1]), settings, rtol, atol)


def _divergence(
    program: Program,
    feeds: Feeds,
    modes: tuple[str, str],
    runs: tuple[ProgramRun, ProgramRun],
    settings: RunSettings,
    rtol: float | None,
    atol: float | None,
) -> Divergence | None:
    """The first call of ``runs`` that differs, its gaps, and its first differing op (by probing)."""
    first, second = runs
    for index, (want, got) in enumerate(zip(first.outputs, second.outputs, strict=True)):
        outputs = output_gaps(want, got, rtol, atol)
        variables = variable_gaps(first.variables_by_call[index], second.variables_by_call[index], rtol, atol)
        if outputs or variables:
            break
    else:
        return None
    call = index + 1
    notes = (
        [f"call {call} ran on fresh inputs (fresh_inputs=True)"]
        if settings.fresh_inputs and call > settings.steps
        else []
    )
    try:
        probes = tuple(settings.run(program, feeds, mode, probe_call=call) for mode in modes)
    except Exception as exc:  # noqa: BLE001 - a report, not a run: say why and keep what was found
        return Divergence(modes, call, tuple(outputs), tuple(variables), None, f"probing failed: {exc}", tuple(notes))
    for mode, probe, run in zip(modes, probes, runs, strict=True):
        if output_gaps(run.outputs[index], probe.outputs[index], rtol, atol):
            notes.append(
                f"mode {mode!r} gave other outputs on call {call} when probed than when run: its steps do not give "
                "the same numbers twice from one seed, so the op found may not be where the runs part"
            )
    empty = [mode for mode, probe in zip(modes, probes, strict=True) if not probe.intermediates]
    if empty:
        reason = f"mode {empty[0]!r} gave no intermediate values (Keras loops, fused steps and epochs are not probed)"
        return Divergence(modes, call, tuple(outputs), tuple(variables), None, reason, tuple(notes))
    op = first_op_gap(probes[0].intermediates, probes[1].intermediates, rtol, atol)
    why: str | None = None
    if op is None:
        why = (
            "every probed value agrees: the difference is made where nothing is probed (inside a loop body or a "
            "branch, or in an op no user line made)"
        )
    return Divergence(modes, call, tuple(outputs), tuple(variables), op, why, tuple(notes))


def _compare(
    label: str, want: Any, got: Any, mode_a: str, mode_b: str, rtol: float | None, atol: float | None
) -> list[str]:
    import tensorflow as tf

    try:
        tf.nest.assert_same_structure(want, got)
    except (ValueError, TypeError) as exc:
        return [f"{label}: structure differs between modes {mode_a!r} and {mode_b!r} ({exc})"]
    out = []
    for path, a, b in zip(leaf_paths(want), tf.nest.flatten(want), tf.nest.flatten(got), strict=True):
        name = label if path == "" else f"{label} [{path}]"
        if a is None or b is None:
            if a is not b:
                out.append(f"{name}: None in one mode only ({mode_a!r}: {a!r}, {mode_b!r}: {b!r})")
            continue
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape:
            out.append(f"{name}: shape {a.shape} in mode {mode_a!r} but {b.shape} in mode {mode_b!r}")
            continue
        gap = value_gap(a, b, rtol, atol)
        if gap is None:
            continue
        if a.dtype.kind not in "biufcV":
            out.append(f"{name}: modes {mode_a!r} and {mode_b!r} give different values")
            continue
        rtol_here, atol_here = tolerance_for(a.dtype.name, rtol, atol)
        out.append(
            f"{name}: modes {mode_a!r} and {mode_b!r} differ: max abs diff {gap[0]:.3g}, "
            f"max rel diff {gap[1]:.3g} ({a.dtype.name}: rtol={rtol_here}, atol={atol_here})"
        )
    return out
