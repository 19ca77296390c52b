"""Bad input: a named DualTFError before TensorFlow runs anything, nothing half-applied."""

import re

import pytest
import tensorflow as tf

import dualtf


def _counting_step(be):
    calls = be.variable(0, name="calls", dtype=tf.int32)
    x = be.feed("x", tf.float32, shape=[2, None])
    n = be.feed("n", tf.int32, shape=[None])

    def fn(x, n):
        calls.assign_add(1)
        return tf.reduce_sum(x) + tf.cast(tf.reduce_sum(n), tf.float32)

    return be.function(fn, [x, n]), calls


GOOD_X = [[1.0], [2.0]]

BAD_CALLS = [
    # (args, kwargs, error pattern)
    ((GOOD_X,), {}, r"Every feed must be given a value .* Received: no value for feed `n`"),
    ((GOOD_X, [1]), {"z": 1}, r"a feed name, one of \['x', 'n'\]\. Received: unexpected feed `z`"),
    ((GOOD_X, [1], [2]), {}, r"called with 2 values .* Received: 3 positional values"),
    ((GOOD_X, ["a"]), {}, r"Feed `n` must be castable to int32\. Received: an array of strings"),
    ((GOOD_X, [1.5]), {}, r"Feed `n` must be integral values for dtype int32\. Received: non-integral values"),
    ((GOOD_X, [2**40]), {}, r"Feed `n` must be within the range of int32"),
    (([1.0, 2.0], [1]), {}, r"Feed `x` must be of shape \(2, None\)\. Received: shape \(2,\)"),
    (([[1.0], [2.0], [3.0]], [1]), {}, r"Feed `x` must be of shape \(2, None\)\. Received: shape \(3, 1\)"),
    (([[1.0], [2.0, 3.0]], [1]), {}, r"Feed `x` must be a rectangular array"),
    ((GOOD_X, [1]), {"x": GOOD_X}, r"Feed `x` must be given once"),
]


@pytest.mark.parametrize(("args", "kwargs", "pattern"), BAD_CALLS)
def test_bad_call_is_named_and_nothing_runs(dualtf_backend, args, kwargs, pattern):
    step, calls = _counting_step(dualtf_backend)
    with pytest.raises(dualtf.FeedError, match=pattern):
        step(*args, **kwargs)
    assert dualtf_backend.evaluate(calls) == 0  # nothing ran, nothing half-applied
    assert step(GOOD_X, [1]) == 4.0
    assert dualtf_backend.evaluate(calls) == 1


def test_unknown_mode_lists_valid_modes():
    with pytest.raises(
        dualtf.ModeError, match=re.escape("one of graph, eager, function, xla. Received: mode='session'")
    ):
        dualtf.backend("session")
    with pytest.raises(dualtf.DualTFError):
        dualtf.backend(None)


def test_unknown_option_and_bad_seed():
    with pytest.raises(dualtf.DualTFError, match=r"option of mode 'eager' must be one of: none\. Received: jit=True"):
        dualtf.backend("eager", jit=True)
    with pytest.raises(dualtf.DualTFError, match=r"option of mode 'graph' must be one of: config"):
        dualtf.backend("graph", cnofig=None)
    with pytest.raises(
        dualtf.DualTFError, match=r"seed must be an int in \[0, 2\*\*32 - 1\], or None\. Received: seed='1'"
    ):
        dualtf.backend("graph", seed="1")
    with pytest.raises(
        dualtf.DualTFError,
        match=r"The `config` option of mode 'graph' must be a tf.compat.v1.ConfigProto\. Received: dict",
    ):
        dualtf.backend("graph", config={"intra_op_parallelism_threads": 1})


def test_function_needs_a_callable(dualtf_backend):
    with pytest.raises(dualtf.DualTFError, match=r"`fn` of function\(\) must be callable\. Received: int 3"):
        dualtf_backend.function(3, [])


