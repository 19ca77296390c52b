"""Helpers on TensorFlow objects that every mode shares: variables, labels, NumPy conversion."""

from __future__ import annotations

import contextlib
from typing import Any

import tensorflow as tf

from .._errors import DualTFError, format_error
from .._feeds import as_array
from .._tf_private import distributed_primary, keras_inner_variable, load

__all__ = [
    "as_tf_variable",
    "check_results",
    "eager_scope",
    "is_eager",
    "structure_to_numpy",
    "tensor_label",
    "to_numpy",
    "variable_handle",
    "value_to_numpy",
    "variable_label",
    "variables_every_call",
    "without_operations",
]


def as_tf_variable(obj: Any) -> tf.Variable | None:
    """The ``tf.Variable`` behind ``obj`` (itself, or a Keras 3 variable's), else None."""
    if isinstance(obj, tf.Variable):
        return obj
    inner = keras_inner_variable(obj)
    return inner if isinstance(inner, tf.Variable) else None


def variable_handle(var: tf.Variable) -> tf.Tensor:
    """The resource handle of ``var``; of its first component for a distributed variable.

    A distributed variable's own ``handle`` exists only in replica context, but
    every component lives in the same graph or context as the variable.
    """
    primary = distributed_primary(var)
    handle: tf.Tensor = (primary if isinstance(primary, tf.Variable) else var).handle
    return handle


def variable_label(var: Any) -> str:
    """A variable's name without the ``:0`` output suffix."""
    name = str(var.name)
    return name[:-2] if name.endswith(":0") else name


def tensor_label(tensor: Any) -> str:
    """A tensor's name, or a description of an eager tensor (which has none)."""
    try:
        return str(tensor.name)
    except AttributeError:
        return f"<eager {tensor.dtype.name} {tensor.shape}>"


def is_eager(tensor: Any) -> bool:
    """Whether ``tensor`` (or a variable's handle) is an eager value, not a graph tensor."""
    return not tf.is_symbolic_tensor(tensor)


def eager_scope() -> contextlib.AbstractContextManager[Any]:
    """Eager execution, even inside another backend's graph block."""
    return contextlib.nullcontext() if tf.executing_eagerly() else load("eager_mode")()


def to_numpy(value: Any) -> Any:
    """NumPy for an eager leaf: tensors, variables, Keras variables, Python values."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return value.numpy()
    if value is None:
        return None
    var = as_tf_variable(value)
    if var is not None:
        return var.numpy()
    return value_to_numpy(value)


def value_to_numpy(value: Any) -> Any:
    """NumPy for a non-TensorFlow leaf, of the dtype TensorFlow gives it (a Python float is float32);
    a leaf that is no value (an object, a Feed) is a FeedError."""
    if isinstance(value, (bool, int, float, complex, str, bytes)):
        # as a step's result in graph, function and xla modes: 1.5 is float32, "a" is b"a"
        with eager_scope():  # not an op in a graph backend's graph
            return tf.constant(value).numpy()  # type: ignore[arg-type]
    return as_array(value, "Each value to evaluate")


def variables_every_call(received: str) -> DualTFError:
    """The error for a ``fn`` that makes new variables each time it is built or called, in every mode."""
    return DualTFError(
        format_error(
            "The `fn` of function()",
            "creating its variables only on its first call (as tf.function requires: create them once, "
            "outside fn or guarded by `if self.v is None`)",
            received,
        )
    )


def without_operations(structure: Any) -> Any:
    """``structure`` with each ``tf.Operation`` (``v.assign(x, read_value=False)`` in a graph) as None:
    it still runs, and a step returns None for it in every mode, as eager and ``Session.run`` do."""
    return tf.nest.map_structure(lambda leaf: None if isinstance(leaf, tf.Operation) else leaf, structure)


def check_results(structure: Any) -> None:
    """Refuse results a step cannot return the same way in every mode (ragged and sparse tensors, datasets)."""
    for leaf in tf.nest.flatten(structure):
        if isinstance(leaf, (tf.RaggedTensor, tf.SparseTensor, tf.data.Dataset, tf.data.Iterator)):
            raise DualTFError(
                format_error(
                    "Each result of a step's `fn`",
                    "a dense tensor, a variable, a NumPy or Python value, or None (nested in tuples, lists or "
                    "dicts); return a ragged tensor's .to_tensor() or a sparse one's tf.sparse.to_dense()",
                    f"a {type(leaf).__name__}",
                )
            )


def structure_to_numpy(out: Any) -> Any:
    """NumPy for every leaf of an eager result, keeping its nested structure."""
    if isinstance(out, tf.Tensor):  # the common case, without nest's overhead
        return out.numpy()
    return tf.nest.map_structure(to_numpy, out)
