"""The semantics every mode must share (where a toy version fails), run in every mode."""

import gc
import logging

import numpy as np
import pytest
import tensorflow as tf

import dualtf


def test_side_effect_not_returned_runs_once_per_call(dualtf_backend):
    be = dualtf_backend
    counter = be.variable(0.0, name="counter")
    x = be.feed("x", tf.float32, shape=[None])

    def fn(x):
        counter.assign_add(1.0)  # result not returned: must still run, once
        return x * 2.0

    step = be.function(fn, [x])
    for _ in range(3):
        step([1.0])
    assert be.evaluate(counter) == 3.0


def test_step_returning_nothing_still_updates(dualtf_backend):
    be = dualtf_backend
    v = be.variable([1.0, 1.0])
    x = be.feed("x", tf.float32, shape=[2])
    step = be.function(lambda x: v.assign_add(x, read_value=False) and None, [x])
    assert step([1.0, 2.0]) is None
    assert be.evaluate(v).tolist() == [2.0, 3.0]


def test_read_after_write_sees_the_write(dualtf_backend):
    be = dualtf_backend
    v = be.variable(1.0)
    step = be.function(lambda: (v.assign(5.0, read_value=False), v.read_value() * 2)[1], [])
    assert step() == 10.0


def test_python_control_flow_on_tensor_values(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32, shape=[None])

    def fn(x):
        if tf.reduce_sum(x) > 0:  # noqa: SIM108 - a Python `if` statement on a tensor is the point
            y = x * 2.0
        else:
            y = -x
        total = tf.constant(0.0)
        for v in x:  # a Python loop over a tensor
            total += v
        return y, total

    step = be.function(fn, [x])
    y, total = step([1.0, 2.0])
    assert y.tolist() == [2.0, 4.0] and total == 3.0
    y, total = step([-1.0, -2.0])
    assert y.tolist() == [1.0, 2.0] and total == -3.0


def test_gradient_tape_inside_fn(dualtf_backend):
    be = dualtf_backend
    w = be.variable(3.0, name="w")
    x = be.feed("x", tf.float32, shape=[])

    def fn(x):
        with tf.GradientTape() as tape:
            y = w * w * x
        return tape.gradient(y, w)

    assert be.function(fn, [x])(2.0) == pytest.approx(12.0)


def test_structure_of_result_is_kept(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.int32, shape=[None])
    step = be.function(lambda x: {"sum": tf.reduce_sum(x), "pair": (x + 1, [x * 2])}, [x])
    out = step(x=[1, 2])
    assert set(out) == {"sum", "pair"}
    assert out["sum"] == 3
    assert isinstance(out["pair"], tuple) and isinstance(out["pair"][1], list)
    assert out["pair"][0].tolist() == [2, 3] and out["pair"][1][0].tolist() == [2, 4]
    assert isinstance(out["sum"], (np.ndarray, np.generic))


def _row_sums(be):
    x = be.feed("x", tf.float32, shape=[None, 2])
    step = be.function(lambda x: tf.reduce_sum(x, axis=1), [x])
    for n in (1, 2, 3, 5, 8):
        assert step(np.ones((n, 2))).shape == (n,)
    return step


@pytest.mark.dualtf(modes=["function", "xla"])
def test_batch_dimension_never_retraces(dualtf_backend):
    assert _row_sums(dualtf_backend).trace_count == 1


@pytest.mark.dualtf(modes=["graph", "eager"])
def test_untraced_modes_report_no_trace_count(dualtf_backend):
    assert _row_sums(dualtf_backend).trace_count is None


def _counter(be):
    w = be.variable(1.0, name="w")
    x = be.feed("x", tf.float32, shape=[])
    step = be.function(lambda x: w.assign_add(x), [x])
    be.evaluate(w)  # the first evaluate of w makes graph mode's one read op
    return step, w


def test_variables_are_initialized_once(dualtf_backend):
    step, w = _counter(dualtf_backend)
    for _ in range(3):
        step(1.0)
    assert dualtf_backend.evaluate(w) == 4.0  # initialized once: the three updates survive


@pytest.mark.dualtf(modes=["graph"])
def test_graph_mode_steps_add_no_ops(dualtf_backend):
    be = dualtf_backend
    step, w = _counter(be)
    before = len(be.graph.get_operations())
    for _ in range(3):
        step(1.0)
    assert be.evaluate(w) == 4.0
    assert len(be.graph.get_operations()) == before


def test_keras_layer_built_inside_fn(dualtf_backend):
    import keras

    be = dualtf_backend
    layer = keras.layers.Dense(3, kernel_initializer="ones", bias_initializer="zeros")
    x = be.feed("x", tf.float32, shape=[None, 2])
    step = be.function(lambda x: layer(x), [x])
    assert step([[1.0, 2.0]]).tolist() == [[3.0, 3.0, 3.0]]
    assert step([[1.0, 1.0], [0.0, 0.0]]).tolist() == [[2.0] * 3, [0.0] * 3]
    assert be.evaluate(layer.kernel).tolist() == [[1.0] * 3] * 2  # Keras variables evaluate too


def test_assign_and_keras_variables(dualtf_backend):
    import keras

    be = dualtf_backend
    kv = keras.Variable(np.zeros((2,), np.float32), name="kv")
    be.assign(kv, [1.5, 2.5])
    assert be.evaluate(kv).tolist() == [1.5, 2.5]
    w = be.variable([0, 0], dtype=tf.int64)
    be.assign(w, np.array([3.0, 4.0]))  # integral floats are fine, as feed_dict allows
    assert be.evaluate(w).tolist() == [3, 4]


