"""The example programs (dualtf.examples), run in every mode through the plugin."""

from pathlib import Path

import numpy as np
import pytest

from dualtf import examples
from dualtf.program import load_program
from dualtf.testing import assert_modes_agree

affine = load_program(f"{Path(__file__).parent / 'programs.py'}:affine")


def test_constants(dualtf_backend):
    assert examples.constants(dualtf_backend)().tolist() == [10, 21, 32]


def test_variables_need_no_initializer_call(dualtf_backend):
    assert examples.variables(dualtf_backend)().tolist() == [[3, 4], [6, 8]]


def test_feeds(dualtf_backend):
    out = examples.feeds_sum(dualtf_backend)(np.array([0, 1, 2], np.int32), [10, 20, 30])
    assert out.dtype == np.int32
    assert out.tolist() == [10, 21, 32]


def test_readme_affine(dualtf_backend):
    assert affine(dualtf_backend)([[3.0, 4.0]]).tolist() == [[3, 4], [6, 8]]


def test_mlp_training_loss_falls(dualtf_backend):
    step = examples.mlp_training(dualtf_backend)
    batch = examples.digits_batches()
    losses = [float(step(**batch(i))) for i in range(50)]
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5]), losses


@pytest.mark.parametrize(("modes", "rtol"), [(["graph", "eager", "function"], 1e-5), (["eager", "xla"], 1e-4)])
def test_mlp_training_final_weights_agree_across_modes(modes, rtol):
    assert_modes_agree(examples.mlp_training, examples.digits_batches(), steps=50, modes=modes, rtol=rtol, atol=1e-6)
