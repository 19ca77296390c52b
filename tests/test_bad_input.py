"""Hostile use: every bad input a named error, the same in every mode, raised before TensorFlow runs;
nothing silently changed or skipped."""

import random
import threading

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf

import dualtf
import fresh_process

# ---------------------------------------------------------------- values: no silent change, no raw error


@pytest.mark.parametrize(
    ("dtype", "value", "message"),
    [
        (tf.int64, [2.0**63], r"within the range of int64"),
        (tf.uint64, [2.0**64], r"within the range of uint64"),
        (tf.int32, np.array([1.5], ml_dtypes.bfloat16), r"integral values for dtype int32.*bfloat16"),
        (tf.int32, np.array(["2020-01-01"], "datetime64[D]"), r"numbers or strings.*datetime64"),
        (tf.bool, np.zeros(1, dtype=[("a", "i4")]), r"numbers or strings"),
        (tf.float16, [70000.0], r"within the range of float16 \[-65504, 65504\]"),
        (tf.float32, None, r"numbers or strings\. Received: NoneType None"),
        (tf.float32, {"x": 1.0}, r"numbers or strings\. Received: dict"),
        (tf.float32, [[1.0], [1.0, 2.0]], r"a rectangular array"),
        (tf.string, np.array(["a", 3], dtype=object), r"all of one kind.*holding int, str"),
    ],
)
def test_a_lossy_or_foreign_value_is_a_feed_error(dualtf_backend, dtype, value, message):
    be = dualtf_backend
    if be.mode == "xla" and dtype == tf.string:
        dtype = tf.float32  # xla refuses string feeds (below); the value is still refused
    step = be.function(tf.identity, [be.feed("x", dtype, [None])])
    with pytest.raises(dualtf.FeedError, match=r"Feed `x` must be .*" + message):
        step(value)


@pytest.mark.parametrize(
    ("dtype", "value", "expected"),
    [
        (tf.uint64, [True], [1]),
        (tf.uint64, np.array([3.0], ml_dtypes.bfloat16), [3]),
        (tf.float32, [2**70], [float(np.float32(2.0**70))]),
        (tf.float32, [np.nan, -np.inf], [np.nan, -np.inf]),
        (tf.int64, [-(2**63), 2**63 - 1], [-(2**63), 2**63 - 1]),
        (tf.int8, np.array([1.0, -128.0]), [1, -128]),
        (tf.float32, np.arange(6.0)[::2], [0.0, 2.0, 4.0]),  # strided
        (tf.float32, tf.constant([1.0, 2.0]), [1.0, 2.0]),  # an eager tensor is a value
    ],
)
def test_what_feed_dict_accepts_is_accepted_exactly(dualtf_backend, dtype, value, expected):
    be = dualtf_backend
    step = be.function(tf.identity, [be.feed("x", dtype, [None])])
    out = step(value)
    assert out.dtype == dtype.as_numpy_dtype
    np.testing.assert_array_equal(out, np.array(expected, dtype.as_numpy_dtype))


def test_strings_go_in_as_utf8_bytes_except_in_xla(dualtf_backend):
    be = dualtf_backend
    s = be.feed("s", tf.string, [None])
    if be.mode == "xla":  # an empty S3 array here once aborted the process (DataTypeCanUseMemcpy)
        with pytest.raises(dualtf.DualTFError, match=r"Feed `s` of a step of mode 'xla' must not be of dtype string"):
            be.function(tf.identity, [s])
        return
    step = be.function(tf.identity, [s])
    assert step(np.array(["é", "b"], dtype=object)).tolist() == ["é".encode(), b"b"]
    assert step(np.array([], dtype="S3")).shape == (0,)
    with pytest.raises(dualtf.FeedError, match=r"Feed `s` must be strings"):
        step([1, 2])


