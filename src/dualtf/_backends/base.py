"""The backend contract, written once; each mode overrides only what differs.

Validation (names, dtypes, shapes, ownership, closed state) lives here, so the
four sibling modules hold only the real differences between the modes:
how a variable is made, how a step is compiled and run, how values are read.
"""

from __future__ import annotations

import abc
import contextlib
import itertools
import sys
from collections.abc import Callable, Sequence
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
    format_error,
)
from .._feeds import Feed, bind_arguments, coerce_value, normalize_shape
from .._modes import Mode
from .._strategies import combination_unsupported_reason, make_strategy, strategy_name

__all__ = ["Backend", "Step", "as_tf_variable", "checked_step", "variable_label"]

_serials = itertools.count(1)

#: Attribute set on each variable a backend made or saw created, naming its owner.
_OWNER_ATTR = "_dualtf_owner"


def as_tf_variable(obj: Any) -> tf.Variable | None:
    """The ``tf.Variable`` behind ``obj`` (itself, or a Keras 3 variable's), else None."""
    if isinstance(obj, tf.Variable):
        return obj
    inner = getattr(obj, "_value", None)  # keras.Variable keeps its tf.Variable here
    if isinstance(inner, tf.Variable) and type(obj).__module__.startswith("keras"):
        return inner
    return None


def variable_handle(var: tf.Variable) -> tf.Tensor:
    """The resource handle of ``var``; of its first component for a distributed variable.

    A distributed variable's own ``handle`` exists only in replica context, but
    every component lives in the same graph or context as the variable.
    """
    primary = getattr(var, "_primary", None)  # tf.distribute's DistributedVariable
    return (primary if isinstance(primary, tf.Variable) else var).handle


def variable_label(var: Any) -> str:
    """A variable's name without the ``:0`` output suffix."""
    name = str(var.name)
    return name[:-2] if name.endswith(":0") else name


class Step:
    """A compiled step: call it with one value per feed, get NumPy back.

    Values go positionally in feed order or by feed name; each is checked
    against its feed before TensorFlow runs anything. The result keeps the
    nested structure (tensor, tuple, list, dict) that ``fn`` returned.

    >>> import dualtf, tensorflow as tf
    >>> with dualtf.backend("function") as be:
    ...     x = be.feed("x", tf.float32, shape=[None])
    ...     double = be.function(lambda x: {"y": 2 * x}, [x])
    ...     double(x=[1, 2])["y"].tolist()
    [2.0, 4.0]
    """

    __slots__ = ("feeds", "mode", "_backend", "_run", "_trace_count", "_chrome_trace", "_check", "graph_size", "__weakref__")

    def __init__(
        self,
        backend: Backend,
        feeds: Sequence[Feed],
        run: Callable[[list[np.ndarray]], Any],
        trace_count: Callable[[], int] | None = None,
        graph_size: int | None = None,
        chrome_trace: Callable[[list[np.ndarray]], str] | None = None,
    ):
        self.feeds: tuple[Feed, ...] = tuple(feeds)
        self._chrome_trace = chrome_trace
        self._check: Callable[[list[np.ndarray]], None] | None = None
        self.mode: Mode = backend.mode
        self._backend = backend
        self._run = run
        self._trace_count = trace_count
        #: Ops in the graph built for this step (graph mode) or in its traced
        #: function (function, xla); ``None`` in eager mode.
        self.graph_size = graph_size

    @property
    def trace_count(self) -> int | None:
        """How many times ``fn`` was traced (function, xla); ``None`` in other modes."""
        return None if self._trace_count is None else self._trace_count()

    def chrome_trace(self, *args: Any, **kwargs: Any) -> str:
        """Run one step with full tracing; return its Chrome trace (JSON text). Graph mode only.

        The step really runs, side effects included. For the other modes use
        TensorBoard's profiler (``dualtf.profiler.profile(..., trace_dir=...)``).
        """
        if self._chrome_trace is None:
            raise DualTFError(
                format_error("Step.chrome_trace()", "called on a step of mode 'graph'", f"a step of mode {self.mode!r}")
            )
        self._backend._check_open()
        values = bind_arguments(self.feeds, args, kwargs)
        if self._check is not None:
            self._check(values)
        return self._chrome_trace(values)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._backend._closed:
            self._backend._check_open()
        values = bind_arguments(self.feeds, args, kwargs)
        if self._check is not None:
            self._check(values)
        return self._run(values)

    def __repr__(self) -> str:
        return f"Step(mode={self.mode!r}, feeds={[f.name for f in self.feeds]})"


