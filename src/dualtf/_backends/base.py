"""The backend contract: the hooks a mode implements, then the public API built on them.

A mode module (``graph.py``, ``eager.py``, ``function.py``, ``xla.py``) subclasses
:class:`Backend` and overrides hooks only, in the order they are listed here.
The defaults are TF2's eager context, which eager, function and xla share;
graph mode overrides them all. Validation (names, dtypes, shapes, ownership,
closed state) lives in the public methods, so no mode repeats it.
"""

from __future__ import annotations

import abc
import contextlib
import itertools
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, ClassVar

import numpy as np
import tensorflow as tf
from typing_extensions import Self

from .._errors import (
    ClosedBackendError,
    DualTFError,
    FeedError,
    ForeignObjectError,
    PrivateAPIError,
    UnsupportedCombinationError,
    dualtf_errors_unwrapped,
    format_error,
)
from .._feeds import Feed, coerce_value, normalize_shape
from .._global_state import GlobalState, seed_everything
from .._modes import Mode
from .._strategies import feature_refused_reason, strategy_name
from .._tf_private import creating_tf_keras_batch_counter, dataset_variant
from . import open_backends
from .build import build_epoch, build_function
from .checks import OP_NAME, check_backend_options, dtype_argument, initial_value
from .distribute import aggregation as variable_aggregation
from .distribute import batch_unknown, resolve_strategy, split_feeds
from .keras_loops import KerasLoop, ModelRunner
from .probe import Intermediate
from .step import Compiled, Step
from .tensors import as_tf_variable, eager_scope, is_eager, tensor_label, to_numpy, variable_handle, variable_label
from .tf1 import registry
from .tf1.code import ReplicaRandom, StepCode, switch_held
from .tf1.random import DeterministicRandom, ReplicaBatch, ReplicaSchedule
from .tf1.refuse import RefusalTable
from .traced import Tracer

__all__ = ["Backend"]

_serials = itertools.count(1)
_entries = itertools.count(1)

#: Attribute set on each variable a backend made or saw created, naming its owner.
_OWNER_ATTR = "_dualtf_owner"


