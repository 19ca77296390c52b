"""Running a step under a ``tf.distribute`` strategy: resolving it, splitting batches, reducing outputs.

Every mode shares this; a mode only says what one replica runs (its
``_per_replica`` hook: xla compiles each replica's step).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from .._errors import DualTFError, FeedError, UnsupportedCombinationError, format_error
from .._feeds import Feed
from .._strategies import combination_unsupported_reason, make_strategy, strategy_name
from .tf1.code import ReplicaRandom

__all__ = [
    "REDUCTIONS",
    "aggregation",
    "batch_check",
    "batch_unknown",
    "distributed",
    "resolve_strategy",
    "split_feeds",
]

#: How a step's outputs are combined across replicas.
REDUCTIONS = ("mean", "sum", "concat")

_AGGREGATIONS = {
    "none": tf.VariableAggregation.NONE,
    "sum": tf.VariableAggregation.SUM,
    "mean": tf.VariableAggregation.MEAN,
    "only_first_replica": tf.VariableAggregation.ONLY_FIRST_REPLICA,
}


def resolve_strategy(strategy: Any, mode: str) -> tf.distribute.Strategy | None:
    """The strategy object for a name or object (None for ``default``), refused if ``mode`` cannot run it."""
    if strategy is None or isinstance(strategy, str):
        resolved = make_strategy("default" if strategy is None else strategy, mode)
    elif isinstance(strategy, tf.distribute.Strategy):
        resolved = strategy
    else:
        raise DualTFError(
            format_error(
                "The strategy",
                "a name from dualtf.STRATEGIES or a tf.distribute.Strategy",
                f"{type(strategy).__name__} {strategy!r}",
            )
        )
    reason = combination_unsupported_reason(mode, resolved)
    if reason is not None:
        raise UnsupportedCombinationError(
            format_error(
                f"The combination of mode {mode!r} and strategy {strategy_name(resolved)!r}",
                "supported by TensorFlow",
                reason,
            )
        )
    return resolved


def aggregation(value: Any, distributed: bool) -> tf.VariableAggregation:
    """A variable's aggregation: ``mean`` under a strategy unless the user says otherwise."""
    if value is None:
        return tf.VariableAggregation.MEAN if distributed else tf.VariableAggregation.NONE
    if isinstance(value, tf.VariableAggregation):
        return value
    if value not in _AGGREGATIONS:
        raise DualTFError(
            format_error(
                "The aggregation",
                f"a tf.VariableAggregation or one of {', '.join(_AGGREGATIONS)}",
                f"aggregation={value!r}",
            )
        )
    return _AGGREGATIONS[value]


def split_feeds(feeds: Sequence[Feed]) -> list[bool]:
    """Which feeds are split across replicas: those with a first dimension."""
    return [f.shape is None or len(f.shape) >= 1 for f in feeds]


def batch_check(feeds: Sequence[Feed], replicas: int, name: str, axis: int = 0) -> Callable[[list[np.ndarray]], None]:
    """A check, run on each call's values, that every split feed's batch (on ``axis``: 1 for a fused
    step's stacked values) divides across the replicas."""
    split = split_feeds(feeds)

    def check(values: list[np.ndarray]) -> None:
        for feed, value, is_split in zip(feeds, values, split, strict=True):
            if is_split and (value.ndim <= axis or value.shape[axis] % replicas):
                batch = "no batch dimension" if value.ndim <= axis else f"batch size {value.shape[axis]}"
                raise FeedError(
                    format_error(
                        f"Feed `{feed.name}`",
                        f"a batch that divides evenly across the {replicas} replicas of strategy {name!r}",
                        batch,
                    )
                )

    return check


def batch_unknown(tensor: tf.Tensor) -> tf.Tensor:
    """``tensor`` as a trace sees it with its batch size (first dimension) unknown: how a replica's slices are
    traced with ``deterministic_random``, so that a draw per example is told from one of fixed shape."""
    shape = tensor.shape
    unknown: tf.Tensor = tf.compat.v1.placeholder_with_default(
        tensor, shape if shape.rank is None else tf.TensorShape([None, *shape[1:]])
    )
    return unknown


def _making_no_variables(fn: Callable[..., Any], refuse: Callable[[str], None]) -> Callable[..., Any]:
    """``fn``, with every variable it would make refused by ``refuse`` before TensorFlow makes it: a
    replica's copies of a variable made inside ``strategy.run`` cannot be initialized from the step
    (TensorFlow fails with an UnliftableError, or in a TF1 graph 'Variable W already exists')."""

    def creator(next_creator: Callable[..., Any], **kwargs: Any) -> Any:
        refuse(str(kwargs.get("name") or "unnamed"))
        return next_creator(**kwargs)

    def making_no_variables(*args: Any) -> Any:
        with tf.variable_creator_scope(creator):
            return fn(*args)

    return making_no_variables


def distributed(
    fn: Callable[..., Any],
    feeds: Sequence[Feed],
    strategy: tf.distribute.Strategy,
    reduce: str,
    per_replica: Callable[[Callable[..., Any]], Callable[..., Any]],
    random: ReplicaRandom | None = None,
    refuse_variable: Callable[[str], None] | None = None,
) -> Callable[..., Any]:
    """``fn`` run once per replica on its slice of each batch, outputs reduced by ``reduce``.

    With ``random`` (``deterministic_random``) each replica's draws are told its place in the batch,
    and a traced replica sees its slices' batch size as unknown, as a draw per example's is.
    ``refuse_variable(name)`` is called (and raises) before a replica's ``fn`` makes a variable.
    """
    replicas = int(strategy.num_replicas_in_sync)
    split = split_feeds(feeds)
    for feed, is_split in zip(feeds, split, strict=True):
        first = feed.shape[0] if is_split and feed.shape else None
        if first is not None and first % replicas:
            raise FeedError(
                format_error(
                    f"Feed `{feed.name}`",
                    f"declared with a first dimension that divides across the {replicas} replicas (or None)",
                    f"shape {feed.shape}",
                )
            )
    if refuse_variable is not None:
        fn = _making_no_variables(fn, refuse_variable)
    if random is None:
        replica_fn = per_replica(fn)

        def replica_run() -> Callable[..., Any]:
            return replica_fn

    else:

        def replica_run() -> Callable[..., Any]:
            # a fresh replica function each run: xla's compiled one must not keep the trace of a
            # first run, whose keys are constants
            return per_replica(random.wrap(fn))

    def reduce_one(value: Any) -> Any:
        if value is None:
            return None
        if reduce == "concat":
            return strategy.gather(value, axis=0)
        op = tf.distribute.ReduceOp.MEAN if reduce == "mean" else tf.distribute.ReduceOp.SUM
        return strategy.reduce(op, value, axis=None)

    def shard_getter(shards: list[tf.Tensor]) -> Callable[[Any], tf.Tensor]:
        return lambda ctx: shards[ctx.replica_id_in_sync_group]

    def run_distributed(*tensors: tf.Tensor) -> Any:
        values = []
        for tensor, is_split in zip(tensors, split, strict=True):
            shards = tf.split(tensor, replicas) if is_split else [tensor] * replicas
            if is_split and random is not None and not tf.executing_eagerly():
                shards = [batch_unknown(s) for s in shards]
            values.append(strategy.experimental_distribute_values_from_function(shard_getter(shards)))
        out = strategy.run(replica_run(), args=tuple(values))
        if random is not None:
            random.ran()
        return tf.nest.map_structure(reduce_one, out)

    return run_distributed
