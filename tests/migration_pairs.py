"""TF1 programs (their dualtf form: graph code as written) and TF2 rewrites of them, right and wrong.

``tf1_linear`` is docs/migration.md's linear regression; ``tf1_dropout_mlp`` a two-layer
network with ``tf.compat.v1.nn.dropout`` and ``get_variable``. Each wrong rewrite plants one
known difference, which the migration report must find.
"""

import keras
import numpy as np
import tensorflow as tf

_rng = np.random.RandomState(0)
X = _rng.normal(size=(16, 3)).astype(np.float32)
Y = X @ np.array([[1.0], [2.0], [3.0]], np.float32)
LINEAR_FEEDS = {"X": X, "Y": Y}

x_data = _rng.normal(size=(32, 4)).astype(np.float32)
y_data = np.eye(3, dtype=np.float32)[(x_data[:, 0] > 0).astype(int) + (x_data[:, 1] > 0)]
W1_INIT = _rng.normal(scale=0.5, size=(4, 8)).astype(np.float32)
W2_INIT = _rng.normal(scale=0.5, size=(8, 3)).astype(np.float32)
MLP_FEEDS = {"x": x_data, "y": y_data}


def tf1_linear(be):
    X = be.feed("X", tf.float32, [None, 3])
    Y = be.feed("Y", tf.float32, [None, 1])

    def step(X, Y):
        W = tf.Variable(np.zeros((3, 1), np.float32), name="W")
        b = tf.Variable(np.zeros((1,), np.float32), name="b")
        cost = tf.reduce_mean(tf.square(tf.matmul(X, W) + b - Y))
        train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(cost)
        with tf.control_dependencies([train_op]):
            return tf.identity(cost)

    return be.function(step, [X, Y])


def _keras_linear(be, learning_rate, initializer="zeros", extra=False):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(1, kernel_initializer=initializer)])
    optimizer = keras.optimizers.SGD(learning_rate)
    scale = be.variable(1.0, name="extra") if extra else None
    X = be.feed("X", tf.float32, [None, 3])
    Y = be.feed("Y", tf.float32, [None, 1])

    def step(X, Y):
        with tf.GradientTape() as tape:
            prediction = model(X) if scale is None else model(X) * scale
            cost = tf.reduce_mean(tf.square(prediction - Y))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(cost, variables), variables, strict=True))
        return cost

    return be.function(step, [X, Y])


def tf2_linear(be):
    """The rewrite: a Keras layer and optimizer."""
    return _keras_linear(be, 0.1)


def tf2_linear_slow(be):
    """A slip: learning rate 0.01."""
    return _keras_linear(be, 0.01)


def tf2_linear_ones(be):
    """Other initial values (ones): differs unless the reference's are copied."""
    return _keras_linear(be, 0.1, initializer="ones")


def tf2_linear_extra(be):
    """One trainable variable more than the reference."""
    return _keras_linear(be, 0.1, extra=True)


def tf2_linear_renamed(be):
    W = be.variable(np.zeros((3, 1), np.float32), name="kernel")
    b = be.variable(np.zeros((1,), np.float32), name="bias")
    X = be.feed("X", tf.float32, [None, 3])
    Y = be.feed("Y", tf.float32, [None, 1])

    def step(X, Y):
        with tf.GradientTape() as tape:
            cost = tf.reduce_mean(tf.square(X @ W + b - Y))
        dW, db = tape.gradient(cost, [W, b])
        W.assign_sub(0.1 * dW)
        b.assign_sub(0.1 * db)
        return cost

    return be.function(step, [X, Y])


def tf1_dropout_mlp(be):
    x_ = be.feed("x", tf.float32, [None, 4])
    y_ = be.feed("y", tf.float32, [None, 3])

    def step(x, y):
        W1 = tf.compat.v1.get_variable("W1", initializer=W1_INIT)
        b1 = tf.compat.v1.get_variable("b1", [8], initializer=tf.compat.v1.zeros_initializer())
        W2 = tf.compat.v1.get_variable("W2", initializer=W2_INIT)
        b2 = tf.compat.v1.get_variable("b2", [3], initializer=tf.compat.v1.zeros_initializer())
        h = tf.nn.relu(tf.matmul(x, W1) + b1)
        h = tf.compat.v1.nn.dropout(h, rate=0.2)
        logits = tf.matmul(h, W2) + b2
        cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=logits))
        train_op = tf.compat.v1.train.GradientDescentOptimizer(0.1).minimize(cost)
        with tf.control_dependencies([train_op]):
            return tf.identity(cost)

    return be.function(step, [x_, y_])


def tf2_dropout_mlp(be, dropout=True):
    W1 = be.variable(W1_INIT, name="W1")
    b1 = be.variable(tf.zeros([8]), name="b1")
    W2 = be.variable(W2_INIT, name="W2")
    b2 = be.variable(tf.zeros([3]), name="b2")
    variables = [W1, b1, W2, b2]
    optimizer = keras.optimizers.SGD(0.1)
    x_ = be.feed("x", tf.float32, [None, 4])
    y_ = be.feed("y", tf.float32, [None, 3])

    def step(x, y):
        with tf.GradientTape() as tape:
            h = tf.nn.relu(x @ W1 + b1)
            if dropout:
                h = tf.nn.dropout(h, rate=0.2)
            cost = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=h @ W2 + b2))
        optimizer.apply_gradients(zip(tape.gradient(cost, variables), variables, strict=True))
        return cost

    return be.function(step, [x_, y_])


def tf2_mlp_without_dropout(be):
    """A slip: the dropout left out."""
    return tf2_dropout_mlp(be, dropout=False)


def keras_dropout_mlp(be):
    """Keras' Dropout layer: draws its mask from Keras' own SeedGenerator, not TF's random ops."""
    model = keras.Sequential(
        [
            keras.Input((4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dropout(0.2),
            keras.layers.Dense(3),
        ]
    )
    optimizer = keras.optimizers.SGD(0.1)
    loss_fn = keras.losses.CategoricalCrossentropy(from_logits=True)
    x_ = be.feed("x", tf.float32, [None, 4])
    y_ = be.feed("y", tf.float32, [None, 3])

    def step(x, y):
        with tf.GradientTape() as tape:
            cost = loss_fn(y, model(x, training=True))
        variables = model.trainable_variables
        optimizer.apply_gradients(zip(tape.gradient(cost, variables), variables, strict=True))
        return cost

    return be.function(step, [x_, y_])
