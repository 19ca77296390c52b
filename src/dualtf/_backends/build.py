"""How ``function()`` and ``epoch()`` build a step, the same pipeline in every mode.

1. the arguments are checked (:mod:`.checks`);
2. ``fn`` is wrapped by :class:`~.tf1.code.StepCode` (TF1's build-once, the registry held,
   deterministic random keys) or, under a strategy, split across replicas (:mod:`.distribute`);
3. the mode's ``_compile`` hook builds it, holding the backend's lock, in its scope;
4. what was built is refused against the tables (:func:`~.tf1.refuse.refuse`: TF1 calls,
   and with ``deterministic_random`` the random ops), and its captured variables checked;
5. a fused step (``steps_per_call``) or an epoch is built around the single step, which
   made ``fn``'s variables and says what one step returns.

Code that only runs eagerly fails the build in graph, function and xla with a DualTFError
naming the construct and its line (:mod:`.eager_only`).
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import tensorflow as tf

from .._errors import DualTFError, FeedError, check_int, dualtf_errors_unwrapped, error_message, format_error
from .._feeds import Feed, normalize_shape
from .._tf_private import dataset_graph_def, dataset_variant
from .checks import check_arity, check_step_outputs, step_name
from .distribute import REDUCTIONS, batch_check, distributed
from .eager_only import eager_only_construct, eager_only_error
from .fused import MAX_STEPS, check_results_reducible, epoch_loop, fused, stacked_check, stacked_shape
from .step import Compiled, Step
from .tf1.calls import TF1_OPS
from .tf1.code import StepCode
from .tf1.random import RANDOM_OPS
from .tf1.refuse import refuse

if TYPE_CHECKING:
    from .base import Backend

__all__ = ["MAX_COUNTED", "build_epoch", "build_function"]

#: The most elements epoch() counts of a dataset whose length TensorFlow cannot tell (an endless one never ends).
MAX_COUNTED = 100_000


def build_function(
    be: Backend,
    fn: Callable[..., Any],
    feeds: Sequence[Feed],
    *,
    reduce: str,
    steps_per_call: int,
    step_outputs: str,
    reuse: Step | None,
) -> Step:
    """What :meth:`Backend.function` returns."""
    if not callable(fn):
        raise DualTFError(format_error("The `fn` of function()", "callable", f"{type(fn).__name__} {fn!r}"))
    if isinstance(feeds, Feed) or not isinstance(feeds, Sequence):
        raise FeedError(format_error("The `feeds` of function()", "a list of Feed objects", f"{type(feeds).__name__}"))
    for f in feeds:
        be._check_feed(f)
    names = [f.name for f in feeds]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise FeedError(format_error("The `feeds` of function()", "distinct feeds", f"feed `{dup}` twice"))
    if reduce not in REDUCTIONS:
        raise DualTFError(
            format_error("The `reduce` of function()", f"one of {', '.join(REDUCTIONS)}", f"reduce={reduce!r}")
        )
    name = step_name(fn)
    check_arity(fn, name, names)
    steps = check_int("steps_per_call", steps_per_call, 1, MAX_STEPS)
    check_step_outputs(step_outputs, "function()")
    checks = []
    code: StepCode | None = None
    if reuse is not None:
        be._refuse_strategy("reuse", "reuse=")
        if not isinstance(reuse, Step) or reuse not in be._step_codes:
            raise DualTFError(
                format_error(
                    "The `reuse` of function()",
                    f"a step made by function() of this backend ({be._label()})",
                    f"{type(reuse).__name__} {reuse!r}",
                )
            )
    if be.strategy is None:  # under a strategy each replica runs fn: its variables are the strategy's
        code = be._step_code(name, None if reuse is None else be._step_codes[reuse])
        fn = code.wrap(fn)
    else:
        fn = distributed(
            fn, feeds, be.strategy, reduce, be._per_replica, be._replica_random(name, feeds), be._variable_in_step(name)
        )
        if be.num_replicas > 1:
            checks.append(batch_check(feeds, be.num_replicas, be.strategy_name))
    compiled = _compiled(be, fn, list(feeds), name)
    if steps > 1:  # the single step above made fn's variables and says what a step returns
        hint = "feeds of a fixed shape"
        check_results_reducible(compiled.result_spec, step_outputs, name, f"{steps} steps per call", hint)
        with _building(be):
            stacked = [
                Feed(f.name, f.dtype, shape, be.serial, be._placeholder(f"{f.name}_steps", f.dtype, shape))
                for f in feeds
                for shape in [stacked_shape(f.shape, steps)]
            ]
        with _unprobed(be):  # a loop's body is not probed; its stacked results alone would point at be.function
            compiled = _compiled(be, fused(fn, compiled.result_spec, steps, step_outputs), stacked, name)
        step = Step(
            be.mode,
            stacked,
            compiled,
            check_open=be._check_open,
            checks=[stacked_check(stacked, steps)]
            + ([batch_check(feeds, be.num_replicas, be.strategy_name, axis=1)] if be.num_replicas > 1 else []),
            name=name,
            steps_per_call=steps,
        )
    else:
        step = Step(be.mode, feeds, compiled, check_open=be._check_open, checks=checks, name=name)
    if code is not None:
        be._step_codes[step] = code
    return step


def build_epoch(be: Backend, fn: Callable[..., Any], dataset: tf.data.Dataset[Any], *, step_outputs: str) -> Step:
    """What :meth:`Backend.epoch` returns."""
    if not callable(fn):
        raise DualTFError(format_error("The `fn` of epoch()", "callable", f"{type(fn).__name__} {fn!r}"))
    if not isinstance(dataset, tf.data.Dataset) or not be._holds_tensor(dataset_variant(dataset)):
        raise DualTFError(
            format_error(
                "The dataset of epoch()", f"a tf.data.Dataset made under this backend ({be._label()})", repr(dataset)
            )
        )
    specs = tf.nest.flatten(dataset.element_spec)
    if not all(isinstance(s, tf.TensorSpec) for s in specs):
        raise DualTFError(
            format_error("The elements of epoch()'s dataset", "dense tensors", repr(dataset.element_spec))
        )
    check_step_outputs(step_outputs, "epoch()")
    name = step_name(fn)
    check_arity(fn, name, [f"element[{i}]" for i in range(len(specs))])
    with be._lock, be.scope():  # its length, before anything is built
        size = int(be._evaluate([dataset.cardinality()])[0])
        if size == tf.data.INFINITE_CARDINALITY:
            raise DualTFError(
                format_error("The dataset of epoch()", "finite: one call runs one pass", "an infinite dataset")
            )
        if size == tf.data.UNKNOWN_CARDINALITY:  # a filter: counted once, by one pass now, up to a bound
            counted = dataset.take(MAX_COUNTED + 1).reduce(tf.constant(0, tf.int64), lambda count, _: count + 1)
            size = int(be._evaluate([counted])[0])
            if size > MAX_COUNTED:  # endless (a repeat() filtered), or long: never counted to the end
                raise DualTFError(
                    format_error(
                        "The dataset of epoch(), whose length TensorFlow cannot tell",
                        f"counted to its end within {MAX_COUNTED} elements; give its length with "
                        ".apply(tf.data.experimental.assert_cardinality(n)) or take(n)",
                        f"more than {MAX_COUNTED} elements",
                    )
                )
    if size == 0:
        raise DualTFError(format_error("The dataset of epoch()", "non-empty", "a dataset of no elements"))
    if be._random is not None:  # the dataset's own functions (a map drawing random numbers) too, in every mode
        refuse(_dataset_ops(be, dataset), RANDOM_OPS, step=name, mode=be.mode, where=lambda _: "the epoch's dataset")
    with _building(be):
        shapes = [normalize_shape(s.shape, "A component of epoch()'s dataset") for s in specs]
        feeds = [  # one step built first: it makes fn's variables and says what a step returns
            Feed(f"element_{i}", s.dtype, shape, be.serial, be._placeholder(f"epoch_element_{i}", s.dtype, shape))
            for i, (s, shape) in enumerate(zip(specs, shapes, strict=True))
        ]
    if be.strategy is None:
        fn = be._step_code(name).wrap(fn)
        per_element = be._per_replica(fn)
    else:  # each element split across the replicas, as a step's feeds are; outputs averaged
        if be.num_replicas > 1:
            _check_epoch_batches(feeds, be.num_replicas, be.strategy_name)
        random = be._replica_random(name, feeds)
        fn = per_element = distributed(
            fn, feeds, be.strategy, "mean", be._per_replica, random, be._variable_in_step(name)
        )
    single = _compiled(be, fn, feeds, name)
    check_results_reducible(
        single.result_spec,
        step_outputs,
        name,
        "an epoch",
        "batch with drop_remainder=True, so every batch has one size",
    )
    loop = epoch_loop(per_element, dataset, size, single.result_spec, step_outputs)
    with _building(be), _unprobed(be):
        compiled = be._compile_loop(loop)
    be._check_captured(compiled, name)
    run, one_pass = compiled.run, threading.Lock()

    def one_pass_at_a_time(values: Any) -> Any:  # graph mode reads each pass from one iterator: never two at once
        with one_pass:
            return run(values)

    compiled = compiled._replace(run=one_pass_at_a_time)
    return Step(be.mode, [], compiled, check_open=be._check_open, name=name, steps_per_call=size)


def _check_epoch_batches(feeds: list[Feed], replicas: int, strategy: str) -> None:
    """Under a strategy every batch of an epoch's dataset is split across the replicas: each component
    with a first dimension must have one fixed size that divides (else a DualTFError, at build)."""
    for i, feed in enumerate(feeds):
        if not feed.shape:
            continue
        first = feed.shape[0]
        if first is None or first % replicas:
            raise FeedError(
                format_error(
                    f"Component {i} of epoch()'s dataset under strategy {strategy!r}",
                    f"batches of one size that divides across the {replicas} replicas (batch with drop_remainder=True)",
                    "batches of unknown size" if first is None else f"batches of {first}",
                )
            )


def _dataset_ops(be: Backend, dataset: tf.data.Dataset[Any]) -> list[tuple[str, str]]:
    """``(type, name)`` of every op of ``dataset``'s graph, its functions' (a map's, a filter's) included."""
    with be._lock, be.scope():
        serialized = be._evaluate([dataset_graph_def(dataset)])[0]
    graph_def = tf.compat.v1.GraphDef.FromString(serialized)
    nodes = [*graph_def.node, *(node for function in graph_def.library.function for node in function.node_def)]
    return [(node.op, node.name) for node in nodes]


@contextlib.contextmanager
def _unprobed(be: Backend) -> Iterator[None]:
    """A probing backend's step built without probing (a fused step, an epoch: their loop bodies are not)."""
    sink, be._probe_sink = be._probe_sink, None
    try:
        yield
    finally:
        be._probe_sink = sink


