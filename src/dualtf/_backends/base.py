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
import inspect
import itertools
import re
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
    UnsupportedCombinationError,
    check_int,
    dualtf_errors_unwrapped,
    format_error,
)
from .._feeds import FEEDABLE, Feed, as_array, coerce_value, normalize_shape
from .._global_state import GlobalState, seed_everything
from .._modes import Mode
from .._strategies import strategy_name
from .._tf_private import creating_tf_keras_batch_counter, dataset_variant
from .build_once import BuildOnce
from .deterministic_random import DeterministicRandom, active, refused_random_op
from .distribute import REDUCTIONS, batch_check, distributed, resolve_strategy
from .distribute import aggregation as variable_aggregation
from .fused import STEP_OUTPUTS, epoch_loop, fused, stacked_check, stacked_shape
from .keras_loops import KerasLoop, ModelRunner
from .step import Compiled, Step
from .tensors import as_tf_variable, eager_scope, is_eager, tensor_label, to_numpy, variable_handle, variable_label
from .tf1_calls import tf1_calls
from .tf1_layers import tf1_layers
from .traced import Tracer

__all__ = ["Backend"]

_serials = itertools.count(1)
_entries = itertools.count(1)

#: Backends not yet closed, oldest first (weakly held), and the lock that guards the list.
_open_backends: list[weakref.ref[Backend]] = []
_registry_lock = threading.Lock()

#: Attribute set on each variable a backend made or saw created, naming its owner.
_OWNER_ATTR = "_dualtf_owner"


#: What TensorFlow accepts as an op name in a graph, and so, in every mode, as a variable's name.
_OP_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*")


def _dtype_argument(dtype: Any, subject: str, error: type[DualTFError] = DualTFError) -> tf.DType | None:
    """``dtype`` as a ``tf.DType`` a value can have (numbers, booleans, strings), or None."""
    if dtype is None:
        return None
    try:
        tf_dtype = tf.dtypes.as_dtype(dtype)
    except TypeError:
        tf_dtype = None
    if tf_dtype not in FEEDABLE:
        allowed = ", ".join(sorted(d.name for d in FEEDABLE))
        raise error(format_error(subject, f"a TensorFlow dtype of values: one of {allowed}", f"dtype={dtype!r}"))
    return tf_dtype


def _initial_value(value: Any, dtype: tf.DType | None, subject: str) -> Any:
    """A value checked as a feed would check it; with no dtype, left for TensorFlow to infer one."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return value
    if dtype is not None:
        return coerce_value(value, dtype, None, subject)
    as_array(value, subject)  # refuses None, mappings, ragged lists, objects
    return value


def _check_arity(fn: Callable[..., Any], name: str, feeds: list[str]) -> None:
    """A fn that cannot take one positional value per feed fails here, in every mode."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):  # no signature to read (some builtins): the build will tell
        return
    try:
        signature.bind(*feeds)
    except TypeError as exc:
        raise DualTFError(
            format_error(
                f"The `fn` of function() ({name})",
                f"callable with {len(feeds)} positional argument(s), one per feed {feeds}",
                f"a function with signature {name}{signature} ({exc})",
            )
        ) from None


