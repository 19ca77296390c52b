"""Every private TensorFlow and Keras piece dualtf uses, in one place, behind one guard.

Each is used only where no public API does the job (the reason is in
:data:`SYMBOLS`). A module-level symbol is loaded by :func:`load`; an attribute
of a TensorFlow object is read by one accessor function here. Either way a
missing piece raises :class:`~dualtf.PrivateAPIError` naming it and the
TensorFlow version, and :func:`mode_missing_piece` lets a mode report itself
unavailable with that reason instead of failing on its first step.
``tests/test_tf_private.py`` loads every piece by name, so a TensorFlow
upgrade that moves one fails one named test.

Importing this module never imports TensorFlow.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import sys
from typing import Any, NamedTuple

from ._errors import NotInstalledError, PrivateAPIError, error_message

__all__ = [
    "ATTRIBUTES",
    "SYMBOLS",
    "cross_device_ops",
    "dataset_graph_def",
    "dataset_variant",
    "distributed_primary",
    "keras_global_state",
    "keras_inner_variable",
    "lower_call",
    "load",
    "make_callable_from_options",
    "mode_missing_piece",
    "autograph_frames",
    "forget_variable_store_names",
    "variable_store_names",
    "require_tensorflow",
    "tf_keras_legacy_layers",
    "creating_tf_keras_batch_counter",
]


class Symbol(NamedTuple):
    """A private module-level name: where it lives and why dualtf needs it."""

    module: str
    attribute: str
    why: str


#: Private module-level names, loaded on first use by :func:`load`.
SYMBOLS: dict[str, Symbol] = {
    "eager_mode": Symbol(
        "tensorflow",
        "__internal__.eager_context.eager_mode",
        "eager, function and xla: run eagerly inside another backend's graph block (no public context manager; "
        "TensorFlow exports this one under tf.__internal__)",
    ),
    "AutomaticControlDependencies": Symbol(
        "tensorflow.python.framework.auto_control_deps",
        "AutomaticControlDependencies",
        "graph: run every side effect once per step, read-after-write ordered, as tf.function does",
    ),
    "CallableOptions": Symbol(
        "tensorflow.core.protobuf.config_pb2",
        "CallableOptions",
        "graph: the options of Session::MakeCallable (not exported under tf.compat.v1)",
    ),
    "EagerVariableStore": Symbol(
        "tensorflow.python.ops.variable_scope",
        "EagerVariableStore",
        "eager: a TF1 variable store that keeps eager variables, so get_variable(reuse=True) finds them "
        "(TF's default store keeps none in eager mode)",
    ),
    **{
        f"tf_keras.legacy.{name}": Symbol(
            "tf_keras.api._v1.keras.__internal__.legacy",
            name,
            f"tf.compat.v1 TF1 {name} with Keras 3: TensorFlow's TF1 {name} live in tf_keras, which TensorFlow "
            "routes to only when TF_USE_LEGACY_KERAS is set before they are first used",
        )
        for name in ("layers", "rnn_cell")
    },
    "_VariableStore": Symbol(
        "tensorflow.python.ops.variable_scope",
        "_VariableStore",
        "eager: the TF1 variable store an EagerVariableStore keeps, given the add_regularizer hook tf_keras's "
        "TF1 layers call for their kernel_regularizer in eager execution",
    ),
    "Timeline": Symbol(
        "tensorflow.python.client.timeline",
        "Timeline",
        "graph: Step.chrome_trace() turns a step's RunMetadata into a Chrome trace",
    ),
    "op_def_registry.get": Symbol(
        "tensorflow.python.framework.op_def_registry",
        "get",
        "deterministic_random: an op type's definition (stateful? seed attributes? an RNG algorithm input?), "
        "to refuse every op that draws randomness by a rule over TensorFlow's registry, not by a list of names; "
        "ops of nested functions are known only by type",
    ),
    "constant_value_as_shape": Symbol(
        "tensorflow.python.framework.tensor_util",
        "constant_value_as_shape",
        "deterministic_random under a strategy: the static dimensions of a random draw's shape tensor (which "
        "tf.get_static_value cannot give partly), to tell a draw per example (its first dimension the replica's "
        "batch, unknown while tracing) from a draw of fixed shape",
    ),
    "get_registered_kernels_for_op": Symbol(
        "tensorflow.python.framework.kernels",
        "get_registered_kernels_for_op",
        "xla: which ops XLA can compile for the device (TensorFlow's kernel registry lists XLA_CPU_JIT and "
        "XLA_GPU_JIT kernels), so that a step holding any other op is refused at build, by allow-list",
    ),
}

#: Private attributes of TensorFlow and Keras objects, read by the accessors below.
ATTRIBUTES: dict[str, str] = {
    "Session._make_callable_from_options": "graph: C++ MakeCallable; public make_callable(feed_list=) re-parses a "
    "feed_dict on every call",
    "keras.Variable._value": "every mode: the tf.Variable behind a Keras 3 variable",
    "DistributedVariable._primary": "strategies: a distributed variable's first component (its graph or context)",
    "StrategyExtended._cross_device_ops": "strategies: whether a MirroredStrategy reduces through one device",
    "keras.src.backend.common.global_state": "every mode: Keras' global seed generator, kept out of graph blocks",
    "Dataset._variant_tensor": "iterate(): the tensor that says which graph or context a tf.data.Dataset lives in",
    "Dataset._as_serialized_graph": "graph: be.keras(model).fit on a dataset built in the block's graph; Keras' "
    "loop runs eagerly, so the dataset's graph is serialized and made again eagerly (tf.data's own service "
    "moves datasets this way)",
    "tf_keras Model._init_batch_counters": "be.variables: a tf_keras Model makes three int64 batch counters in "
    "eager execution only (none in a TF1 graph); found by the tf_keras method that makes them",
    "Exception.ag_error_metadata.translated_stack": "graph: the user's line an error in an AutoGraph-converted "
    "fn came from (tf.function prints it as 'in user code'; graph mode calls the converted fn itself)",
    "_VariableStore._vars": "eager: the names a TF1 variable store holds, so that those a failed trace of an "
    "eager-only fn made are forgotten before it runs eagerly",
    "ConcreteFunction._inference_function.call_preflattened": "function and xla: the call ConcreteFunction.__call__ "
    "ends in when no tape watches, without its per-call Python (about 40 µs a step here)",
}

#: The private pieces each mode cannot run without.
_MODE_NEEDS: dict[str, tuple[str, ...]] = {
    "graph": ("AutomaticControlDependencies", "CallableOptions", "Session._make_callable_from_options"),
    "eager": ("eager_mode",),
    "function": ("eager_mode",),
    "xla": ("eager_mode",),
}


def require_tensorflow() -> None:
    """Raise :class:`~dualtf.NotInstalledError` saying which extra to install if TensorFlow is absent.

    Every entry point that needs TensorFlow calls this first; it does not import TensorFlow.

    >>> require_tensorflow()
    """
    if "tensorflow" in sys.modules:
        missing = sys.modules["tensorflow"] is None  # an import blocked on purpose
    else:
        missing = importlib.util.find_spec("tensorflow") is None
    if missing:
        raise NotInstalledError(
            error_message(
                "dualtf needs TensorFlow >= 2.16, which is not installed. Install it with "
                "pip install 'dualtf[cpu]' (tensorflow-cpu) or pip install 'dualtf[tensorflow]' (with GPU support).",
                "no module named 'tensorflow'",
            )
        )


def _missing(piece: str, why: str, detail: str) -> PrivateAPIError:
    import tensorflow as tf

    return PrivateAPIError(
        error_message(
            f"dualtf needs the private TensorFlow piece `{piece}` ({why}), which TensorFlow {tf.__version__} "
            "lacks; please report it with your TensorFlow version.",
            detail,
        )
    )


@functools.cache
def load(name: str) -> Any:
    """The private symbol registered as ``name`` in :data:`SYMBOLS` (imports TensorFlow).

    >>> load("eager_mode").__name__
    'eager_mode'
    """
    symbol = SYMBOLS[name]
    try:
        return functools.reduce(getattr, symbol.attribute.split("."), importlib.import_module(symbol.module))
    except (ImportError, AttributeError) as exc:
        raise _missing(f"{symbol.module}.{symbol.attribute}", symbol.why, f"{type(exc).__name__}: {exc}") from None


def tf_keras_legacy_layers(used: str, module: str = "layers") -> Any:
    """tf_keras's TF1 ``module`` (layers, rnn_cell), or a :class:`~dualtf.NotInstalledError` naming ``used``."""
    missing = sys.modules["tf_keras"] is None if "tf_keras" in sys.modules else not importlib.util.find_spec("tf_keras")
    if missing:
        raise NotInstalledError(
            error_message(
                f"{used} needs the tf_keras package: with Keras 3, TensorFlow's TF1 {module} live in tf_keras. "
                "Install it with pip install 'dualtf[tf1]' (it matches your TensorFlow version).",
                "Keras 3 without tf_keras",
            )
        )
    return load(f"tf_keras.legacy.{module}")