def test_tensorflow_objects_are_not_values(dualtf_backend):
    be = dualtf_backend
    step = be.function(tf.identity, [be.feed("x", tf.float32, [None])])
    v = be.variable([1.0])
    with pytest.raises(dualtf.FeedError, match=r"Feed `x` must be a value .*Received: a variable"):
        step(v)
    if be.mode == "graph":
        with pytest.raises(dualtf.FeedError, match=r"Received: a graph tensor"):
            step(be.constant([1.0]))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"initial": None}, r"initial value of the variable must be a rectangular array.*NoneType"),
        ({"initial": object()}, r"initial value of the variable must be .*object"),
        ({"initial": [[1.0], [1.0, 2.0]]}, r"must be a rectangular array"),
        ({"initial": 1.0, "dtype": "float33"}, r"dtype of the variable must be a TensorFlow dtype of values.*float33"),
        ({"initial": 1.0, "name": 3}, r"variable's name must be None or a TensorFlow op name.*name=3"),
        ({"initial": 1.0, "name": "a b"}, r"variable's name must be .*name='a b'"),
        ({"initial": 1.0, "trainable": "yes"}, r"`trainable` of the variable must be True or False"),
        ({"initial": 2**40, "dtype": tf.int32}, r"within the range of int32"),
        ({"initial": [1.5], "dtype": tf.int32}, r"integral values for dtype int32"),
    ],
)
def test_variable_arguments_are_checked_alike(dualtf_backend, kwargs, message):
    be = dualtf_backend
    before = len(be.variables)
    kwargs = dict(kwargs)  # shared by the modes' runs
    initial = kwargs.pop("initial")
    with pytest.raises(dualtf.DualTFError, match=message):
        be.variable(initial, **kwargs)
    assert len(be.variables) == before  # nothing made


def test_constant_and_feed_arguments_are_checked_alike(dualtf_backend):
    be = dualtf_backend
    with pytest.raises(dualtf.FeedError, match=r"within the range of int8"):
        be.constant([300], dtype=tf.int8)
    with pytest.raises(dualtf.DualTFError, match=r"dtype of constant\(\) must be a TensorFlow dtype of values"):
        be.constant(1, dtype=tf.resource)
    for dtype in (tf.resource, tf.variant, tf.qint8):
        with pytest.raises(dualtf.FeedError, match=rf"dtype of feed `r` must be .*dtype=tf\.{dtype.name}"):
            be.feed("r", dtype)
    with pytest.raises(dualtf.FeedError, match=r"shape of feed `q` must be .*shape=\[True\]"):
        be.feed("q", tf.float32, [True])
    assert be.constant([1, 2], dtype=tf.int8).dtype == tf.int8


@pytest.mark.parametrize("seed", [-1, 2**40, 1.5])
def test_a_bad_seed_changes_nothing(seed):
    state = random.getstate()
    with pytest.raises(dualtf.DualTFError, match=r"The seed must be an int in \[0, 2\*\*32 - 1\]"):
        dualtf.backend("eager", seed=seed)
    assert random.getstate() == state


# ---------------------------------------------------------------- fn: the same errors at the same moment


def test_wrong_arity_fails_at_build(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32, [None])
    with pytest.raises(dualtf.DualTFError, match=r"`fn` of function\(\) \(two\) must be callable with 1 positional"):

        def two(x, y):
            return x + y

        be.function(two, [x])


def test_a_python_error_in_fn_fails_at_build_before_any_effect(dualtf_backend):
    be = dualtf_backend
    v = be.variable(0.0)
    x = be.feed("x", tf.float32, [None])

    def fn(x):
        v.assign_add(1.0)
        raise KeyError("from fn")

    with pytest.raises(KeyError, match="from fn"):
        be.function(fn, [x])
    assert be.evaluate(v) == 0.0  # eager too: fn is traced at build, never run half-way


def test_a_variable_made_in_fn_is_made_once_in_every_mode(dualtf_backend):
    """TF1 builds a graph once: a variable fn makes is made on its first run and reused after."""
    be = dualtf_backend
    x = be.feed("x", tf.float32, [])

    def count(x):
        total = tf.Variable(0.0, name="total")
        return total.assign_add(x)

    step = be.function(count, [x])
    assert [float(step(1.0)) for _ in range(3)] == [1.0, 2.0, 3.0]
    assert len(be.variables) == 1