def test_feeds_must_be_feed_objects(dualtf_backend):
    with pytest.raises(
        dualtf.FeedError, match=r"Each feed of function\(\) must be a Feed made by backend.feed\(\)\. Received: str"
    ):
        dualtf_backend.function(lambda x: x, ["x"])
    x = dualtf_backend.feed("x", tf.float32, [None])
    with pytest.raises(dualtf.FeedError, match=r"must be a list of Feed objects\. Received: Feed"):
        dualtf_backend.function(lambda x: x, x)
    with pytest.raises(dualtf.FeedError, match=r"distinct feeds\. Received: feed `x` twice"):
        dualtf_backend.function(lambda a, b: a, [x, x])


def test_bad_feed_declarations(dualtf_backend):
    be = dualtf_backend
    be.feed("x", tf.float32, [None])
    with pytest.raises(dualtf.FeedError, match=r"Feed `x` must be declared once per backend"):
        be.feed("x", tf.float32, [None])
    with pytest.raises(dualtf.FeedError, match=r"A feed name must be a Python identifier .* Received: name='a b'"):
        be.feed("a b", tf.float32, [None])
    with pytest.raises(dualtf.FeedError, match=r"The dtype of feed `y` must be a TensorFlow dtype"):
        be.feed("y", "float33", [None])
    with pytest.raises(dualtf.FeedError, match=r"The shape of feed `z` must be given a shape"):
        be.feed("z", tf.float32, "wide")


@pytest.mark.parametrize("other_mode", ["graph", "eager"])
def test_objects_from_another_backend_are_refused(dualtf_backend, other_mode):
    be = dualtf_backend
    with dualtf.backend(other_mode) as other:
        foreign_var = other.variable(1.0, name="foreign")
        foreign_feed = other.feed("f", tf.float32, [None])
        foreign_tensor = other.constant(1.0)
    own = be.variable(2.0)
    with pytest.raises(dualtf.ForeignObjectError, match=r"Variable `foreign` must be made under this backend"):
        be.evaluate([own, foreign_var])
    with pytest.raises(dualtf.ForeignObjectError, match=r"Variable `foreign` must be made under this backend"):
        be.assign(foreign_var, 3.0)
    with pytest.raises(dualtf.ForeignObjectError, match=r"Feed `f` must be declared by this backend"):
        be.function(lambda f: f, [foreign_feed])
    if (other_mode == "graph") != (be.mode == "graph"):
        with pytest.raises(dualtf.ForeignObjectError, match=r"Tensor .* must be made under this backend"):
            be.evaluate(foreign_tensor)
    assert be.evaluate(own) == 2.0


def test_closed_backend_and_its_steps_refuse_use(dualtf_mode):
    with dualtf.backend(dualtf_mode) as be:
        x = be.feed("x", tf.float32, [None])
        step = be.function(lambda x: x, [x])
        v = be.variable(1.0)
    pattern = rf"Backend '{dualtf_mode}' #\d+ must be open .* Received: a call after it was closed"
    for call in (
        lambda: step([1.0]),
        lambda: be.variable(1.0),
        lambda: be.evaluate(v),
        lambda: be.feed("y", tf.float32, []),
    ):
        with pytest.raises(dualtf.ClosedBackendError, match=pattern):
            call()
    with pytest.raises(dualtf.ClosedBackendError), be:
        pass


def test_assign_bad_value_leaves_variable_unchanged(dualtf_backend):
    be = dualtf_backend
    w = be.variable([1.0, 2.0], name="w")
    with pytest.raises(
        dualtf.FeedError, match=r"The value for variable `w` must be of shape \(2,\)\. Received: shape \(3,\)"
    ):
        be.assign(w, [1.0, 2.0, 3.0])
    with pytest.raises(
        dualtf.FeedError,
        match=r"The value for variable `w` must be castable to float32\. Received: an array of strings",
    ):
        be.assign(w, ["a", "b"])
    with pytest.raises(
        dualtf.DualTFError, match=r"The variable must be a tf.Variable or a Keras variable\. Received: list"
    ):
        be.assign([1.0], [2.0])
    assert be.evaluate(w).tolist() == [1.0, 2.0]


def test_every_error_derives_from_dualtf_error():
    for cls in (dualtf.ModeError, dualtf.FeedError, dualtf.ForeignObjectError, dualtf.ClosedBackendError):
        assert issubclass(cls, dualtf.DualTFError)