class Backend(abc.ABC):
    """One execution mode behind one API for tensors, variables and feeds.

    Get one from :func:`dualtf.backend`; use it as a context manager so that
    leaving the block closes what it opened. User code inside uses plain
    TensorFlow ops; only what truly differs between modes goes through here.

    >>> import dualtf, tensorflow as tf
    >>> with dualtf.backend("graph") as be:
    ...     w = be.variable([[1.0], [2.0]], name="w")
    ...     x = be.feed("x", tf.float32, shape=[1, None])
    ...     step = be.function(lambda x: tf.matmul(w, x), [x])
    ...     step([[3.0, 4.0]]).tolist()
    [[3.0, 4.0], [6.0, 8.0]]
    """

    #: The mode's name, one of :data:`dualtf.MODES`.
    mode: ClassVar[Mode]
    #: Keyword options this mode accepts in :func:`dualtf.backend`.
    OPTIONS: ClassVar[frozenset[str]] = frozenset()

    # ======================================================= hooks: what a mode implements
    def _open(self, options: dict[str, Any]) -> None:
        """Open what the mode needs (graph: a Graph and a Session); refuse a bad option first.

        The default opens what the eager context's modes trace their steps with.
        """
        self._tracer = Tracer(self._variables, self.strategy, self._record_variable)

    def _close(self) -> None:  # noqa: B027 - an optional hook
        """Release what :meth:`_open` opened."""

    def _scope(self) -> contextlib.AbstractContextManager[Any]:
        """The context this backend's ops are made in (graph: its graph as the default graph)."""
        return eager_scope()

    def _placeholder(self, name: str, dtype: tf.DType, shape: Any) -> tf.Tensor | None:
        """The graph tensor a feed stands for (graph: a placeholder); None where values go straight in."""
        return None

    @abc.abstractmethod
    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Compiled:
        """Build ``fn`` against ``feeds`` (one tensor each, in order) and say how to run it."""

    def _compile_loop(self, fn: Callable[..., Any]) -> Compiled:
        """Build a loop over a dataset that calls :meth:`_per_replica` of the step on each
        element (xla: the loop is traced, each step compiled, as XLA cannot read iterators)."""
        return self._compile(fn, [])

    def _refused_ops(self) -> RefusalTable | None:
        """Ops a step of this mode must not hold, refused by name after the build (xla: what XLA
        cannot compile or would skip)."""
        return None

    def _per_replica(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """What each replica runs under a strategy (xla: ``fn`` compiled by XLA)."""
        return fn

    def _evaluate(self, leaves: list[Any]) -> list[Any]:
        """NumPy values for already-checked leaves (tensors, variables, Python values)."""
        return [to_numpy(leaf) for leaf in leaves]

    def _assign(self, var: tf.Variable, value: np.ndarray) -> None:
        """Write an already-checked value into ``var``."""
        var.assign(value)

    def _holds_variable(self, var: tf.Variable) -> bool:
        """Whether ``var`` lives in this backend's graph or context."""
        return is_eager(variable_handle(var))

    def _holds_tensor(self, tensor: tf.Tensor) -> bool:
        """Whether ``tensor`` was made in this backend's graph or context."""
        return is_eager(tensor)

    def _variables(self) -> list[tf.Variable]:
        """Every variable this backend owns, in creation order."""
        return [v for v in self._own_variables.values() if getattr(v, _OWNER_ATTR, None) == self.serial]

    def _keras_runner(self, model: Any) -> ModelRunner:
        """How ``be.keras(model)`` runs Keras' fit, evaluate and predict in this mode."""
        return KerasLoop(self, model, run_eagerly=False, jit_compile=False)

    def _iterate(self, dataset: tf.data.Dataset[Any]) -> Iterator[Any]:
        """The dataset's elements as NumPy structures, one per iteration."""
        with self._scope():
            for element in dataset:
                yield tf.nest.map_structure(to_numpy, element)

    def _tf1_eager(self) -> contextlib.AbstractContextManager[Any]:
        """What an eager run of a step's TF1 code runs in: the backend's TF1 graph (collections) and
        variable store as the defaults (graph mode never runs a step's fn eagerly)."""
        stack = contextlib.ExitStack()
        stack.enter_context(self._tracer.outer())
        stack.enter_context(tf.variable_creator_scope(self._record_variable))  # creator scopes live on a graph
        return stack

    # ======================================================= life cycle
    def __init__(
        self, *, seed: int | None = None, strategy: Any = None, deterministic_random: bool = False, **options: Any
    ):
        check_backend_options(self.mode, self.OPTIONS, options, seed, deterministic_random)
        self.seed = seed
        #: The ``tf.distribute.Strategy`` steps run under, or None (the ``default`` strategy).
        self.strategy: tf.distribute.Strategy | None = resolve_strategy(strategy, self.mode)
        unavailable = registry.missing("deterministic_random") if deterministic_random else None
        if unavailable is not None:
            raise PrivateAPIError(unavailable)
        #: The strategy's dualtf name: one of :data:`dualtf.STRATEGIES`, or ``"custom"``.
        self.strategy_name = strategy_name(self.strategy)
        #: Replicas a step runs on (1 without a strategy).
        self.num_replicas = 1 if self.strategy is None else int(self.strategy.num_replicas_in_sync)
        self.serial = next(_serials)
        self._closed = False
        #: Held while dualtf builds or changes this backend's graph or bookkeeping (one thread at a time).
        self._lock = threading.RLock()
        self._feeds: dict[str, Feed] = {}
        self._own_variables: dict[int, tf.Variable] = {}  # by id, in creation order
        self._keras_runners: dict[int, ModelRunner] = {}  # by the model's id; each holds its model
        #: Whether the backend was used: any of its methods called, or a step of it (every one checks the
        #: backend is open first). The pytest plugin fails a test that asked for a backend and never used it.
        self.ran = False
        self._step_codes: weakref.WeakKeyDictionary[Step, StepCode] = weakref.WeakKeyDictionary()  # for reuse=
        self._stack = contextlib.ExitStack()
        self._entered: tuple[int, int] | None = None  # (thread, entry number) once its block is entered
        #: The generator every stateful random op draws from, with deterministic_random=True.
        self._random: DeterministicRandom | None = None
        #: Set (to a list) by dualtf._divergence before any step is built: every call of every step then
        #: appends the values of its intermediate tensors (see _backends/probe.py).
        self._probe_sink: list[Intermediate] | None = None
        self._open(options)  # may refuse an option: before any global state is touched
        self._global_state = GlobalState(seeds=seed is not None)
        open_backends.opened(self)
        if deterministic_random:
            assert seed is not None
            with self.scope():  # under a strategy its state is mirrored: each replica reads its own copy
                self._random = DeterministicRandom(seed, self.strategy)
            setattr(self._random.state, _OWNER_ATTR, self.serial)  # dualtf's, never listed in be.variables
            if hasattr(self, "_tracer"):  # a first trace's random keys are constants (DeterministicRandom.run)
                self._tracer.retrace_first = True
        if seed is not None:
            with eager_scope():  # graph mode's Keras loop runs eagerly: its shuffles draw as eager's do
                tf.random.set_seed(seed)
            with self.scope():
                seed_everything(seed)

    def __enter__(self) -> Self:
        self._check_open()
        if self._entered is not None:
            raise DualTFError(
                format_error(
                    f"Backend {self._label()}", "entered once (one `with` block)", "a second `with` while it is open"
                )
            )
        self._entered = (threading.get_ident(), next(_entries))
        self._stack.enter_context(self.scope())
        self._stack.enter_context(tf.variable_creator_scope(self._record_variable))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close what this backend opened (graph mode: its Session) and put back global state. Idempotent.

        Backends entered in one thread close in reverse order (a DualTFError
        otherwise, before anything is closed); a backend used without ``with``
        may close in any order, and the global state still ends as it began.
        """
        if self._closed:
            return
        heir = open_backends.closing(self)
        self._closed = True
        try:
            self._stack.close()
        finally:
            try:
                self._close()
            finally:
                if heir is None:
                    self._global_state.restore()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the ``with`` block left)."""
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<dualtf.Backend mode={self.mode!r} #{self.serial} {state}>"

    # ======================================================= public API
    def constant(self, value: Any, dtype: tf.DType | str | None = None) -> tf.Tensor:
        """A constant tensor in this backend's context.

        >>> import dualtf
        >>> with dualtf.backend("eager") as be:
        ...     be.evaluate(be.constant([1, 2], dtype="float32")).tolist()
        [1.0, 2.0]
        """
        self._check_open()
        tf_dtype = dtype_argument(dtype, "The dtype of constant()")
        arr = initial_value(value, tf_dtype, "The value of constant()")
        with self._lock, self.scope():
            return tf.constant(arr, dtype=tf_dtype)

    def variable(
        self,
        initial: Any,
        *,
        name: str | None = None,
        dtype: tf.DType | str | None = None,
        trainable: bool = True,
        aggregation: tf.VariableAggregation | str | None = None,
    ) -> tf.Variable:
        """A ``tf.Variable`` owned by this backend, initialized before it is first read.

        ``initial`` is a value (list, array, tensor) or a zero-argument callable.
        No initializer call is ever needed from the user, in any mode. Under a
        strategy the variable is made in its scope and, unless ``aggregation``
        says otherwise, updates made in replica context are averaged (``"mean"``),
        so ``w.assign_sub(lr * grad)`` of a per-replica mean loss matches one device.

        >>> import dualtf
        >>> with dualtf.backend("graph") as be:
        ...     v = be.variable([1.0, 2.0], name="v")
        ...     be.evaluate(v).tolist()
        [1.0, 2.0]
        """
        self._check_open()
        if name is not None and (not isinstance(name, str) or not OP_NAME.fullmatch(name)):
            raise DualTFError(
                format_error(
                    "A variable's name", "None or a TensorFlow op name such as 'dense/kernel'", f"name={name!r}"
                )
            )
        subject = f"Variable `{name}`" if name else "The variable"
        if not isinstance(trainable, bool):
            raise DualTFError(format_error(f"`trainable` of {subject.lower()}", "True or False", f"{trainable!r}"))
        tf_dtype = dtype_argument(dtype, f"The dtype of {subject.lower()}")
        what = f"The initial value of {subject.lower()}"
        if callable(initial):  # an initializer, called where TensorFlow makes the value: check what it gives
            made = initial
            initial = lambda: initial_value(made(), tf_dtype, what)  # noqa: E731
        else:
            initial = initial_value(initial, tf_dtype, what)
        how = variable_aggregation(aggregation, self.strategy is not None)
        with (
            self._lock,
            self.scope(),
            tf.variable_creator_scope(self._record_variable),
            dualtf_errors_unwrapped(),
            self._dualtf_building(f"variable {name or ''}".strip(), initial_value=True),
        ):
            var = tf.Variable(initial, name=name, dtype=tf_dtype, trainable=trainable, aggregation=how)
        return var

    def feed(self, name: str, dtype: tf.DType | str, shape: Any = None) -> Feed:
        """Declare an input of a step: ``None`` in ``shape`` means any size.

        >>> import dualtf, tensorflow as tf
        >>> with dualtf.backend("graph") as be:
        ...     be.feed("ids", tf.int32, shape=[None]).placeholder.shape.as_list()
        [None]
        """
        self._check_open()
        if not isinstance(name, str) or not name.isidentifier():
            raise FeedError(format_error("A feed name", "a Python identifier such as 'x'", f"name={name!r}"))
        if name in self._feeds:
            raise FeedError(format_error(f"Feed `{name}`", "declared once per backend", "a second declaration"))
        tf_dtype = dtype_argument(dtype, f"The dtype of feed `{name}`", error=FeedError)
        if tf_dtype is None:
            raise FeedError(format_error(f"The dtype of feed `{name}`", "given", "dtype=None"))
        dims = normalize_shape(shape, f"The shape of feed `{name}`")
        with self._lock:
            if name in self._feeds:  # declared by another thread meanwhile
                raise FeedError(format_error(f"Feed `{name}`", "declared once per backend", "a second declaration"))
            feed = Feed(name, tf_dtype, dims, self.serial, self._placeholder(name, tf_dtype, dims))
            self._feeds[name] = feed
        return feed

    def feeds_from(self, spec: Any, names: Sequence[str] | None = None) -> list[Feed]:
        """One feed per component of a dataset's ``element_spec`` (or a ``tf.TensorSpec`` structure).

        Feeds come in ``tf.nest`` order (a dict's keys sorted), so a batch from
        :meth:`iterate` goes in as ``step(*batch)`` (or ``step(**batch)`` for a
        dict). Names default to a dict's keys; give them for tuples.

        >>> import dualtf, tensorflow as tf
        >>> ds = tf.data.Dataset.from_tensor_slices(([[1.0, 2.0]], [3])).batch(1)
        >>> with dualtf.backend("graph") as be:
        ...     be.feeds_from(ds.element_spec, ["x", "y"])
        [Feed('x', float32, shape=(None, 2)), Feed('y', int32, shape=(None,))]
        """
        self._check_open()
        if isinstance(spec, tf.data.Dataset):
            spec = spec.element_spec
        specs = tf.nest.flatten(spec)
        if not specs or not all(isinstance(s, tf.TensorSpec) for s in specs):
            raise FeedError(
                format_error("The spec of feeds_from()", "a dataset's element_spec: tf.TensorSpec leaves", repr(spec))
            )
        if names is None:
            if not isinstance(spec, Mapping):
                raise FeedError(
                    format_error(
                        "The `names` of feeds_from()",
                        f"given for a spec that is not a dict ({len(specs)} feeds)",
                        "None",
                    )
                )
            names = sorted(spec)
        if isinstance(names, str) or len(names) != len(specs):
            raise FeedError(
                format_error("The `names` of feeds_from()", f"{len(specs)} names, one per component", repr(names))
            )
        return [self.feed(name, s.dtype, s.shape) for name, s in zip(names, specs, strict=True)]

    def iterate(self, dataset: tf.data.Dataset[Any]) -> Iterator[Any]:
        """The elements of a ``tf.data.Dataset`` as NumPy structures, in every mode.

        ``for batch in be.iterate(ds): step(*batch)`` is the loop that works
        in every mode (graph mode cannot iterate a dataset in Python); a
        dataset shuffled with a seed gives the same batches in every mode.

        >>> import dualtf, tensorflow as tf
        >>> with dualtf.backend("graph") as be:
        ...     sizes = [len(batch) for batch in be.iterate(tf.data.Dataset.range(5).batch(2))]
        >>> sizes
        [2, 2, 1]
        """
        self._check_open()
        if not isinstance(dataset, tf.data.Dataset):
            raise DualTFError(
                format_error("The dataset of iterate()", "a tf.data.Dataset", f"{type(dataset).__name__} {dataset!r}")
            )
        if not self._holds_tensor(dataset_variant(dataset)):
            raise ForeignObjectError(
                format_error(
                    "The dataset of iterate()",
                    f"made under this backend ({self._label()}), in its graph or context",
                    "a dataset of another graph or context",
                )
            )
        return self._open_only(self._iterate(dataset))

    def _open_only(self, elements: Iterator[Any]) -> Iterator[Any]:
        """``elements``, each read only while the backend is open (a ClosedBackendError after, in every mode)."""
        while True:
            self._check_open()
            try:
                element = next(elements)
            except StopIteration:
                return
            yield element

    def keras(self, model: Any) -> ModelRunner:
        """``fit``, ``evaluate`` and ``predict`` of a compiled Keras model, run in this backend's mode.

        eager runs Keras' loop eagerly (``run_eagerly=True``), function as a
        ``tf.function``, xla with ``jit_compile=True``; graph runs the model's
        own train, test and predict steps through its Session (NumPy arrays,
        ``shuffle=False``). The model's own settings are put back after each call.

        >>> import dualtf, keras, numpy as np
        >>> with dualtf.backend("graph", seed=0) as be:
        ...     model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        ...     model.compile(optimizer="sgd", loss="mse")
        ...     history = be.keras(model).fit(np.ones((4, 2)), np.zeros((4, 1)), epochs=2, verbose=0)
        >>> len(history.history["loss"])
        2
        """
        self._check_open()
        import keras

        if not isinstance(model, keras.Model):
            raise DualTFError(format_error("The model of keras()", "a keras.Model", f"{type(model).__name__}"))
        if self.mode == "graph":
            self._refuse_strategy("graph_keras", "be.keras(model) in mode 'graph'")
        if self._random is not None and self.mode == "eager":
            self._refuse_strategy(
                "keras_eager_random", "be.keras(model) in mode 'eager' with deterministic_random=True"
            )
        with self._lock:  # one runner per model: what it traces, compiles or builds is kept between calls
            runner = self._keras_runners.get(id(model))
            if runner is None or runner.model is not model:
                runner = self._keras_runners[id(model)] = self._keras_runner(model)
        return runner

    def function(
        self,
        fn: Callable[..., Any],
        feeds: Sequence[Feed],
        *,
        reduce: str = "mean",
        steps_per_call: int = 1,
        step_outputs: str = "stack",
        reuse: Step | None = None,
    ) -> Step:
        """Compile ``fn`` into a step taking one value per feed, returning NumPy.

        ``fn`` receives one tensor per feed, in order. Side effects (variable
        updates, optimizer steps) run exactly once per call in every mode;
        Python control flow on tensor values and ``tf.GradientTape`` work
        in every mode.

        Under a strategy, ``fn`` runs once per replica: every feed with a first
        dimension is split evenly along it (a batch that does not divide by the
        replica count is a DualTFError), other feeds go whole to every replica,
        and each output is reduced across replicas by ``reduce``: ``"mean"``,
        ``"sum"`` or ``"concat"`` (joined along the first dimension). Without a
        strategy ``reduce`` has nothing to do.

        With ``steps_per_call=K`` one call runs K steps in one loop (graph: a
        while loop in the Session's graph; function and xla: one traced, or
        compiled, function; eager: a Python loop): each feed takes K values
        stacked along a new first axis, the variables end exactly as after K
        single calls, and each result comes back as ``step_outputs`` says:
        ``"stack"`` (all K, stacked), ``"last"``, ``"sum"`` or ``"mean"``.

        A TF1 graph that ``fn`` builds makes its variables itself (``tf.Variable``,
        ``get_variable``, an optimizer's slots): they are made on ``fn``'s first run and
        handed back on every later one (matched by the name each asks for), in every mode.
        With ``reuse=step``, ``fn`` gets ``step``'s variables in the same way: the evaluation
        step of a TF1 program (``sess.run(accuracy)``) shares the training step's
        (``sess.run(train_op)``) variables, as the one TF1 graph does.

        >>> import dualtf, tensorflow as tf
        >>> with dualtf.backend("xla") as be:
        ...     a = be.feed("a", tf.int32, shape=[3])
        ...     b = be.feed("b", tf.int32, shape=[3])
        ...     be.function(tf.add, [a, b])([0, 1, 2], [10, 20, 30]).tolist()
        [10, 21, 32]
        """
        self._check_open()
        return build_function(
            self, fn, feeds, reduce=reduce, steps_per_call=steps_per_call, step_outputs=step_outputs, reuse=reuse
        )

    def epoch(self, fn: Callable[..., Any], dataset: tf.data.Dataset[Any], *, step_outputs: str = "stack") -> Step:
        """One call runs ``fn`` on every element of one pass over ``dataset``, in one loop.

        The quickstart's ``for images, labels in train_ds: train_step(images, labels)``,
        whole, in graph (one Session run), function (one traced function) and xla (a
        traced loop calling ``fn`` compiled by XLA); eager runs it as a Python loop.
        Each element goes to ``fn`` flattened in ``tf.nest`` order, so a ``(x, y)``
        dataset calls ``fn(x, y)``. Each call is a fresh pass (a shuffle reshuffles, a
        prefetch prefetches); results come back as ``step_outputs`` says, one per element.
        A dataset whose length TensorFlow cannot tell (a ``filter``) is counted once,
        here, by one pass; graph mode then reads that many elements per call.

        >>> import dualtf, tensorflow as tf
        >>> with dualtf.backend("graph") as be:
        ...     total = be.variable(0)
        ...     ds = tf.data.Dataset.range(4).map(lambda i: tf.cast(i, tf.int32))
        ...     epoch = be.epoch(lambda i: total.assign_add(i), ds)
        ...     epoch().tolist(), epoch().tolist()
        ([0, 1, 3, 6], [6, 7, 9, 12])
        """
        self._check_open()
        return build_epoch(self, fn, dataset, step_outputs=step_outputs)

    def evaluate(self, structure: Any) -> Any:
        """NumPy values of the tensors and variables in a nested structure.

        >>> import dualtf
        >>> with dualtf.backend("graph") as be:
        ...     w = be.variable(3.0)
        ...     values = be.evaluate({"w": w, "twice": 2 * w})
        >>> {name: float(value) for name, value in values.items()}
        {'w': 3.0, 'twice': 6.0}
        """
        self._check_open()
        leaves = tf.nest.flatten(structure)
        for leaf in leaves:
            self._check_value(leaf)
        with self._lock, self._scope():
            values = self._evaluate(leaves)
        return tf.nest.pack_sequence_as(structure, values)

    def assign(self, variable: Any, value: Any) -> None:
        """Set a variable (``tf.Variable`` or Keras 3 variable) to ``value``.

        The value is checked against the variable's dtype and shape first.

        >>> import dualtf
        >>> with dualtf.backend("graph") as be:
        ...     w = be.variable([0.0, 0.0])
        ...     be.assign(w, [1, 2])
        ...     be.evaluate(w).tolist()
        [1.0, 2.0]
        """
        self._check_open()
        var = self._check_variable(variable)
        shape = tuple(var.shape.as_list()) if var.shape.rank is not None else None
        arr = coerce_value(value, var.dtype.base_dtype, shape, f"The value for variable `{variable_label(var)}`")
        with self._lock, self._scope():
            self._assign(var, arr)

    @property
    def variables(self) -> list[tf.Variable]:
        """Every variable made through this backend or created inside its block, in creation order."""
        return self._variables()

    def scope(self) -> contextlib.AbstractContextManager[Any]:
        """The context in which this backend's ops are made: graph mode's graph and the strategy's scope."""
        stack = contextlib.ExitStack()
        stack.enter_context(self._scope())
        if self.strategy is not None:
            stack.enter_context(self.strategy.scope())
        return stack

    # ======================================================= checks and bookkeeping
    def _check_open(self) -> None:
        self.ran = True  # every method and step asks this first: the backend was used
        if self._closed:
            raise ClosedBackendError(
                format_error(
                    f"Backend {self._label()}", "open (used inside its `with` block)", "a call after it was closed"
                )
            )

    def _label(self) -> str:
        return f"{self.mode!r} #{self.serial}"

    def _check_feed(self, feed: Any) -> None:
        if not isinstance(feed, Feed):
            raise FeedError(
                format_error(
                    "Each feed of function()", "a Feed made by backend.feed()", f"{type(feed).__name__} {feed!r}"
                )
            )
        if feed.owner != self.serial:
            raise ForeignObjectError(
                format_error(
                    f"Feed `{feed.name}`",
                    f"declared by this backend ({self._label()})",
                    f"a feed of backend #{feed.owner}",
                )
            )

    def _check_variable(self, obj: Any, subject: str | None = None) -> tf.Variable:
        var = as_tf_variable(obj)
        if var is None:
            raise DualTFError(
                format_error("The variable", "a tf.Variable or a Keras variable", f"{type(obj).__name__}")
            )
        owner = getattr(var, _OWNER_ATTR, None)
        if (owner is not None and owner != self.serial) or not self._holds_variable(var):
            raise ForeignObjectError(
                format_error(
                    subject or f"Variable `{variable_label(var)}`",
                    f"made under this backend ({self._label()})",
                    f"a variable of another backend (#{owner})" if owner else "a variable of another graph or context",
                )
            )
        return var

    def _check_captured(self, compiled: Compiled, step: str) -> None:
        """Every variable a compiled step captured must be this backend's."""
        for var in compiled.variables:
            self._check_variable(var, f"Variable `{variable_label(var)}`, used by step `{step}`,")

    def _step_code(self, name: str, reuse: StepCode | None = None) -> StepCode:
        """How every mode runs the ``fn`` of a new step (:class:`~.tf1.code.StepCode`)."""
        return StepCode(
            name, self.mode, variables=self._variables, random=self._random, reuse=reuse, eager_context=self._tf1_eager
        )

    def _replica_random(self, name: str, feeds: Sequence[Feed]) -> ReplicaRandom | None:
        """With deterministic_random under a strategy, how each replica of step ``name`` draws
        (:class:`~.tf1.code.ReplicaRandom`); None otherwise."""
        if self._random is None:
            return None
        return ReplicaRandom(self._random, name, self.mode, self.num_replicas, split_feeds(feeds))

    def _variable_in_step(self, step: str) -> Callable[[str], None]:
        """Under a strategy, what refuses a variable made inside step ``step``'s ``fn``, by name."""

        def refuse(name: str) -> None:
            self._refuse_strategy("variables_in_step", f"Step `{step}` making variable `{name}` in its fn")

        return refuse

    def _keras_replica_draws(
        self, data: Any, schedule: ReplicaSchedule
    ) -> tuple[Any, contextlib.AbstractContextManager[Any]]:
        """A traced Keras step's run on one replica's ``data`` with deterministic_random under a strategy:
        the data with their batch size unknown (as dualtf's own steps trace a replica's slices: a draw per
        example is told by it), and its draws told where the replica's rows are in the global batch (Keras
        splits it; the sizes are gathered, as its last batch may split unevenly)."""
        context = tf.distribute.get_replica_context()
        if self._random is None or context is None or context.num_replicas_in_sync == 1:
            return data, contextlib.nullcontext()
        batched = [leaf for leaf in tf.nest.flatten(data) if isinstance(leaf, tf.Tensor) and leaf.shape.rank]
        if not batched:
            return data, contextlib.nullcontext()
        data = tf.nest.map_structure(
            lambda leaf: batch_unknown(leaf) if isinstance(leaf, tf.Tensor) and leaf.shape.rank else leaf, data
        )
        replicas, index = int(context.num_replicas_in_sync), context.replica_id_in_sync_group
        batch = ReplicaBatch.gathered(replicas, index, tf.shape(batched[0])[0], schedule)
        assert self._random is not None
        return data, self._random.run(first=False, batch=batch)

    def _dualtf_building(self, what: str, *, initial_value: bool = False) -> contextlib.AbstractContextManager[Any]:
        """dualtf's own building outside a step (a Keras step, a variable's initial value): with
        deterministic_random, its random ops draw from the backend's generator (an initial value from
        constant keys: :meth:`~.tf1.random.DeterministicRandom.initial_value`), the same numbers in every mode."""
        if self._random is None:
            return contextlib.nullcontext()
        stack = switch_held(self._random, what, self.mode)
        if initial_value:
            stack.enter_context(self._random.initial_value())
        return stack

    def _refuse_strategy(self, key: str, what: str) -> None:
        """The feature ``key`` of the strategy feature table (shown as ``what``) is not built under a
        strategy: an UnsupportedCombinationError naming both, and the table's reason."""
        if self.strategy is not None:
            raise UnsupportedCombinationError(
                format_error(
                    f"{what} with strategy {self.strategy_name!r}",
                    f"used without a strategy ({feature_refused_reason(key)})",
                    f"a backend of mode {self.mode!r} with strategy {self.strategy_name!r}",
                )
            )

    def _check_value(self, leaf: Any) -> None:
        if as_tf_variable(leaf) is not None:
            self._check_variable(leaf)
        elif isinstance(leaf, tf.Tensor) and not self._holds_tensor(leaf):
            raise ForeignObjectError(
                format_error(
                    f"Tensor `{tensor_label(leaf)}`",
                    f"made under this backend ({self._label()})",
                    "a tensor of another graph or context",
                )
            )

    def _record_variable(self, next_creator: Callable[..., Any], **kwargs: Any) -> Any:
        var = next_creator(**kwargs)
        inner = as_tf_variable(var)
        # With backends nested, every open one's creator sees the variable, the
        # outermost first: the innermost whose graph or context holds it owns it.
        if inner is not None and self._holds_variable(inner):
            setattr(inner, _OWNER_ATTR, self.serial)
            if not creating_tf_keras_batch_counter():  # made in eager modes only: not the model's state
                self._own_variables.setdefault(id(inner), inner)
        return var