def test_a_fn_making_more_variables_on_a_later_run_is_named(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32, [None])
    runs = []

    def grows(x):
        runs.append(1)
        return x * sum(tf.Variable(1.0, name=f"v{i}") for i in range(len(runs)))

    with pytest.raises(dualtf.DualTFError, match=r"Step `grows` must create the same variables on every run"):
        step = be.function(grows, [x])
        for _ in range(3):  # eager: the trace at build runs fn twice, like tf.function
            step([1.0])


def test_results_have_one_dtype_and_none_is_none(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32, [None])
    assert be.function(lambda x: None, [x])([1.0]) is None
    out = be.function(lambda x: (1.5, 2, True), [x])([1.0])
    assert [np.asarray(o).dtype for o in out] == [np.float32, np.int32, np.bool_]


def test_ragged_and_sparse_results_are_refused_at_build(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32, [2])
    with pytest.raises(dualtf.DualTFError, match=r"Each result of a step's `fn` must be a dense tensor.*RaggedTensor"):
        be.function(lambda x: tf.RaggedTensor.from_row_lengths(x, [1, 1]), [x])
    with pytest.raises(dualtf.DualTFError, match=r"SparseTensor"):
        be.function(lambda x: tf.sparse.from_dense(x), [x])


def test_a_foreign_backends_variable_inside_fn_is_named(dualtf_backend):
    be = dualtf_backend
    other_mode = "graph" if be.mode != "graph" else "eager"
    with dualtf.backend(other_mode) as other:
        w = other.variable(2.0, name="other_w")
        x = be.feed("x", tf.float32, [None])
        with pytest.raises(dualtf.ForeignObjectError, match=r"made under this backend"):
            be.function(lambda x: x * w, [x])


def test_a_tensorflow_error_in_a_step_names_step_and_mode(dualtf_backend):
    be = dualtf_backend
    i = be.feed("i", tf.int32, [None])
    table = be.variable([1.0, 2.0])

    def lookup(i):
        return tf.gather(table, i)

    step = be.function(lookup, [i])
    if be.mode == "xla":  # XLA clamps an out-of-range gather index instead (docs/modes.md)
        assert step([5]).tolist() == [2.0]
        return
    with pytest.raises(dualtf.StepError, match=rf"Step `lookup` of mode '{be.mode}' failed.*InvalidArgumentError") as e:
        step([5])
    assert isinstance(e.value.__cause__, tf.errors.InvalidArgumentError)
    assert step([1]).tolist() == [2.0]  # still usable


def test_assertions_fail_the_step_or_are_refused_in_xla(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32, [None])
    c = be.variable(0.0)

    def checked(x):
        tf.debugging.assert_positive(x)
        c.assign_add(1.0)
        return 2 * x

    if be.mode == "xla":  # XLA compiles assertions to nothing: refused, not skipped
        for fn in (
            checked,
            lambda x: tf.debugging.check_numerics(x, "x"),
            lambda x: tf.cond(x[0] > 0, lambda: x, lambda: tf.debugging.check_numerics(x, "x")),
        ):
            with pytest.raises(dualtf.DualTFError, match=r"mode 'xla' must not contain an assertion"):
                be.function(fn, [x])
        return
    step = be.function(checked, [x])
    with pytest.raises(dualtf.StepError, match=r"Step `checked`"):
        step([-1.0])
    # Pinned (docs/modes.md, "Failing steps"): eager stops at the assertion; in a graph TensorFlow
    # does not order an assertion before an update it does not feed, so the update may have run.
    if be.mode == "eager":
        assert be.evaluate(c) == 0.0
    else:
        assert be.evaluate(c) in (0.0, 1.0)
    assert step([1.0]).tolist() == [2.0]


# ---------------------------------------------------------------- threads, nesting, global state


def test_threads_building_and_calling_steps_on_one_backend(dualtf_backend):
    be = dualtf_backend
    counters = [be.variable(0.0, name=f"c{i}") for i in range(4)]
    errors = []

    def work(i):
        try:
            step = be.function(lambda: counters[i].assign_add(1.0, read_value=False), [])
            for _ in range(50):
                step()
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [float(v) for v in be.evaluate(counters)] == [50.0] * 4


