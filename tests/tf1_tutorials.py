"""Four TF1 tutorial programs, as published (TensorFlow-Examples' linear regression, logistic
regression, multilayer perceptron and raw convolutional network), in both of their forms:

- ``session_*``: the program as its author ran it — its own graph, placeholders, a
  ``tf.Session`` with ``feed_dict`` and an initializer call; the reference numbers;
- ``dualtf_*``: the same graph-building statements in step functions — placeholders became
  feeds, each ``sess.run`` became a step call, the initializer call went away.

Written with ``import tensorflow.compat.v1 as tf``, as TF1 code runs on TensorFlow 2. MNIST is
swapped for scikit-learn's bundled digits (8x8 images, 10 classes): no download. Where the
published code fetches different things in different ``sess.run`` calls (``train_op``, then
``accuracy``), each becomes a step; the statements both need stay in one function both call,
and the evaluation step takes the training step's variables (``reuse=train``), as the TF1
graph shares them.
"""

from __future__ import annotations

import numpy
import tensorflow.compat.v1 as tf
from sklearn.datasets import load_digits

_digits = load_digits()
DIGITS_X = (_digits.data / 16.0).astype(numpy.float32)  # 1797 x 64, in [0, 1]
DIGITS_Y = numpy.eye(10, dtype=numpy.float32)[_digits.target]  # one-hot
TRAIN_X, TRAIN_Y = DIGITS_X[:1500], DIGITS_Y[:1500]
TEST_X, TEST_Y = DIGITS_X[1500:], DIGITS_Y[1500:]


def batches(batch_size, steps):
    """mnist.train.next_batch, for the digits: consecutive batches, wrapping around."""
    for step in range(steps):
        start = (step * batch_size) % (len(TRAIN_X) - batch_size)
        yield TRAIN_X[start : start + batch_size], TRAIN_Y[start : start + batch_size]


# ---------------------------------------------------------------------------- 1. linear regression
LINEAR_X = numpy.asarray(
    [3.3, 4.4, 5.5, 6.71, 6.93, 4.168, 9.779, 6.182, 7.59, 2.167, 7.042, 10.791, 5.313, 7.997, 5.654, 9.27, 3.1]
)
LINEAR_Y = numpy.asarray(
    [1.7, 2.76, 2.09, 3.19, 1.694, 1.573, 3.366, 2.596, 2.53, 1.221, 2.827, 3.465, 1.65, 2.904, 2.42, 2.94, 1.3]
)
LINEAR_EPOCHS = 20


def session_linear_regression(seed=0):
    rng = numpy.random.RandomState(seed)
    learning_rate = 0.01
    n_samples = LINEAR_X.shape[0]
    with tf.Graph().as_default():
        X = tf.placeholder("float")
        Y = tf.placeholder("float")
        W = tf.Variable(rng.randn(), name="weight")
        b = tf.Variable(rng.randn(), name="bias")
        pred = tf.add(tf.multiply(X, W), b)
        cost = tf.reduce_sum(tf.pow(pred - Y, 2)) / (2 * n_samples)
        optimizer = tf.train.GradientDescentOptimizer(learning_rate).minimize(cost)
        init = tf.global_variables_initializer()
        with tf.Session() as sess:
            sess.run(init)
            costs = []
            for _epoch in range(LINEAR_EPOCHS):
                for x, y in zip(LINEAR_X, LINEAR_Y, strict=True):
                    sess.run(optimizer, feed_dict={X: x, Y: y})
                costs.append(sess.run(cost, feed_dict={X: LINEAR_X, Y: LINEAR_Y}))
            return costs, sess.run([W, b])