def test_assign_before_first_step_is_not_overwritten_by_init(dualtf_backend):
    be = dualtf_backend
    w = be.variable(1.0)
    be.assign(w, 7.0)
    step = be.function(lambda: w * 1.0, [])
    assert step() == 7.0


def test_float64_into_float32_feed(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32, shape=[2])
    out = be.function(lambda x: x, [x])(np.array([0.5, 1.5], np.float64))
    assert out.dtype == np.float32 and out.tolist() == [0.5, 1.5]


def test_variables_property_lists_variables_made_in_block(dualtf_backend):
    be = dualtf_backend
    a = be.variable(1.0, name="a")
    b = tf.Variable(2.0, name="b")  # plain TensorFlow inside the block
    names = [v.name for v in be.variables]
    assert names[:2] == [a.name, b.name]


@pytest.mark.dualtf(seed=7)
def test_seeded_initializers_are_reproducible(dualtf_backend):
    import keras

    be = dualtf_backend
    init = keras.initializers.GlorotUniform(seed=3)
    w = be.variable(lambda: init((3, 2)))
    r = tf.random.uniform([4], seed=11)  # op-level seed + backend seed
    first = be.evaluate(w)
    assert first.shape == (3, 2) and np.isfinite(first).all()
    with dualtf.backend("eager") as reference:  # eager even inside a graph backend's block
        expected = reference.evaluate(keras.initializers.GlorotUniform(seed=3)((3, 2)))
    np.testing.assert_allclose(first, expected, rtol=1e-6)
    assert be.evaluate(r).shape == (4,)


def test_seed_gives_same_random_values_in_every_mode():
    def draw(mode):
        with dualtf.backend(mode, seed=42) as be:
            step = be.function(lambda: tf.random.stateless_uniform([3], seed=[1, 2], alg="philox"), [])
            v = be.variable(tf.random.uniform([3], seed=5))
            return step(), be.evaluate(v)

    results = {mode: draw(mode) for mode in dualtf.available_modes()}
    ref = results["eager"]
    for mode, (stateless, init) in results.items():
        np.testing.assert_allclose(stateless, ref[0], rtol=1e-6, err_msg=mode)
        np.testing.assert_allclose(init, ref[1], rtol=1e-6, err_msg=mode)


def test_two_backends_coexist_in_one_process():
    with dualtf.backend("graph") as g, dualtf.backend("eager") as e:
        gv = g.variable(1.0)
        ev = e.variable(2.0)
        assert g.evaluate(gv) == 1.0 and e.evaluate(ev) == 2.0
    assert tf.executing_eagerly()


def test_backend_outside_with_block_still_works_and_closes():
    be = dualtf.backend("graph")
    w = be.variable(2.0)
    step = be.function(lambda: w * 3.0, [])
    assert step() == 6.0
    be.close()
    assert be.closed
    assert tf.executing_eagerly()


def test_user_tf_function_runs_eagerly_only_in_eager_mode(dualtf_backend):
    be = dualtf_backend

    @tf.function
    def helper(x):
        return tf.constant(1.0 if tf.executing_eagerly() else 0.0) + 0.0 * x

    x = be.feed("x", tf.float32, shape=[])
    step = be.function(helper, [x])
    assert step(1.0) == (1.0 if be.mode == "eager" else 0.0)
    assert not tf.config.functions_run_eagerly()  # put back after the step


CALL_PATHS = {
    "graph": "session callable",
    "eager": "python",
    "function": "inference function",
    "xla": "inference function",
}


def test_fast_path_is_taken_and_steps_stay_cheap(dualtf_backend):
    """What makes steps fast, guarded without a clock: the lowest call path, one trace, no new ops."""
    be = dualtf_backend
    w = be.variable([1.0, 2.0], name="w")
    x = be.feed("x", tf.float32, shape=[None, 2])
    step = be.function(lambda x: {"y": x * w, "n": tf.shape(x)[0]}, [x])
    assert step.call_path == CALL_PATHS[be.mode]
    ops_before = len(be.graph.get_operations()) if be.mode == "graph" else None
    for n in (1, 2, 3, 1000):
        out = step(np.ones((n, 2), np.float32))
        assert out["y"].shape == (n, 2) and out["n"] == n  # nested outputs kept on the fast path
    assert step.trace_count == (1 if be.mode in ("function", "xla") else None)
    if ops_before is not None:
        assert len(be.graph.get_operations()) == ops_before


@pytest.mark.dualtf(modes=["graph", "eager", "function"])  # xla refuses assertions by name (test_bad_input)
def test_an_assertion_in_a_step_logs_nothing(dualtf_backend, caplog):
    """A correct tf.debugging.assert_positive in a step: no TensorFlow "Object was never used" error (graph
    mode runs it as every side effect is run, as tf.function does)."""
    x = dualtf_backend.feed("x", tf.float32, [])
    with caplog.at_level(logging.WARNING, logger="tensorflow"):
        step = dualtf_backend.function(lambda x: (tf.debugging.assert_positive(x), x * 2)[1], [x])
        assert step(1.0) == 2.0
        gc.collect()
    assert not [r for r in caplog.records if "never used" in r.getMessage()]
    with pytest.raises(dualtf.StepError):
        step(-1.0)
