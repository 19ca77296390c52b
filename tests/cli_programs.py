"""Programs the CLI tests load by path (``tests/cli_programs.py:NAME``)."""

import tensorflow as tf


def affine(be):
    w = be.variable([[1.0], [2.0]], name="w")
    x = be.feed("x", tf.float32, shape=[1, None])
    return be.function(lambda x: tf.matmul(w, x), [x])


def mode_dependent(be):
    # eager gives 1, every traced mode 2: exactly what `dualtf compare` must catch
    return be.function(lambda: tf.constant(1.0) if tf.executing_eagerly() else tf.constant(2.0), [])


def not_a_program(be):
    return 42