def dualtf_linear_regression(be, seed=0):
    rng = numpy.random.RandomState(seed)
    learning_rate = 0.01
    n_samples = LINEAR_X.shape[0]
    X = be.feed("X", "float", shape=None)
    Y = be.feed("Y", "float", shape=None)

    def model(X, Y):
        W = tf.Variable(rng.randn(), name="weight")
        b = tf.Variable(rng.randn(), name="bias")
        pred = tf.add(tf.multiply(X, W), b)
        cost = tf.reduce_sum(tf.pow(pred - Y, 2)) / (2 * n_samples)
        return cost

    def train(X, Y):
        cost = model(X, Y)
        optimizer = tf.train.GradientDescentOptimizer(learning_rate).minimize(cost)
        return optimizer

    train_step = be.function(train, [X, Y])
    cost_step = be.function(model, [X, Y], reuse=train_step)

    costs = []
    for _epoch in range(LINEAR_EPOCHS):
        for x, y in zip(LINEAR_X, LINEAR_Y, strict=True):
            train_step(x, y)
        costs.append(cost_step(LINEAR_X, LINEAR_Y))
    return costs, be.evaluate(be.variables[:2])


# ---------------------------------------------------------------------------- 2. logistic regression
LOGISTIC_STEPS, LOGISTIC_BATCH = 60, 100


def session_logistic_regression():
    learning_rate = 0.1
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 64])
        y = tf.placeholder(tf.float32, [None, 10])
        W = tf.Variable(tf.zeros([64, 10]))
        b = tf.Variable(tf.zeros([10]))
        pred = tf.nn.softmax(tf.matmul(x, W) + b)
        cost = tf.reduce_mean(-tf.reduce_sum(y * tf.log(pred), reduction_indices=1))
        optimizer = tf.train.GradientDescentOptimizer(learning_rate).minimize(cost)
        correct_prediction = tf.equal(tf.argmax(pred, 1), tf.argmax(y, 1))
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        init = tf.global_variables_initializer()
        with tf.Session() as sess:
            sess.run(init)
            costs = []
            for batch_xs, batch_ys in batches(LOGISTIC_BATCH, LOGISTIC_STEPS):
                _, c = sess.run([optimizer, cost], feed_dict={x: batch_xs, y: batch_ys})
                costs.append(c)
            return costs, accuracy.eval({x: TEST_X, y: TEST_Y})


def dualtf_logistic_regression(be):
    learning_rate = 0.1
    x_ = be.feed("x", tf.float32, [None, 64])
    y_ = be.feed("y", tf.float32, [None, 10])

    def model(x, y):
        W = tf.Variable(tf.zeros([64, 10]))
        b = tf.Variable(tf.zeros([10]))
        pred = tf.nn.softmax(tf.matmul(x, W) + b)
        cost = tf.reduce_mean(-tf.reduce_sum(y * tf.log(pred), reduction_indices=1))
        return pred, cost

    def train(x, y):
        pred, cost = model(x, y)
        optimizer = tf.train.GradientDescentOptimizer(learning_rate).minimize(cost)
        return optimizer, cost

    def evaluate(x, y):
        pred, cost = model(x, y)
        correct_prediction = tf.equal(tf.argmax(pred, 1), tf.argmax(y, 1))
        accuracy = tf.reduce_mean(tf.cast(correct_prediction, tf.float32))
        return accuracy

    train_step = be.function(train, [x_, y_])
    accuracy_step = be.function(evaluate, [x_, y_], reuse=train_step)
    costs = []
    for batch_xs, batch_ys in batches(LOGISTIC_BATCH, LOGISTIC_STEPS):
        _, c = train_step(batch_xs, batch_ys)
        costs.append(c)
    return costs, accuracy_step(TEST_X, TEST_Y)


# ---------------------------------------------------------------------------- 3. multilayer perceptron
MLP_STEPS, MLP_BATCH = 40, 128