#: Where tf_keras makes a Model's batch counters: (module, function).
_TF_KERAS_COUNTERS = ("tf_keras.src.engine.training", "_init_batch_counters")


def creating_tf_keras_batch_counter() -> bool:
    """Whether the variable being created now is a tf_keras Model's batch counter (never imports tf_keras)."""
    if "tf_keras" not in sys.modules:
        return False
    module, function = _TF_KERAS_COUNTERS
    frame: Any = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == function and frame.f_globals.get("__name__") == module:
            return True
        frame = frame.f_back
    return False


def make_callable_from_options(session: Any, options: Any) -> Any:
    """``session._make_callable_from_options(options)``: a C++ callable taking feeds by position."""
    method = getattr(session, "_make_callable_from_options", None)
    if method is None:
        raise _missing(
            "Session._make_callable_from_options", ATTRIBUTES["Session._make_callable_from_options"], "no such method"
        )
    return method(options)


def keras_inner_variable(obj: Any) -> Any:
    """The ``tf.Variable`` inside a Keras 3 variable, or None when ``obj`` is not one."""
    if not type(obj).__module__.startswith("keras"):
        return None
    inner = getattr(obj, "_value", None)
    if inner is None and hasattr(obj, "assign") and hasattr(obj, "trainable"):
        raise _missing(
            "keras.Variable._value", ATTRIBUTES["keras.Variable._value"], f"a {type(obj).__name__} without it"
        )
    return inner


