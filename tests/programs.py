"""Programs the tests share, loaded by path as users load theirs (``tests/programs.py:NAME``).

The CLI and the multi-worker tests hand ``<path>:NAME`` to other processes; the
in-process tests load them with :func:`dualtf.program.load_program`.
"""

import time
from pathlib import Path

import tensorflow as tf

PATH = Path(__file__)


def affine(be):
    """The README's program: ``matmul(w, x)`` with ``w = [[1], [2]]``."""
    w = be.variable([[1.0], [2.0]], name="w")
    x = be.feed("x", tf.float32, shape=[1, None])
    return be.function(lambda x: tf.matmul(w, x), [x])


def _regression(be, *, draws=False):
    """A weight, two feeds and one hand-written SGD step on them. With ``draws`` (for
    ``deterministic_random=True``) it draws: a random initial weight, a dropout of the inputs (a draw per
    example) and noise of fixed shape on the weight (the same for the whole batch)."""
    w = be.variable((lambda: tf.random.normal([3, 1])) if draws else [[1.0], [1.0], [1.0]], name="w")
    x = be.feed("x", tf.float32, shape=[None, 3])
    y = be.feed("y", tf.float32, shape=[None, 1])

    def train(x, y):
        with tf.GradientTape() as tape:
            kept = tf.nn.dropout(x, rate=0.5) if draws else x
            weight = w + tf.random.uniform([3, 1], maxval=0.1) if draws else w
            loss = tf.reduce_mean((tf.matmul(kept, weight) - y) ** 2)
        w.assign_sub(0.1 * tape.gradient(loss, w))  # mean aggregation: the one-device update
        return loss

    return w, x, y, train


def _dropout_regression(be):
    """``_regression`` drawing."""
    return _regression(be, draws=True)


def _trained(be, steps_per_call=1, draws=False):
    _, x, y, train = _regression(be, draws=draws)
    return be.function(train, [x, y], steps_per_call=steps_per_call)


def linear(be):
    """Linear regression by hand-written SGD: the update a strategy must match on one device."""
    return _trained(be)


def linear_fused(be):
    """``linear``'s step fused three per call: feeds stacked (3, batch, ...)."""
    return _trained(be, steps_per_call=3)


def _dropout_step(be):
    """``linear`` drawing, one step per call."""
    return _trained(be, draws=True)


def dropout_fused(be):
    """``linear`` drawing, fused three per call: feeds stacked (3, batch, ...)."""
    return _trained(be, steps_per_call=3, draws=True)


def mode_dependent(be):
    # eager gives 1, every traced mode 2: exactly what `dualtf compare` must catch
    return be.function(lambda: tf.constant(1.0) if tf.executing_eagerly() else tf.constant(2.0), [])


def not_a_program(be):
    return 42


def hangs(be):
    time.sleep(3600)


def fails(be):
    raise RuntimeError("this worker fails on purpose")


def train_and_eval(be):
    """A train step and an eval step: the shape of most real programs."""
    w, x, y, train = _regression(be)
    return {"train": be.function(train, [x, y]), "eval": be.function(lambda x: tf.matmul(x, w), [x])}


def xla_off_by_1e4(be):
    """Differs under xla by 1e-4 relative: a tolerance given for xla alone must cover it."""
    x = be.feed("x", tf.float32, shape=[])
    return be.function(lambda x: x * (1.0 + (1e-4 if be.mode == "xla" else 0.0)), [x])


def step_fails(be):
    """Builds in every mode; its one call fails at run time (a check of the fed value)."""
    x = be.feed("x", tf.float32, shape=[])
    return be.function(lambda x: tf.debugging.assert_positive(x) or x, [x])
