"""Hypothesis: generated feed declarations against generated values, in every mode.

The property is the feed rule of docs/modes.md: a value is either refused with a
FeedError naming the feed, before TensorFlow runs, or accepted without a silent
change (integers exact, booleans exact, floats only rounded, finite stays finite,
strings byte for byte) and returned unchanged by an identity step. Nothing else:
no raw TensorFlow or NumPy error, no process abort.

CI runs 60 examples per mode; the hardening issue's full run (2,000 per mode) is::

    DUALTF_FUZZ_EXAMPLES=2000 python -m pytest tests/test_feed_fuzz.py -p no:randomly
"""

import itertools
import os

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import dualtf
from dualtf._feeds import FEEDABLE

EXAMPLES = int(os.environ.get("DUALTF_FUZZ_EXAMPLES", "60"))

FEED_DTYPES = sorted(FEEDABLE, key=lambda d: d.name)
NUMPY_DTYPES = [np.bool_, np.int8, np.int32, np.int64, np.uint8, np.uint64, np.float16, np.float32, np.float64]
NUMPY_DTYPES += [np.complex64, "U3", "S3"]

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=3)
numeric = st.one_of(
    hnp.arrays(st.sampled_from(NUMPY_DTYPES), shapes),
    hnp.arrays(np.float32, shapes).map(lambda a: a.astype(ml_dtypes.bfloat16)),
    hnp.arrays(np.int64, shapes, elements=st.sampled_from([0, 1, 2**31, -(2**63), 2**62])),
    hnp.arrays(np.float64, shapes, elements=st.sampled_from([0.5, 1.0, 2.0**63, 2.0**64, 1e300, -1e39, np.nan])),
)


def _variants(arr):
    """The forms a user passes an array in: as is, as lists, read-only, strided, as an eager tensor."""
    readonly = arr.copy()
    readonly.setflags(write=False)
    out = [st.just(arr), st.just(readonly)]
    if arr.ndim:
        out.append(st.just(np.repeat(arr, 2, axis=0)[::2]))  # non-contiguous, same values
    if arr.dtype.kind != "V" or arr.dtype == ml_dtypes.bfloat16:
        out.append(st.just(arr.tolist()))
    if arr.dtype.kind in "biufc" and arr.dtype != np.uint64:
        out.append(st.just(tf.constant(arr)))
    return st.one_of(out)


values = st.one_of(
    numeric.flatmap(_variants),
    st.sampled_from(
        [
            None,
            {"a": 1},
            [[1.0], [1.0, 2.0]],
            [2**70],
            2**64,
            "text",
            [b"a", b"bc"],
            np.array(["x", 3], dtype=object),
            np.array(["x", "y"], dtype=object),
            np.array([object()]),
            np.array(["2020-01-01"], dtype="datetime64[D]"),
            np.zeros(2, dtype=[("a", "i4")]),
            np.array([1.5], dtype=ml_dtypes.bfloat16),
            np.float32(3.0),
            True,
            1.5,
            complex(1, 2),
        ]
    ),
)
declarations = st.tuples(
    st.sampled_from(FEED_DTYPES),
    st.one_of(st.none(), st.lists(st.one_of(st.none(), st.integers(0, 3)), max_size=3).map(tuple)),
)


def _source(value):
    """The user's value as an array of what it holds, to compare an accepted value with."""
    arr = value.numpy() if isinstance(value, tf.Tensor) else np.asarray(value)
    return arr.astype(np.float32) if arr.dtype == ml_dtypes.bfloat16 else arr


def _assert_unchanged(result, value, dtype):
    source = _source(value)
    assert result.shape == source.shape
    if dtype == tf.string:
        as_bytes = [x if isinstance(x, bytes) else str(x).encode() for x in source.ravel().tolist()]
        assert result.ravel().tolist() == as_bytes
    elif dtype.is_integer or dtype.is_bool:
        assert result.ravel().tolist() == [int(x) if dtype.is_integer else bool(x) for x in source.ravel().tolist()]
        assert [int(x) for x in result.ravel().tolist()] == source.ravel().tolist()  # exact, not rounded
    elif dtype.is_floating:
        wide = result.astype(np.float64)
        src = source.astype(np.complex128).real if source.dtype.kind == "c" else source.astype(np.float64)
        assert np.array_equal(np.isfinite(wide), np.isfinite(src))  # finite stays finite
        rounded = np.asarray(src, np.float64).astype(dtype.as_numpy_dtype).astype(np.float64)
        assert np.array_equal(wide, rounded, equal_nan=True)  # rounded to the feed's float, nothing else
    else:  # complex
        assert np.array_equal(result, source.astype(dtype.as_numpy_dtype), equal_nan=True)


_STEPS: dict = {}
_NAMES = itertools.count()