def distributed_primary(var: Any) -> Any:
    """A distributed variable's first component, or None for a plain variable."""
    return getattr(var, "_primary", None)


def cross_device_ops(strategy: Any) -> Any:
    """The cross-device ops object of a strategy (None when it has none)."""
    return getattr(strategy.extended, "_cross_device_ops", None)


def dataset_variant(dataset: Any) -> Any:
    """The variant tensor of a ``tf.data.Dataset`` (its graph or context)."""
    try:
        return dataset._variant_tensor
    except AttributeError:
        raise _missing("Dataset._variant_tensor", ATTRIBUTES["Dataset._variant_tensor"], "no such attribute") from None


def dataset_graph_def(dataset: Any) -> Any:
    """A string tensor: the serialized GraphDef of ``dataset`` (``tf.raw_ops.DatasetFromGraph`` makes it again)."""
    try:
        method = dataset._as_serialized_graph
    except AttributeError:
        raise _missing(
            "Dataset._as_serialized_graph", ATTRIBUTES["Dataset._as_serialized_graph"], "no such attribute"
        ) from None
    import tensorflow as tf

    return method(external_state_policy=tf.data.experimental.ExternalStatePolicy.WARN)


def lower_call(concrete: Any) -> Any:
    """``concrete``'s inference function called on (inputs + captures), or None to use ``concrete(...)``.

    ``ConcreteFunction.__call__`` ends in this same call when no gradient tape
    watches (a step's outputs come back as NumPy, so none can). None when the
    piece is missing or a capture is deferred (resolved per call): the caller
    then falls back to calling ``concrete`` itself.
    """
    call = getattr(getattr(concrete, "_inference_function", None), "call_preflattened", None)
    if call is None or getattr(concrete.graph, "deferred_external_captures", None):
        return None
    captures = list(concrete.captured_inputs)

    def run(inputs: list[Any]) -> Any:
        return call(inputs + captures)

    return run


def autograph_frames(exc: BaseException) -> list[tuple[str, int, str, str]]:
    """``(filename, lineno, function, code)`` of the frames AutoGraph translated back to the user's source
    for an error raised in converted code, outermost first; empty where AutoGraph attached none."""
    metadata = getattr(exc, "ag_error_metadata", None)
    stack = getattr(metadata, "translated_stack", None)
    if metadata is None:
        return []
    if stack is None:
        raise _missing(
            "ag_error_metadata.translated_stack",
            ATTRIBUTES["Exception.ag_error_metadata.translated_stack"],
            "no such attribute",
        )
    return [(f.filename, f.lineno, f.function_name, f.code) for f in reversed(stack)]


def _store_vars(store: Any) -> dict[str, Any]:
    """The name -> variable dict of an EagerVariableStore's TF1 variable store."""
    found = getattr(getattr(store, "_store", None), "_vars", None)
    if not isinstance(found, dict):
        raise _missing("_VariableStore._vars", ATTRIBUTES["_VariableStore._vars"], "no such attribute")
    return found


def variable_store_names(store: Any) -> list[str]:
    """The names an ``EagerVariableStore`` holds."""
    return list(_store_vars(store))


def forget_variable_store_names(store: Any, keep: set[str]) -> None:
    """Take every name not in ``keep`` out of an ``EagerVariableStore``."""
    held = _store_vars(store)
    for name in [n for n in held if n not in keep]:
        del held[name]


def keras_global_state() -> Any:
    """Keras' global-state module if Keras is already imported, else None (never imports Keras)."""
    if "keras" not in sys.modules:
        return None
    try:
        return importlib.import_module("keras.src.backend.common.global_state")
    except ImportError as exc:
        raise _missing(
            "keras.src.backend.common.global_state", ATTRIBUTES["keras.src.backend.common.global_state"], str(exc)
        ) from None


def mode_missing_piece(mode: str) -> str | None:
    """Why ``mode`` cannot run for want of a private piece, or None (imports TensorFlow).

    >>> mode_missing_piece("graph") is None
    True
    """
    for piece in _MODE_NEEDS[mode]:
        try:
            if piece in SYMBOLS:
                load(piece)
            elif piece == "Session._make_callable_from_options":
                import tensorflow as tf

                if not hasattr(tf.compat.v1.Session, "_make_callable_from_options"):
                    raise _missing(piece, ATTRIBUTES[piece], "no such method")
        except PrivateAPIError as exc:
            return str(exc)
    return None
