"""Fused steps: K steps of ``fn`` in one call, over feeds stacked along a new first axis.

One loop serves every mode, because ``tf.while_loop`` is what each mode makes of it:
graph mode builds it into the Session's graph (a while op the Session runs), function
and xla trace it into one function (xla compiles the whole loop), and eager runs it as
a Python loop, op by op. The loop body calls ``fn`` once per step; its reads and writes of
each variable are ordered across iterations by the automatic control dependencies every
mode builds under (``parallel_iterations=1`` is not needed, and cost graph mode about 25%),
so the state after a call is exactly that of K single calls.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from .._errors import DualTFError, FeedError, format_error
from .._feeds import Feed
from .tensors import without_operations

__all__ = [
    "MAX_STEPS",
    "STEP_OUTPUTS",
    "check_results_reducible",
    "epoch_loop",
    "fused",
    "stacked_check",
    "stacked_shape",
]

#: What a fused step returns for each of ``fn``'s results: all K stacked, the last, their sum or mean.
STEP_OUTPUTS = ("stack", "last", "sum", "mean")
#: The most steps one fused call runs: the loop counts with an int32.
MAX_STEPS = 2**31 - 1


def check_results_reducible(result_spec: Any, outputs: str, step: str, what: str, hint: str) -> None:
    """Before anything runs: each of one step's results can be stacked (one shape in every step) and, for
    "sum" and "mean", is a number — else a DualTFError naming the result (a fused call must not fail after
    its updates ran where K single calls would not fail at all)."""
    if outputs == "last":
        return
    for i, spec in enumerate(tf.nest.flatten(result_spec)):
        if spec is None:
            continue
        if not spec.shape.is_fully_defined():
            raise DualTFError(
                format_error(
                    f"Result {i} of step `{step}` ({what}, step_outputs={outputs!r})",
                    f"of one shape in every step, to be stacked: a shape known when the step is built ({hint}), "
                    "or step_outputs='last'",
                    f"shape {spec.shape} ({spec.dtype.name})",
                )
            )
        if outputs in ("sum", "mean") and not (
            spec.dtype.is_floating or spec.dtype.is_integer or spec.dtype.is_complex
        ):
            raise DualTFError(
                format_error(
                    f"Result {i} of step `{step}` ({what}, step_outputs={outputs!r})",
                    "a number to be summed or averaged; step_outputs='stack' or 'last' for others",
                    f"dtype {spec.dtype.name}",
                )
            )


def stacked_shape(shape: tuple[int | None, ...] | None, steps: int) -> tuple[int | None, ...] | None:
    """A feed's shape with the steps axis in front (``None``, any shape, stays ``None``)."""
    return None if shape is None else (steps, *shape)


def stacked_check(feeds: Sequence[Feed], steps: int) -> Callable[[list[np.ndarray]], None]:
    """The check that every value has the steps axis first (a feed of any shape cannot say it)."""

    def check(values: list[np.ndarray]) -> None:
        for feed, value in zip(feeds, values, strict=True):
            if value.ndim == 0 or value.shape[0] != steps:
                raise FeedError(
                    format_error(
                        f"Feed `{feed.name}` of a step of {steps} steps per call",
                        f"stacked: one value per step along a first axis of size {steps}",
                        f"shape {value.shape}",
                    )
                )

    return check


def fused(fn: Callable[..., Any], result_spec: Any, steps: int, outputs: str) -> Callable[..., Any]:
    """``fn`` run ``steps`` times on slices of stacked inputs; results as ``outputs`` says.

    ``result_spec`` is what one step returns (``tf.TensorSpec`` or None per leaf), from
    the single step built first — that build also made ``fn``'s variables, so the loop
    body never creates one.
    """
    specs = _real(tf.nest.flatten(result_spec))

    def run_steps(*stacked: tf.Tensor) -> Any:
        if tf.executing_eagerly():  # a plain Python loop: a while loop's TensorArrays cost more than small steps
            columns = [tf.unstack(value, num=steps) for value in stacked]
            return _collect([fn(*[column[i] for column in columns]) for i in range(steps)], result_spec, outputs)

        def body(i: tf.Tensor, *arrays: tf.TensorArray) -> tuple[Any, ...]:
            return (i + 1, *_write(arrays, i, fn(*[value[i] for value in stacked]), specs))

        arrays = [tf.TensorArray(s.dtype, size=steps, element_shape=s.shape, infer_shape=False) for s in specs]
        _, *done = tf.while_loop(lambda i, *_: i < steps, body, (tf.constant(0), *arrays), maximum_iterations=steps)
        return _pack(_gathered(done, outputs), result_spec, outputs)

    return run_steps