@settings(
    max_examples=EXAMPLES,
    deadline=None,  # a build is slow, and machines are noisy
    # one backend (a function-scoped fixture) serves every example, on purpose
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_a_value_is_refused_by_name_or_fed_unchanged(dualtf_backend, data):
    be = dualtf_backend
    steps = _STEPS.setdefault(be.serial, {})  # across examples: one backend runs them all

    for _ in range(5):  # a few values per declaration: builds are the slow part
        dtype, shape = data.draw(declarations, label="feed")
        if be.mode == "xla" and dtype == tf.string:
            continue  # refused at build by name: test_xla_refuses_string_feeds
        if (dtype, shape) not in steps:
            feed = be.feed(f"f{next(_NAMES)}", dtype, shape)
            steps[(dtype, shape)] = be.function(tf.identity, [feed])
        step = steps[(dtype, shape)]
        value = data.draw(values, label="value")
        try:
            bound = step.bind(value)[0]
        except dualtf.FeedError as exc:
            assert f"Feed `{step.feeds[0].name}`" in str(exc) and "Received:" in str(exc)
            continue
        if dtype == tf.string:
            assert bound.dtype == object
        else:
            assert bound.dtype == dtype.as_numpy_dtype
        _assert_unchanged(bound, value, dtype)
        out = step(value)
        assert np.asarray(out).dtype == bound.dtype or dtype == tf.string
        if dtype == tf.string:
            assert np.asarray(out).ravel().tolist() == bound.ravel().tolist()
        else:
            assert np.array_equal(out, bound, equal_nan=dtype.is_floating or dtype.is_complex)


@pytest.mark.parametrize("dtype", [tf.int64, tf.uint64, tf.float32])
def test_fuzz_reproducers_are_refused_or_exact(dtype):
    """The values the first fuzz run found silently changed or crashing, one per feed dtype."""
    cases = {
        tf.int64: [([2.0**63], False), ([-(2.0**63)], True), ([2**63 - 1], True)],
        tf.uint64: [([2.0**64], False), ([True], True), (np.array([1.0], ml_dtypes.bfloat16), True)],
        tf.float32: [([2**70], True), ([1e300], False), ([np.nan, np.inf], True)],
    }[dtype]
    with dualtf.backend("eager") as be:
        step = be.function(tf.identity, [be.feed("x", dtype, [None])])
        for value, accepted in cases:
            if accepted:
                _assert_unchanged(step(value), value, dtype)
            else:
                with pytest.raises(dualtf.FeedError, match=r"Feed `x` must be within the range of"):
                    step(value)


@settings(
    max_examples=max(EXAMPLES // 2, 20),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_a_stacked_value_of_a_fused_step_is_refused_or_fed_as_its_rows_would_be(dualtf_backend, data):
    """The oracle of a fused feed is K single calls, row by row: the stacked value is accepted exactly when
    every row is, alone, and the rows have one shape; then it is the rows' values stacked, nothing changed."""
    be = dualtf_backend
    fused_steps = _STEPS.setdefault(("fused", be.serial), {})
    dtype, shape = data.draw(declarations, label="feed")
    if be.mode == "xla" and dtype == tf.string:
        return
    k = data.draw(st.sampled_from([2, 3]), label="steps")
    if (dtype, shape, k) not in fused_steps:
        single = be.function(tf.identity, [be.feed(f"f{next(_NAMES)}", dtype, shape)])
        fused = be.function(
            tf.identity, [be.feed(f"f{next(_NAMES)}", dtype, shape)], steps_per_call=k, step_outputs="last"
        )
        fused_steps[(dtype, shape, k)] = (single, fused)
    single, fused = fused_steps[(dtype, shape, k)]
    rows = [data.draw(values, label=f"row {i}") for i in range(k)]
    bound_rows = []
    for row in rows:
        try:
            bound_rows.append(single.bind(row)[0])
        except dualtf.FeedError:
            bound_rows.append(None)
    stacked = data.draw(st.sampled_from(["list", "stack"]), label="given as")
    try:
        value = list(rows) if stacked == "list" else np.stack([_source(r) for r in rows])
    except Exception:  # noqa: BLE001 - rows NumPy cannot stack (or graph tensors): the list form is left to try
        value = list(rows)
    try:
        bound = fused.bind(value)[0]
    except dualtf.FeedError as exc:
        assert f"Feed `{fused.feeds[0].name}`" in str(exc) and "Received:" in str(exc)
        accepted = None
    else:
        accepted = bound
    one_shape = all(b is not None for b in bound_rows) and len({b.shape for b in bound_rows}) == 1
    if accepted is not None:
        assert one_shape, f"a fused feed took rows that are refused alone, or of different shapes: {rows!r}"
        want = np.stack(bound_rows)
        if dtype == tf.string:
            assert accepted.ravel().tolist() == want.ravel().tolist()
        else:
            assert accepted.dtype == want.dtype
            assert np.array_equal(accepted, want, equal_nan=dtype.is_floating or dtype.is_complex)
        out = fused(value)
        if dtype != tf.string:
            assert np.array_equal(out, want[-1], equal_nan=dtype.is_floating or dtype.is_complex)
    elif stacked == "list" and one_shape and all(isinstance(r, np.ndarray) and r.dtype != object for r in rows):
        same_kind = len({r.dtype.kind for r in rows}) == 1
        assert not same_kind, f"rows of one kind, each accepted alone, refused stacked: {rows!r}"
