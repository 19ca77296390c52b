"""Feeds: declared inputs of a step, and the checks on what is fed to them.

Every check runs on NumPy before TensorFlow sees the value, so a bad value is a
:class:`~dualtf.FeedError` naming the feed, and nothing has run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from ._errors import FeedError, format_error

__all__ = ["Feed", "coerce_value", "normalize_shape"]

Shape = tuple[int | None, ...] | None


def normalize_shape(shape: Any, subject: str) -> Shape:
    """Turn a user's shape (list, tuple, ``tf.TensorShape`` or ``None``) into a tuple."""
    if shape is None:
        return None
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


def coerce_value(value: Any, dtype: tf.DType, shape: Shape, subject: str) -> np.ndarray:
    """Return ``value`` as an array of ``dtype`` that fits ``shape``, or raise FeedError.

    Conversion follows ``feed_dict``: any number fits a float feed; integers fit
    integer feeds within range; floats fit integer feeds only when integral;
    strings never fit numeric feeds.

    >>> import tensorflow as tf
    >>> coerce_value([1.0, 2.0], tf.int32, (None,), "Feed `n`").tolist()
    [1, 2]
    """
    target = dtype.as_numpy_dtype
    arr = value if type(value) is np.ndarray else _as_array(value, subject)
    if arr.dtype != target:
        arr = _cast(arr, dtype, subject)
    if shape is not None and (
        arr.ndim != len(shape) or any(d is not None and d != got for d, got in zip(shape, arr.shape, strict=True))
    ):
        raise FeedError(format_error(subject, f"of shape {_shape_text(shape)}", f"shape {_shape_text(arr.shape)}"))
    return arr


def _as_array(value: Any, subject: str) -> np.ndarray:
    try:
        arr = np.asarray(value)
    except ValueError as exc:  # ragged nested lists
        raise FeedError(format_error(subject, "a rectangular array", f"{type(value).__name__} ({exc})")) from None
    if arr.dtype == object:
        raise FeedError(
            format_error(
                subject, "a rectangular array of numbers or strings", f"an object array from {type(value).__name__}"
            )
        )
    return arr


def _cast(arr: np.ndarray, dtype: tf.DType, subject: str) -> np.ndarray:
    target = np.dtype(dtype.as_numpy_dtype)
    src = arr.dtype.kind  # b, i, u, f, c, U, S
    expected = f"castable to {dtype.name}"
    if dtype == tf.string:
        if src in "US":
            return arr.astype(object)
        raise FeedError(format_error(subject, "strings (dtype string)", f"an array of {arr.dtype}"))
    if src in "USO":
        raise FeedError(format_error(subject, expected, f"an array of strings ({arr.dtype})"))
    if target.kind == "c":
        return arr.astype(target)
    if src == "c":
        raise FeedError(format_error(subject, expected, f"an array of complex numbers ({arr.dtype})"))
    if target.kind == "f" or dtype.is_floating:
        return arr.astype(target)
    if target.kind == "b":
        if src == "b" or np.isin(arr, (0, 1)).all():
            return arr.astype(target)
        raise FeedError(format_error(subject, "booleans (or 0/1)", f"an array of {arr.dtype} with other values"))
    # integer target
    if src == "f" and (not np.isfinite(arr).all() or not np.equal(np.mod(arr, 1), 0).all()):
        raise FeedError(
            format_error(
                subject, f"integral values for dtype {dtype.name}", f"non-integral values of dtype {arr.dtype}"
            )
        )
    if arr.size:
        info = np.iinfo(target)
        lo, hi = arr.min(), arr.max()
        if lo < info.min or hi > info.max:
            raise FeedError(
                format_error(
                    subject,
                    f"within the range of {dtype.name} [{info.min}, {info.max}]",
                    f"values from {lo} to {hi}",
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