def checked_step(step: Any) -> Step:
    """``step`` if a program returned the step made by ``be.function()``, else DualTFError."""
    if not isinstance(step, Step):
        raise DualTFError(
            format_error("The program", "returning the step made by be.function()", f"{type(step).__name__} {step!r}")
        )
    return step


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

    def __init__(self, *, seed: int | None = None, strategy: Any = None, **options: Any):
        unknown = sorted(set(options) - self.OPTIONS)
        if unknown:
            valid = ", ".join(sorted(self.OPTIONS)) or "none"
            raise DualTFError(
                format_error(f"Each option of mode {self.mode!r}", f"one of: {valid}", f"{unknown[0]}={options[unknown[0]]!r}")
            )
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise DualTFError(format_error("The seed", "an int or None", f"seed={seed!r}"))
        self.seed = seed
        #: The ``tf.distribute.Strategy`` steps run under, or None (the ``default`` strategy).
        self.strategy: tf.distribute.Strategy | None = _resolve_strategy(strategy, self.mode)
        #: The strategy's dualtf name: one of :data:`dualtf.STRATEGIES`, or ``"custom"``.
        self.strategy_name = strategy_name(self.strategy)
        #: Replicas a step runs on (1 without a strategy).
        self.num_replicas = 1 if self.strategy is None else int(self.strategy.num_replicas_in_sync)
        self.serial = next(_serials)
        self._closed = False
        self._feeds: dict[str, Feed] = {}
        self._own_variables: dict[int, tf.Variable] = {}  # by id, in creation order
        self._stack = contextlib.ExitStack()
        self._setup(options)  # may refuse an option: before any global state is touched
        self._keras_state = _KerasGlobalState()
        if seed is not None:
            with self.scope():
                _set_all_seeds(seed)

    # ----------------------------------------------------------------- life cycle
    def __enter__(self) -> Self:
        self._check_open()
        self._stack.enter_context(self.scope())
        self._stack.enter_context(tf.variable_creator_scope(self._record_variable))
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close what this backend opened (graph mode: its Session). Idempotent."""
        if self._closed:
            return
        self._closed = True
        try:
            self._stack.close()
        finally:
            self._close()
            self._keras_state.restore()

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called (or the ``with`` block left)."""
        return self._closed

    def _check_open(self) -> None:
        if self._closed:
            raise ClosedBackendError(
                format_error(f"Backend {self._label()}", "open (used inside its `with` block)", "a call after it was closed")
            )

    def _label(self) -> str:
        return f"{self.mode!r} #{self.serial}"

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<dualtf.Backend mode={self.mode!r} #{self.serial} {state}>"

    # ----------------------------------------------------------------- public API
    def constant(self, value: Any, dtype: tf.DType | str | None = None) -> tf.Tensor:
        """A constant tensor in this backend's context.

        >>> import dualtf
        >>> with dualtf.backend("eager") as be:
        ...     be.evaluate(be.constant([1, 2], dtype="float32")).tolist()
        [1.0, 2.0]
        """
        self._check_open()
        with self.scope():
            return tf.constant(value, dtype=dtype)

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
        how = _aggregation(aggregation, self.strategy is not None)
        with self.scope(), tf.variable_creator_scope(self._record_variable):
            var = tf.Variable(initial, name=name, dtype=dtype, trainable=trainable, aggregation=how)
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
        try:
            tf_dtype = tf.dtypes.as_dtype(dtype)
        except TypeError:
            raise FeedError(format_error(f"The dtype of feed `{name}`", "a TensorFlow dtype", f"dtype={dtype!r}")) from None
        dims = normalize_shape(shape, f"The shape of feed `{name}`")
        feed = Feed(name, tf_dtype, dims, self.serial, self._make_placeholder(name, tf_dtype, dims))
        self._feeds[name] = feed
        return feed

    def function(self, fn: Callable[..., Any], feeds: Sequence[Feed], *, reduce: str = "mean") -> Step:
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
            raise FeedError(format_error("The `feeds` of function()", "a list of Feed objects", f"{type(feeds).__name__}"))
        for f in feeds:
            self._check_feed(f)
        names = [f.name for f in feeds]
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise FeedError(format_error("The `feeds` of function()", "distinct feeds", f"feed `{dup}` twice"))
        if reduce not in _REDUCTIONS:
            raise DualTFError(format_error("The `reduce` of function()", f"one of {', '.join(_REDUCTIONS)}", f"reduce={reduce!r}"))
        if self.strategy is not None:
            fn = _distributed(fn, list(feeds), self.strategy, reduce, self._replica_fn)
        with self.scope(), tf.variable_creator_scope(self._record_variable):
            step = self._compile(fn, list(feeds))
        if self.num_replicas > 1:
            step._check = _batch_check(step.feeds, self.num_replicas, self.strategy_name)
        return step

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
        return tf.nest.pack_sequence_as(structure, self._evaluate_leaves(leaves))

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
        self._assign(var, arr)

    @property
    def variables(self) -> list[tf.Variable]:
        """Every variable made through this backend or created inside its block, in creation order."""
        return [v for v in self._own_variables.values() if getattr(v, _OWNER_ATTR, None) == self.serial]

    def scope(self) -> contextlib.AbstractContextManager[Any]:
        """The context in which this backend's ops are made: graph mode's graph, the strategy's scope."""
        if self.strategy is None:
            return self._mode_scope()
        stack = contextlib.ExitStack()
        stack.enter_context(self._mode_scope())
        stack.enter_context(self.strategy.scope())
        return stack

    def _mode_scope(self) -> contextlib.AbstractContextManager[Any]:
        """The mode's own context (graph mode: its graph as the default graph)."""
        return contextlib.nullcontext()

    # ----------------------------------------------------------------- checks
    def _check_feed(self, feed: Any) -> None:
        if not isinstance(feed, Feed):
            raise FeedError(format_error("Each feed of function()", "a Feed made by backend.feed()", f"{type(feed).__name__} {feed!r}"))
        if feed._owner_id != self.serial:
            raise ForeignObjectError(
                format_error(f"Feed `{feed.name}`", f"declared by this backend ({self._label()})", f"a feed of backend #{feed._owner_id}")
            )

    def _check_variable(self, obj: Any) -> tf.Variable:
        var = as_tf_variable(obj)
        if var is None:
            raise DualTFError(format_error("The variable", "a tf.Variable or a Keras variable", f"{type(obj).__name__}"))
        owner = getattr(var, _OWNER_ATTR, None)
        if owner is not None and owner != self.serial or not self._owns_graph_of(var):
            raise ForeignObjectError(
                format_error(
                    f"Variable `{variable_label(var)}`",
                    f"made under this backend ({self._label()})",
                    f"a variable of another backend (#{owner})" if owner else "a variable of another graph or context",
                )
            )
        return var

    def _check_value(self, leaf: Any) -> None:
        if isinstance(leaf, (tf.Tensor, tf.Variable)) or as_tf_variable(leaf) is not None:
            if as_tf_variable(leaf) is not None:
                self._check_variable(leaf)
            elif not self._owns_tensor(leaf):
                raise ForeignObjectError(
                    format_error(f"Tensor `{_tensor_label(leaf)}`", f"made under this backend ({self._label()})", "a tensor of another graph or context")
                )

    def _record_variable(self, next_creator: Callable[..., Any], **kwargs: Any) -> Any:
        var = next_creator(**kwargs)
        inner = as_tf_variable(var)
        # With backends nested, every open one's creator sees the variable, the
        # outermost first: the innermost whose graph or context holds it owns it.
        if inner is not None and self._owns_graph_of(inner):
            setattr(inner, _OWNER_ATTR, self.serial)
            self._own_variables.setdefault(id(inner), inner)
        return var

    # ----------------------------------------------------------------- per mode
    def _setup(self, options: dict[str, Any]) -> None:
        """Open what the mode needs (graph: a Graph and a Session)."""

    def _close(self) -> None:
        """Release what :meth:`_setup` opened."""

    def _make_placeholder(self, name: str, dtype: tf.DType, shape: Any) -> tf.Tensor | None:
        return None

    def _replica_fn(self, fn: Callable[..., Any]) -> Callable[..., Any]:
        """What each replica runs under a strategy (xla: ``fn`` compiled by XLA)."""
        return fn

    @abc.abstractmethod
    def _compile(self, fn: Callable[..., Any], feeds: list[Feed]) -> Step:
        """Build ``fn`` against ``feeds`` and return its step."""

    @abc.abstractmethod
    def _evaluate_leaves(self, leaves: list[Any]) -> list[Any]:
        """NumPy values for already-checked leaves."""

    @abc.abstractmethod
    def _assign(self, var: tf.Variable, value: np.ndarray) -> None:
        """Write an already-checked value."""

    @abc.abstractmethod
    def _owns_graph_of(self, var: tf.Variable) -> bool:
        """Whether ``var`` lives in this backend's graph or context."""

    @abc.abstractmethod
    def _owns_tensor(self, tensor: tf.Tensor) -> bool:
        """Whether ``tensor`` was made in this backend's graph or context."""