def test_closing_while_another_thread_steps_is_named():
    be = dualtf.backend("graph").__enter__()
    step = be.function(lambda: tf.constant(1.0), [])
    seen = []
    started = threading.Event()

    def loop():
        try:
            while True:
                step()
                started.set()
        except Exception as exc:
            seen.append(exc)
            started.set()

    t = threading.Thread(target=loop)
    t.start()
    started.wait(10)
    be.close()
    t.join(10)
    assert len(seen) == 1 and isinstance(seen[0], dualtf.ClosedBackendError), seen


@pytest.mark.parametrize("mode", ["eager", "function", "xla"])
def test_an_eager_context_step_runs_inside_a_graph_block(mode):
    with dualtf.backend(mode) as outer:
        step = outer.function(lambda x: x * 2.0, [outer.feed("x", tf.float32, [None])])
        with dualtf.backend("graph"):
            assert step([1.0]).tolist() == [2.0]
            assert outer.evaluate(outer.variable(3.0)) == 3.0
    assert tf.executing_eagerly()


def test_entering_twice_and_closing_out_of_order_are_refused():
    outer = dualtf.backend("graph")
    with outer:
        with pytest.raises(dualtf.DualTFError, match=r"entered once .* a second `with`"):
            outer.__enter__()
        inner = dualtf.backend("graph").__enter__()
        with pytest.raises(
            dualtf.DualTFError, match=rf"closed after the backends entered inside its block.*#{inner.serial}"
        ):
            outer.close()
        assert not outer.closed  # nothing was closed
        inner.close()
    assert outer.closed and tf.executing_eagerly()


def test_seeded_backends_closed_in_any_order_put_back_the_seeds():
    random.seed(7)
    expected = random.getstate()
    first = dualtf.backend("eager", seed=1)
    second = dualtf.backend("function", seed=2)
    first.close()  # not entered: may close first; second now puts back what was there before first
    assert tf.random.uniform([]).numpy() is not None
    second.close()
    assert random.getstate() == expected
    assert tf.compat.v1.get_seed(None)[0] is None


MIXED = """
import random

import keras
import numpy as np
import pytest
import tensorflow as tf

import dualtf


def _clean():
    assert tf.compat.v1.get_seed(None)[0] is None
    assert not tf.config.functions_run_eagerly()
    assert tf.executing_eagerly()
    assert keras.src.backend.common.global_state.get_global_attribute("global_random_seed") is None


def test_raw_tf1_session():
    _clean()
    with tf.Graph().as_default():
        x = tf.compat.v1.placeholder(tf.float32, [None])
        with tf.compat.v1.Session() as sess:
            assert sess.run(x * 2, {x: [1.0]}).tolist() == [2.0]


def test_raw_eager_unseeded_draws_differ():
    _clean()
    random.seed()
    assert random.random() != random.random()
    assert not np.array_equal(tf.random.uniform([4]).numpy(), tf.random.uniform([4]).numpy())


def test_keras_sequential():
    _clean()
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer="sgd", loss="mse")
    model.fit(np.ones((4, 2)), np.zeros((4, 1)), epochs=1, verbose=0)


@pytest.mark.parametrize("mode", dualtf.MODES)
def test_dualtf_seeded(mode):
    _clean()
    with dualtf.backend(mode, seed=123) as be:
        be.evaluate(be.variable(tf.random.uniform([2], seed=1)))
    first, second = dualtf.backend("eager", seed=9), dualtf.backend(mode, seed=4)
    first.close()  # out of order: not entered, so allowed, and the state still ends clean
    second.close()
    _clean()
"""


@pytest.mark.parametrize("order", ["1", "2", "3", "xdist"])
def test_raw_tensorflow_keras_and_dualtf_tests_mix_in_any_order(pytester, order):
    pytester.makepyfile(test_mixed=MIXED)
    args = ["-n", "2", "-p", "no:randomly"] if order == "xdist" else ["-p", "randomly", f"--randomly-seed={order}"]
    result = fresh_process.runpytest(pytester, *args)
    result.assert_outcomes(passed=7)