def _mlp_graph(X):
    """neural_net(x) and its weights, as published (n_hidden 256, 256)."""
    n_hidden_1, n_hidden_2, num_input, num_classes = 256, 256, 64, 10
    weights = {
        "h1": tf.Variable(tf.random_normal([num_input, n_hidden_1])),
        "h2": tf.Variable(tf.random_normal([n_hidden_1, n_hidden_2])),
        "out": tf.Variable(tf.random_normal([n_hidden_2, num_classes])),
    }
    biases = {
        "b1": tf.Variable(tf.random_normal([n_hidden_1])),
        "b2": tf.Variable(tf.random_normal([n_hidden_2])),
        "out": tf.Variable(tf.random_normal([num_classes])),
    }

    def neural_net(x):
        layer_1 = tf.add(tf.matmul(x, weights["h1"]), biases["b1"])
        layer_2 = tf.add(tf.matmul(layer_1, weights["h2"]), biases["b2"])
        out_layer = tf.matmul(layer_2, weights["out"]) + biases["out"]
        return out_layer

    return neural_net(X)


def _train(logits, Y):
    """The multilayer perceptron's and the network's loss and optimizer, the same lines in both."""
    loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y))
    optimizer = tf.train.AdamOptimizer(learning_rate=0.001)
    train_op = optimizer.minimize(loss_op)
    return loss_op, train_op


def _accuracy(logits, Y):
    correct_pred = tf.equal(tf.argmax(logits, 1), tf.argmax(Y, 1))
    return tf.reduce_mean(tf.cast(correct_pred, tf.float32))


def session_mlp(initial=None):
    """Returns the losses, the test accuracy and the initial values of its variables."""
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(0)
        X = tf.placeholder("float", [None, 64])
        Y = tf.placeholder("float", [None, 10])
        logits = _mlp_graph(X)
        loss_op, train_op = _train(logits, Y)
        accuracy = _accuracy(logits, Y)
        init = tf.global_variables_initializer()
        with tf.Session(graph=graph) as sess:
            sess.run(init)
            first = sess.run(tf.trainable_variables())
            losses = []
            for batch_x, batch_y in batches(MLP_BATCH, MLP_STEPS):
                sess.run(train_op, feed_dict={X: batch_x, Y: batch_y})
                losses.append(sess.run(loss_op, feed_dict={X: batch_x, Y: batch_y}))
            return losses, sess.run(accuracy, feed_dict={X: TEST_X, Y: TEST_Y}), first


def dualtf_mlp(be, initial=None):
    """``initial``: values for the weights (the Session's), assigned before the first step."""
    X_ = be.feed("X", "float", [None, 64])
    Y_ = be.feed("Y", "float", [None, 10])

    def train(X, Y):
        loss_op, train_op = _train(_mlp_graph(X), Y)
        return train_op

    def loss(X, Y):
        return tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=_mlp_graph(X), labels=Y))

    def accuracy(X, Y):
        return _accuracy(_mlp_graph(X), Y)

    train_step = be.function(train, [X_, Y_])
    loss_step = be.function(loss, [X_, Y_], reuse=train_step)
    accuracy_step = be.function(accuracy, [X_, Y_], reuse=train_step)
    if initial is not None:
        for var, value in zip(be.variables, initial, strict=False):
            be.assign(var, value)
    losses = []
    for batch_x, batch_y in batches(MLP_BATCH, MLP_STEPS):
        train_step(batch_x, batch_y)
        losses.append(loss_step(batch_x, batch_y))
    return losses, accuracy_step(TEST_X, TEST_Y)


# ---------------------------------------------------------------------------- 4. convolutional network
CNN_STEPS, CNN_BATCH = 12, 64


