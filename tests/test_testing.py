"""assert_modes_agree on real program shapes: several steps, per-mode tolerances, a driver."""

from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

import dualtf
from dualtf.program import checked_steps, load_program, run_program
from dualtf.testing import assert_modes_agree

RNG = np.random.default_rng(0)
X = RNG.normal(size=(8, 3)).astype(np.float32)
Y = RNG.normal(size=(8, 1)).astype(np.float32)
FEEDS = {"train": {"x": X, "y": Y}, "eval": {"x": X}}


train_and_eval = load_program(f"{Path(__file__).parent / 'programs.py'}:train_and_eval")


def eval_differs_in_eager(be):
    steps = train_and_eval(be)
    bias = 0.5 if be.mode == "eager" else 0.0  # a planted difference, in the eval step only
    x = be.feed("x_eval", tf.float32, shape=[None, 3])
    steps["eval"] = be.function(lambda x: tf.reduce_sum(x) + bias, [x])
    return steps


def test_train_and_eval_steps_agree_in_every_mode():
    assert_modes_agree(train_and_eval, FEEDS, steps=4, rtol={"xla": 1e-4})


def test_run_program_returns_each_steps_outputs_by_name(dualtf_mode):
    run = run_program(train_and_eval, FEEDS, dualtf_mode, steps=3)
    assert [sorted(call) for call in run.outputs] == [["eval", "train"]] * 3
    assert run.outputs[2]["eval"].shape == (8, 1)
    assert run.outputs[2]["train"] < run.outputs[0]["train"]  # it trains


def test_failure_names_the_step_the_call_and_the_modes():
    with pytest.raises(AssertionError) as failure:
        feeds = {"train": FEEDS["train"], "eval": {"x_eval": X}}
        assert_modes_agree(eval_differs_in_eager, feeds, steps=2, modes=["graph", "eager"])
    message = str(failure.value)
    assert "output of call 1 [eval]: modes 'graph' and 'eager' differ: max abs diff 0.5, max rel diff" in message
    assert "output of call 2 [eval]" in message
    assert "[train]" not in message  # the train step agrees


def test_per_mode_tolerance_is_the_looser_of_the_pair():
    def noisy(be):
        x = be.feed("x", tf.float32, shape=[])
        return be.function(lambda x: x * (1.0 + (1e-4 if be.mode == "xla" else 0.0)), [x])

    with pytest.raises(AssertionError, match=r"modes 'graph' and 'xla' differ: .* \(float32: rtol=1e-05"):
        assert_modes_agree(noisy, [1.0], modes=["graph", "xla"])
    assert_modes_agree(noisy, [1.0], modes=["graph", "eager", "xla"], rtol={"xla": 1e-3})
    with pytest.raises(AssertionError, match=r"modes 'graph' and 'xla' differ"):
        assert_modes_agree(noisy, [1.0], modes=["graph", "xla"], rtol={"eager": 1e-3})  # xla keeps the default


def test_a_driver_runs_any_schedule():
    def train_three_then_eval(steps, i):
        losses = [float(steps["train"](X, Y)) for _ in range(3)]
        return {"losses": losses, "eval": steps["eval"](X)}

    assert_modes_agree(train_and_eval, None, steps=2, driver=train_three_then_eval, rtol={"xla": 1e-4})


def test_several_steps_need_feeds_for_each_by_name():
    with pytest.raises(
        dualtf.FeedError, match=r"map each step's name to its values\. Received: no feeds for step `eval`"
    ):
        run_program(train_and_eval, {"train": {"x": X, "y": Y}}, "eager")


def test_checked_steps_names_what_is_not_a_step(dualtf_backend):
    x = dualtf_backend.feed("x", tf.float32, shape=[])
    step = dualtf_backend.function(lambda x: x, [x])
    assert list(checked_steps((step, step))) == ["0", "1"]
    assert list(checked_steps(step)) == ["step"]
    with pytest.raises(dualtf.DualTFError, match=r"step `eval` is not one\. Received: int 3"):
        checked_steps({"train": step, "eval": 3})
    with pytest.raises(dualtf.DualTFError, match=r"at least one step\. Received: an empty dict"):
        checked_steps({})


def _bakes_its_first_input(be):
    """Stands for a trace that baked a value in: the traced modes return the first call's input as a constant."""
    x = be.feed("x", tf.float32, [2])
    return be.function(lambda x: tf.identity(x) if tf.executing_eagerly() else tf.constant([1.0, 2.0]), [x])


def test_fresh_inputs_catch_a_value_baked_into_a_trace():
    assert_modes_agree(_bakes_its_first_input, {"x": [1.0, 2.0]}, modes=["eager", "function"])  # same inputs: agree
    with pytest.raises(AssertionError, match=r"output of call 2 \(fresh inputs\): modes 'eager' and 'function' differ"):
        assert_modes_agree(_bakes_its_first_input, {"x": [1.0, 2.0]}, modes=["eager", "function"], fresh_inputs=True)


def _off_by_1e3_in_xla(dtype):
    def program(be):
        x = be.feed("x", dtype, [])
        return be.function(lambda x: x * (1.001 if be.mode == "xla" else 1.0), [x])

    return program


def test_default_tolerances_follow_the_dtype_and_are_named():
    assert_modes_agree(_off_by_1e3_in_xla(tf.float16), {"x": 1.0}, modes=["graph", "xla"])  # half: 1e-2
    with pytest.raises(AssertionError, match=r"differ: .* \(float32: rtol=1e-05, atol=1e-06\)"):
        assert_modes_agree(_off_by_1e3_in_xla(tf.float32), {"x": 1.0}, modes=["graph", "xla"])
    assert dualtf.testing.DTYPE_TOLERANCES["bfloat16"] == (1e-2, 1e-2)
