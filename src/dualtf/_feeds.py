"""Feeds: declared inputs of a step, and the checks on what is fed to them.

Every check runs on NumPy before TensorFlow sees the value, so a bad value is a
:class:`~dualtf.FeedError` naming the feed, and nothing has run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

import numpy as np
import tensorflow as tf

from ._errors import FeedError, format_error
from ._tf_private import keras_inner_variable

__all__ = ["FEEDABLE", "Feed", "as_array", "coerce_value", "normalize_shape"]

Shape = tuple[int | None, ...] | None


def normalize_shape(shape: Any, subject: str) -> Shape:
    """Turn a user's shape (list, tuple, ``tf.TensorShape`` or ``None``) into a tuple."""
    if shape is None:
        return None
    if isinstance(shape, (list, tuple)) and any(isinstance(d, bool) for d in shape):
        raise FeedError(format_error(subject, "given a shape such as [None, 3] or None", f"shape={shape!r}"))
    try:
        dims = tf.TensorShape(shape).as_list()
    except (TypeError, ValueError):
        raise FeedError(format_error(subject, "given a shape such as [None, 3] or None", f"shape={shape!r}")) from None
    if any(d is not None and d < 0 for d in dims):
        raise FeedError(format_error(subject, "given non-negative dimensions", f"shape={shape!r}"))
    return tuple(dims)


def _shape_text(shape: Shape) -> str:
    if shape is None:
        return "any shape"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


#: Feed dtypes a step accepts values for; any other (resource, variant, quantized) is refused at ``feed()``.
FEEDABLE = frozenset(
    tf.as_dtype(name)
    for name in (
        "bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "bfloat16", "float32", "float64", "complex64", "complex128", "string",
    )
)  # fmt: skip


def coerce_value(value: Any, dtype: tf.DType, shape: Shape, subject: str) -> np.ndarray:
    """Return ``value`` as an array of ``dtype`` that fits ``shape``, or raise FeedError.

    The rule (docs/modes.md has it as a table) is ``feed_dict``'s without its
    silent changes: numbers fit any numeric feed whose range holds them, floats
    fit integer feeds only when integral, booleans fit numeric feeds and 0/1 fit
    boolean ones, strings fit string feeds only; a float's rounding to a
    narrower float is accepted, its overflow to infinity is not. Anything else
    (None, dicts, ragged lists, dates, records, graph tensors, variables) is a
    FeedError naming the feed.

    >>> import tensorflow as tf
    >>> coerce_value([1.0, 2.0], tf.int32, (None,), "Feed `n`").tolist()
    [1, 2]
    """
    arr = value if type(value) is np.ndarray else as_array(value, subject)
    if arr.dtype != dtype.as_numpy_dtype or arr.dtype == object:  # a string feed's dtype is object: check items
        arr = _cast(arr, dtype, subject)
    if shape is not None and (
        arr.ndim != len(shape) or any(d is not None and d != got for d, got in zip(shape, arr.shape, strict=True))
    ):
        raise FeedError(format_error(subject, f"of shape {_shape_text(shape)}", f"shape {_shape_text(arr.shape)}"))
    return arr


def as_array(value: Any, subject: str) -> np.ndarray:
    """``value`` as an array, refusing what is not a value: None, mappings, variables, graph tensors."""
    if isinstance(value, tf.Tensor) and not tf.is_symbolic_tensor(value):
        return np.asarray(value.numpy())  # an eager tensor is a value (.numpy(): a bfloat16 scalar too)
    if isinstance(value, tf.Variable) or keras_inner_variable(value) is not None:
        _refuse_tf_object(subject, f"a variable ({type(value).__name__})")
    if isinstance(value, (tf.Tensor, tf.RaggedTensor, tf.SparseTensor)):
        _refuse_tf_object(subject, f"a graph tensor ({type(value).__name__})")
    if value is None or isinstance(value, (Mapping, set, frozenset)):
        raise FeedError(format_error(subject, _VALUE, f"{type(value).__name__} {value!r}"[:120]))
    try:
        arr = np.asarray(value)
    except NotImplementedError:  # TensorFlow's answer for a graph tensor inside a list
        _refuse_tf_object(subject, f"a {type(value).__name__} holding a graph tensor")
    except (ValueError, TypeError) as exc:  # ragged nested lists
        raise FeedError(format_error(subject, "a rectangular array", f"{type(value).__name__} ({exc})")) from None
    if arr.size == 0 and isinstance(value, (list, tuple)) and len(value) > 1:
        # empty parts still have their dtypes; what NumPy makes of them depends on its version (an
        # object array before 2.4, float64 from 2.4 with ml_dtypes 0.7): refused alike on every version
        kinds = {np.asarray(element).dtype.kind for element in value}
        if len(kinds) > 1:
            received = f"empty arrays of kinds {sorted(kinds)}"
            raise FeedError(format_error(subject, _VALUE + " (all of one kind)", received))
    if arr.dtype == object:
        _object_kind(arr, subject)
    elif arr.dtype.kind in "US" and isinstance(value, (list, tuple)):  # NumPy made [-3, "a"] all strings
        _object_kind(np.asarray(value, dtype=object), subject)
    return arr


