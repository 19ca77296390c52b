"""TF1 programs as they were written, their graph-building code moved into the step.

Placeholders become feeds and ``sess.run`` a step call; everything else, variables and
optimizer included, stays in the step's fn as TF1 wrote it, and must give the numbers of
the program run in its own Session."""

import contextlib

import numpy as np
import pytest
import tensorflow as tf

import dualtf
from dualtf._backends.tf1 import registry
from dualtf._backends.tf1.context import Frame, entered
from dualtf.testing import assert_modes_agree

# These programs call TF1's layers and cells as TF1 code does: their deprecation warnings are the point.
pytestmark = [
    pytest.mark.filterwarnings("ignore:`tf.layers.*` is deprecated:UserWarning"),
    pytest.mark.filterwarnings("ignore:`tf.nn.rnn_cell.*` is deprecated:UserWarning"),
    pytest.mark.filterwarnings("ignore:`layer.updates` will be removed:UserWarning"),
]

tf1 = tf.compat.v1  # the usual migration alias, made before any backend exists

RNG = np.random.RandomState(0)
X = RNG.normal(size=(16, 3)).astype(np.float32)
Y = X @ np.array([[1.0], [2.0], [3.0]], np.float32)
OPTIMIZERS = {
    "GradientDescent": lambda: tf.compat.v1.train.GradientDescentOptimizer(0.1),
    "Momentum": lambda: tf.compat.v1.train.MomentumOptimizer(0.1, momentum=0.9),
    "Adam": lambda: tf.compat.v1.train.AdamOptimizer(0.1),
    "RMSProp": lambda: tf.compat.v1.train.RMSPropOptimizer(0.1),
    "Adagrad": lambda: tf.compat.v1.train.AdagradOptimizer(0.1),
}


def linear_regression(be):
    """TF1 linear regression: placeholders became feeds, the cost and minimize(cost) are unchanged."""
    W = be.variable(np.zeros((3, 1), np.float32), name="W")
    b = be.variable(np.zeros((1,), np.float32), name="b")
    X_ = be.feed("X", tf.float32, [None, 3])
    Y_ = be.feed("Y", tf.float32, [None, 1])

    def step(X, Y):
        pred = tf.add(tf.matmul(X, W), b)
        cost = tf.reduce_mean(tf.square(pred - Y))
        optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(cost)
        with tf.control_dependencies([optimizer]):
            return tf.identity(cost)

    return be.function(step, [X_, Y_])


def _session_reference(steps, optimizer="GradientDescent"):
    """The same program run as TF1 ran it: its own graph and Session, feed_dict, initializer call."""
    graph = tf.Graph()
    with graph.as_default():
        W = tf.Variable(np.zeros((3, 1), np.float32))
        b = tf.Variable(np.zeros((1,), np.float32))
        X_ = tf.compat.v1.placeholder(tf.float32, [None, 3])
        Y_ = tf.compat.v1.placeholder(tf.float32, [None, 1])
        cost = tf.reduce_mean(tf.square(tf.add(tf.matmul(X_, W), b) - Y_))
        train = OPTIMIZERS[optimizer]().minimize(cost)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            costs = [sess.run([cost, train], feed_dict={X_: X, Y_: Y})[0] for _ in range(steps)]
            return costs, sess.run([W, b])


@contextlib.contextmanager
def _tf1_layers_from_tf_keras():
    """A reference TF1 program's tf.compat.v1.layers with Keras 3: tf_keras's, as TF_USE_LEGACY_KERAS=1 gives
    them to a whole process (outside steps dualtf leaves TensorFlow as it is: Keras 3 refuses them)."""
    with registry.hold(["tf1_layers"]), entered(Frame("reference", "session")):
        yield


def _own_session(fn, shapes, values, calls, *, before=None, after=None):
    """``fn`` run as its TF1 program runs: its own graph, a placeholder per shape, a Session, the
    initializer call, then ``calls`` runs of what fn returns. ``before()``/``after()``: what else to
    fetch before the first run and after the last. Returns (results, before's, after's)."""
    graph = tf.Graph()
    with graph.as_default(), _tf1_layers_from_tf_keras():
        placeholders = [tf.compat.v1.placeholder(tf.float32, shape) for shape in shapes]
        out = fn(*placeholders)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            first = sess.run(before()) if before is not None else None
            results = [sess.run(out, dict(zip(placeholders, values, strict=True))) for _ in range(calls)]
            last = sess.run(after()) if after is not None else None
    return results, first, last


