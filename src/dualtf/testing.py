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

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import numpy as np

from ._errors import check_int
from ._modes import available_modes, parse_modes
from .program import Driver, Feeds, Program, run_program

__all__ = ["DTYPE_TOLERANCES", "Program", "assert_modes_agree", "run_program"]

#: A tolerance for every mode, or one per mode (modes left out get the default).
Tolerance = float | Mapping[str, float]

_DEFAULT_RTOL, _DEFAULT_ATOL = 1e-5, 1e-6
#: The defaults by dtype where they differ (as Keras' own tests compare half-precision floats); a tolerance
#: given to assert_modes_agree applies to every dtype.
DTYPE_TOLERANCES: dict[str, tuple[float, float]] = {"float16": (1e-2, 1e-2), "bfloat16": (1e-2, 1e-2)}


def _tolerance(value: Tolerance | None, mode: str, default: float) -> float:
    if value is None:
        return default
    return float(value.get(mode, default)) if isinstance(value, Mapping) else float(value)


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

    >>> import tensorflow as tf
    >>> def relu(be):
    ...     x = be.feed("x", tf.float32, shape=[None])
    ...     return be.function(tf.nn.relu, [x])
    >>> assert_modes_agree(relu, [[-1.0, 2.0]], modes=["graph", "eager"])
    """
    check_int("steps", steps, 1)
    chosen = available_modes() if modes is None else parse_modes(modes, "`modes` of assert_modes_agree")
    with _tf32_off():
        results = {
            mode: run_program(
                program,
                feeds,
                mode,
                steps=steps,
                seed=seed,
                driver=driver,
                deterministic_random=deterministic_random,
                fresh_inputs=fresh_inputs,
            )
            for mode in chosen
        }
    base_mode = chosen[0]
    base_outputs, base_vars = results[base_mode]
    problems: list[str] = []
    for mode in chosen[1:]:
        outputs, variables = results[mode]
        pair_rtol = None if rtol is None else max(_tolerance(rtol, m, _DEFAULT_RTOL) for m in (base_mode, mode))
        pair_atol = None if atol is None else max(_tolerance(atol, m, _DEFAULT_ATOL) for m in (base_mode, mode))
        for call, (want, got) in enumerate(zip(base_outputs, outputs, strict=True), start=1):
            label = f"output of call {call}" + (" (fresh inputs)" if fresh_inputs and call == steps + 1 else "")
            problems += _compare(label, want, got, base_mode, mode, pair_rtol, pair_atol)
        if len(variables) != len(base_vars):
            problems.append(
                f"mode {base_mode!r} made {len(base_vars)} variables but mode {mode!r} made {len(variables)}: "
                f"{[n for n, _ in base_vars]} vs {[n for n, _ in variables]}"
            )
            continue
        for index, ((name, want), (_, got)) in enumerate(zip(base_vars, variables, strict=True)):
            problems += _compare(
                f"variable #{index} `{name}` after {steps} call(s)", want, got, base_mode, mode, pair_rtol, pair_atol
            )
    if problems:
        raise AssertionError("modes disagree:\n  " + "\n  ".join(problems))


def _paths(structure: Any, prefix: str = "") -> list[str]:
    """Joined paths of the leaves, in tf.nest.flatten's order (dict keys sorted)."""
    if isinstance(structure, Mapping):
        return [
            p for key in sorted(structure) for p in _paths(structure[key], f"{prefix}/{key}" if prefix else str(key))
        ]
    if isinstance(structure, (list, tuple)):
        return [p for i, item in enumerate(structure) for p in _paths(item, f"{prefix}/{i}" if prefix else str(i))]
    return [prefix]


@contextlib.contextmanager
def _tf32_off() -> Iterator[None]:
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


def _compare(
    label: str, want: Any, got: Any, mode_a: str, mode_b: str, rtol: float | None, atol: float | None
) -> list[str]:
    import tensorflow as tf

    try:
        tf.nest.assert_same_structure(want, got)
    except (ValueError, TypeError) as exc:
        return [f"{label}: structure differs between modes {mode_a!r} and {mode_b!r} ({exc})"]
    out = []
    for path, a, b in zip(_paths(want), tf.nest.flatten(want), tf.nest.flatten(got), strict=True):
        name = label if path == "" else f"{label} [{path}]"
        if a is None or b is None:
            if a is not b:
                out.append(f"{name}: None in one mode only ({mode_a!r}: {a!r}, {mode_b!r}: {b!r})")
            continue
        a, b = np.asarray(a), np.asarray(b)
        default_rtol, default_atol = DTYPE_TOLERANCES.get(a.dtype.name, (_DEFAULT_RTOL, _DEFAULT_ATOL))
        rtol_here = default_rtol if rtol is None else rtol
        atol_here = default_atol if atol is None else atol
        if a.shape != b.shape:
            out.append(f"{name}: shape {a.shape} in mode {mode_a!r} but {b.shape} in mode {mode_b!r}")
            continue
        kind = a.dtype.kind if a.dtype.kind != "V" else "f"  # ml_dtypes (bfloat16) are floats
        if kind in "biufc" and not np.allclose(
            a.astype(np.float64) if a.dtype.kind == "V" else a,
            b.astype(np.float64) if b.dtype.kind == "V" else b,
            rtol=rtol_here,
            atol=atol_here,
            equal_nan=True,
        ):
            diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
            rel = diff / np.maximum(np.abs(a.astype(np.float64)), np.finfo(np.float64).tiny)
            out.append(
                f"{name}: modes {mode_a!r} and {mode_b!r} differ: max abs diff {diff.max():.3g}, "
                f"max rel diff {rel.max():.3g} ({a.dtype.name}: rtol={rtol_here}, atol={atol_here})"
            )
        elif kind not in "biufc" and not np.array_equal(a, b):
            out.append(f"{name}: modes {mode_a!r} and {mode_b!r} give different values")
    return out
