"""Programs the multi-worker tests hand to worker processes by name."""

import time

import tensorflow as tf


def linear(be):
    w = be.variable([[1.0], [1.0], [1.0]], name="w")
    x = be.feed("x", tf.float32, shape=[None, 3])
    y = be.feed("y", tf.float32, shape=[None, 1])

    def step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((tf.matmul(x, w) - y) ** 2)
        w.assign_sub(0.1 * tape.gradient(loss, w))  # mean aggregation: the one-device update
        return loss

    return be.function(step, [x, y])


def hangs(be):
    time.sleep(3600)


def fails(be):
    raise RuntimeError("this worker fails on purpose")
