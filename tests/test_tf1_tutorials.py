"""Four TF1 tutorial programs (tests/tf1_tutorials.py) in every mode, against their own Session.

Measured max differences from the Session are in docs/migration.md; the tolerances here are
the issue's: rtol 1e-5, XLA 1e-4 where its float reordering allows."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("tf1_tutorials", Path(__file__).parent / "tf1_tutorials.py")
tutorials = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(tutorials)

_TOLERANCE = {"xla": 1e-4}


def _rtol(mode, default=1e-5):
    return _TOLERANCE.get(mode, default)


def test_linear_regression(dualtf_backend):
    costs, (w, b) = tutorials.dualtf_linear_regression(dualtf_backend)
    want_costs, (want_w, want_b) = tutorials.session_linear_regression()
    np.testing.assert_allclose(costs, want_costs, rtol=_rtol(dualtf_backend.mode))
    np.testing.assert_allclose([w, b], [want_w, want_b], rtol=_rtol(dualtf_backend.mode))
    assert want_costs[-1] < want_costs[0] / 2  # it learns


def test_logistic_regression(dualtf_backend):
    costs, accuracy = tutorials.dualtf_logistic_regression(dualtf_backend)
    want_costs, want_accuracy = tutorials.session_logistic_regression()
    np.testing.assert_allclose(costs, want_costs, rtol=_rtol(dualtf_backend.mode))
    assert accuracy == pytest.approx(want_accuracy, abs=1e-6) and want_accuracy > 0.8


def test_multilayer_perceptron(dualtf_backend):
    want_losses, want_accuracy, initial = tutorials.session_mlp()
    losses, accuracy = tutorials.dualtf_mlp(dualtf_backend, initial)  # from the Session's random initial values
    np.testing.assert_allclose(losses, want_losses, rtol=_rtol(dualtf_backend.mode))
    assert accuracy == pytest.approx(want_accuracy, abs=1e-6) and want_losses[-1] < want_losses[0]


def test_convolutional_network(dualtf_backend):
    """Dropout off (keep_prob 1.0 while training): a Session's dropout masks are its own."""
    want_history, want_test, initial = tutorials.session_cnn(dropout=1.0)
    history, test = tutorials.dualtf_cnn(dualtf_backend, 1.0, initial)
    np.testing.assert_allclose(history, want_history, rtol=_rtol(dualtf_backend.mode), atol=1e-6)
    assert test == pytest.approx(want_test, abs=1e-6)


@pytest.mark.dualtf(seed=0, deterministic_random=True)
def test_convolutional_network_with_dropout_agrees_across_modes_under_the_switch(dualtf_backend):
    """As published: random initial values and dropout (keep_prob 0.8) while training, accuracy with 1.0."""
    import dualtf

    history, test = tutorials.dualtf_cnn(dualtf_backend, 0.8)
    with dualtf.backend("eager", seed=0, deterministic_random=True) as reference:
        want_history, want_test = tutorials.dualtf_cnn(reference, 0.8)
    np.testing.assert_allclose(history, want_history, rtol=_rtol(dualtf_backend.mode), atol=1e-6)
    assert test == pytest.approx(want_test, abs=1e-6)
    with dualtf.backend("eager", seed=0, deterministic_random=True) as reference:
        without_dropout, _ = tutorials.dualtf_cnn(reference, 1.0)
    assert not np.allclose(history, without_dropout)  # the dropout did drop