@contextlib.contextmanager
def _building(be: Backend) -> Iterator[None]:
    """What a build holds: the backend's lock, its scope, its variable creator; DualTFErrors as themselves."""
    with be._lock, be.scope(), tf.variable_creator_scope(be._record_variable), dualtf_errors_unwrapped():
        yield


def _compiled(be: Backend, fn: Callable[..., Any], feeds: list[Feed], name: str) -> Compiled:
    """``fn`` built by the mode, then refused against the tables and its captured variables checked."""
    try:
        with _building(be):
            compiled = be._compile(fn, feeds)
    except Exception as exc:
        text = str(exc)
        if isinstance(exc, ValueError) and "Trying to share variable" in text:  # TF1's get_variable reuse
            raise DualTFError(
                error_message(
                    f"A variable step `{name}` gets with get_variable must have the shape and dtype it was made "
                    "with (by this step's first run, or by the step given as reuse=)",
                    text[text.index("Trying to share") :].splitlines()[0],
                )
            ) from None
        construct = eager_only_construct(exc)
        if construct is None:
            raise
        raise eager_only_error(exc, construct, name, be.mode) from exc
    where = compiled.op_line
    if be._random is not None:  # first: its message says how to draw instead, in every mode
        refuse(compiled.all_ops(), RANDOM_OPS, step=name, mode=be.mode, where=where)
    refuse(compiled.ops, TF1_OPS, step=name, mode=be.mode, where=where)
    mode_table = be._refused_ops()
    if mode_table is not None:  # last: its rule (no XLA kernel) would also catch what the others name better
        refuse(compiled.all_ops(), mode_table, step=name, mode=be.mode, where=where)  # loop bodies too
    be._check_captured(compiled, name)
    return compiled
