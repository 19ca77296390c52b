"""The seed programs, run in every mode through the plugin."""

import numpy as np
import pytest

from dualtf import programs
from dualtf.testing import assert_modes_agree


def test_constants(dualtf_backend):
    assert programs.constants(dualtf_backend)().tolist() == [10, 21, 32]


def test_variables_need_no_initializer_call(dualtf_backend):
    assert programs.variables(dualtf_backend)().tolist() == [[3, 4], [6, 8]]


def test_feeds(dualtf_backend):
    out = programs.feeds_sum(dualtf_backend)(np.array([0, 1, 2], np.int32), [10, 20, 30])
    assert out.dtype == np.int32
    assert out.tolist() == [10, 21, 32]


def test_issue_example_affine(dualtf_backend):
    import tensorflow as tf

    be = dualtf_backend
    w = be.variable([[1.0], [2.0]], name="w")
    x = be.feed("x", tf.float32, shape=[1, None])
    step = be.function(lambda x: tf.matmul(w, x), [x])
    assert step([[3.0, 4.0]]).tolist() == [[3, 4], [6, 8]]


def _train(be, steps=50):
    x, y = programs.digits()
    step = programs.mlp_training(be)
    return [float(step(x[i * 32 : (i + 1) * 32], y[i * 32 : (i + 1) * 32])) for i in range(steps)]


def test_mlp_training_loss_falls(dualtf_backend):
    losses = _train(dualtf_backend)
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses


@pytest.mark.parametrize(("modes", "rtol"), [(["graph", "eager", "function"], 1e-5), (["eager", "xla"], 1e-4)])
def test_mlp_training_final_weights_agree_across_modes(modes, rtol):
    x, y = programs.digits()

    def batch(i):
        return {"x": x[i * 32 : (i + 1) * 32], "y": y[i * 32 : (i + 1) * 32]}

    assert_modes_agree(programs.mlp_training, batch, steps=50, modes=modes, rtol=rtol, atol=1e-6)
