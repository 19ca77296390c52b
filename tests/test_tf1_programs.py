"""TF1 programs as they were written, their graph-building code moved into the step (issue 9, in progress)."""

import numpy as np
import pytest
import tensorflow as tf

import dualtf

RNG = np.random.RandomState(0)
X = RNG.normal(size=(16, 3)).astype(np.float32)
Y = X @ np.array([[1.0], [2.0], [3.0]], np.float32)
EAGER = {"eager": (dualtf.DualTFError, "a tensor loss has no graph to differentiate in eager mode (issue 9)")}


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


def _session_reference(steps):
    """The same program run as TF1 ran it: its own graph and Session, feed_dict, initializer call."""
    graph = tf.Graph()
    with graph.as_default():
        W = tf.Variable(np.zeros((3, 1), np.float32))
        b = tf.Variable(np.zeros((1,), np.float32))
        X_ = tf.compat.v1.placeholder(tf.float32, [None, 3])
        Y_ = tf.compat.v1.placeholder(tf.float32, [None, 1])
        cost = tf.reduce_mean(tf.square(tf.add(tf.matmul(X_, W), b) - Y_))
        train = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(cost)
        with tf.compat.v1.Session(graph=graph) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            costs = [sess.run([cost, train], feed_dict={X_: X, Y_: Y})[0] for _ in range(steps)]
            return costs, sess.run([W, b])


@pytest.mark.dualtf(xfail=EAGER)
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