def _tensor_label(t: Any) -> str:
    try:
        return str(t.name)
    except AttributeError:  # eager tensors have no name
        return f"<eager {t.dtype.name} {t.shape}>"


def to_numpy(value: Any) -> Any:
    """NumPy for an eager leaf: tensors, variables, Keras variables, Python values."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return value.numpy()
    if value is None:
        return None
    var = as_tf_variable(value)
    if var is not None:
        return var.numpy()
    return np.asarray(value)


def structure_to_numpy(out: Any) -> Any:
    """NumPy for every leaf of an eager result, keeping its nested structure."""
    if isinstance(out, tf.Tensor):  # the common case, without nest's overhead
        return out.numpy()
    return tf.nest.map_structure(to_numpy, out)


def _set_all_seeds(seed: int) -> None:
    """Seed Python, NumPy, TensorFlow (graph-level in graph mode) and Keras' seed generator."""
    try:
        import keras
    except ImportError:  # tensorflow without keras: seed what remains
        import random

        random.seed(seed)
        np.random.seed(seed)
        tf.random.set_seed(seed)
        return
    keras.utils.set_random_seed(seed)


class _KerasGlobalState:
    """Keeps Keras' global seed generator out of (and back from) a backend's block.

    Keras 3 creates one global ``SeedGenerator`` variable lazily. Made inside a
    graph backend it would belong to that graph and break every later eager
    use, so each backend starts with none and puts back what was there.
    """

    _KEY = "global_seed_generator"

    def __init__(self) -> None:
        self._saved: Any = None
        self._module: Any = None
        state = sys.modules.get("keras.src.backend.common.global_state")
        if state is None:
            return
        self._module = state
        self._saved = state.get_global_attribute(self._KEY)
        state.set_global_attribute(self._KEY, None)

    def restore(self) -> None:
        if self._module is not None:
            self._module.set_global_attribute(self._KEY, self._saved)
            self._module = None