@pytest.mark.dualtf(modes=["graph", "function", "xla"])
def test_a_thousand_calls_add_no_ops_and_no_traces(dualtf_backend):
    be = dualtf_backend
    w = be.variable([1.0, 2.0])
    step = be.function(lambda x: w.assign_add(x), [be.feed("x", tf.float32, [2])])
    ops = be.graph.version if be.mode == "graph" else step.trace_count
    for _ in range(1000):
        step([1.0, 1.0])
    assert (be.graph.version if be.mode == "graph" else step.trace_count) == ops
    assert be.evaluate(w).tolist() == [1001.0, 1002.0]


def test_misused_api_is_named_alike(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32, [None])
    for leaf in (object(), x):
        with pytest.raises(dualtf.FeedError, match=r"Each value to evaluate must be a rectangular array"):
            be.evaluate({"a": leaf})
    assert be.evaluate(["abc", 1.5]) == [b"abc", np.float32(1.5)]
    with pytest.raises(dualtf.FeedError, match=r"initial value of the variable must be a rectangular array"):
        be.evaluate(be.variable(lambda: [[1.0], [1.0, 2.0]]))
    for feeds in ({"x": x}, (f for f in [x]), x):
        with pytest.raises(dualtf.FeedError, match=r"The `feeds` of function\(\) must be a list of Feed objects"):
            be.function(tf.identity, feeds)
    with pytest.raises(dualtf.DualTFError, match=r"The variable must be a tf.Variable"):
        be.assign(be.constant(1.0), 2.0)
    if be.mode == "xla":
        with pytest.raises(dualtf.DualTFError, match=r"mode 'xla' must not return strings"):
            be.function(lambda x: "hi", [x])
    else:
        assert be.function(lambda x: "hi", [x])([1.0]) == b"hi"


def test_tensor_equality_in_a_tf1_graph_compares_identity_as_documented(dualtf_backend):
    """Pinned (docs/modes.md): TensorFlow's TF1 rule, `==` on graph tensors is `is`; tf.equal works alike."""
    be = dualtf_backend
    x = be.feed("x", tf.int32, [None])
    assert be.function(lambda x: tf.cast(tf.equal(x, 0), tf.int32), [x])([0, 1]).tolist() == [1, 0]
    by_operator = be.function(lambda x: tf.cast(x == 0, tf.int32), [x])([0, 1])
    assert by_operator.tolist() == (0 if be.mode == "graph" else [1, 0])


@pytest.mark.dualtf(modes=["xla"])
@pytest.mark.parametrize(
    ("fn", "op_type"),
    [
        (
            lambda x: tf.random.log_uniform_candidate_sampler([[1, 2]], 2, 5, True, 100)[0] + x,
            "LogUniformCandidateSampler",
        ),
        (lambda x: (tf.print(x), x)[1], "StringFormat"),  # tf.print formats its string first
    ],
    ids=["candidate_sampler", "tf.print"],
)
def test_xla_refuses_by_allow_list_an_op_without_an_xla_kernel(dualtf_backend, fn, op_type):
    """Fail closed: an op nobody listed that TensorFlow's kernel registry gives no XLA kernel is refused at
    build, with its type and the user's line, before the first call (where XLA would fail, or skip it)."""
    x = dualtf_backend.feed("x", tf.int64, [])
    with pytest.raises(dualtf.DualTFError, match=rf"no XLA kernel \({op_type}\).*XLA_CPU_JIT.*test_bad_input.py"):
        dualtf_backend.function(fn, [x])