def test_tf1_minimize_matches_its_own_session(dualtf_backend):
    be = dualtf_backend
    step = linear_regression(be)
    costs = [float(step(X, Y)) for _ in range(5)]
    want_costs, (want_w, want_b) = _session_reference(5)
    rtol = 1e-4 if be.mode == "xla" else 1e-5
    np.testing.assert_allclose(costs, want_costs, rtol=rtol)
    w, b = be.evaluate(be.variables[:2])
    np.testing.assert_allclose(w, want_w, rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(b, want_b, rtol=rtol, atol=1e-6)


def linear_regression_as_written(be, optimizer):
    """The whole TF1 graph-building code in the step: its variables and its optimizer are made there."""
    X_ = be.feed("X", tf.float32, [None, 3])
    Y_ = be.feed("Y", tf.float32, [None, 1])

    def step(X, Y):
        W = tf.Variable(np.zeros((3, 1), np.float32), name="W")
        b = tf.Variable(np.zeros((1,), np.float32), name="b")
        pred = tf.add(tf.matmul(X, W), b)
        cost = tf.reduce_mean(tf.square(pred - Y))
        train_op = OPTIMIZERS[optimizer]().minimize(cost)
        with tf.control_dependencies([train_op]):
            return tf.identity(cost)

    return be.function(step, [X_, Y_])


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_tf1_optimizers_made_in_the_step_match_their_own_session(dualtf_backend, optimizer):
    be = dualtf_backend
    step = linear_regression_as_written(be, optimizer)
    costs = [float(step(X, Y)) for _ in range(6)]
    want_costs, (want_w, want_b) = _session_reference(6, optimizer)
    rtol = 1e-4 if be.mode == "xla" else 1e-5  # measured: graph, eager, function 0 difference; xla <= 2e-6
    np.testing.assert_allclose(costs, want_costs, rtol=rtol, atol=1e-6)
    w, b = be.evaluate(be.variables[:2])  # W and b, made once by the step, in every mode
    np.testing.assert_allclose(w, want_w, rtol=rtol, atol=1e-6)
    np.testing.assert_allclose(b, want_b, rtol=rtol, atol=1e-6)


def _scoped_step(x):
    with tf.compat.v1.variable_scope("layer"):
        w = tf.compat.v1.get_variable("w", [2, 1], initializer=tf.compat.v1.ones_initializer())
    with tf.compat.v1.variable_scope("layer", reuse=True):
        same = tf.compat.v1.get_variable("w")  # TF1's sharing by name
    loss = tf.reduce_sum(tf.matmul(x, w)) + 0.0 * tf.reduce_sum(same)
    train = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.control_dependencies([train]):
        return tf.identity(loss)


def test_get_variable_and_variable_scope_reuse(dualtf_backend):
    be = dualtf_backend
    step = be.function(_scoped_step, [be.feed("x", tf.float32, [None, 2])])
    losses = [float(step(np.ones((1, 2)))) for _ in range(3)]
    np.testing.assert_allclose(losses, [2.0, 1.8, 1.6], rtol=1e-6)
    assert [v.name for v in be.variables] == ["layer/w:0"]


def test_each_backend_has_its_own_variable_store(dualtf_mode):
    with dualtf.backend(dualtf_mode) as first, dualtf.backend(dualtf_mode) as second:
        for be in (first, second):
            step = be.function(_scoped_step, [be.feed("x", tf.float32, [None, 2])])
            assert float(step(np.ones((1, 2)))) == 2.0  # a fresh w in each: nothing found in the other
            assert [v.name for v in be.variables] == ["layer/w:0"]


def _regularized_step(x):
    """get_variable with a regularizer, and a variable_scope's default regularizer, read back by
    tf.compat.v1.losses.get_regularization_loss() as TF1 programs add them to their loss."""
    w = tf.compat.v1.get_variable(
        "w", [2, 1], initializer=tf.compat.v1.ones_initializer(), regularizer=lambda t: 0.5 * tf.reduce_sum(t * t)
    )
    with tf.compat.v1.variable_scope("s", regularizer=lambda t: 0.1 * tf.reduce_sum(t)):
        b = tf.compat.v1.get_variable("b", [1], initializer=tf.compat.v1.ones_initializer())
    loss = tf.reduce_mean(tf.matmul(x, w) + b) + tf.compat.v1.losses.get_regularization_loss()
    train = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(loss)
    with tf.control_dependencies([train]):
        return tf.identity(loss)


def test_get_variable_regularizers_apply_on_every_run(dualtf_backend):
    be = dualtf_backend
    step = be.function(_regularized_step, [be.feed("x", tf.float32, [None, 2])])
    losses = [float(step(X[:, :2])) for _ in range(4)]
    regularization = tf.compat.v1.GraphKeys.REGULARIZATION_LOSSES
    want, _, losses_in_graph = _own_session(
        _regularized_step, [[None, 2]], [X[:, :2]], 4, after=lambda: tf.compat.v1.get_collection(regularization)
    )
    assert len(losses_in_graph) == 2
    np.testing.assert_allclose(losses, want, rtol=1e-4 if be.mode == "xla" else 1e-6)


def test_eager_get_variable_leaves_no_collection_behind(dualtf_mode):
    """TensorFlow's get_variable adds to the default graph's collections even in eager execution:
    an eager step's go to its backend's own graph, not the process's nor an outer graph backend's."""
    outside = tf.compat.v1.get_default_graph()
    before = len(outside.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES))
    with dualtf.backend("graph") as outer:
        with dualtf.backend(dualtf_mode) as be:
            step = be.function(_scoped_step, [be.feed("x", tf.float32, [None, 2])])
            step(np.ones((1, 2)))
            step(np.ones((1, 2)))
            assert [v.name for v in be.variables] == ["layer/w:0"]
        assert outer.variables == []
    assert len(outside.get_collection(tf.compat.v1.GraphKeys.GLOBAL_VARIABLES)) == before


