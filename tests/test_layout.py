"""The shared pieces of the layout: global state put back, one parser per list, one error format."""

import random
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

import dualtf
from dualtf._errors import error_message, format_error
from dualtf._modes import parse_modes
from dualtf._strategies import parse_strategies


def test_seeded_backend_puts_every_seed_back(dualtf_mode):
    random.seed(11)
    np.random.seed(11)
    want_python, want_numpy = random.random(), np.random.rand()
    random.seed(11)
    np.random.seed(11)
    with dualtf.backend(dualtf_mode, seed=123) as be:
        be.evaluate(be.variable(tf.random.uniform([2], seed=1)))
    assert random.random() == want_python and np.random.rand() == want_numpy  # the streams go on untouched
    assert tf.compat.v1.get_seed(None)[0] is None  # no global TensorFlow seed left behind
    import keras

    assert keras.src.backend.common.global_state.get_global_attribute("global_random_seed") is None


def test_backend_puts_run_functions_eagerly_back(dualtf_mode):
    with dualtf.backend(dualtf_mode):
        tf.config.run_functions_eagerly(True)
    assert not tf.config.functions_run_eagerly()


@pytest.mark.parametrize(
    ("value", "expected"),
    [("graph", ("graph",)), ("graph, xla", ("graph", "xla")), (["eager", "function"], ("eager", "function"))],
)
def test_parse_modes(value, expected):
    assert parse_modes(value) == expected


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("graph,jit", r"Every mode must be one of graph, eager, function, xla\. Received: unknown mode 'jit'\."),
        ("", r"must name at least one mode\. Received: an empty list\."),
        (3, r"comma-separated string or a sequence of names\. Received: int 3\."),
        ([None], r"Received: unknown mode None\."),
    ],
)
def test_parse_modes_refuses_by_name(value, pattern):
    with pytest.raises(dualtf.ModeError, match=pattern):
        parse_modes(value, "--x")


def test_parse_strategies_refuses_with_its_own_error():
    assert parse_strategies("default,mirrored") == ("default", "mirrored")
    with pytest.raises(dualtf.StrategyError, match=r"Received: unknown strategy 'mirored'"):
        parse_strategies(["mirored"])


def test_cli_and_api_give_the_same_mode_message():
    out = subprocess.run(
        [sys.executable, "-m", "dualtf", "compare", "m:f", "--modes", "eager,jit"], capture_output=True, text=True
    )
    assert out.returncode == 2
    with pytest.raises(dualtf.ModeError) as api:
        parse_modes("eager,jit")
    assert str(api.value) in out.stderr


def test_error_format_has_a_free_sentence_and_a_fixed_tail():
    assert error_message("Feed `x` was given twice.", "x=1, x=2") == "Feed `x` was given twice. Received: x=1, x=2."
    assert format_error("Feed `x`", "a float", "'a'") == "Feed `x` must be a float. Received: 'a'."


def test_step_checks_are_given_at_construction(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32, shape=[None])
    step = be.function(lambda x: x * 2.0, [x])
    assert [v.tolist() for v in step.bind([1, 2])] == [[1.0, 2.0]]
    assert (step.op_count is None) == (be.mode == "eager")