@pytest.mark.parametrize(
    ("dtype", "value", "received"),
    [
        (tf.string, [-3, "a"], r"an object array holding int, str"),  # NumPy would make -3 the string "-3"
        # found by the fused fuzz: two empty numeric arrays of different dtypes made an empty "string" array
        (tf.string, [np.zeros((0, 0), ml_dtypes.bfloat16), np.zeros((0, 0), np.int64)], r"empty arrays of kinds"),
        (tf.float32, [tf.constant(1.0), 2.0], None),  # eager tensors in a list are values
        (tf.bool, np.array([0, 1], dtype=object), None),  # 0/1 fit a boolean feed, as Python ints too
        (tf.float32, tf.constant(1.5, tf.bfloat16), None),  # a bfloat16 scalar eager tensor
    ],
    ids=[
        "mixed-string-list",
        "empty-arrays-of-two-kinds",
        "list-of-eager-tensors",
        "object-0-1-to-bool",
        "bfloat16-scalar",
    ],
)
def test_the_feed_rule_holds_for_values_numpy_would_coerce(dualtf_backend, dtype, value, received):
    shape = [] if np.ndim(value) == 0 and not isinstance(value, list) else [None]
    feed = dualtf_backend.feed("x", dtype, shape)
    if dualtf_backend.mode == "xla" and dtype == tf.string:  # xla refuses string feeds at build, by name
        with pytest.raises(dualtf.DualTFError, match=r"must not be of dtype string"):
            dualtf_backend.function(tf.identity, [feed])
        return
    step = dualtf_backend.function(tf.identity, [feed])
    if received is None:
        got = step(value)
        np.testing.assert_array_equal(
            np.asarray(got, dtype=np.float64 if dtype != tf.bool else bool),
            np.asarray(value, dtype=np.float64 if dtype != tf.bool else bool),
        )
    else:
        with pytest.raises(dualtf.FeedError, match=rf"Feed `x` must be .* Received: {received}"):
            step(value)


def test_evaluating_what_needs_a_feed_is_refused_by_name(dualtf_backend):
    x = dualtf_backend.feed("x", tf.float32, [])
    if dualtf_backend.mode != "graph":  # eager modes have no placeholder: the feed's is None, as documented
        assert x.placeholder is None
        return
    with pytest.raises(dualtf.DualTFError, match=r"must be computable without a feed.* Received: You must feed"):
        dualtf_backend.evaluate(x.placeholder * 2)


def test_a_reused_variable_asked_with_another_shape_is_refused_at_build(dualtf_backend):
    first = dualtf_backend.function(lambda: tf.compat.v1.get_variable("w", [2]), [])

    def second():
        with tf.compat.v1.variable_scope("", reuse=True):
            return tf.compat.v1.get_variable("w", [3])

    with pytest.raises(dualtf.DualTFError, match=r"must have the shape and dtype it was made with .* Received: Trying"):
        dualtf_backend.function(second, [], reuse=first)


@pytest.mark.dualtf(modes=["graph", "eager", "function"])  # xla: refused as an op without an XLA kernel
def test_tf1_summaries_merge_once_or_are_refused_by_name(dualtf_backend):
    x = dualtf_backend.feed("x", tf.float32, [])

    def summarize(x):
        tf.compat.v1.summary.scalar("loss", x)
        return tf.compat.v1.summary.merge_all()

    if dualtf_backend.mode == "eager":
        with pytest.raises(dualtf.DualTFError, match=r"mode 'eager' must not contain tf.compat.v1.summary.merge_all"):
            dualtf_backend.function(summarize, [x])
        return
    summary = tf.compat.v1.Summary.FromString(dualtf_backend.function(summarize, [x])(1.5))
    assert [v.simple_value for v in summary.value] == [1.5]  # merged once: the discarded first build's left out


def test_a_step_computing_from_a_closed_backends_variable_is_refused_by_name(dualtf_mode):
    with dualtf.backend(dualtf_mode) as old:
        v = old.variable(1.0, name="v")
    with dualtf.backend(dualtf_mode) as be, pytest.raises(dualtf.ForeignObjectError, match=r"another (graph|backend)"):
        be.function(lambda: v * 2, [])


@pytest.mark.dualtf(modes=["graph", "eager", "function"])  # xla refuses Python ops at build
def test_a_python_op_raising_is_a_step_error_in_every_mode(dualtf_backend):
    def fails(value):
        raise ValueError("no negative values")

    x = dualtf_backend.feed("x", tf.float32, [])
    step = dualtf_backend.function(lambda x: tf.numpy_function(fails, [x], tf.float32), [x])
    with pytest.raises(dualtf.StepError, match=rf"mode '{dualtf_backend.mode}' failed while TensorFlow ran it"):
        step(1.0)