_REDUCTIONS = ("mean", "sum", "concat")


def _resolve_strategy(strategy: Any, mode: str) -> tf.distribute.Strategy | None:
    if strategy is None or isinstance(strategy, str):
        resolved = make_strategy("default" if strategy is None else strategy, mode)
    elif isinstance(strategy, tf.distribute.Strategy):
        resolved = strategy
    else:
        raise DualTFError(
            format_error("The strategy", "a name from dualtf.STRATEGIES or a tf.distribute.Strategy", f"{type(strategy).__name__} {strategy!r}")
        )
    reason = combination_unsupported_reason(mode, resolved)
    if reason is not None:
        raise UnsupportedCombinationError(
            format_error(f"The combination of mode {mode!r} and strategy {strategy_name(resolved)!r}", "supported by TensorFlow", reason)
        )
    return resolved


def _aggregation(aggregation: Any, distributed: bool) -> tf.VariableAggregation:
    if aggregation is None:
        return tf.VariableAggregation.MEAN if distributed else tf.VariableAggregation.NONE
    if isinstance(aggregation, tf.VariableAggregation):
        return aggregation
    names = {"none": tf.VariableAggregation.NONE, "sum": tf.VariableAggregation.SUM, "mean": tf.VariableAggregation.MEAN,
             "only_first_replica": tf.VariableAggregation.ONLY_FIRST_REPLICA}
    if aggregation not in names:
        raise DualTFError(format_error("The aggregation", f"a tf.VariableAggregation or one of {', '.join(names)}", f"aggregation={aggregation!r}"))
    return names[aggregation]


