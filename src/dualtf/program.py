"""Programs: dualtf's unit of user code, and the one place that loads and runs them.

A *program* is a function that takes a backend, declares its state and feeds,
and returns the step made by :meth:`dualtf.Backend.function`. The same program
runs in every mode; testing (:func:`dualtf.testing.assert_modes_agree`), the
profiler, the ``dualtf`` command and multi-worker runs all go through here.

>>> import tensorflow as tf
>>> def add_one(be):
...     a = be.feed("a", tf.int32, shape=[3])
...     return be.function(lambda a: a + 1, [a])
>>> run = run_program(add_one, {"a": [0, 1, 2]}, "graph")
>>> run.outputs[0].tolist(), run.variables
([1, 2, 3], [])
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ._api import backend
from ._errors import DualTFError, FeedError, ProgramLoadError, check_int, error_message

if TYPE_CHECKING:
    from ._backends.base import Backend
    from ._backends.step import Step

__all__ = [
    "Driver",
    "FeedValues",
    "Feeds",
    "Program",
    "ProgramRun",
    "checked_step",
    "checked_steps",
    "feed_arguments",
    "load_program",
    "run_program",
]

#: A program: given a backend, declare state and feeds, return the compiled step
#: (or several: a dict of steps by name, or a tuple of steps).
Program = Callable[["Backend"], Any]
#: One call's values: by feed name, or in feed order.
FeedValues = Mapping[str, Any] | Sequence[Any]
#: One call's values, or a function of the call's index returning them (a new batch each call).
Feeds = FeedValues | Callable[[int], FeedValues] | None


#: Drives a program's steps for one call index: ``driver(steps, i)`` returns that call's outputs.
Driver = Callable[[Any, int], Any]


@dataclass(frozen=True)
class ProgramRun:
    """What one run of a program gave: each call's output, then every variable's final value
    (``outputs, variables = run_program(...)`` unpacks those two; the rest are attributes).

    >>> outputs, variables = ProgramRun([1.0], [("w", np.zeros(2))])
    >>> outputs
    [1.0]
    """

    outputs: list[Any]
    #: ``(name, value)`` in creation order: the order matches them across modes (graph may uniquify names).
    variables: list[tuple[str, np.ndarray]]
    #: With ``record_variables=True``: the variables after each call, as :attr:`variables`.
    variables_by_call: tuple[list[tuple[str, np.ndarray]], ...] = ()
    #: With ``probe_call=N``: the intermediate values of call N's steps (see dualtf._divergence).
    intermediates: tuple[Any, ...] = ()
    #: Whether each of :attr:`variables` is trainable (optimizer slots and counters are not).
    trainable: tuple[bool, ...] = ()

    def __iter__(self) -> Iterator[Any]:
        return iter((self.outputs, self.variables))


class RunSettings(NamedTuple):
    """How each run of a comparison calls :func:`run_program`: the same steps, seed, driver and switches
    for every mode (and both programs of a migration report)."""

    steps: int = 1
    seed: int | None = 0
    driver: Driver | None = None
    deterministic_random: bool = False
    fresh_inputs: bool = False

    def run(self, program: Program, feeds: Feeds, mode: str, **more: Any) -> ProgramRun:
        """:func:`run_program` with these settings (``more``: its other keywords)."""
        return run_program(
            program,
            feeds,
            mode,
            steps=self.steps,
            seed=self.seed,
            driver=self.driver,
            deterministic_random=self.deterministic_random,
            fresh_inputs=self.fresh_inputs,
            **more,
        )


def checked_step(step: object) -> Step:
    """``step`` if a program returned the step made by ``be.function()``, else DualTFError.

    >>> checked_step(42)
    Traceback (most recent call last):
    ...
    dualtf._errors.ProgramLoadError: A program must return the step made by be.function(). Received: int 42.
    """
    from ._backends.step import Step

    if not isinstance(step, Step):
        raise ProgramLoadError(
            error_message("A program must return the step made by be.function().", f"{type(step).__name__} {step!r}")
        )
    return step


def checked_steps(result: object) -> dict[str, Step]:
    """A program's steps by name: ``{"step": s}`` for one, a dict's own names, ``"0", "1", ...`` for a tuple.

    >>> try:
    ...     checked_steps({"train": 1})
    ... except DualTFError as exc:
    ...     print(str(exc).split("; ")[1])
    step `train` is not one. Received: int 1.
    """
    from ._backends.step import Step

    if isinstance(result, Step):
        return {"step": result}
    if isinstance(result, Mapping):
        named = {str(name): value for name, value in result.items()}
    elif isinstance(result, (tuple, list)):
        named = {str(i): value for i, value in enumerate(result)}
    else:
        return {"step": checked_step(result)}
    if not named:
        raise ProgramLoadError(
            error_message("A program must return at least one step.", f"an empty {type(result).__name__}")
        )
    for name, value in named.items():
        if not isinstance(value, Step):
            raise ProgramLoadError(
                error_message(
                    "A program must return the step made by be.function() (or a dict or tuple of them); "
                    f"step `{name}` is not one.",
                    f"{type(value).__name__} {value!r}",
                )
            )
    return named


def feed_arguments(values: FeedValues | None) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """One call's values as the positional and keyword arguments of a step call.

    >>> feed_arguments({"x": 1}), feed_arguments([1, 2])
    (((), {'x': 1}), ((1, 2), {}))
    """
    if values is None:
        return (), {}
    if isinstance(values, Mapping):
        return (), dict(values)
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise DualTFError(
            error_message(
                "A call's feed values must be a mapping by feed name or a sequence in feed order.",
                type(values).__name__,
            )
        )
    return tuple(values), {}


def load_program(spec: str) -> Callable[..., Any]:
    """The function that ``spec`` (``module:name`` or ``path/to/file.py:name``) names.

    >>> load_program("dualtf.examples:feeds_sum").__name__
    'feeds_sum'
    """
    module_name, sep, attr = spec.partition(":") if isinstance(spec, str) else ("", "", "")
    if not sep or not module_name or not attr:
        raise ProgramLoadError(
            error_message("A program must be named as MODULE:NAME or path/to/file.py:NAME.", repr(spec))
        )
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ProgramLoadError(error_message("A program's file must exist.", f"{module_name!r} (no such file)"))
            loader_spec = importlib.util.spec_from_file_location(path.stem, path)
            if loader_spec is None or loader_spec.loader is None:
                raise ProgramLoadError(error_message("A program's file must be Python source.", repr(module_name)))
            module = importlib.util.module_from_spec(loader_spec)
            sys.modules[loader_spec.name] = module  # as an import would: AutoGraph reads the module of fn's code
            loader_spec.loader.exec_module(module)
        else:
            if os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ProgramLoadError(
            error_message("A program's module must be importable.", f"{module_name!r} ({exc})")
        ) from None
    sentence = f"A program must name a function in {module_name!r}."
    if not hasattr(module, attr):
        raise ProgramLoadError(error_message(sentence, f"{attr!r}: the module has no such name"))
    program = getattr(module, attr)
    if not callable(program):
        raise ProgramLoadError(error_message(sentence, f"{attr!r} ({type(program).__name__})"))
    return program  # type: ignore[no-any-return]


@contextlib.contextmanager
def failing_in(mode: str) -> Iterator[None]:
    """An exception leaving the block says it was raised in ``mode`` (its ``dualtf_mode``, set once)."""
    try:
        yield
    except BaseException as exc:
        if getattr(exc, "dualtf_mode", None) is None:
            with contextlib.suppress(AttributeError, TypeError):  # a built-in that takes no attributes
                exc.dualtf_mode = mode  # type: ignore[attr-defined]
        raise


def run_program(
    program: Program,
    feeds: Feeds,
    mode: str,
    *,
    steps: int = 1,
    seed: int | None = 0,
    strategy: Any = None,
    driver: Driver | None = None,
    deterministic_random: bool = False,
    fresh_inputs: bool = False,
    setup: Callable[[Backend], None] | None = None,
    record_variables: bool = False,
    probe_call: int | None = None,
) -> ProgramRun:
    """Run ``program`` in a fresh backend of ``mode`` for ``steps`` calls.

    For a program with one step, ``feeds`` is one call's values (by feed name
    or in order), or a function of the call's index returning them. For a
    program with several steps (a dict or tuple of steps), each call runs every
    step once, in order, and ``feeds`` maps each step's name (``"0"``, ``"1"``
    for a tuple) to its values or function of the index; a call's output is a
    dict by step name. ``driver(steps, i)``, if given, runs call ``i`` instead
    (``steps`` is the program's return value) and returns its outputs.
    ``seed``, ``strategy`` and ``deterministic_random`` go to :func:`dualtf.backend`. With
    ``fresh_inputs=True`` one more call follows on other values (each fed number changed, the
    shapes kept), so that a value baked into a trace shows. ``setup(be)``, if given, runs after
    the program has built its steps and before the first call (to set variables). Returns each call's
    outputs and the final variables; with ``record_variables=True`` the variables after every call
    too, and with ``probe_call=N`` the values of call N's intermediate tensors (steps are then built
    to give them, for :mod:`dualtf._divergence`).
    """
    check_int("steps", steps, 1)
    with failing_in(mode), backend(mode, seed=seed, strategy=strategy, deterministic_random=deterministic_random) as be:
        if probe_call is not None:
            be._probe_sink = []
        returned = program(be)
        named = checked_steps(returned)
        if driver is None and len(named) > 1:
            missing = [name for name in named if not isinstance(feeds, Mapping) or name not in feeds]
            if missing:
                raise FeedError(
                    error_message(
                        f"The feeds of a program with steps {list(named)} must map each step's name to its values.",
                        f"no feeds for step `{missing[0]}`",
                    )
                )
        if setup is not None:
            setup(be)
        outputs: list[Any] = []
        by_call: list[list[tuple[str, np.ndarray]]] = []
        intermediates: tuple[Any, ...] = ()
        for i in range(steps + (1 if fresh_inputs else 0)):
            change = _fresh if i == steps else None  # the extra call of fresh_inputs
            if be._probe_sink is not None:
                be._probe_sink.clear()
            if driver is not None:
                outputs.append(driver(returned, i))
            elif len(named) == 1:
                outputs.append(_call(next(iter(named.values())), feeds, i, change))
            else:
                assert isinstance(feeds, Mapping)
                outputs.append({name: _call(step, feeds[name], i, change) for name, step in named.items()})
            if be._probe_sink is not None and i + 1 == probe_call:
                intermediates = tuple(be._probe_sink)
            if record_variables:
                by_call.append(named_variables(be))
        variables = by_call[-1] if by_call else named_variables(be)
        trainable = trainable_flags(be)
    return ProgramRun(outputs, variables, tuple(by_call), intermediates, trainable)


def trainable_flags(be: Backend) -> tuple[bool, ...]:
    """Whether each variable of ``be`` (in creation order) is trainable."""
    return tuple(bool(getattr(v, "trainable", True)) for v in be.variables)


def named_variables(be: Backend) -> list[tuple[str, np.ndarray]]:
    """``(name, value)`` of every variable of ``be``, in creation order."""
    from ._backends.tensors import variable_label

    tf_vars = be.variables
    values = be.evaluate(tf_vars)
    return [(variable_label(v), np.asarray(val)) for v, val in zip(tf_vars, values, strict=True)]


def _call(step: Step, feeds: Any, i: int, change: Callable[[Any], Any] | None = None) -> Any:
    values = feeds(i) if callable(feeds) else feeds
    args, kwargs = feed_arguments(values if change is None else change(values))
    return step(*args, **kwargs)


def _fresh(values: Any) -> Any:
    """``values`` (one call's feeds, any nesting) with every number changed and every shape kept: floats
    x * 1.5 + 0.25, integers x + 1, booleans negated; strings and what is not an array as they are.

    >>> _fresh({"x": [1.0, 2.0], "n": 3, "flag": True, "s": "a"})
    {'x': [1.75, 3.25], 'n': 4, 'flag': False, 's': 'a'}
    """
    if isinstance(values, Mapping):
        return {key: _fresh(value) for key, value in values.items()}
    if isinstance(values, tuple) and not hasattr(values, "_fields"):
        return tuple(_fresh(value) for value in values)
    arr = np.asarray(values) if not hasattr(values, "numpy") else np.asarray(values.numpy())
    if arr.dtype.kind == "b":
        changed = ~arr
    elif arr.dtype.kind in "iu":
        changed = arr + np.ones((), arr.dtype)
    elif arr.dtype.kind in "fc":
        changed = (arr * 1.5 + 0.25).astype(arr.dtype)
    else:
        return values
    return changed.tolist() if isinstance(values, (list, int, float, bool)) else changed