_VALUE = "a rectangular array of numbers or strings"


def _refuse_tf_object(subject: str, received: str) -> NoReturn:
    raise FeedError(
        format_error(
            subject,
            "a value (array, list, number, string or eager tensor), not a TensorFlow object: read it with "
            "be.evaluate() first, or compute it inside the step",
            received,
        )
    )


def _object_kind(arr: np.ndarray, subject: str) -> str:
    """What an object array holds that a feed can take: "s" (str/bytes; also when empty), "n" (Python
    ints beyond 64 bits); anything else is a FeedError."""
    items = arr.ravel().tolist()
    if all(isinstance(x, (str, bytes)) for x in items):
        return "s"
    if all(isinstance(x, int) and not isinstance(x, bool) for x in items):
        return "n"
    held = ", ".join(sorted({type(x).__name__ for x in items}))
    raise FeedError(format_error(subject, _VALUE + " (all of one kind)", f"an object array holding {held}"))


def _source_kind(arr: np.ndarray, subject: str) -> tuple[np.ndarray, str]:
    """The array with its kind: b(ool), i(nt), f(loat), c(omplex), s(tring) or n (int beyond 64 bits)."""
    kind = arr.dtype.kind
    if kind in "bfc":
        return arr, kind
    if kind in "iu":
        return arr, "i"
    if kind in "US":
        return arr, "s"
    if kind == "O":
        return arr, _object_kind(arr, subject)
    if kind == "V" and arr.dtype.fields is None:  # ml_dtypes: bfloat16, float8_*, int4
        try:
            source = tf.as_dtype(arr.dtype)
        except TypeError:
            source = None
        if source is not None and source.is_floating:
            return arr.astype(np.float32), "f"  # exact for every narrower float
        if source is not None and source.is_integer:
            return arr.astype(np.int64), "i"
    raise FeedError(format_error(subject, _VALUE, f"an array of {arr.dtype}"))


def _cast(arr: np.ndarray, dtype: tf.DType, subject: str) -> np.ndarray:
    if dtype not in FEEDABLE:  # a feed() refuses these; a variable of such a dtype cannot be assigned either
        raise FeedError(format_error(subject, "of a numeric, boolean or string dtype", f"dtype {dtype.name}"))
    target = np.dtype(dtype.as_numpy_dtype)
    shown = arr.dtype  # named in messages: the user's dtype, not the one compared in
    arr, src = _source_kind(arr, subject)
    if dtype == tf.string:
        if src == "s":  # as TensorFlow holds them: bytes, a str encoded as UTF-8
            items = [x.encode() if isinstance(x, str) else bytes(x) for x in arr.ravel().tolist()]
            out = np.empty(len(items), dtype=object)
            out[:] = items
            return out.reshape(arr.shape)
        raise FeedError(format_error(subject, "strings (dtype string)", f"an array of {arr.dtype}"))
    castable = f"castable to {dtype.name}"
    if src == "s":
        raise FeedError(format_error(subject, castable, f"an array of strings ({arr.dtype})"))
    if src == "c" and not dtype.is_complex:
        raise FeedError(format_error(subject, castable, f"an array of complex numbers ({arr.dtype})"))
    if dtype.is_floating or dtype.is_complex:
        return _to_float(arr, src, dtype, target, subject)
    if dtype.is_bool:
        if src == "b" or np.isin(arr, (0, 1)).all():  # Python ints in an object array too
            return arr.astype(target)
        raise FeedError(format_error(subject, "booleans (or 0/1)", f"an array of {arr.dtype} with other values"))
    return _to_int(arr, src, dtype, target, subject, shown)