def _split_feeds(feeds: list[Feed]) -> list[bool]:
    """Which feeds are split across replicas: those with a first dimension."""
    return [f.shape is None or len(f.shape) >= 1 for f in feeds]


def _batch_check(feeds: Sequence[Feed], replicas: int, name: str) -> Callable[[list[np.ndarray]], None]:
    split = _split_feeds(list(feeds))

    def check(values: list[np.ndarray]) -> None:
        for feed, value, is_split in zip(feeds, values, split):
            if is_split and (value.ndim == 0 or value.shape[0] % replicas):
                batch = "no first dimension" if value.ndim == 0 else f"batch size {value.shape[0]}"
                raise FeedError(
                    format_error(
                        f"Feed `{feed.name}`",
                        f"a batch that divides evenly across the {replicas} replicas of strategy {name!r}",
                        batch,
                    )
                )

    return check


def _distributed(
    fn: Callable[..., Any],
    feeds: list[Feed],
    strategy: tf.distribute.Strategy,
    reduce: str,
    replica_fn: Callable[[Callable[..., Any]], Callable[..., Any]],
) -> Callable[..., Any]:
    """``fn`` run once per replica on its slice of each batch, outputs reduced by ``reduce``."""
    replicas = int(strategy.num_replicas_in_sync)
    split = _split_feeds(feeds)
    for feed, is_split in zip(feeds, split):
        first = feed.shape[0] if is_split and feed.shape else None
        if first is not None and first % replicas:
            raise FeedError(
                format_error(
                    f"Feed `{feed.name}`",
                    f"declared with a first dimension that divides across the {replicas} replicas (or None)",
                    f"shape {feed.shape}",
                )
            )
    per_replica = replica_fn(fn)

    def reduce_one(value: Any) -> Any:
        if value is None:
            return None
        if reduce == "concat":
            return strategy.gather(value, axis=0)
        op = tf.distribute.ReduceOp.MEAN if reduce == "mean" else tf.distribute.ReduceOp.SUM
        return strategy.reduce(op, value, axis=None)

    def distributed(*tensors: tf.Tensor) -> Any:
        values = []
        for tensor, is_split in zip(tensors, split):
            shards = tf.split(tensor, replicas) if is_split else [tensor] * replicas
            values.append(strategy.experimental_distribute_values_from_function(lambda ctx, s=shards: s[ctx.replica_id_in_sync_group]))
        out = strategy.run(per_replica, args=tuple(values))
        return tf.nest.map_structure(reduce_one, out)

    return distributed