# ------------------------------------------------------------------ tf.compat.v1.layers, losses, tf_keras
def _layers_step(x, y):
    """A TF1 network of tf.compat.v1.layers with a kernel regularizer, tf.compat.v1.losses and Adam."""
    hidden = tf.compat.v1.layers.dense(
        x,
        4,
        activation=tf.nn.relu,
        kernel_initializer=tf.compat.v1.constant_initializer(0.3),
        kernel_regularizer=lambda w: 0.01 * tf.reduce_sum(tf.square(w)),
        name="hidden",
    )
    hidden = tf.compat.v1.layers.dropout(hidden, rate=0.5, training=False)
    out = tf.compat.v1.layers.dense(hidden, 1, kernel_initializer=tf.compat.v1.constant_initializer(0.2), name="out")
    loss = tf.compat.v1.losses.mean_squared_error(y, out) + tf.compat.v1.losses.get_regularization_loss()
    train = tf.compat.v1.train.AdamOptimizer(0.05).minimize(loss)
    with tf.control_dependencies([train]):
        return tf.identity(loss)


def test_tf1_layers_and_losses_match_their_own_session(dualtf_backend):
    be = dualtf_backend
    step = be.function(_layers_step, [be.feed("X", tf.float32, [None, 3]), be.feed("Y", tf.float32, [None, 1])])
    losses = [float(step(X, Y)) for _ in range(5)]
    assert [v.name for v in be.variables][:4] == ["hidden/kernel:0", "hidden/bias:0", "out/kernel:0", "out/bias:0"]
    want, _, _ = _own_session(_layers_step, [[None, 3], [None, 1]], [X, Y], 5)
    np.testing.assert_allclose(losses, want, rtol=1e-4 if be.mode == "xla" else 1e-6)


def test_tf1_layers_without_tf_keras_say_what_to_install(dualtf_backend, monkeypatch):
    import sys

    be = dualtf_backend
    monkeypatch.setitem(sys.modules, "tf_keras", None)  # as if it were not installed
    with pytest.raises(dualtf.NotInstalledError, match=r"tf.compat.v1.layers.dense needs the tf_keras .*dualtf\[tf1\]"):
        be.function(_layers_step, [be.feed("X", tf.float32, [None, 3]), be.feed("Y", tf.float32, [None, 1])])
    assert be.variables == []  # refused where the step is built, before any variable exists


def _aliased_layers_step(x):
    from tensorflow.compat.v1 import layers  # the other way TF1 code reaches them

    hidden = tf1.layers.dense(x, 2, kernel_initializer=tf1.ones_initializer(), name="a")
    with tf1.variable_scope("rnn", initializer=tf1.constant_initializer(0.1)):
        cell = tf1.nn.rnn_cell.BasicRNNCell(2, name="cell")
        out, _ = cell(hidden, cell.zero_state(tf.shape(x)[0], tf.float32))
    return layers.dense(out, 1, kernel_initializer=tf1.ones_initializer(), name="b")


