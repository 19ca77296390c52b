"""Tutorial programs as published: the same metrics and weights in every mode as in plain TensorFlow."""

import keras
import numpy as np
import pytest

from dualtf._global_state import GlobalState
from dualtf.examples import sequential_fit, tf2_quickstart


def _plain(program):
    state = GlobalState(seeds=True)
    try:
        keras.utils.set_random_seed(0)
        return program()
    finally:
        state.restore()


@pytest.fixture(scope="module")
def quickstart_reference():
    return _plain(tf2_quickstart)


# XLA reorders float sums: its figures agree to ~1e-7 absolute (docs/modes.md)
TOLERANCE = {"graph": 1e-6, "eager": 1e-6, "function": 1e-6, "xla": 1e-4}


@pytest.mark.dualtf(seed=0)
def test_tf2_quickstart_matches_plain_tensorflow(dualtf_backend, quickstart_reference):
    history, weights = tf2_quickstart(dualtf_backend)
    want_history, want_weights = quickstart_reference
    rtol = TOLERANCE[dualtf_backend.mode]
    np.testing.assert_allclose(history, want_history, rtol=rtol)
    assert history[1][0] < history[0][0]  # it trains: epoch 2's loss is lower
    assert len(weights) == len(want_weights) == 6  # conv, dense, dense: kernel and bias each
    for got, want in zip(weights, want_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6)


@pytest.fixture(scope="module")
def sequential_reference():
    return _plain(sequential_fit)


@pytest.mark.dualtf(seed=0)
def test_sequential_fit_matches_plain_keras(dualtf_backend, sequential_reference):
    history, scores, predictions, weights = sequential_fit(dualtf_backend)
    want_history, want_scores, want_predictions, want_weights = sequential_reference
    rtol = TOLERANCE[dualtf_backend.mode]
    assert sorted(history) == sorted(want_history) == ["accuracy", "loss"]
    for name in want_history:
        np.testing.assert_allclose(history[name], want_history[name], rtol=rtol, err_msg=name)
    assert history["loss"][-1] < history["loss"][0]
    np.testing.assert_allclose(scores, want_scores, rtol=rtol)
    np.testing.assert_allclose(predictions, want_predictions, rtol=rtol, atol=1e-6)
    for got, want in zip(weights, want_weights, strict=True):
        np.testing.assert_allclose(got, want, rtol=rtol, atol=1e-6)