def _conv_net_graph(X, keep_prob):
    """conv_net(x, weights, biases, dropout) and its weights, as published (digits: 8x8 images)."""
    num_classes = 10

    def conv2d(x, W, b, strides=1):
        x = tf.nn.conv2d(x, W, strides=[1, strides, strides, 1], padding="SAME")
        x = tf.nn.bias_add(x, b)
        return tf.nn.relu(x)

    def maxpool2d(x, k=2):
        return tf.nn.max_pool(x, ksize=[1, k, k, 1], strides=[1, k, k, 1], padding="SAME")

    def conv_net(x, weights, biases, dropout):
        x = tf.reshape(x, shape=[-1, 8, 8, 1])
        conv1 = conv2d(x, weights["wc1"], biases["bc1"])
        conv1 = maxpool2d(conv1, k=2)
        conv2 = conv2d(conv1, weights["wc2"], biases["bc2"])
        conv2 = maxpool2d(conv2, k=2)
        fc1 = tf.reshape(conv2, [-1, weights["wd1"].get_shape().as_list()[0]])
        fc1 = tf.add(tf.matmul(fc1, weights["wd1"]), biases["bd1"])
        fc1 = tf.nn.relu(fc1)
        fc1 = tf.nn.dropout(fc1, dropout)
        out = tf.add(tf.matmul(fc1, weights["out"]), biases["out"])
        return out

    weights = {
        "wc1": tf.Variable(tf.random_normal([5, 5, 1, 32])),
        "wc2": tf.Variable(tf.random_normal([5, 5, 32, 64])),
        "wd1": tf.Variable(tf.random_normal([2 * 2 * 64, 1024])),
        "out": tf.Variable(tf.random_normal([1024, num_classes])),
    }
    biases = {
        "bc1": tf.Variable(tf.random_normal([32])),
        "bc2": tf.Variable(tf.random_normal([64])),
        "bd1": tf.Variable(tf.random_normal([1024])),
        "out": tf.Variable(tf.random_normal([num_classes])),
    }
    return conv_net(X, weights, biases, keep_prob)


def session_cnn(dropout):
    """The published program (``dropout`` is the keep probability it feeds while training)."""
    with tf.Graph().as_default() as graph:
        tf.set_random_seed(0)
        X = tf.placeholder(tf.float32, [None, 64])
        Y = tf.placeholder(tf.float32, [None, 10])
        keep_prob = tf.placeholder(tf.float32)
        logits = _conv_net_graph(X, keep_prob)
        loss_op, train_op = _train(logits, Y)
        accuracy = _accuracy(tf.nn.softmax(logits), Y)
        init = tf.global_variables_initializer()
        with tf.Session(graph=graph) as sess:
            sess.run(init)
            first = sess.run(tf.trainable_variables())
            history = []
            for batch_x, batch_y in batches(CNN_BATCH, CNN_STEPS):
                sess.run(train_op, feed_dict={X: batch_x, Y: batch_y, keep_prob: dropout})
                history.append(sess.run([loss_op, accuracy], feed_dict={X: batch_x, Y: batch_y, keep_prob: 1.0}))
            test = sess.run(accuracy, feed_dict={X: TEST_X[:256], Y: TEST_Y[:256], keep_prob: 1.0})
            return history, test, first


def dualtf_cnn(be, dropout, initial=None):
    X_ = be.feed("X", tf.float32, [None, 64])
    Y_ = be.feed("Y", tf.float32, [None, 10])
    keep_prob_ = be.feed("keep_prob", tf.float32, [])

    def train(X, Y, keep_prob):
        loss_op, train_op = _train(_conv_net_graph(X, keep_prob), Y)
        return train_op

    def evaluate(X, Y, keep_prob):
        logits = _conv_net_graph(X, keep_prob)
        loss_op = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(logits=logits, labels=Y))
        return loss_op, _accuracy(tf.nn.softmax(logits), Y)

    train_step = be.function(train, [X_, Y_, keep_prob_])
    evaluate_step = be.function(evaluate, [X_, Y_, keep_prob_], reuse=train_step)
    if initial is not None:
        for var, value in zip(be.variables, initial, strict=False):
            be.assign(var, value)
    history = []
    for batch_x, batch_y in batches(CNN_BATCH, CNN_STEPS):
        train_step(batch_x, batch_y, dropout)
        history.append(list(evaluate_step(batch_x, batch_y, 1.0)))
    _, test = evaluate_step(TEST_X[:256], TEST_Y[:256], 1.0)
    return history, test