def test_tf1_layers_work_through_every_alias_of_tf_compat_v1(dualtf_backend):
    be = dualtf_backend
    step = be.function(_aliased_layers_step, [be.feed("x", tf.float32, [None, 3])])
    got = step(np.ones((2, 3), np.float32))
    want, _, _ = _own_session(_aliased_layers_step, [[None, 3]], [np.ones((2, 3), np.float32)], 1)
    np.testing.assert_allclose(got, want[0], rtol=1e-5)


def test_tf1_layers_are_kerass_own_outside_steps(dualtf_mode):
    with dualtf.backend(dualtf_mode, seed=0) as be:
        with pytest.raises(AttributeError, match="not available with Keras 3"):
            tf1.layers.dense  # noqa: B018 - outside a step TensorFlow (Keras 3) answers, as without dualtf
        be.function(lambda x: tf1.layers.dense(x, 1), [be.feed("x", tf.float32, [None, 2])])
        with pytest.raises(AttributeError, match="not available with Keras 3"):
            tf.compat.v1.layers.dense  # noqa: B018


def tf_keras_program(be):
    """The TF2 way with tf_keras (Keras 2): a model and optimizer made once, a GradientTape step."""
    import tf_keras

    model = tf_keras.Sequential(
        [tf_keras.layers.Dense(3, activation="relu", kernel_initializer="ones"), tf_keras.layers.Dense(1)]
    )
    optimizer = tf_keras.optimizers.Adam(0.1)
    x_, y_ = be.feed("x", tf.float32, [None, 3]), be.feed("y", tf.float32, [None, 1])

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((model(x) - y) ** 2)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        return loss

    return be.function(step, [x_, y_])


def test_a_tf_keras_model_agrees_across_modes():
    """tf_keras makes three int64 batch counters in eager execution only: not listed in be.variables,
    so every mode lists the model's and optimizer's 14 variables."""
    assert_modes_agree(tf_keras_program, {"x": X, "y": Y}, steps=3, rtol={"xla": 1e-4})
    for mode in dualtf.available_modes():
        with dualtf.backend(mode, seed=0) as be:
            tf_keras_program(be)(X, Y)
            assert len(be.variables) == 14, (mode, [v.name for v in be.variables])


# ------------------------------------------------------------------ TF1 constructs that cannot run in a step
@pytest.mark.parametrize(
    ("line", "refused"),
    [
        (lambda x: tf.compat.v1.Session(), "tf.compat.v1.Session cannot be used inside step `step`"),
        (lambda x: tf.compat.v1.placeholder(tf.float32, [None]), "tf.compat.v1.placeholder .*be.feed"),
        (lambda x: tf.compat.v1.global_variables_initializer(), "global_variables_initializer .*remove the line"),
        (lambda x: tf.compat.v1.train.string_input_producer(["a"]), "string_input_producer .*tf.data"),
        (lambda x: tf.compat.v1.train.start_queue_runners(), "start_queue_runners .*queue-runner threads"),
        (lambda x: tf.compat.v1.train.batch([x], 2), "train.batch .*be.epoch"),
    ],
    ids=["Session", "placeholder", "initializer", "input_producer", "queue_runners", "batch"],
)
def test_tf1_constructs_a_step_cannot_hold_are_refused_by_name_at_build(dualtf_backend, line, refused):
    be = dualtf_backend
    counter = be.variable(0, name="counter")

    def step(x):
        counter.assign_add(1)
        line(x)
        return x

    with pytest.raises(dualtf.DualTFError, match=refused) as info:
        be.function(step, [be.feed("x", tf.float32, [None])])
    assert f"(mode '{be.mode}')" in str(info.value)
    assert be.evaluate(counter) == 0  # before anything ran


def test_the_refused_constructs_are_tensorflows_own_outside_steps(dualtf_mode):
    before = tf.compat.v1.global_variables_initializer, tf.compat.v1.Session.__init__
    with dualtf.backend(dualtf_mode) as be:
        graph = tf.Graph()
        with graph.as_default():
            x = tf.compat.v1.placeholder(tf.float32, [None])  # a TF1 program of its own, in the block
            with tf.compat.v1.Session(graph=graph) as sess:
                assert sess.run(x * 2, {x: [1.0]}).tolist() == [2.0]
        assert be.mode == dualtf_mode
    assert (tf.compat.v1.global_variables_initializer, tf.compat.v1.Session.__init__) == before


