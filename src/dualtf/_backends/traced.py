"""A step traced once by ``tf.function`` from its feeds' input signature (function and xla modes)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import numpy as np
import tensorflow as tf

from .._errors import tf_cause
from .._feeds import Feed
from .._tf_private import forget_variable_store_names, load, lower_call, variable_store_names
from .probe import Intermediate, ProbePoint, probe_points, values_of
from .step import Compiled
from .tensors import check_results, eager_scope, structure_to_numpy, variables_every_call, without_operations
from .tf1.build_once import add_regularization_loss
from .tf1.refuse import user_line

__all__ = ["Tracer", "trace", "traced_ops"]


class Tracer:
    """How a backend of the eager context (eager, function, xla) traces its steps.

    Each trace runs with a ``tf.Graph`` of the backend's own as the outer graph
    (the one a ``tf.function``'s graph reads and writes TF1 collections through),
    so the collections and TF1 variable store a trace sees are this backend's:
    never the process's default graph's, never another backend's. In it the
    backend's variables are in ``GLOBAL_VARIABLES`` and ``TRAINABLE_VARIABLES``, as
    a TF1 graph has them: ``tf.compat.v1.train.Optimizer.minimize(loss)`` optimizes
    ``tf.compat.v1.trainable_variables()``, which inside a ``tf.function`` is otherwise empty.
    """

    def __init__(
        self,
        variables: Callable[[], list[tf.Variable]],
        strategy: tf.distribute.Strategy | None,
        record: Callable[..., Any],
    ):
        self._graph = tf.Graph()
        self._variables = variables
        self._strategy = strategy
        self._record = record  # the backend's variable creator: creator scopes live on the default graph
        self._store = load("EagerVariableStore")(_regularizing_store())
        #: Never keep a step's first trace, even one that made no variables: deterministic_random's
        #: first runs draw constant keys, fit for initial values only.
        self.retrace_first = False

    def outer(self) -> contextlib.AbstractContextManager[Any]:
        """Eager execution with this backend's graph as the default graph — the one whose TF1
        collections a trace (or an eager step: ``get_variable`` adds to the default graph's
        collections even in eager mode) writes, never the process's or another backend's — and
        this backend's TF1 variable store as the default store: ``get_variable`` names are the
        backend's, shared by its steps, its traces and its eager calls, as one TF1 graph's are."""
        stack = contextlib.ExitStack()
        stack.enter_context(self._graph.as_default())
        stack.enter_context(load("eager_mode")())
        stack.enter_context(self._store.as_default())  # it lives in the default graph's collection
        return stack

    def names(self) -> set[str]:
        """The names the backend's TF1 variable store holds now."""
        return set(variable_store_names(self._store))

    def forget_names(self, keep: set[str]) -> None:
        """Take out of the TF1 variable store every name not in ``keep`` (made by a trace that failed)."""
        forget_variable_store_names(self._store, keep)

    def trace(
        self, fn: Callable[..., Any], feeds: list[Feed], *, jit_compile: bool, sink: list[Intermediate] | None = None
    ) -> Compiled:
        """:func:`trace` ``fn`` in this backend's own outer graph, with its variables in the collections."""
        graph, variables = self._graph, self._variables

        def in_collections(*args: Any) -> Any:
            for key, wanted in (
                (tf.compat.v1.GraphKeys.GLOBAL_VARIABLES, variables()),
                (tf.compat.v1.GraphKeys.TRAINABLE_VARIABLES, [v for v in variables() if v.trainable]),
            ):
                have = {id(v) for v in graph.get_collection(key)}
                for var in wanted:
                    if id(var) not in have:
                        graph.add_to_collection(key, var)
            return without_operations(fn(*args))

        with contextlib.ExitStack() as stack:
            stack.enter_context(self.outer())
            if self._strategy is not None:  # its scope lives on the default graph: enter it in this one too
                stack.enter_context(self._strategy.scope())
            stack.enter_context(tf.variable_creator_scope(self._record))  # so does the backend's record
            traced = trace(in_collections, feeds, jit_compile=jit_compile, sink=sink)
            if self.retrace_first and traced.trace_count is not None and traced.trace_count() == 1:
                # a fresh tf.function: a second run
                traced = trace(in_collections, feeds, jit_compile=jit_compile, sink=sink)
            return traced


def _regularizing_store() -> Any:
    """A TF1 variable store that keeps eager variables (TensorFlow's default store keeps none under
    eager execution) and takes a TF1 layer's ``kernel_regularizer``: tf_keras hands it to a store
    that has ``add_regularizer`` (its TF2 shim's hook), where eager execution has no collection."""

    class RegularizingStore(load("_VariableStore")):  # type: ignore[misc]
        def add_regularizer(self, var: Any, regularizer: Callable[[Any], Any]) -> None:
            if tf.executing_eagerly():  # in a graph, the layer adds it to REGULARIZATION_LOSSES itself
                add_regularization_loss(var, regularizer)

    store = RegularizingStore()
    store._store_eager_variables = True
    return store


def trace(
    fn: Callable[..., Any], feeds: list[Feed], *, jit_compile: bool, sink: list[Intermediate] | None = None
) -> Compiled:
    """Trace ``fn`` now, so the build cost is paid here and not on the first call.

    The input signature comes from the feeds, so a ``None`` dimension never
    causes a retrace; variables live outside the function, as in TF2. With a
    ``sink`` (a probing backend's), the function also returns its own ops' values,
    which each call appends to ``sink``.
    """
    points: list[ProbePoint] = []
    if sink is not None:
        user_fn = fn

        def fn(*args: Any) -> Any:  # fn's results, and the outputs of the ops fn made (after them: same op seeds)
            graph = tf.compat.v1.get_default_graph()
            start = len(graph.get_operations())
            out = user_fn(*args)
            made = graph.get_operations()[start:]
            points[:] = probe_points(made, [t.op for t in tf.nest.flatten(out) if isinstance(t, tf.Tensor)])
            return {"out": out, "probe": [p.tensor for p in points]}

    polymorphic = tf.function(fn, input_signature=[f.spec for f in feeds], jit_compile=jit_compile, autograph=True)
    try:
        concrete = polymorphic.get_concrete_function()
    except ValueError as exc:
        if "singleton tf.Variables" not in str(exc):
            raise
        raise variables_every_call(f"new variables on the second trace ({tf_cause(str(exc))})") from None
    structured = concrete.structured_outputs if sink is None else concrete.structured_outputs["out"]
    check_results(structured)

    # The concrete function skips tf.function's per-call signature matching (with
    # the feeds' signature there is nothing to match); one layer lower, its
    # inference function skips the concrete function's argument handling too.
    # tf.constant: the values are already checked arrays of the feed's dtype.
    lower = lower_call(concrete)
    call = lower if lower is not None else lambda tensors: concrete(*tensors)

    def run(values: list[np.ndarray]) -> Any:
        if not tf.executing_eagerly():  # called inside a graph backend's block
            with eager_scope():
                return run(values)
        if sink is None:
            return structure_to_numpy(call([tf.constant(v) for v in values]))
        got = call([tf.constant(v) for v in values])
        sink.extend(values_of(points, [t.numpy() for t in got["probe"]]))
        return structure_to_numpy(got["out"])

    graph = concrete.graph

    def op_line(name: str) -> str | None:
        try:
            return user_line(graph.get_operation_by_name(name).traceback)
        except (KeyError, ValueError):  # an op of a nested function: no traceback kept
            return None

    return Compiled(
        run,
        op_count=len(concrete.graph.get_operations()),
        trace_count=polymorphic.experimental_get_tracing_count,
        ops=tuple(traced_ops(concrete.graph)),
        op_line=op_line,
        call_path="inference function" if lower is not None else "concrete function",
        variables=tuple(concrete.variables),
        result_dtypes=tuple(t.dtype for t in concrete.outputs[: len(concrete.outputs) - len(points)]),
        result_spec=tf.nest.map_structure(_spec, structured),
    )


def _spec(leaf: Any) -> tf.TensorSpec | None:
    return None if leaf is None else tf.TensorSpec(leaf.shape, leaf.dtype)


def traced_ops(graph: tf.Graph) -> list[tuple[str, str]]:
    """``(op type, op name)`` of every op of a traced graph, those in its nested functions
    (``tf.cond`` branches, ``tf.while_loop`` bodies, assertion guards) included; not its inputs
    (the placeholders its arguments and captures come in by)."""
    graph_def = graph.as_graph_def()
    inputs = {t.op.name for t in graph.inputs}
    ops = [(node.op, node.name) for node in graph_def.node if node.name not in inputs]
    for function in graph_def.library.function:
        ops.extend((node.op, node.name) for node in function.node_def)
    return ops
