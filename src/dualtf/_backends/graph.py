"""graph: a TF1 ``tf.Graph`` and ``tf.compat.v1.Session`` of the backend's own.

Eager execution is never disabled for the process: the graph is the default
graph only inside the backend's block, so every mode coexists in one process.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from .._errors import DualTFError, UnsupportedCombinationError, format_error
from .._feeds import Feed
from .._tf_private import load, make_callable_from_options
from .base import Backend
from .step import Compiled
from .tensors import as_tf_variable, variable_handle

__all__ = ["GraphBackend"]

_VARIABLE_COLLECTIONS = (tf.compat.v1.GraphKeys.GLOBAL_VARIABLES, tf.compat.v1.GraphKeys.LOCAL_VARIABLES)


class _Build(NamedTuple):
    """One build of ``fn`` into the graph."""

    structure: Any  # what fn returned, for packing the fetched values
    fetches: list[tf.Tensor | None]  # one tensor (or None) per leaf of structure
    created: list[Any]  # variables the build created
    must_run: list[Any]  # stateful ops the step must run (automatic control dependencies)


class GraphBackend(Backend):
    """TF1 graph mode: ``fn`` is built once against placeholders and run by a Session.

    Steps run through C++ ``Session::MakeCallable``, so a call adds no ops and
    skips ``feed_dict`` parsing. Variables (including those a Keras layer or
    optimizer creates while ``fn`` is built) are initialized once, before
    the first run that needs them.
    """

    mode = "graph"
    OPTIONS = frozenset({"config"})

    # ------------------------------------------------------------ hooks, in the contract's order
    def _open(self, options: dict[str, Any]) -> None:
        config = options.get("config")
        if config is not None and not isinstance(config, tf.compat.v1.ConfigProto):
            raise DualTFError(
                format_error("The `config` option of mode 'graph'", "a tf.compat.v1.ConfigProto", type(config).__name__)
            )
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph, config=config)
        self._initialized: set[int] = set()
        self._assigners: dict[int, tuple[tf.Tensor, tf.Operation]] = {}
        self._reads: dict[int, tf.Tensor] = {}

    def _close(self) -> None:
        self.session.close()

    def _scope(self) -> contextlib.AbstractContextManager[Any]:
        return self.graph.as_default()

    def _placeholder(self, name: str, dtype: tf.DType, shape: Any) -> tf.Tensor:
        with self.graph.as_default():
            placeholder: tf.Tensor = tf.compat.v1.placeholder(dtype, shape, name=name)
        return placeholder

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Compiled:
        try:
            converted = tf.autograph.to_graph(fn)
        except Exception:  # callables autograph cannot convert (e.g. C functions) run as they are
            converted = fn
        placeholders = [f.placeholder for f in feeds if f.placeholder is not None]  # graph mode gives each one
        first_op = len(self.graph.get_operations())
        # Like tf.function: if building creates variables (a Keras layer's first call,
        # an optimizer's slots), build once more so the kept build only reads them;
        # otherwise the initializers would be ordered into, and rerun by, every step.
        build = self._build_checked(converted, placeholders)
        if build.created:
            build = self._build_checked(converted, placeholders)
            if build.created:
                raise DualTFError(
                    format_error(
                        "The `fn` of function()",
                        "creating its variables only on its first call (as tf.function requires)",
                        f"new variables on the second build: {[v.name for v in build.created]}",
                    )
                )
        target = tf.group(*build.must_run, name="dualtf_side_effects") if build.must_run else None
        op_count = len(self.graph.get_operations()) - first_op
        self._initialize_new_variables()
        real = [i for i, t in enumerate(build.fetches) if t is not None]
        fetched = [t for t in build.fetches if t is not None]
        callable_ = self._make_callable(fetched, placeholders, target)
        structure, n_leaves = build.structure, len(build.fetches)

        if n_leaves == 1 and real and not isinstance(structure, (list, tuple, dict)):

            def run(values: list[np.ndarray]) -> Any:
                return callable_(*values)[0]

        else:

            def run(values: list[np.ndarray]) -> Any:
                leaves: list[Any] = [None] * n_leaves
                for slot, value in zip(real, callable_(*values), strict=True):
                    leaves[slot] = value
                return tf.nest.pack_sequence_as(structure, leaves)

        def chrome_trace(values: list[np.ndarray]) -> str:
            run_options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
            traced = self._make_callable(fetched, placeholders, target, run_options)
            metadata = tf.compat.v1.RunMetadata()
            traced(*values, run_metadata=metadata)
            return str(load("Timeline")(metadata.step_stats, self.graph).generate_chrome_trace_format())

        return Compiled(run, op_count=op_count, chrome_trace=chrome_trace)

    def _evaluate(self, leaves: list[Any]) -> list[Any]:
        self._initialize_new_variables()
        slots: list[int] = []
        fetches: list[Any] = []
        out: list[Any] = []
        for i, leaf in enumerate(leaves):
            var = as_tf_variable(leaf)
            if var is not None or isinstance(leaf, tf.Tensor):
                slots.append(i)
                fetches.append(self._read_tensor(var) if var is not None else leaf)
                out.append(None)
            else:
                out.append(None if leaf is None else np.asarray(leaf))
        if fetches:
            for i, value in zip(slots, self.session.run(fetches), strict=True):
                out[i] = value
        return out

    def _assign(self, var: tf.Variable, value: np.ndarray) -> None:
        self._initialize_new_variables()
        cached = self._assigners.get(id(var))
        if cached is None:
            with self.graph.as_default():
                slot = tf.compat.v1.placeholder(var.dtype.base_dtype, var.shape, name="dualtf_assign_value")
                cached = (slot, var.assign(slot, read_value=False))
            self._assigners[id(var)] = cached
        slot, op = cached
        self.session.run(op, feed_dict={slot: value})

    def _holds_variable(self, var: tf.Variable) -> bool:
        return self._holds_tensor(variable_handle(var))

    def _holds_tensor(self, tensor: tf.Tensor) -> bool:
        return tf.is_symbolic_tensor(tensor) and tensor.graph is self.graph

    def _variables(self) -> list[tf.Variable]:
        seen: dict[int, tf.Variable] = {}
        for key in _VARIABLE_COLLECTIONS:
            for v in self.graph.get_collection(key):
                seen.setdefault(id(v), v)
        return list(seen.values())

    # ------------------------------------------------------------ graph mode's own machinery
    def _initialize_new_variables(self) -> None:
        new = [v for v in self._variables() if id(v) not in self._initialized]
        if new:
            self.session.run([v.initializer for v in new])
            self._initialized.update(id(v) for v in new)

    def _make_callable(
        self, fetches: list[tf.Tensor], feeds: list[tf.Tensor], target: tf.Operation | None, run_options: Any = None
    ) -> Callable[..., list[np.ndarray]]:
        """A C++ ``Session::MakeCallable`` handle: feeds go in by position, no feed_dict.

        ``Session.make_callable`` with a ``feed_list`` only wraps ``Session.run``
        with a fresh feed_dict per call; the options form skips that parsing.
        """
        options = load("CallableOptions")()
        options.feed.extend(t.name for t in feeds)
        options.fetch.extend(t.name for t in fetches)
        if target is not None:
            options.target.append(target.name)
        if run_options is not None:
            options.run_options.CopyFrom(run_options)
        return make_callable_from_options(self.session, options)  # type: ignore[no-any-return]

    def _build_checked(self, fn: Callable[..., Any], placeholders: list[tf.Tensor]) -> _Build:
        if self.num_replicas == 1:
            return self._build(fn, placeholders)
        try:
            return self._build(fn, placeholders)
        except TypeError as exc:
            # Seen with Keras 3 optimizers: ReplicaContext.all_reduce in a TF1 graph runs the
            # other replicas' threads inside a custom gradient, which then sees their variables.
            if "grad_fn must accept keyword argument" not in str(exc):
                raise
            first = str(exc).strip().splitlines()[-1][:300]
            raise UnsupportedCombinationError(
                format_error(
                    f"The combination of mode 'graph' and strategy {self.strategy_name!r} for this `fn`",
                    "buildable by TensorFlow",
                    f"{type(exc).__name__}: {first} — replica-context all_reduce (which Keras 3 optimizers "
                    "call) cannot be built in a TF1 graph under MirroredStrategy; run this program in mode "
                    "'function' or 'eager'",
                )
            ) from exc

    def _build(self, fn: Callable[..., Any], placeholders: list[tf.Tensor]) -> _Build:
        created: list[Any] = []

        def record(next_creator: Callable[..., Any], **kwargs: Any) -> Any:
            var = next_creator(**kwargs)
            created.append(var)
            return var

        with tf.variable_creator_scope(record), load("AutomaticControlDependencies")() as acd:
            structure = fn(*placeholders)
            leaves = tf.nest.flatten(structure)
            fetches = [None if leaf is None else acd.mark_as_return(tf.convert_to_tensor(leaf)) for leaf in leaves]
        return _Build(structure, fetches, created, list(acd.ops_which_must_run))

    def _read_tensor(self, var: tf.Variable) -> tf.Tensor:
        # Not `sess.run(var)`: that fetches the read op made with the variable, which,
        # for a variable created while fn was built, is ordered after its initializer
        # and would run it again. A read of our own, made once, has no such edge.
        read = self._reads.get(id(var))
        if read is None:
            with self.graph.as_default(), tf.control_dependencies(None):
                read = self._reads[id(var)] = var.read_value()
        return read


backend_class = GraphBackend