def _check_step_outputs(value: Any, where: str) -> None:
    if value not in STEP_OUTPUTS:
        raise DualTFError(
            format_error(f"The `step_outputs` of {where}", f"one of {', '.join(STEP_OUTPUTS)}", repr(value))
        )


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
        return KerasLoop(model, run_eagerly=False, jit_compile=False)

    def _iterate(self, dataset: tf.data.Dataset[Any]) -> Iterator[Any]:
        """The dataset's elements as NumPy structures, one per iteration."""
        with self._scope():
            for element in dataset:
                yield tf.nest.map_structure(to_numpy, element)

    # ======================================================= life cycle
    def __init__(
        self, *, seed: int | None = None, strategy: Any = None, deterministic_random: bool = False, **options: Any
    ):
        unknown = sorted(set(options) - self.OPTIONS)
        if unknown:
            valid = ", ".join(sorted(self.OPTIONS)) or "none"
            raise DualTFError(
                format_error(
                    f"Each option of mode {self.mode!r}", f"one of: {valid}", f"{unknown[0]}={options[unknown[0]]!r}"
                )
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32):
            # NumPy's range; checked before anything is seeded
            raise DualTFError(format_error("The seed", "an int in [0, 2**32 - 1], or None", f"seed={seed!r}"))
        if not isinstance(deterministic_random, bool):
            raise DualTFError(format_error("deterministic_random", "True or False", repr(deterministic_random)))
        if deterministic_random and seed is None:
            raise DualTFError(
                format_error(
                    "The seed of a backend with deterministic_random=True",
                    "an int: every mode draws from one generator seeded by it",
                    "seed=None",
                )
            )
        self.seed = seed
        #: The ``tf.distribute.Strategy`` steps run under, or None (the ``default`` strategy).
        self.strategy: tf.distribute.Strategy | None = resolve_strategy(strategy, self.mode)
        if deterministic_random and self.strategy is not None:
            raise UnsupportedCombinationError(
                format_error(
                    f"deterministic_random=True with strategy {strategy_name(self.strategy)!r}",
                    "used without a strategy (not supported under one yet)",
                    f"a backend of mode {self.mode!r} with strategy {strategy_name(self.strategy)!r}",
                )
            )
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
        self._stores: weakref.WeakKeyDictionary[Step, BuildOnce] = weakref.WeakKeyDictionary()  # for reuse=
        self._stack = contextlib.ExitStack()
        self._entered: tuple[int, int] | None = None  # (thread, entry number) once its block is entered
        #: The generator every stateful random op draws from, with deterministic_random=True.
        self._random: DeterministicRandom | None = None
        #: The store of the step being built (a mode's _compile may ask whether fn is TF1 code).
        self._building = BuildOnce("", self.mode)
        self._open(options)  # may refuse an option: before any global state is touched
        self._global_state = GlobalState(seeds=seed is not None)
        with _registry_lock:
            _open_backends.append(weakref.ref(self))
        tf1_layers.acquire()
        tf1_calls.acquire()
        if deterministic_random:
            assert seed is not None
            with self._scope():
                self._random = DeterministicRandom(seed)
            setattr(self._random.state, _OWNER_ATTR, self.serial)  # dualtf's, never listed in be.variables
            if hasattr(self, "_tracer"):  # a first trace's random keys are constants (DeterministicRandom.run)
                self._tracer.retrace_first = True
            active.replacement.acquire()
        if seed is not None:
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
        with _registry_lock:
            live = [b for b in (ref() for ref in _open_backends) if b is not None]
            inner = [
                b
                for b in live
                if b is not self and b._entered and self._entered and b._entered[0] == self._entered[0]
                if b._entered[1] > self._entered[1]
            ]
            if inner:
                raise DualTFError(
                    format_error(
                        f"Backend {self._label()}",
                        "closed after the backends entered inside its block (leave their `with` blocks first)",
                        f"a close while backend {inner[-1]._label()} is still open",
                    )
                )
            later = live[live.index(self) + 1 :] if self in live else []
            _open_backends[:] = [ref for ref in _open_backends if ref() is not None and ref() is not self]
            heir = later[0] if later else None
            if heir is not None:  # it saved the state this one set: it must put back this one's instead
                heir._global_state = heir._global_state.inherit(self._global_state)
            self._closed = True
        try:
            self._stack.close()
        finally:
            try:
                self._close()
            finally:
                tf1_layers.release()
                tf1_calls.release()
                if self._random is not None:
                    active.replacement.release()
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
        tf_dtype = _dtype_argument(dtype, "The dtype of constant()")
        arr = _initial_value(value, tf_dtype, "The value of constant()")
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
        if name is not None and (not isinstance(name, str) or not _OP_NAME.fullmatch(name)):
            raise DualTFError(
                format_error(
                    "A variable's name", "None or a TensorFlow op name such as 'dense/kernel'", f"name={name!r}"
                )
            )
        subject = f"Variable `{name}`" if name else "The variable"
        if not isinstance(trainable, bool):
            raise DualTFError(format_error(f"`trainable` of {subject.lower()}", "True or False", f"{trainable!r}"))
        tf_dtype = _dtype_argument(dtype, f"The dtype of {subject.lower()}")
        what = f"The initial value of {subject.lower()}"
        if callable(initial):  # an initializer, called where TensorFlow makes the value: check what it gives
            made = initial
            initial = lambda: _initial_value(made(), tf_dtype, what)  # noqa: E731
        else:
            initial = _initial_value(initial, tf_dtype, what)
        how = variable_aggregation(aggregation, self.strategy is not None)
        with self._lock, self.scope(), tf.variable_creator_scope(self._record_variable), dualtf_errors_unwrapped():
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
        tf_dtype = _dtype_argument(dtype, f"The dtype of feed `{name}`", error=FeedError)
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
        return self._iterate(dataset)

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
        return self._keras_runner(model)

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
        if not callable(fn):
            raise DualTFError(format_error("The `fn` of function()", "callable", f"{type(fn).__name__} {fn!r}"))
        if isinstance(feeds, Feed) or not isinstance(feeds, Sequence):
            raise FeedError(
                format_error("The `feeds` of function()", "a list of Feed objects", f"{type(feeds).__name__}")
            )
        for f in feeds:
            self._check_feed(f)
        names = [f.name for f in feeds]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise FeedError(format_error("The `feeds` of function()", "distinct feeds", f"feed `{dup}` twice"))
        if reduce not in REDUCTIONS:
            raise DualTFError(
                format_error("The `reduce` of function()", f"one of {', '.join(REDUCTIONS)}", f"reduce={reduce!r}")
            )
        name = str(getattr(fn, "__name__", type(fn).__name__))
        _check_arity(fn, name, [f.name for f in feeds])
        steps = check_int("steps_per_call", steps_per_call, 1)
        _check_step_outputs(step_outputs, "function()")
        if steps > 1:
            self._refuse_strategy(f"steps_per_call={steps}")
        checks = []
        store: BuildOnce | None = None
        if reuse is not None:
            self._refuse_strategy("reuse=")
            if not isinstance(reuse, Step) or reuse not in self._stores:
                raise DualTFError(
                    format_error(
                        "The `reuse` of function()",
                        f"a step made by function() of this backend ({self._label()})",
                        f"{type(reuse).__name__} {reuse!r}",
                    )
                )
        if self.strategy is None:  # under a strategy each replica runs fn: its variables are the strategy's
            fn, store = self._built_once(fn, name, None if reuse is None else self._stores[reuse])
        else:
            self._building = BuildOnce(name, self.mode)  # not built once: no TF1 code to run as such
            fn = distributed(fn, feeds, self.strategy, reduce, self._per_replica)
            if self.num_replicas > 1:
                checks.append(batch_check(feeds, self.num_replicas, self.strategy_name))
        with self._lock, self.scope(), tf.variable_creator_scope(self._record_variable), dualtf_errors_unwrapped():
            compiled = self._compile(fn, list(feeds))
        self._check_captured(compiled, name)
        if self._random is not None:
            refused_random_op(compiled.ops, self.mode)
        if steps > 1:  # the single step above made fn's variables and says what a step returns
            with self._lock, self.scope(), tf.variable_creator_scope(self._record_variable), dualtf_errors_unwrapped():
                stacked = [
                    Feed(f.name, f.dtype, shape, self.serial, self._placeholder(f"{f.name}_steps", f.dtype, shape))
                    for f in feeds
                    for shape in [stacked_shape(f.shape, steps)]
                ]
                compiled = self._compile(fused(fn, compiled.result_spec, steps, step_outputs), stacked)
            step = Step(
                self.mode,
                stacked,
                compiled,
                check_open=self._check_open,
                checks=[stacked_check(stacked, steps)],
                name=name,
                steps_per_call=steps,
            )
        else:
            step = Step(self.mode, feeds, compiled, check_open=self._check_open, checks=checks, name=name)
        if store is not None:
            self._stores[step] = store
        return step

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
        if not isinstance(dataset, tf.data.Dataset) or not self._holds_tensor(dataset_variant(dataset)):
            raise DualTFError(
                format_error(
                    "The dataset of epoch()",
                    f"a tf.data.Dataset made under this backend ({self._label()})",
                    repr(dataset),
                )
            )
        self._refuse_strategy("epoch()")
        specs = tf.nest.flatten(dataset.element_spec)
        if not all(isinstance(s, tf.TensorSpec) for s in specs):
            raise DualTFError(
                format_error("The elements of epoch()'s dataset", "dense tensors", repr(dataset.element_spec))
            )
        _check_step_outputs(step_outputs, "epoch()")
        name = str(getattr(fn, "__name__", type(fn).__name__))
        _check_arity(fn, name, [f"element[{i}]" for i in range(len(specs))])
        with self._lock, self.scope():  # its length, before anything is built
            size = int(self._evaluate([dataset.cardinality()])[0])
            if size == tf.data.INFINITE_CARDINALITY:
                raise DualTFError(
                    format_error("The dataset of epoch()", "finite: one call runs one pass", "an infinite dataset")
                )
            if size == tf.data.UNKNOWN_CARDINALITY:  # a filter: counted once, by one pass now
                size = int(self._evaluate([dataset.reduce(0, lambda count, _: count + 1)])[0])
        if size == 0:
            raise DualTFError(format_error("The dataset of epoch()", "non-empty", "a dataset of no elements"))
        fn, _ = self._built_once(fn, name)
        with self._lock, self.scope(), tf.variable_creator_scope(self._record_variable), dualtf_errors_unwrapped():
            shapes = [normalize_shape(s.shape, "A component of epoch()'s dataset") for s in specs]
            feeds = [  # one step built first: it makes fn's variables and says what a step returns
                Feed(
                    f"element_{i}", s.dtype, shape, self.serial, self._placeholder(f"epoch_element_{i}", s.dtype, shape)
                )
                for i, (s, shape) in enumerate(zip(specs, shapes, strict=True))
            ]
            single = self._compile(fn, feeds)
            if self._random is not None:
                refused_random_op(single.ops, self.mode)
            loop = epoch_loop(self._per_replica(fn), dataset, size, single.result_spec, step_outputs)
            compiled = self._compile_loop(loop)
        self._check_captured(compiled, name)
        return Step(self.mode, [], compiled, check_open=self._check_open, name=name, steps_per_call=size)

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
        """The context in which this backend's ops are made: graph mode's graph, the strategy's scope,
        and with deterministic_random its generator as the one random ops draw from."""
        stack = contextlib.ExitStack()
        stack.enter_context(self._scope())
        if self.strategy is not None:
            stack.enter_context(self.strategy.scope())
        stack.enter_context(active.using(self._random))
        return stack

    # ======================================================= checks and bookkeeping
    def _check_open(self) -> None:
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

    def _built_once(
        self, fn: Callable[..., Any], name: str, reuse: BuildOnce | None = None
    ) -> tuple[Callable[..., Any], BuildOnce]:
        """``fn`` as each mode runs it: built once (:class:`BuildOnce`), and with deterministic_random
        each run drawing its random keys in order; and its store of variables."""
        store = self._building = BuildOnce(name, self.mode, reuse)
        once = store.wrap(fn)
        random = self._random
        if random is None:
            return once, store

        def drawn_in_order(*args: Any) -> Any:
            with random.run(first=store.runs == 0):
                return once(*args)

        return drawn_in_order, store

    def _refuse_strategy(self, what: str) -> None:
        """``what`` is not built under a strategy yet: an UnsupportedCombinationError naming both."""
        if self.strategy is not None:
            raise UnsupportedCombinationError(
                format_error(
                    f"{what} with strategy {self.strategy_name!r}",
                    "used without a strategy (not supported under one yet)",
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