def _batch_norm_step(x, y):
    """TF1 batch normalization: its moving averages run through UPDATE_OPS with the train op."""
    hidden = tf.compat.v1.layers.dense(
        x, 8, use_bias=False, kernel_initializer=tf.compat.v1.constant_initializer(0.1), name="hidden"
    )
    hidden = tf.compat.v1.layers.batch_normalization(hidden, training=True, name="bn")
    out = tf.compat.v1.layers.dense(
        tf.nn.relu(hidden), 1, kernel_initializer=tf.compat.v1.constant_initializer(0.1), name="out"
    )
    loss = tf.compat.v1.losses.mean_squared_error(y, out)
    update_ops = tf.compat.v1.get_collection(tf.compat.v1.GraphKeys.UPDATE_OPS)
    with tf.control_dependencies(update_ops):
        train_op = tf.compat.v1.train.AdamOptimizer(0.01).minimize(loss)
    with tf.control_dependencies([train_op]):
        return tf.identity(loss)


def test_tf1_batch_normalization_updates_run_once_per_step(dualtf_backend):
    """Graph mode builds fn twice: the first build's update ops must not join the second's UPDATE_OPS."""
    be = dualtf_backend
    step = be.function(_batch_norm_step, [be.feed("X", tf.float32, [None, 3]), be.feed("Y", tf.float32, [None, 1])])
    losses = [float(step(X, Y)) for _ in range(3)]
    moving = be.evaluate([v for v in be.variables if "moving" in v.name])
    want, _, want_moving = _own_session(
        _batch_norm_step,
        [[None, 3], [None, 1]],
        [X, Y],
        3,
        after=lambda: [v for v in tf.compat.v1.global_variables() if "moving" in v.name],
    )
    rtol = 1e-4 if be.mode == "xla" else 1e-6
    np.testing.assert_allclose(losses, want, rtol=rtol)
    for got, expected in zip(moving, want_moving, strict=True):
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=1e-7)


def _decayed_step(x, y):
    """A global step found by get_or_create_global_step, a TF1 learning-rate decay read as a tensor."""
    global_step = tf.compat.v1.train.get_or_create_global_step()
    learning_rate = tf.compat.v1.train.exponential_decay(0.1, global_step, 2, 0.5, staircase=True)
    W = tf.Variable(tf.zeros([3, 1]), name="W")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, W) - y))
    train = tf.compat.v1.train.MomentumOptimizer(learning_rate, 0.9).minimize(loss, global_step=global_step)
    with tf.control_dependencies([train]):
        return tf.identity(loss), tf.identity(learning_rate)


def test_global_step_and_learning_rate_decay_match_their_own_session(dualtf_backend):
    """Graph mode's second build finds the global step in its collection instead of making it: the
    variables made after it are still matched by name; in eager execution TF1's decays return a
    function, which inside a step is called, as the TF1 graph had a tensor."""
    be = dualtf_backend
    step = be.function(_decayed_step, [be.feed("x", tf.float32, [None, 3]), be.feed("y", tf.float32, [None, 1])])
    got = [step(X, Y) for _ in range(5)]
    want, _, _ = _own_session(_decayed_step, [[None, 3], [None, 1]], [X, Y], 5)
    np.testing.assert_allclose(got, want, rtol=1e-5)
    np.testing.assert_allclose([lr for _, lr in got], [0.1, 0.1, 0.05, 0.05, 0.025], rtol=1e-7)
    assert be.evaluate([v for v in be.variables if v.name == "global_step:0"][0]) == 5


def _lstm_step(x, y):
    """A TF1 recurrent network: tf.compat.v1.nn.rnn_cell (tf_keras under Keras 3) in a dynamic_rnn loop."""
    cell = tf.compat.v1.nn.rnn_cell.BasicLSTMCell(6)
    outputs, _ = tf.compat.v1.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    out = tf.compat.v1.layers.dense(outputs[:, -1], 1, kernel_initializer=tf.compat.v1.constant_initializer(0.1))
    loss = tf.reduce_mean(tf.square(out - y))
    train = tf.compat.v1.train.AdamOptimizer(0.05).minimize(loss)
    with tf.control_dependencies([train]):
        return tf.identity(loss)


