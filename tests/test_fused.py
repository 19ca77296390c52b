"""Fused steps (``be.function(..., steps_per_call=K)``): K steps in one call, in every mode."""

import numpy as np
import pytest
import tensorflow as tf

import dualtf
from dualtf import examples

K = 5


def _stacked(batches, steps):
    return {key: np.stack([batches(i)[key] for i in range(steps)]) for key in ("x", "y")}


def test_k_steps_in_one_call_end_as_k_single_calls(dualtf_mode):
    batches = examples.digits_batches()
    with dualtf.backend(dualtf_mode, seed=0) as be:
        single = examples.mlp_training(be)
        losses = [float(single(**batches(i))) for i in range(K)]
        want = [be.evaluate(v) for v in be.variables]
    with dualtf.backend(dualtf_mode, seed=0) as be:
        fused = examples.mlp_training(be, steps_per_call=K)
        assert fused.steps_per_call == K
        got_losses = fused(**_stacked(batches, K))
        got = [be.evaluate(v) for v in be.variables]
    rtol = 1e-5 if dualtf_mode == "xla" else 1e-6  # XLA compiles the loop, not K calls: floats reorder
    np.testing.assert_allclose(got_losses, losses, rtol=rtol)
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_allclose(g, w, rtol=rtol, atol=1e-7)


@pytest.mark.parametrize(("outputs", "expected"), [("stack", [1, 3, 6]), ("last", 6), ("sum", 10), ("mean", 10 / 3)])
def test_step_outputs(dualtf_backend, outputs, expected):
    be = dualtf_backend
    total = be.variable(0.0)
    x = be.feed("x", tf.float32, [])

    def add(x):
        total.assign_add(x)
        return {"total": total.read_value(), "nothing": None}

    step = be.function(add, [x], steps_per_call=3, step_outputs=outputs)
    out = step([1.0, 2.0, 3.0])
    np.testing.assert_allclose(out["total"], expected, rtol=1e-6)
    assert out["nothing"] is None
    assert be.evaluate(total) == 6.0


def test_fused_values_must_be_stacked(dualtf_backend):
    be = dualtf_backend
    x = be.feed("x", tf.float32)  # any shape: only the call can check the steps axis
    step = be.function(lambda x: x * 2.0, [x], steps_per_call=3)
    with pytest.raises(dualtf.FeedError, match=r"Feed `x` of a step of 3 steps per call must be stacked"):
        step([1.0, 2.0])
    assert step(np.ones((3, 2))).shape == (3, 2)
    with pytest.raises(dualtf.DualTFError, match=r"`steps_per_call` must be an int >= 1"):
        be.function(lambda x: x, [x], steps_per_call=0)
    with pytest.raises(dualtf.DualTFError, match=r"`step_outputs` of function\(\) must be one of stack, last"):
        be.function(lambda x: x, [x], steps_per_call=2, step_outputs="max")


def test_fused_steps_under_a_strategy_are_refused_by_name():
    with dualtf.backend("function", strategy="cpu") as be:
        x = be.feed("x", tf.float32, [None])
        with pytest.raises(dualtf.UnsupportedCombinationError, match=r"steps_per_call=2 with strategy 'cpu'"):
            be.function(lambda x: x, [x], steps_per_call=2)


@pytest.mark.dualtf(modes=["graph", "function", "xla"])
def test_a_fused_step_is_one_graph_with_a_constant_op_count(dualtf_backend):
    be = dualtf_backend
    w = be.variable(1.0)
    x = be.feed("x", tf.float32, [None])
    step = be.function(lambda x: w.assign_add(tf.reduce_sum(x)), [x], steps_per_call=10)
    before = be.graph.version if be.mode == "graph" else step.trace_count
    for _ in range(20):
        step(np.ones((10, 4)))
    assert (be.graph.version if be.mode == "graph" else step.trace_count) == before
    assert be.evaluate(w) == 1.0 + 20 * 10 * 4