def _to_float(arr: np.ndarray, src: str, dtype: tf.DType, target: np.dtype[Any], subject: str) -> np.ndarray:
    """Rounding to the nearest float is accepted (as feed_dict does); a finite value becoming inf is not."""
    if src == "n":
        try:
            arr = np.array([float(x) for x in arr.flat], np.float64).reshape(arr.shape)
        except OverflowError:
            arr = np.full(arr.shape, np.inf)  # beyond float64: reported below with the range
            src = "n!"
    with np.errstate(over="ignore", invalid="ignore"):  # overflow is checked next
        out = arr.astype(target)
    wide = np.complex128 if dtype.is_complex or src == "c" else np.float64  # isfinite has no bfloat16 loop
    if arr.size and (src == "n!" or not np.isfinite(out.astype(wide)).all()):
        finite = np.isfinite(arr.astype(wide)) if src != "n!" else np.ones(arr.shape, bool)
        overflow = finite & ~np.isfinite(out.astype(wide))
        if overflow.any():
            biggest = float(dtype.real_dtype.max)
            raise FeedError(
                format_error(
                    subject,
                    f"within the range of {dtype.name} [{-biggest:g}, {biggest:g}]: a finite value must stay finite",
                    f"{arr.ravel()[np.argmax(overflow.ravel())]!r}" if src != "n!" else "an int beyond float64",
                )
            )
    return out


def _to_int(
    arr: np.ndarray, src: str, dtype: tf.DType, target: np.dtype[Any], subject: str, shown: np.dtype[Any]
) -> np.ndarray:
    """Integral values within the dtype's range; compared exactly (Python ints, powers of two as floats)."""
    info = np.iinfo(target)
    if not arr.size:
        return arr.astype(target)
    if src == "f":
        if not np.isfinite(arr).all() or not np.equal(np.mod(arr, 1), 0).all():
            raise FeedError(
                format_error(
                    subject, f"integral values for dtype {dtype.name}", f"non-integral values of dtype {shown}"
                )
            )
        lo, hi = float(arr.min()), float(arr.max())
        fits = lo >= info.min and hi < float(int(info.max) + 1)  # both bounds are exact in float64
    else:
        lo, hi = (min(arr.flat), max(arr.flat)) if src == "n" else (int(arr.min()), int(arr.max()))
        fits = lo >= int(info.min) and hi <= int(info.max)
    if not fits:
        raise FeedError(
            format_error(
                subject, f"within the range of {dtype.name} [{info.min}, {info.max}]", f"values from {lo} to {hi}"
            )
        )
    return arr.astype(target)


class Feed:
    """A declared input of a step: its name, dtype and shape.

    Made by :meth:`dualtf.Backend.feed`; pass it in the ``feeds`` list of
    :meth:`dualtf.Backend.function`. A ``None`` dimension accepts any size.
    In graph mode :attr:`placeholder` is the ``tf.compat.v1.placeholder``.

    >>> import dualtf, tensorflow as tf
    >>> with dualtf.backend("eager") as be:
    ...     x = be.feed("x", tf.float32, shape=[None, 2])
    >>> x
    Feed('x', float32, shape=(None, 2))
    """

    __slots__ = ("name", "dtype", "shape", "spec", "placeholder", "owner", "_subject")

    def __init__(self, name: str, dtype: tf.DType, shape: Shape, owner: int, placeholder: tf.Tensor | None):
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.spec = tf.TensorSpec(shape, dtype, name=name)  # type: ignore[arg-type]  # None: any rank
        self.placeholder = placeholder
        #: The serial number of the backend that declared it (``Backend.serial``).
        self.owner = owner
        self._subject = f"Feed `{name}`"

    def coerce(self, value: Any) -> np.ndarray:
        """Return ``value`` converted for this feed, or raise :class:`~dualtf.FeedError`."""
        return coerce_value(value, self.dtype, self.shape, self._subject)

    def __repr__(self) -> str:
        return f"Feed({self.name!r}, {self.dtype.name}, shape={_shape_text(self.shape)})"


def bind_arguments(feeds: Sequence[Feed], args: tuple[Any, ...], kwargs: dict[str, Any]) -> list[np.ndarray]:
    """Match a call's positional and keyword values to ``feeds`` and convert each."""
    if not kwargs and len(args) == len(feeds):
        return [f.coerce(v) for f, v in zip(feeds, args, strict=True)]
    names = [f.name for f in feeds]
    if len(args) > len(feeds):
        raise FeedError(
            format_error(
                "The step", f"called with {len(feeds)} values (feeds {names})", f"{len(args)} positional values"
            )
        )
    values: dict[str, Any] = dict(zip(names, args, strict=False))  # fewer args than feeds: the rest by keyword
    for key, val in kwargs.items():
        if key not in names:
            raise FeedError(
                format_error("Each keyword of the step", f"a feed name, one of {names}", f"unexpected feed `{key}`")
            )
        if key in values:
            raise FeedError(format_error(f"Feed `{key}`", "given once", "it both positionally and by keyword"))
        values[key] = val
    missing = [n for n in names if n not in values]
    if missing:
        raise FeedError(
            format_error("Every feed", f"given a value (feeds {names})", f"no value for feed `{missing[0]}`")
        )
    return [f.coerce(values[f.name]) for f in feeds]