def test_tf1_lstm_in_a_while_loop_matches_its_own_session(dualtf_backend):
    """The loop captures the variables' read ops made with them: graph mode's first build (which makes
    them) is built without automatic control dependencies, or each step would initialize them again."""
    be = dualtf_backend
    sequences = RNG.normal(size=(4, 5, 3)).astype(np.float32)
    targets = sequences.sum((1, 2))[:, None]
    want, initial, _ = _own_session(
        _lstm_step, [[None, 5, 3], [None, 1]], [sequences, targets], 4, before=tf.compat.v1.trainable_variables
    )
    step = be.function(_lstm_step, [be.feed("x", tf.float32, [None, 5, 3]), be.feed("y", tf.float32, [None, 1])])
    for var, value in zip(be.variables, initial, strict=False):  # the Session's random initial values
        be.assign(var, value)
    got = [float(step(sequences, targets)) for _ in range(4)]
    np.testing.assert_allclose(got, want, rtol=1e-4 if be.mode == "xla" else 1e-6)


def _clipped_step(x, y):
    """compute_gradients, clipping, apply_gradients over tf.compat.v1.trainable_variables(): TF1's long form."""
    W = tf.compat.v1.get_variable("W", [3, 1], initializer=tf.compat.v1.zeros_initializer())
    b = tf.Variable(0.0, name="b")
    loss = tf.reduce_mean(tf.square(tf.matmul(x, W) + b - y))
    optimizer = tf.compat.v1.train.GradientDescentOptimizer(0.1)
    grads_and_vars = optimizer.compute_gradients(loss, var_list=tf.compat.v1.trainable_variables())
    capped = [(tf.clip_by_value(grad, -1.0, 1.0), var) for grad, var in grads_and_vars]
    train = optimizer.apply_gradients(capped)
    with tf.control_dependencies([train]):
        return tf.identity(loss), tf.add_n([tf.reduce_sum(tf.abs(g)) for g, _ in capped])


def test_compute_gradients_and_apply_gradients_match_their_own_session(dualtf_backend):
    be = dualtf_backend
    step = be.function(_clipped_step, [be.feed("x", tf.float32, [None, 3]), be.feed("y", tf.float32, [None, 1])])
    got = [step(X, Y) for _ in range(4)]
    want, _, _ = _own_session(_clipped_step, [[None, 3], [None, 1]], [X, Y], 4)
    np.testing.assert_allclose(got, want, rtol=1e-4 if be.mode == "xla" else 1e-6)
    assert [v.name for v in be.variables] == ["W:0", "b:0"]


def test_steps_of_one_backend_share_get_variable_names(dualtf_backend):
    """As in one TF1 graph: a second step's get_variable("layer/w") is the first step's variable."""
    be = dualtf_backend
    x = be.feed("x", tf.float32, [None, 2])
    train = be.function(_scoped_step, [x])

    def read(x):
        with tf.compat.v1.variable_scope("layer", reuse=tf.compat.v1.AUTO_REUSE):
            return tf.matmul(x, tf.compat.v1.get_variable("w", [2, 1]))

    look = be.function(read, [x])
    train(np.ones((1, 2)))
    np.testing.assert_allclose(look(np.ones((1, 2))), [[1.8]], rtol=1e-6)  # w after one step: 0.9 each
    assert [v.name for v in be.variables] == ["layer/w:0"]


def test_reuse_takes_a_step_of_this_backend_and_only_its_variables(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32, [None, 2])
    train = be.function(_scoped_step, [x])
    with pytest.raises(dualtf.DualTFError, match=r"The `reuse` of function\(\) must be a step made by function\(\)"):
        be.function(_scoped_step, [x], reuse="train")
    with dualtf.backend(be.mode) as other:
        foreign = other.function(_scoped_step, [other.feed("x", tf.float32, [None, 2])])
    with pytest.raises(dualtf.DualTFError, match=r"a step made by function\(\) of this backend"):
        be.function(_scoped_step, [x], reuse=foreign)

    def more(x):
        return tf.matmul(x, tf.Variable(tf.ones([2, 1]), name="extra"))

    with pytest.raises(dualtf.DualTFError, match=r"made with reuse=`_scoped_step`, must create only variables"):
        be.function(more, [x], reuse=train)
    assert [v.name for v in be.variables] == ["layer/w:0"]  # refused before the extra variable stayed