def epoch_loop(
    fn: Callable[..., Any], dataset: tf.data.Dataset[Any], size: int, result_spec: Any, outputs: str
) -> Callable[[], Any]:
    """``fn`` run on every element of one pass over ``dataset``, in one loop; results as ``outputs`` says.

    Each call is a fresh pass, as eager's ``for batch in dataset`` is: eager, function
    and xla make an iterator per call; graph mode reads ``size`` elements (the dataset's
    length, counted once) per call from one iterator over ``dataset.repeat()``, so a
    shuffle reshuffles each epoch from one seed stream as in eager (a re-initialized
    iterator would repeat the first epoch's order).
    """
    specs = _real(tf.nest.flatten(result_spec))

    def run_epoch() -> Any:
        if tf.executing_eagerly():  # a plain Python loop over the dataset
            return _collect([fn(*tf.nest.flatten(element)) for element in dataset], result_spec, outputs)
        arrays = [tf.TensorArray(s.dtype, size=0, dynamic_size=True, element_shape=s.shape) for s in specs]

        def step(i: tf.Tensor, element: Any, arrays: Sequence[tf.TensorArray]) -> list[tf.TensorArray]:
            return _write(arrays, i, fn(*tf.nest.flatten(element)), specs)

        if not tf.inside_function():  # graph mode: `size` elements per run
            repeated = tf.compat.v1.data.make_one_shot_iterator(dataset.repeat())

            def count_body(i: tf.Tensor, *arrays: tf.TensorArray) -> tuple[Any, ...]:
                return (i + 1, *step(i, repeated.get_next(), arrays))

            _, *done = tf.while_loop(
                lambda i, *_: i < size, count_body, (tf.constant(0), *arrays), parallel_iterations=1
            )
        else:  # a fresh iterator per call, read until it is exhausted
            iterator = iter(dataset)

            def body(i: tf.Tensor, element: Any, *arrays: tf.TensorArray) -> tuple[Any, ...]:
                written = step(i, element.get_value(), arrays)
                return (i + 1, iterator.get_next_as_optional(), *written)

            _, _, *done = tf.while_loop(
                lambda i, element, *_: element.has_value(),
                body,
                (tf.constant(0), iterator.get_next_as_optional(), *arrays),
                parallel_iterations=1,
            )
        return _pack(_gathered(done, outputs), result_spec, outputs)

    return run_epoch


def _gathered(arrays: Sequence[tf.TensorArray], outputs: str) -> list[tf.Tensor]:
    """The loop's results: all stacked, or for "last" only the last (whose shape may differ from the others')."""
    if outputs == "last":
        return [array.read(array.size() - 1) for array in arrays]
    return [array.stack() for array in arrays]


def _results(out: Any, specs: list[tf.TensorSpec]) -> list[tf.Tensor]:
    """One step's non-None results as tensors of the single step's dtypes."""
    real = _real(tf.nest.flatten(without_operations(out)))
    return [tf.convert_to_tensor(t, dtype=s.dtype) for t, s in zip(real, specs, strict=True)]


def _write(arrays: Sequence[tf.TensorArray], i: tf.Tensor, out: Any, specs: list[tf.TensorSpec]) -> list[Any]:
    """Step ``i``'s results written into the loop's TensorArrays, one per non-None result."""
    return [array.write(i, t) for array, t in zip(arrays, _results(out, specs), strict=True)]


def _collect(results: list[Any], result_spec: Any, outputs: str) -> Any:
    """Eager: each step's results, stacked and reduced per leaf as the loop's TensorArrays would be
    (an eager-only ``fn``, never traced, has no spec: its first step's results say)."""
    if result_spec is None and results:
        result_spec = tf.nest.map_structure(
            lambda t: (
                None if t is None else tf.TensorSpec(tf.convert_to_tensor(t).shape, tf.convert_to_tensor(t).dtype)
            ),
            without_operations(results[0]),
        )
    specs = _real(tf.nest.flatten(result_spec))
    per_step = [_results(r, specs) for r in results]
    if outputs == "last":  # only the last is kept: the others' shapes may differ from it
        return _pack(per_step[-1], result_spec, outputs)
    return _pack([tf.stack(list(column)) for column in zip(*per_step, strict=True)], result_spec, outputs)


def _pack(stacked: list[tf.Tensor], result_spec: Any, outputs: str) -> Any:
    """The stacked results reduced as ``outputs`` says, in fn's structure (None where fn returned None)."""
    reduced = iter([_reduce(value, outputs) for value in stacked])
    return tf.nest.pack_sequence_as(
        result_spec, [None if spec is None else next(reduced) for spec in tf.nest.flatten(result_spec)]
    )


def _real(leaves: list[Any]) -> list[Any]:
    return [leaf for leaf in leaves if leaf is not None]


def _reduce(stacked: tf.Tensor, outputs: str) -> tf.Tensor:
    if outputs in ("stack", "last"):  # "last": already the last step's alone (_gathered)
        return stacked
    if outputs == "sum":
        return tf.reduce_sum(stacked, axis=0)
    if stacked.dtype.is_integer:  # NumPy's mean: an average of integers is a float64
        stacked = tf.cast(stacked, tf.float64)
    return tf.reduce_mean(stacked, axis=0)
