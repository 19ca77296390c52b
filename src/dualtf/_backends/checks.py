"""The argument checks of the contract's public methods, each raising dualtf's one error format.

Every mode shares them: a bad argument is refused the same way in every mode, before
TensorFlow runs anything.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from typing import Any

import tensorflow as tf

from .._errors import DualTFError, format_error
from .._feeds import FEEDABLE, as_array, coerce_value
from .fused import STEP_OUTPUTS

__all__ = [
    "OP_NAME",
    "check_arity",
    "check_backend_options",
    "check_step_outputs",
    "dtype_argument",
    "initial_value",
    "step_name",
]

#: What TensorFlow accepts as an op name in a graph, and so, in every mode, as a variable's name.
OP_NAME = re.compile(r"[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*")


def check_backend_options(mode: str, allowed: frozenset[str], options: dict[str, Any], seed: Any, det: Any) -> None:
    """A backend's keyword options, seed and ``deterministic_random`` switch, before anything is opened."""
    unknown = sorted(set(options) - allowed)
    if unknown:
        valid = ", ".join(sorted(allowed)) or "none"
        raise DualTFError(
            format_error(f"Each option of mode {mode!r}", f"one of: {valid}", f"{unknown[0]}={options[unknown[0]]!r}")
        )
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**32):
        # NumPy's range; checked before anything is seeded
        raise DualTFError(format_error("The seed", "an int in [0, 2**32 - 1], or None", f"seed={seed!r}"))
    if not isinstance(det, bool):
        raise DualTFError(format_error("deterministic_random", "True or False", repr(det)))
    if det and seed is None:
        raise DualTFError(
            format_error(
                "The seed of a backend with deterministic_random=True",
                "an int: every mode draws from one generator seeded by it",
                "seed=None",
            )
        )


def dtype_argument(dtype: Any, subject: str, error: type[DualTFError] = DualTFError) -> tf.DType | None:
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


def initial_value(value: Any, dtype: tf.DType | None, subject: str) -> Any:
    """A value checked as a feed would check it; with no dtype, left for TensorFlow to infer one."""
    if isinstance(value, (tf.Tensor, tf.Variable)):
        return value
    if dtype is not None:
        return coerce_value(value, dtype, None, subject)
    as_array(value, subject)  # refuses None, mappings, ragged lists, objects
    return value


def step_name(fn: Callable[..., Any]) -> str:
    """The name a step of ``fn`` goes by in messages."""
    return str(getattr(fn, "__name__", type(fn).__name__))


def check_arity(fn: Callable[..., Any], name: str, feeds: list[str]) -> None:
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


def check_step_outputs(value: Any, where: str) -> None:
    """``step_outputs`` of a fused step or an epoch: one of :data:`~.fused.STEP_OUTPUTS`."""
    if value not in STEP_OUTPUTS:
        raise DualTFError(
            format_error(f"The `step_outputs` of {where}", f"one of {', '.join(STEP_OUTPUTS)}", repr(value))
        )
