"""graph: a TF1 ``tf.Graph`` and ``tf.compat.v1.Session`` of the backend's own.

Eager execution is never disabled for the process: the graph is the default
graph only inside the backend's block, so every mode coexists in one process.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import tensorflow as tf

from .._errors import (
    DualTFError,
    ForeignObjectError,
    UnsupportedCombinationError,
    error_message,
    format_error,
    tf_cause,
)
from .._feeds import Feed
from .._tf_private import load, make_callable_from_options
from .base import Backend
from .graph_keras import GraphKerasLoop
from .keras_loops import ModelRunner
from .probe import probe_points, values_of
from .step import Compiled
from .tensors import (
    as_tf_variable,
    check_results,
    value_to_numpy,
    variable_handle,
    variables_every_call,
    without_operations,
)
from .tf1.refuse import user_line

__all__ = ["GraphBackend"]

#: Ops that read or write checkpoint files: TensorFlow's checkpoint APIs run them themselves,
#: with the file name fed, so a catch-up never does.
_CHECKPOINT_IO = frozenset(
    {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "Save", "SaveSlices", "Restore", "RestoreSlice"}
)
_FEEDS = frozenset({"Placeholder", "PlaceholderV2"})
_CHECKS = frozenset({"CheckNumerics", "CheckNumericsV2"})


def _is_side_effect(op: tf.Operation) -> bool:
    """A stateful op that eager would have run for its effect: one with no outputs (an assign, a
    print), an assertion (``tf.debugging.assert_*`` builds an ``If`` named ``AssertGuard``), or a
    ``check_numerics`` whose result nobody reads."""
    if not op.op_def.is_stateful:
        return False
    if not op.outputs or op.type == "Assert":
        return True
    if op.type == "If" and op.name.rsplit("/", 1)[-1] == "AssertGuard":
        return True
    return op.type in _CHECKS and not any(t.consumers() for t in op.outputs)


_VARIABLE_COLLECTIONS = (tf.compat.v1.GraphKeys.GLOBAL_VARIABLES, tf.compat.v1.GraphKeys.LOCAL_VARIABLES)


class _Build(NamedTuple):
    """One build of ``fn`` into the graph."""

    structure: Any  # what fn returned, for packing the fetched values
    fetches: list[tf.Tensor | None]  # one tensor (or None) per leaf of structure
    created: list[Any]  # variables the build created
    must_run: list[Any]  # stateful ops the step must run (automatic control dependencies)


def _called(node_def: Any) -> list[str]:
    """The functions a node calls: its function-valued attributes (a loop's body, a map's f, a call's f)."""
    names = []
    for value in node_def.attr.values():
        if value.HasField("func"):
            names.append(value.func.name)
        names += [f.name for f in value.list.func]
    return names


class _NeverUsed(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "Object was never used" not in record.getMessage()


@contextlib.contextmanager
def _every_op_is_used() -> Iterator[None]:
    """While a step is built: TensorFlow's "Object was never used" log of an op fn made and dropped (an
    assertion's AssertGuard) is wrong here: a graph step runs every side effect, as tf.function does."""
    logger, never_used = logging.getLogger("tensorflow"), _NeverUsed()
    logger.addFilter(never_used)
    try:
        yield
    finally:
        logger.removeFilter(never_used)


class _Unordered:
    """What a build without automatic control dependencies has in their place: nothing to order, nothing to run."""

    ops_which_must_run: tuple[Any, ...] = ()

    def __enter__(self) -> _Unordered:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    @staticmethod
    def mark_as_return(tensor: Any) -> Any:
        return tensor


class _Epochs:
    """One dataset's iterator in the graph, read one epoch per ``iterate()`` call."""

    def __init__(self, dataset: Any, iterator: Any, element: Any, size: int):
        self.dataset = dataset  # kept alive: the cache is keyed by its id
        self.iterator = iterator
        self.element = element
        self.size = size  # elements per epoch; < 0 when TensorFlow cannot tell
        self.left = 0  # elements of the current epoch not yet read
        self.busy = False  # read by a loop now: another loop (nested, zipped) gets an iterator of its own


class _CatchUpSession(tf.compat.v1.Session):  # type: ignore[misc]
    """The backend's Session: before any run — dualtf's, the user's, a Saver's or a
    Checkpoint's — it brings the graph's state to what eager execution would show."""

    def __init__(self, graph: tf.Graph, config: Any, catch_up: Callable[[Any], None]):
        super().__init__(graph=graph, config=config)
        self._catch_up = catch_up

    def run(self, fetches: Any, feed_dict: Any = None, options: Any = None, run_metadata: Any = None) -> Any:
        self._catch_up(fetches)  # what this run fetches it runs itself: not twice
        return super().run(fetches, feed_dict, options, run_metadata)

    def run_as_is(self, fetches: Any, feed_dict: Any = None) -> Any:
        """``Session.run`` without the catch-up: for dualtf's own runs, which catch up first themselves."""
        return super().run(fetches, feed_dict)


def _initializer(graph: tf.Graph, var: tf.Variable) -> tf.Operation:
    """``var.initializer``, asked in its graph: a mirrored variable's is a group of its copies' made when
    asked, which outside the graph (a catch-up as the block closes) TensorFlow makes eagerly, as None."""
    with graph.as_default():
        initializer: tf.Operation = var.initializer
        return initializer


class GraphBackend(Backend):
    """TF1 graph mode: ``fn`` is built once against placeholders and run by a Session.

    Steps run through C++ ``Session::MakeCallable``, so a call adds no ops and
    skips ``feed_dict`` parsing. Variables (including those a Keras layer or
    optimizer creates while ``fn`` is built) are initialized once, before
    the first run that needs them.

    What the user does in the block outside a step runs as eager would have
    run it: before the next step, ``evaluate``, ``assign`` or any run of
    :attr:`session`, the variables made since and the side effects made since
    (``v.assign(...)``, ``metric.reset_state()``, a checkpoint's restore ops,
    ``tf.print``: stateful ops with no outputs) run once, in creation order.
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
        self.session: tf.compat.v1.Session = _CatchUpSession(self.graph, config, self._catch_up)
        self._run = self.session.run_as_is
        #: Ops of the graph already accounted for: run by a catch-up, or made by dualtf itself.
        self._seen = 0
        self._initialized: set[int] = set()
        self._assigners: dict[int, tuple[tf.Tensor, tf.Operation]] = {}
        self._reads: dict[int, tf.Tensor] = {}
        self._epochs: dict[int, list[_Epochs]] = {}  # per dataset: one iterator per loop reading it at once

    def _close(self) -> None:
        try:
            self._catch_up()  # what the block did last (a writer's flush, an assign) eager has done too
        finally:
            self.session.close()

    def _scope(self) -> contextlib.AbstractContextManager[Any]:
        # The session is the default one too: Checkpoint.save, Saver and user code find it.
        stack = contextlib.ExitStack()
        stack.enter_context(self.graph.as_default())
        stack.enter_context(self.session.as_default())
        return stack

    def _placeholder(self, name: str, dtype: tf.DType, shape: Any) -> tf.Tensor:
        self._catch_up()
        with self.graph.as_default():
            placeholder: tf.Tensor = tf.compat.v1.placeholder(dtype, shape, name=name)
        self._seen = self.graph.version
        return placeholder

    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Compiled:
        self._catch_up()
        try:
            converted = tf.autograph.to_graph(fn)
        except Exception:  # callables autograph cannot convert (e.g. C functions) run as they are
            converted = fn
        placeholders = [f.placeholder for f in feeds if f.placeholder is not None]  # graph mode gives each one
        # Like tf.function, fn is built twice: the first build makes its variables (a Keras
        # layer's first call, an optimizer's slots, a TF1 program's tf.Variable) and is never
        # run; the kept build only reads them. The first is built as TF1 builds, without
        # automatic control dependencies: under them a variable's initializer would be ordered
        # before the read op made with it, which later builds capture (a TF1 while loop over
        # the variable does), and every step would initialize the variable again.
        try:
            with _every_op_is_used():
                summaries = list(self.graph.get_collection(tf.compat.v1.GraphKeys.SUMMARIES))
                self._build_checked(converted, placeholders, ordered=False)
                # the first build is never run: its summaries must not be merged twice (merge_all)
                self.graph.get_collection_ref(tf.compat.v1.GraphKeys.SUMMARIES)[:] = summaries
                first_op = self.graph.version
                build = self._build_checked(converted, placeholders)
        except BaseException:
            self._seen = self.graph.version  # a failed build's ops are not the block's: never run them
            raise
        foreign = [t for t in build.fetches if t is not None and t.graph is not self.graph]
        if foreign:  # made from another graph's tensor or variable (another backend's, closed or not)
            self._seen = self.graph.version
            raise ForeignObjectError(
                format_error(
                    f"Each result of a step of backend {self._label()}",
                    "computed in the backend's graph, from its own variables and tensors",
                    f"`{foreign[0].name}`, a tensor of another graph (a variable of another backend?)",
                )
            )
        if build.created:
            self._seen = self.graph.version
            raise variables_every_call(f"new variables on the second build: {[v.name for v in build.created]}")
        target = tf.group(*build.must_run, name="dualtf_side_effects") if build.must_run else None
        op_count = self.graph.version - first_op
        self._seen = self.graph.version  # the build's ops run in steps, never in a catch-up
        self._initialize_new_variables()
        real = [i for i, t in enumerate(build.fetches) if t is not None]
        fetched = [t for t in build.fetches if t is not None]
        built_ops = self.graph.get_operations()[first_op:]
        sink = self._probe_sink
        if sink is not None and (fetched or target is not None):  # the step's own values, fetched with its results
            points = probe_points(built_ops, [t.op for t in fetched])
            full = self._make_callable(fetched + [p.tensor for p in points], placeholders, target)

            def callable_(*values: np.ndarray, **_: Any) -> list[np.ndarray]:
                got = full(*values)
                sink.extend(values_of(points, got[len(fetched) :]))
                return got[: len(fetched)]

        elif fetched or target is not None:
            callable_ = self._make_callable(fetched, placeholders, target)
        else:  # fn returned only Nones and had no effect: nothing to run, as in the other modes

            def callable_(*values: np.ndarray, **_: Any) -> list[np.ndarray]:
                return []

        structure, n_leaves = build.structure, len(build.fetches)
        graph, catch_up = self.graph, self._catch_up

        if n_leaves == 1 and real and not isinstance(structure, (list, tuple, dict)):

            def run(values: list[np.ndarray]) -> Any:
                if graph.version != self._seen:
                    catch_up()
                return callable_(*values)[0]

        else:

            def run(values: list[np.ndarray]) -> Any:
                if graph.version != self._seen:
                    catch_up()
                leaves: list[Any] = [None] * n_leaves
                for slot, value in zip(real, callable_(*values), strict=True):
                    leaves[slot] = value
                return tf.nest.pack_sequence_as(structure, leaves)

        def chrome_trace(values: list[np.ndarray]) -> str:
            run_options = tf.compat.v1.RunOptions(trace_level=tf.compat.v1.RunOptions.FULL_TRACE)
            traced = self._make_callable(fetched, placeholders, target, run_options)
            catch_up()
            metadata = tf.compat.v1.RunMetadata()
            traced(*values, run_metadata=metadata)
            return str(load("Timeline")(metadata.step_stats, self.graph).generate_chrome_trace_format())

        spec = [None if t is None else tf.TensorSpec(t.shape, t.dtype) for t in build.fetches]
        built = [(op.type, op.name) for op in built_ops]

        def nested_ops() -> tuple[tuple[str, str], ...]:
            # the ops of the functions the step calls (loop bodies, cond branches, its datasets' functions),
            # by serializing the graph: those reachable from the step's ops, not every function of the graph
            library = {f.signature.name: f for f in self.graph.as_graph_def().library.function}
            todo = [name for op in built_ops for name in _called(op.node_def)]
            seen: set[str] = set()
            found: list[tuple[str, str]] = []
            while todo:
                name = todo.pop()
                if name in seen or name not in library:
                    continue
                seen.add(name)
                for node in library[name].node_def:
                    found.append((node.op, node.name))
                    todo += _called(node)
            return tuple(found)

        def op_line(name: str) -> str | None:
            try:
                return user_line(self.graph.get_operation_by_name(name).traceback)
            except (KeyError, ValueError):  # an op of a nested function: no traceback kept
                return None

        return Compiled(
            run,
            op_count=op_count,
            ops=tuple(built),
            nested_ops=nested_ops,
            op_line=op_line,
            chrome_trace=chrome_trace,
            call_path="session callable",
            result_spec=tf.nest.pack_sequence_as(structure, spec),
        )

    def _evaluate(self, leaves: list[Any]) -> list[Any]:
        self._catch_up()
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
                out.append(None if leaf is None else value_to_numpy(leaf))
        self._seen = self.graph.version  # the read ops made above
        if fetches:
            try:
                values = self._run(fetches)
            except tf.errors.InvalidArgumentError as exc:
                if "must feed a value for placeholder" not in exc.message:
                    raise
                raise DualTFError(
                    error_message(
                        "A value given to evaluate() must be computable without a feed: a feed has a value only "
                        "inside a step call (return it from the step instead)",
                        tf_cause(exc.message),
                    )
                ) from None
            for i, value in zip(slots, values, strict=True):
                out[i] = value
        return out

    def _assign(self, var: tf.Variable, value: np.ndarray) -> None:
        self._catch_up()
        cached = self._assigners.get(id(var))
        if cached is None:
            with self.graph.as_default():
                slot = tf.compat.v1.placeholder(var.dtype.base_dtype, var.shape, name="dualtf_assign_value")
                cached = (slot, var.assign(slot, read_value=False))
            self._assigners[id(var)] = cached
            self._seen = self.graph.version
        slot, op = cached
        self._run(op, feed_dict={slot: value})

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

    def _keras_runner(self, model: Any) -> ModelRunner:
        return GraphKerasLoop(self, model)

    def _tf1_eager(self) -> contextlib.AbstractContextManager[Any]:
        return contextlib.nullcontext()  # a graph step's fn is only ever built, never run eagerly

    def _iterate(self, dataset: tf.data.Dataset[Any]) -> Iterator[Any]:
        # One iterator per dataset, over dataset.repeat(), read an epoch at a time: a
        # shuffle then reshuffles each epoch from one seed stream, exactly as eager's
        # fresh iter() per epoch does (a re-initialized iterator would repeat epoch 1).
        with self._lock:
            pool = self._epochs.setdefault(id(dataset), [])
            epochs = next((e for e in pool if not e.busy), None)
            if epochs is None:
                epochs = self._make_epochs(dataset)
                pool.append(epochs)
            epochs.busy = True
        try:
            yield from self._read_epoch(epochs)
        finally:  # the loop ended, broke off or was dropped: the iterator serves the next loop
            epochs.busy = False

    def _read_epoch(self, epochs: _Epochs) -> Iterator[Any]:
        if epochs.size < 0:  # unknown length: a fresh pass each time (docs/data.md says what differs)
            self._run(epochs.iterator.initializer)
            while True:
                try:
                    yield self._run(epochs.element)
                except tf.errors.OutOfRangeError:
                    return
        for _ in range(epochs.left):  # the rest of an epoch the caller left early
            self._run(epochs.element)
        epochs.left = epochs.size
        while epochs.left:
            value = self._run(epochs.element)
            epochs.left -= 1
            yield value

    # ------------------------------------------------------------ graph mode's own machinery
    def _make_epochs(self, dataset: tf.data.Dataset[Any]) -> _Epochs:
        self._catch_up()
        with self.graph.as_default():
            size = int(self._run(dataset.cardinality()))
            source = dataset.repeat() if size >= 0 else dataset
            iterator = tf.compat.v1.data.make_initializable_iterator(source)
            element = iterator.get_next()
        self._seen = self.graph.version  # the iterator's ops are dualtf's own
        if size >= 0:
            self._run(iterator.initializer)
        return _Epochs(dataset, iterator, element, size)

    def _catch_up(self, fetches: Any = None) -> None:
        """Run what eager would have run since the last catch-up: new variables' initializers
        and the user's side effects, interleaved in creation order.

        A side effect is a stateful op with no outputs (an assign, a metric reset, a
        restore, a print); an op with outputs is a value, computed when it is evaluated.
        Ops that ``fetches`` (a Session.run's) runs are left to that run. One that needs
        a feed cannot run outside a step: a DualTFError before any runs.
        """
        if self.graph.version == self._seen:  # nothing new (checked again under the lock)
            return
        with self._lock:  # one thread's catch-up at a time, never during another thread's build
            self._catch_up_locked(fetches)

    def _catch_up_locked(self, fetches: Any) -> None:
        version = self.graph.version
        if version == self._seen:
            return
        first, self._seen = self._seen, version  # first: the runs below come back through here
        variables = {_initializer(self.graph, v).name: v for v in self._variables() if id(v) not in self._initialized}
        fetched = self._upstream(self._fetched_ops(fetches)) if fetches is not None else set()
        plan = []
        try:
            for index, op in enumerate(self.graph.get_operations()[first:version], start=first):
                if op.name in fetched:
                    continue
                if op.name in variables or (_is_side_effect(op) and self._runs_like_eager(op)):
                    plan.append((index, op))
        except DualTFError:
            self._seen = first  # refused: every later run refuses it too, until it is dealt with
            raise
        for index, op in plan:
            try:
                self._run(self._fetchable(op))
            except tf.errors.OpError as exc:
                self._seen = index + 1  # the side effects after it are not dropped: the next run tries them
                raise DualTFError(
                    error_message(
                        f"Op `{op.name}` ({op.type}), made in the block of graph backend {self._label()} outside a "
                        "step, must run as eager execution would have run it; TensorFlow refused it.",
                        f"{type(exc).__name__}: {tf_cause(exc.message)}",
                    )
                ) from exc
            var = variables.get(op.name)
            if var is not None:
                self._initialized.add(id(var))
        self._initialize_new_variables()  # any made before (a build's), not yet run

    def _fetchable(self, op: tf.Operation) -> tf.Operation:
        """``op``, or for an op TensorFlow will not fetch (a cond's ``If``) the Identity that reads it."""
        if self.graph.is_fetchable(op):
            return op
        readers = [c for t in op.outputs for c in t.consumers() if c.type == "Identity" and self.graph.is_fetchable(c)]
        return readers[0] if readers else op

    def _fetched_ops(self, fetches: Any) -> list[tf.Operation]:
        ops = []
        for leaf in tf.nest.flatten(fetches):
            var = as_tf_variable(leaf)
            try:
                element = self.graph.as_graph_element(var.value() if var is not None else leaf)
            except (TypeError, ValueError):  # not a graph element: Session.run reports it
                continue
            ops.append(element if isinstance(element, tf.Operation) else element.op)
        return ops

    @staticmethod
    def _upstream(ops: list[tf.Operation]) -> set[str]:
        """The names of ``ops`` and of every op they depend on (data or control)."""
        stack, seen = list(ops), {op.name for op in ops}
        while stack:
            current = stack.pop()
            for upstream in [t.op for t in current.inputs] + list(current.control_inputs):
                if upstream.name not in seen:
                    seen.add(upstream.name)
                    stack.append(upstream)
        return seen

    def _runs_like_eager(self, op: tf.Operation) -> bool:
        """Whether a catch-up runs the side effect ``op``: False for checkpoint I/O that
        TensorFlow's own API runs; a DualTFError for one that cannot run outside a step."""
        upstream = [self.graph.get_operation_by_name(name) for name in self._upstream([op])]
        restores = [u for u in upstream if u.type in _CHECKPOINT_IO]
        if restores:
            # tf.train.Checkpoint.restore reads its path from a Const that its status feeds;
            # a Saver's prebuilt ops read a PlaceholderWithDefault and run only in Saver.restore.
            if any(u.type == "RestoreV2" and u.inputs[0].op.type == "Const" for u in restores):
                raise DualTFError(
                    error_message(
                        f"A tf.train.Checkpoint restore made in the block of graph backend {self._label()} "
                        f"(op `{op.name}`) must be run before the state is used: in graph mode TensorFlow needs "
                        "`checkpoint.restore(path).run_restore_ops()`, which works unchanged in every mode",
                        "a restore whose ops never ran",
                    )
                )
            return False
        feeds = [u for u in upstream if u.type in _FEEDS]
        if feeds:
            raise DualTFError(
                error_message(
                    f"Op `{op.name}` ({op.type}), made in the block of graph backend {self._label()} outside a "
                    "step, must run as eager execution would have run it, which needs no feed; move it into "
                    "the step's fn, or build it from values instead of feeds.",
                    f"an op that reads feed `{feeds[0].name}`",
                )
            )
        return True

    def _initialize_new_variables(self) -> None:
        new = [v for v in self._variables() if id(v) not in self._initialized]
        if new:
            self._run([_initializer(self.graph, v) for v in new])
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

    def _build_checked(self, fn: Callable[..., Any], placeholders: list[tf.Tensor], *, ordered: bool = True) -> _Build:
        if self.num_replicas == 1:
            return self._build(fn, placeholders, ordered)
        try:
            return self._build(fn, placeholders, ordered)
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

    def _build(self, fn: Callable[..., Any], placeholders: list[tf.Tensor], ordered: bool = True) -> _Build:
        """``fn`` built into the graph; ``ordered``: under automatic control dependencies, as a step runs."""
        created: list[Any] = []

        def record(next_creator: Callable[..., Any], **kwargs: Any) -> Any:
            var = next_creator(**kwargs)
            created.append(var)
            return var

        with (
            tf.variable_creator_scope(record),
            load("AutomaticControlDependencies")() if ordered else _Unordered() as acd,
        ):
            try:
                structure = fn(*placeholders)
            except RuntimeError as exc:
                if "capture an EagerTensor" not in str(exc):
                    raise
                raise ForeignObjectError(
                    format_error(
                        f"Every variable and tensor a step of graph backend {self._label()} uses",
                        "made under this backend, in its graph",
                        f"a variable or tensor of an eager-context backend ({tf_cause(str(exc))})",
                    )
                ) from exc
            structure = without_operations(structure)
            check_results(structure)
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
